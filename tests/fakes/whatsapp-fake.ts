/**
 * A loopback fake of the WhatsApp Web socket server (`wss://web.whatsapp.com/ws/chat`) on
 * 127.0.0.1, for tests that run the REAL Baileys 7.0.0-rc14 client against it:
 *
 *   import "./whatsapp-trust.ts";                    // trust the fake's certificate root
 *   const fake = await startWhatsAppFake();
 *   const sock = makeWASocket({ waWebSocketUrl: fake.url, auth, logger, ... });
 *   // QR: connection.update { qr } -> await fake.scanQr(qr) -> close 515 -> reconnect -> open
 *   await fake.sendText({ from: "15557654321", text: "hi" });   // Baileys: messages.upsert notify
 *   await fake.waitForMessage((m) => m.text === "hello back");  // what Baileys sent, decrypted
 *
 * It models one WhatsApp account (`phoneNumber`) with its phone (primary device 0, which signs
 * new companions and sends a history-sync notice), any number of companion devices (the gateway),
 * and contacts created on first use, each a real Signal participant (see whatsapp/signal-party.ts).
 * Server state (paired devices, uploaded pre-keys, Signal sessions, the offline queue) lives as
 * long as the fake, across connections.
 *
 * Protocol facts worth knowing (all checked against Baileys 7.0.0-rc14):
 * - Handshake and framing: whatsapp/noise-server.ts. Trust: whatsapp-trust.ts.
 * - Unregistered creds send a ClientPayload with `devicePairingData` (registration); the server
 *   answers `<iq type=set xmlns=md><pair-device><ref/>…</pair-device></iq>`. Baileys shows ref 1
 *   at once, then the next ref every 20 s (the first lives 60 s; `qrTimeout` overrides both), and
 *   when refs run out it closes itself with 408 "QR refs attempts ended". Rotation is the
 *   client's timer, not the server's: the fake only chooses how many refs (`qrRefs`).
 * - Registered creds send `username` (the phone number, a uint64) and `device`; the server
 *   answers `<success t lid …/>`. Baileys then asks `encrypt/count`, uploads pre-keys (812 when
 *   the count is 0), sends `passive/active` and `encrypt/digest`, and only then emits
 *   `connection: 'open'`; init queries (abt props, blocklist, privacy) follow.
 * - Logged-in sockets buffer events until `<ib><offline count=N/></ib>`. After that, while
 *   creds.accountSyncCounter is 0 and history sync is on (the default `shouldSyncHistoryMessage`
 *   accepts RECENT), Baileys buffers again for up to 20 s waiting for a history-sync notification;
 *   but every incoming stanza is handled inside buffer()/flush(), which ends that buffer too, so
 *   messages are not held back in practice. The fake's phone sends a notice of type FULL (which
 *   the default config declines: "History sync skipped") carrying the account's push name, which
 *   Baileys adopts as creds.me.name (without a name, presence 'available' is silently skipped).
 * - Stanzas queued while the device was offline are delivered with `offline="1"` before the
 *   `<ib><offline/>`; Baileys emits them as messages.upsert type "append", not "notify". Baileys
 *   sends each one's delivery receipt as it decrypts it, but holds the upserts in its event buffer
 *   until the `<ib><offline/>` (`holdOfflineMarker` keeps them there, to test a stop in between).
 * - The owner's own messages (`sendOwnText`): the phone's stanza to its companions carries
 *   `from` = the account's jid and, outside the self chat, `recipient` = the chat; Baileys'
 *   decodeMessageNode (Utils/decode-wa-message.js) then sets `key.fromMe` and `remoteJid` =
 *   recipient, else from (the account's own jid: "Message yourself"). The content is a
 *   `deviceSentMessage`, which Baileys unwraps.
 * - Outbound 1:1: Baileys usyncs devices + LIDs of itself and the peer, stores the LID mappings,
 *   force-fetches bundles for those LIDs (`<key><user jid=…@lid reason=identity/>`), then sends one
 *   `<message><participants><to jid><enc/></to>…` with a copy for the phone (deviceSentMessage).
 *   Without a LID in the usync answer, Baileys has no session address and the send fails.
 *
 * Sessions, pre-keys and retries (checked against Baileys 7.0.0-rc14 `Socket/messages-send.js`
 * `getUSyncDevices`/`assertSessions`, `Socket/messages-recv.js` `sendRetryRequest`/
 * `sendMessagesAgain`/`handleDevicesNotification`, upstream WhiskeySockets/Baileys
 * `src/Socket/messages-send.ts`, and whatsmeow `user.go` (usync `lid` protocol), `prekeys.go`
 * (`nodeToPreKeyBundle`), `retry.go` (`sendRetryReceipt`, `handleRetryReceipt`)):
 * - Device-list queries (usync, context `message`, protocols `devices` + `lid`) answer each
 *   phone-number user with its device list and `<lid val=…@lid/>`; LID users get their device
 *   list only. That LID is what makes Baileys force new sessions on a device-cache miss.
 * - Each key fetch hands out a contact's next one-time pre-key, once (see signal-party.ts);
 *   `keyFetches` records them, with `reason=identity` when Baileys forced the fetch.
 * - A contact that cannot decrypt a copy (e.g. a `pkmsg` on a pre-key it already used: libsignal's
 *   "Invalid PreKey ID") records the error and sends a retry receipt
 *   (`<receipt type=retry><retry count id t v=1/><registration/></receipt>`), as Baileys and
 *   whatsmeow clients do; `requestRetry` sends one on demand. Baileys then re-sends the same
 *   message id, on a freshly fetched session.
 * - Every copy Baileys sends is recorded with its `encType` (`pkmsg` = a new session, `msg` = the
 *   existing one).
 * - `notifyDevices` sends `<notification type=devices>` (update/add/remove), which Baileys applies
 *   to its `userDevicesCache`.
 * - 411: the server's `<ib><downgrade_webclient/></ib>`; Baileys ends with multideviceMismatch
 *   (upstream `src/Socket/socket.ts`, `CB:ib,,downgrade_webclient`).
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import {
  Curve, decodeBinaryNode, encodeBinaryNode, proto, type BinaryNode,
} from "baileys";
import { WebSocketServer, type RawData, type WebSocket } from "ws";
import {
  bytes, child, children, iqError, iqResult, node, SERVER_JID, text, uintOf, unixSeconds,
} from "./whatsapp/binary-node.ts";
import { frame, makeFrameReader, makeNoiseServer, type NoiseServer } from "./whatsapp/noise-server.ts";
import {
  buildPairSuccess, checkPairDeviceSign, finishLinkCode, parseQr, unwrapWithPairingCode, wrapWithPairingCode,
} from "./whatsapp/pairing.ts";
import { keyPairFromLabel } from "./whatsapp/root-key.ts";
import { quietLibsignal } from "../../src/channels/whatsapp/quiet-libsignal.ts";
import { createLogger } from "../../src/logging/index.ts";
import { makeSignalParty, signalPublicKey, type PreKeyBundle, type SignalParty } from "./whatsapp/signal-party.ts";
import { encodeBigEndian } from "baileys";
import type {
  WhatsAppFakeOptions, WhatsAppReceivedMessage, WhatsAppReceipt, WhatsAppChatstate, WhatsAppIqRecord,
  WhatsAppSendTextInput, WhatsAppPairing, WhatsAppPairingCodeRequest, WhatsAppDisconnectCode, WhatsAppFake,
  WhatsAppKeyFetch, WhatsAppRetryRequest,
} from "./whatsapp/types.ts";

export type {
  WhatsAppFakeOptions, WhatsAppReceivedMessage, WhatsAppReceipt, WhatsAppChatstate, WhatsAppIqRecord,
  WhatsAppSendTextInput, WhatsAppPairing, WhatsAppPairingCodeRequest, WhatsAppDisconnectCode, WhatsAppFake,
  WhatsAppKeyFetch, WhatsAppRetryRequest,
};

// The fake's contacts use libsignal too, which dumps session records to the console; keep test
// output readable the way the gateway keeps its logs clean.
quietLibsignal(createLogger({ level: "silent" }));

const SERVER_STATIC_KEY_PAIR = keyPairFromLabel("faraday whatsapp-fake server static key v1");
const DEFAULT_PHONE_NUMBER = "15550001111";
const CLOSE_GRACE_MS = 1000;

interface CompanionDevice {
  id: number;
  keyIndex: number;
  pnJid: string;
  lidJid: string;
  noiseKey?: Buffer;
  identityKey?: Buffer;
  registrationId?: number;
  signedPreKey?: { keyId: number; publicKey: Buffer; signature: Buffer };
  preKeys: Map<number, Buffer>;
  removed: boolean;
}

interface Contact {
  phone: string;
  pnJid: string;
  lidJid: string;
  party: SignalParty;
  /** Groups whose sender key this contact already gave to a device (`group|deviceJid`). */
  senderKeysSent: Set<string>;
}

interface PendingRegistration {
  identityKey: Buffer;
  registrationId: number;
  signedPreKey: { keyId: number; publicKey: Buffer; signature: Buffer };
  refs: string[];
}

interface LinkCodeState {
  ref: string;
  phoneNumber: string;
  wrappedCompanionEphemeral: Buffer;
}

interface Connection {
  id: number;
  socket: WebSocket;
  noise: NoiseServer;
  phase: "hello" | "finish" | "transport" | "closed";
  clientStatic?: Buffer;
  registration?: PendingRegistration;
  linkCode?: LinkCodeState;
  device?: CompanionDevice;
  loggedIn: boolean;
  offlineSent: boolean;
  /** Replies the fake waits for, by iq id (and `companion_finish` for the link-code exchange). */
  pendingIqs: Map<string, { resolve: (reply: BinaryNode) => void; reject: (error: Error) => void }>;
  queue: Promise<void>;
  closeTimer?: NodeJS.Timeout;
}

type InboundItem = { kind: "text"; input: WhatsAppSendTextInput; id: string; timestamp: number };

function digitsOf(phoneOrJid: string): string {
  const user = phoneOrJid.split("@")[0]!.split(":")[0]!;
  return user.replace(/^\+/, "");
}

function lidUserFor(phone: string, prefix: string): string {
  return prefix + phone.padStart(14, "0").slice(-14);
}

function messageText(message: proto.IMessage | null | undefined): string {
  if (!message) return "";
  return message.conversation ?? message.extendedTextMessage?.text ?? "";
}

/** Starts the fake on 127.0.0.1 and a free port. */
export async function startWhatsAppFake(options: WhatsAppFakeOptions = {}): Promise<WhatsAppFake> {
  const phoneNumber = options.phoneNumber ?? DEFAULT_PHONE_NUMBER;
  const pushName = options.pushName ?? "Faraday Test";
  const qrRefCount = options.qrRefs ?? 6;
  const acceptUnknownDevices = options.acceptUnknownDevices ?? true;
  const historySyncNotice = options.historySyncNotice ?? "always";
  const deliveryReceipts = options.deliveryReceipts ?? true;
  const retryOnDecryptFailure = options.retryOnDecryptFailure ?? true;
  const log = options.log ?? (() => {});

  const accountJid = `${phoneNumber}@s.whatsapp.net`;
  const accountLidUser = lidUserFor(phoneNumber, "1");
  const accountLid = `${accountLidUser}@lid`;
  const phone = await makeSignalParty(accountJid, accountLid);

  const devices = new Map<number, CompanionDevice>();
  let nextDeviceId = 1;
  const contacts = new Map<string, Contact>();
  const contactsByLid = new Map<string, Contact>();
  const groups = new Map<string, { id: string; subject: string; participants: Set<string> }>();
  const offlineQueue: InboundItem[] = [];
  const liveConnections = new Set<Connection>();
  const timers = new Set<NodeJS.Timeout>();
  let connectionCount = 0;
  let loginCount = 0;
  let qrRefsIssued = 0;
  let latestQrRefs: string[] = [];
  let silenced = false;
  let offlineMarkerHeld = false;
  const heldMarkers: Array<() => void> = [];
  let failNextLoginReason: number | undefined;
  let iqCounter = 0;

  const pairings: WhatsAppPairing[] = [];
  const pairingCodeRequests: WhatsAppPairingCodeRequest[] = [];
  const received: WhatsAppReceivedMessage[] = [];
  const phoneCopies: WhatsAppReceivedMessage[] = [];
  const receipts: WhatsAppReceipt[] = [];
  const chatstates: WhatsAppChatstate[] = [];
  const presences: Array<{ type: string; name?: string; at: number }> = [];
  const iqs: WhatsAppIqRecord[] = [];
  const errors: string[] = [];
  const keyFetches: WhatsAppKeyFetch[] = [];
  const retryRequests: WhatsAppRetryRequest[] = [];
  const retryCounts = new Map<string, number>();
  const messageWaiters = new Set<() => void>();
  const loginWaiters = new Set<() => void>();

  const recordError = (message: string): void => {
    errors.push(message);
    log(`error: ${message}`);
  };
  const later = (ms: number, task: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      task();
    }, ms);
    timers.add(timer);
  };
  const nextIqId = (): string => `fake-${++iqCounter}`;

  // ---- contacts and devices -------------------------------------------------------------

  const contactCreations = new Map<string, Promise<Contact>>();
  const getContact = (phoneOrJid: string): Promise<Contact> => {
    const phoneDigits = digitsOf(phoneOrJid);
    if (phoneOrJid.endsWith("@lid")) {
      const known = contactsByLid.get(phoneDigits);
      if (known) return Promise.resolve(known);
      return Promise.reject(new Error(`unknown LID ${phoneOrJid}`));
    }
    const existing = contacts.get(phoneDigits);
    if (existing) return Promise.resolve(existing);
    let creation = contactCreations.get(phoneDigits);
    if (!creation) {
      const pnJid = `${phoneDigits}@s.whatsapp.net`;
      const lidUser = lidUserFor(phoneDigits, "2");
      const preKeys = options.contactPreKeys;
      creation = makeSignalParty(pnJid, `${lidUser}@lid`, preKeys ?? 50, preKeys === undefined).then((party) => {
        const contact: Contact = { phone: phoneDigits, pnJid, lidJid: `${lidUser}@lid`, party, senderKeysSent: new Set() };
        contacts.set(phoneDigits, contact);
        contactsByLid.set(lidUser, contact);
        return contact;
      });
      contactCreations.set(phoneDigits, creation);
    }
    return creation;
  };

  /** The Signal party behind a JID: the account's phone (device 0) or a contact. */
  const partyFor = async (jid: string): Promise<{ party: SignalParty; isPhone: boolean } | undefined> => {
    const user = digitsOf(jid);
    const device = Number(jid.split("@")[0]!.split(":")[1] ?? "0");
    if (user === phoneNumber || user === accountLidUser) return device === 0 ? { party: phone, isPhone: true } : undefined;
    if (jid.endsWith("@lid")) {
      const contact = contactsByLid.get(user);
      return contact && device === 0 ? { party: contact.party, isPhone: false } : undefined;
    }
    if (device !== 0) return undefined;
    return { party: (await getContact(user)).party, isPhone: false };
  };

  const makeDevice = (id: number): CompanionDevice => ({
    id,
    keyIndex: id,
    pnJid: `${phoneNumber}:${id}@s.whatsapp.net`,
    lidJid: `${accountLidUser}:${id}@lid`,
    preKeys: new Map(),
    removed: false,
  });

  /** A pre-key bundle of a companion, consuming one one-time pre-key (as the real server does). */
  const takeBundle = (device: CompanionDevice): PreKeyBundle | undefined => {
    if (!device.identityKey || device.registrationId === undefined || !device.signedPreKey) return undefined;
    const bundle: PreKeyBundle = {
      registrationId: device.registrationId,
      identityKey: signalPublicKey(device.identityKey),
      signedPreKey: {
        keyId: device.signedPreKey.keyId,
        publicKey: signalPublicKey(device.signedPreKey.publicKey),
        signature: device.signedPreKey.signature,
      },
    };
    const first = device.preKeys.entries().next();
    if (!first.done) {
      const [keyId, publicKey] = first.value;
      device.preKeys.delete(keyId);
      bundle.preKey = { keyId, publicKey: signalPublicKey(publicKey) };
    }
    return bundle;
  };

  // ---- sending ----------------------------------------------------------------------------

  const sendNode = (connection: Connection, stanza: BinaryNode): void => {
    if (silenced || connection.phase !== "transport" || connection.socket.readyState !== connection.socket.OPEN) return;
    connection.socket.send(frame(connection.noise.encrypt(encodeBinaryNode(stanza))));
  };

  /** Sends an iq and resolves with the client's reply (or rejects after `timeoutMs`). */
  const queryClient = (connection: Connection, stanza: BinaryNode, timeoutMs: number): Promise<BinaryNode> => {
    const id = stanza.attrs.id!;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        connection.pendingIqs.delete(id);
        reject(new Error(`no reply to iq ${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      connection.pendingIqs.set(id, {
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      sendNode(connection, stanza);
    });
  };

  const endStream = (connection: Connection, stanza: BinaryNode): void => {
    sendNode(connection, stanza);
    // Baileys closes the socket itself on a stream error; close it anyway if it does not.
    if (connection.closeTimer) return;
    connection.closeTimer = setTimeout(() => connection.socket.terminate(), CLOSE_GRACE_MS);
  };

  const loggedInConnections = (): Connection[] =>
    [...liveConnections].filter((connection) => connection.loggedIn && connection.device && !connection.device.removed);

  // ---- inbound delivery (contact -> Baileys) ------------------------------------------------

  const buildInboundStanza = async (connection: Connection, item: InboundItem, offline: boolean): Promise<BinaryNode> => {
    const device = connection.device!;
    const { input, id, timestamp } = item;
    const contact = await getContact(input.from);
    const mentions = input.mentions ?? [];
    const message: proto.IMessage = mentions.length
      ? { extendedTextMessage: { text: input.text, contextInfo: { mentionedJid: mentions } } }
      : { conversation: input.text };
    const attrs: Record<string, string | undefined> = {
      id,
      type: "text",
      t: String(timestamp),
      notify: input.pushName,
      offline: offline ? "1" : undefined,
    };
    const content: BinaryNode[] = [];
    if (input.group) {
      const groupJid = input.group;
      ensureGroup(groupJid, [contact.pnJid]);
      const { ciphertext, senderKeyDistributionMessage } = await contact.party.encryptGroup(groupJid, message);
      const senderKeyTarget = `${groupJid}|${device.pnJid}`;
      if (!contact.senderKeysSent.has(senderKeyTarget)) {
        // The sender key travels inside a normal 1:1 Signal message, in the same stanza.
        const distribution = await contact.party.encrypt(device.pnJid, {
          senderKeyDistributionMessage: { groupId: groupJid, axolotlSenderKeyDistributionMessage: senderKeyDistributionMessage },
        }, () => takeBundle(device));
        content.push(node("enc", { v: "2", type: distribution.type }, distribution.ciphertext));
        contact.senderKeysSent.add(senderKeyTarget);
      }
      content.push(node("enc", { v: "2", type: "skmsg" }, ciphertext));
      Object.assign(attrs, { from: groupJid, participant: contact.pnJid, participant_lid: contact.lidJid, addressing_mode: "pn" });
    } else {
      const encrypted = await contact.party.encrypt(device.pnJid, message, () => takeBundle(device));
      content.push(node("enc", { v: "2", type: encrypted.type }, encrypted.ciphertext));
      if (input.addressing === "lid") Object.assign(attrs, { from: contact.lidJid, sender_pn: contact.pnJid, addressing_mode: "lid" });
      else if (input.addressing === "lid-only") Object.assign(attrs, { from: contact.lidJid, addressing_mode: "lid" });
      else Object.assign(attrs, { from: contact.pnJid, sender_lid: contact.lidJid });
    }
    return node("message", attrs, content);
  };

  const deliverInbound = async (connection: Connection, item: InboundItem, offline: boolean): Promise<void> => {
    const stanza = await buildInboundStanza(connection, item, offline);
    sendNode(connection, stanza);
    log(`delivered ${item.id} from ${item.input.from} to connection ${connection.id}${offline ? " (offline)" : ""}`);
  };

  /** The phone tells the new companion "history sync: FULL", which Baileys' default config declines. */
  const sendHistorySyncNotice = async (connection: Connection): Promise<void> => {
    const device = connection.device!;
    const message: proto.IMessage = {
      protocolMessage: {
        type: proto.Message.ProtocolMessage.Type.HISTORY_SYNC_NOTIFICATION,
        historySyncNotification: { syncType: proto.HistorySync.HistorySyncType.FULL, chunkOrder: 1, progress: 100 },
      },
    };
    const encrypted = await phone.encrypt(device.pnJid, message, () => takeBundle(device));
    sendNode(connection, node("message", {
      // notify = the account's push name: Baileys adopts it as creds.me.name (needed for presence).
      from: accountJid, id: randomBytes(16).toString("hex").toUpperCase(), type: "text", category: "peer", t: unixSeconds(), notify: pushName,
    }, [node("enc", { v: "2", type: encrypted.type }, encrypted.ciphertext)]));
  };

  /** Offline stanzas, then `<ib><offline/>` (Baileys flushes its event buffer), then the history notice. */
  const finishLogin = async (connection: Connection): Promise<void> => {
    if (connection.offlineSent) return;
    connection.offlineSent = true;
    const queued = offlineQueue.splice(0);
    for (const item of queued) {
      try {
        await deliverInbound(connection, item, true);
      } catch (error) {
        recordError(`offline delivery of ${item.id} failed: ${(error as Error).message}`);
      }
    }
    const marker = node("ib", { from: SERVER_JID }, [node("offline", { count: String(queued.length) })]);
    if (offlineMarkerHeld) heldMarkers.push(() => sendNode(connection, marker));
    else sendNode(connection, marker);
    if (historySyncNotice === "always") {
      await sendHistorySyncNotice(connection).catch((error: Error) => recordError(`history notice failed: ${error.message}`));
    }
    for (const waiter of [...loginWaiters]) waiter();
  };

  // ---- the handshake and login ----------------------------------------------------------------

  const handleClientPayload = (connection: Connection, clientStatic: Buffer, payloadBytes: Buffer): void => {
    const payload = proto.ClientPayload.decode(payloadBytes);
    connection.clientStatic = clientStatic;
    const pairing = payload.devicePairingData;
    if (pairing) {
      // Registration: remember the companion's keys, offer QR refs.
      const refs = Array.from({ length: qrRefCount }, () => `2@${randomBytes(24).toString("base64")}`);
      connection.registration = {
        identityKey: Buffer.from(pairing.eIdent ?? []),
        registrationId: Buffer.from(pairing.eRegid ?? []).readUInt32BE(0),
        signedPreKey: {
          keyId: Buffer.from(pairing.eSkeyId ?? []).readUIntBE(0, 3),
          publicKey: Buffer.from(pairing.eSkeyVal ?? []),
          signature: Buffer.from(pairing.eSkeySig ?? []),
        },
        refs,
      };
      qrRefsIssued += refs.length;
      latestQrRefs = refs;
      log(`connection ${connection.id}: registration, ${refs.length} QR refs`);
      sendNode(connection, node("iq", { from: SERVER_JID, type: "set", id: nextIqId(), xmlns: "md" }, [
        node("pair-device", {}, refs.map((ref) => node("ref", {}, Buffer.from(ref, "utf8")))),
      ]));
      return;
    }
    const username = String(payload.username ?? "");
    const deviceId = payload.device ?? 0;
    const fail = (reason: number, why: string): void => {
      log(`connection ${connection.id}: login failure ${reason} (${why})`);
      endStream(connection, node("failure", { reason: String(reason), location: "fake" }));
    };
    if (failNextLoginReason !== undefined) {
      const reason = failNextLoginReason;
      failNextLoginReason = undefined;
      fail(reason, "failNextLogin");
      return;
    }
    if (username !== phoneNumber) return fail(401, `username ${username} is not ${phoneNumber}`);
    let device = devices.get(deviceId);
    if (!device || device.removed) {
      if (device?.removed || !acceptUnknownDevices || deviceId === 0) return fail(401, `device ${deviceId} is not paired`);
      device = makeDevice(deviceId);
      device.noiseKey = clientStatic;
      devices.set(deviceId, device);
      nextDeviceId = Math.max(nextDeviceId, deviceId + 1);
      log(`adopted unknown device ${deviceId}`);
    }
    if (device.noiseKey && !device.noiseKey.equals(clientStatic)) return fail(401, "noise key differs from the paired one");
    device.noiseKey = clientStatic;
    // A second login of the same device replaces the first, as on WhatsApp.
    for (const other of liveConnections) {
      if (other !== connection && other.loggedIn && other.device === device) {
        endStream(other, node("stream:error", {}, [node("conflict", { type: "replaced" })]));
        other.loggedIn = false;
      }
    }
    connection.device = device;
    connection.loggedIn = true;
    loginCount++;
    log(`connection ${connection.id}: login ${device.pnJid}`);
    sendNode(connection, node("success", {
      t: unixSeconds(), props: "1", abprops: "1", location: "fake", lid: device.lidJid, creation: unixSeconds(), display_name: "",
    }));
    // When the client never sends passive/active (older flows), finish the login anyway.
    later(5000, () => {
      if (connection.loggedIn && !connection.offlineSent) void finishLogin(connection);
    });
  };

  // ---- client iqs ---------------------------------------------------------------------------

  const usyncAnswer = async (request: BinaryNode): Promise<BinaryNode> => {
    const usync = child(request, "usync")!;
    const protocols = children(child(usync, "query")).map((protocol) => protocol.tag);
    const users: BinaryNode[] = [];
    for (const user of children(child(usync, "list"), "user")) {
      let jid = user.attrs.jid;
      const contactNode = child(user, "contact");
      if (!jid && contactNode) jid = `${digitsOf(text(contactNode) ?? "")}@s.whatsapp.net`;
      if (!jid) continue;
      const userDigits = digitsOf(jid);
      const isAccount = userDigits === phoneNumber || userDigits === accountLidUser;
      const content: BinaryNode[] = [];
      for (const protocol of protocols) {
        if (protocol === "devices") {
          const deviceNodes = [node("device", { id: "0" })];
          if (isAccount) {
            for (const device of devices.values()) {
              if (!device.removed) deviceNodes.push(node("device", { id: String(device.id), "key-index": String(device.keyIndex) }));
            }
          }
          content.push(node("devices", {}, [node("device-list", {}, deviceNodes), node("key-index-list", { ts: unixSeconds() })]));
        } else if (protocol === "lid") {
          if (jid.endsWith("@lid")) continue;
          const lid = isAccount ? accountLid : (await getContact(userDigits)).lidJid;
          content.push(node("lid", { val: lid }));
        } else if (protocol === "contact") {
          if (!isAccount) await getContact(userDigits);
          content.push(node("contact", { type: "in" }));
        } else if (protocol === "disappearing_mode") {
          content.push(node("disappearing_mode", { duration: "0", t: "0" }));
        } else if (protocol === "status") {
          content.push(node("status", { t: "0" }));
        }
      }
      users.push(node("user", { jid }, content));
    }
    return iqResult(request, [node("usync", { ...usync.attrs }, [node("result", {}, protocols.map((protocol) => node(protocol, {}))), node("list", {}, users)])]);
  };

  const keyBundlesAnswer = async (request: BinaryNode): Promise<BinaryNode> => {
    const users: BinaryNode[] = [];
    for (const user of children(child(request, "key"), "user")) {
      const jid = user.attrs.jid!;
      const target = await partyFor(jid).catch(() => undefined);
      if (!target) {
        recordError(`key bundle requested for unknown ${jid}`);
        continue;
      }
      const { node: userNode, bundle } = await target.party.bundleNode(jid);
      keyFetches.push({ jid, ...(user.attrs.reason ? { reason: user.attrs.reason } : {}), ...(bundle.preKey ? { preKeyId: bundle.preKey.keyId } : {}), bundle, at: Date.now() });
      users.push(userNode);
    }
    return iqResult(request, [node("list", {}, users)]);
  };

  const storePreKeyUpload = (connection: Connection, request: BinaryNode): void => {
    const device = connection.device;
    if (!device) return;
    const registrationId = uintOf(child(request, "registration"));
    const identity = bytes(child(request, "identity"));
    if (registrationId !== undefined) device.registrationId = registrationId;
    if (identity) device.identityKey = identity;
    const signedKey = child(request, "skey");
    if (signedKey) {
      device.signedPreKey = {
        keyId: uintOf(child(signedKey, "id")) ?? 0,
        publicKey: bytes(child(signedKey, "value")) ?? Buffer.alloc(0),
        signature: bytes(child(signedKey, "signature")) ?? Buffer.alloc(0),
      };
    }
    for (const key of children(child(request, "list"), "key")) {
      const keyId = uintOf(child(key, "id"));
      const value = bytes(child(key, "value"));
      if (keyId !== undefined && value) device.preKeys.set(keyId, value);
    }
    log(`device ${device.id}: ${device.preKeys.size} pre-keys on server`);
  };

  const handleIq = async (connection: Connection, request: BinaryNode): Promise<void> => {
    const { type = "", xmlns = "", id } = request.attrs;
    if ((type === "result" || type === "error") && id && connection.pendingIqs.has(id)) {
      const pending = connection.pendingIqs.get(id)!;
      connection.pendingIqs.delete(id);
      pending.resolve(request);
      return;
    }
    if (type === "result" || type === "error") return;
    const first = children(request)[0];
    iqs.push({ connection: connection.id, xmlns, type, child: first?.tag ?? "", at: Date.now() });
    const reply = (content?: BinaryNode[]): void => sendNode(connection, iqResult(request, content));

    switch (xmlns) {
      case "w:p": // keepalive ping
        return reply();
      case "encrypt": {
        if (first?.tag === "count") return reply([node("count", { value: String(connection.device?.preKeys.size ?? 0) })]);
        if (first?.tag === "digest") {
          // Baileys only checks that a <digest> comes back; otherwise it re-uploads pre-keys.
          return reply([node("digest", {}, [node("type", {}, Buffer.from([5]))])]);
        }
        if (first?.tag === "key") return sendNode(connection, await keyBundlesAnswer(request));
        if (first?.tag === "rotate") {
          const signedKey = child(first, "skey");
          if (signedKey && connection.device) {
            connection.device.signedPreKey = {
              keyId: uintOf(child(signedKey, "id")) ?? 0,
              publicKey: bytes(child(signedKey, "value")) ?? Buffer.alloc(0),
              signature: bytes(child(signedKey, "signature")) ?? Buffer.alloc(0),
            };
          }
          return reply();
        }
        if (type === "set") {
          storePreKeyUpload(connection, request);
          return reply();
        }
        return reply();
      }
      case "passive":
        reply();
        if (first?.tag === "active" && connection.loggedIn) await finishLogin(connection);
        return;
      case "usync":
        return sendNode(connection, await usyncAnswer(request));
      case "abt":
        return reply([node("props", { protocol: "1", hash: "fake-props-1" }, [])]);
      case "blocklist":
        return reply(type === "get" ? [node("list", {}, [])] : undefined);
      case "privacy":
        if (type === "get" && first?.tag === "privacy") {
          const categories: Array<[string, string]> = [
            ["last", "all"], ["online", "all"], ["profile", "all"], ["status", "all"], ["groupadd", "all"],
            ["readreceipts", "all"], ["calladd", "all"], ["messages", "all"],
          ];
          return reply([node("privacy", {}, categories.map(([name, value]) => node("category", { name, value })))]);
        }
        return reply();
      case "w:g2":
        return sendNode(connection, groupAnswer(request));
      case "md":
        return handleMdIq(connection, request);
      case "w:m":
        return reply([node("media_conn", { auth: "fake-media-auth", ttl: "3600" }, [node("host", { hostname: "127.0.0.1" })])]);
      default:
        log(`connection ${connection.id}: generic answer to iq xmlns=${xmlns} type=${type} child=${first?.tag}`);
        return reply();
    }
  };

  const groupAnswer = (request: BinaryNode): BinaryNode => {
    const group = groups.get(request.attrs.to ?? "");
    if (!group) return iqError(request, 404, "item-not-found");
    const participants = [accountJid, ...group.participants].filter((jid, index, all) => all.indexOf(jid) === index);
    return iqResult(request, [node("group", {
      id: group.id.split("@")[0], subject: group.subject, s_t: "0", s_o: accountJid, creation: "0", creator: accountJid,
      addressing_mode: "pn", size: String(participants.length),
    }, participants.map((jid) => node("participant", { jid, type: jid === accountJid ? "superadmin" : undefined })))]);
  };

  const handleMdIq = (connection: Connection, request: BinaryNode): void => {
    const first = children(request)[0];
    if (first?.tag === "link_code_companion_reg") {
      const stage = first.attrs.stage;
      if (stage === "companion_hello") {
        const ref = randomBytes(16).toString("hex");
        connection.linkCode = {
          ref,
          phoneNumber: digitsOf(first.attrs.jid ?? ""),
          wrappedCompanionEphemeral: bytes(child(first, "link_code_pairing_wrapped_companion_ephemeral_pub")) ?? Buffer.alloc(0),
        };
        pairingCodeRequests.push({ phoneNumber: connection.linkCode.phoneNumber, ref, connection: connection.id, at: Date.now() });
        sendNode(connection, iqResult(request, [node("link_code_companion_reg", {}, [node("link_code_pairing_ref", {}, Buffer.from(ref))])]));
        return;
      }
      // companion_finish is consumed by confirmPairingCode through a pending-iq hook.
      const hook = connection.pendingIqs.get("companion_finish");
      if (stage === "companion_finish" && hook) {
        connection.pendingIqs.delete("companion_finish");
        hook.resolve(request);
      }
      sendNode(connection, iqResult(request));
      return;
    }
    if (first?.tag === "remove-companion-device") {
      // sock.logout(): the device unlinks itself.
      if (connection.device) connection.device.removed = true;
      sendNode(connection, iqResult(request));
      return;
    }
    sendNode(connection, iqResult(request));
  };

  // ---- other client stanzas ---------------------------------------------------------------

  const handleOutboundMessage = async (connection: Connection, stanza: BinaryNode): Promise<void> => {
    const device = connection.device;
    const chat = stanza.attrs.to ?? "";
    const id = stanza.attrs.id ?? "";
    const type = stanza.attrs.type ?? "text";
    if (!device) return;
    const record = (recipient: string, message: proto.IMessage, isPhone: boolean, encType: WhatsAppReceivedMessage["encType"]): void => {
      const entry: WhatsAppReceivedMessage = {
        to: chat, recipient, id, type, encType, message, from: device.pnJid, at: Date.now(),
        text: messageText(message.deviceSentMessage?.message ?? message),
      };
      (isPhone ? phoneCopies : received).push(entry);
      if (!isPhone) log(`received ${id} to ${chat}: ${JSON.stringify(entry.text)}`);
    };
    const isGroup = chat.endsWith("@g.us");
    let groupContent: Buffer | undefined;
    const directEnc = children(stanza, "enc");
    for (const enc of directEnc) if (enc.attrs.type === "skmsg") groupContent = bytes(enc);
    const recipients: Array<{ jid: string; enc: BinaryNode }> = [];
    for (const to of children(child(stanza, "participants"), "to")) {
      const enc = child(to, "enc");
      if (to.attrs.jid && enc) recipients.push({ jid: to.attrs.jid, enc });
    }
    // A retry resend addressed to one device carries <enc> directly.
    if (!isGroup && !recipients.length) {
      const enc = directEnc.find((candidate) => candidate.attrs.type !== "skmsg");
      if (enc) recipients.push({ jid: chat, enc });
    }
    const senderKeyAuthor = stanza.attrs.addressing_mode === "lid" && device.lidJid ? device.lidJid : device.pnJid;
    for (const { jid, enc } of recipients) {
      const target = await partyFor(jid).catch(() => undefined);
      const encType = enc.attrs.type;
      const ciphertext = bytes(enc);
      if (!target || !ciphertext || (encType !== "pkmsg" && encType !== "msg")) {
        recordError(`cannot decrypt ${encType} for ${jid} in ${id}`);
        continue;
      }
      try {
        const message = await target.party.decrypt(device.pnJid, encType, ciphertext);
        if (isGroup) {
          if (message.senderKeyDistributionMessage) await target.party.processSenderKeyDistribution(senderKeyAuthor, message.senderKeyDistributionMessage);
          if (groupContent) {
            const groupMessage = await target.party.decryptGroup(chat, senderKeyAuthor, groupContent);
            record(jid, groupMessage, target.isPhone, "skmsg");
          }
        } else {
          record(jid, message, target.isPhone, encType);
        }
      } catch (error) {
        recordError(`decrypting ${id} for ${jid} failed: ${(error as Error).message}`);
        // A phone that cannot decrypt asks for the message again (whatsmeow retry.go, Baileys
        // sendRetryRequest); the sender re-sends on a fresh session.
        if (retryOnDecryptFailure && !isGroup && !target.isPhone) later(50, () => void sendRetryReceipt(target.party, jid, id));
      }
    }
    // Group members that already hold the sender key get no <to>: decrypt with any member who has it.
    if (isGroup && groupContent && !recipients.length) {
      const group = groups.get(chat);
      for (const member of group?.participants ?? []) {
        const target = await partyFor(member).catch(() => undefined);
        if (!target) continue;
        try {
          record(member, await target.party.decryptGroup(chat, senderKeyAuthor, groupContent), false, "skmsg");
        } catch (error) {
          recordError(`group decrypt of ${id} for ${member} failed: ${(error as Error).message}`);
        }
      }
    }
    sendNode(connection, node("ack", { class: "message", id, from: chat, t: unixSeconds() }));
    if (deliveryReceipts && !isGroup && !chat.startsWith(phoneNumber)) {
      later(100, () => sendNode(connection, node("receipt", { from: chat, id, t: unixSeconds() })));
    }
    for (const waiter of [...messageWaiters]) waiter();
  };

  /** `<receipt type="retry">` from a contact's device `fromJid` (the jid form Baileys addressed) for `id`. */
  const sendRetryReceipt = async (party: SignalParty, fromJid: string, id: string, count?: number): Promise<void> => {
    const key = `${id}|${fromJid}`;
    const retryCount = count ?? (retryCounts.get(key) ?? 0) + 1;
    retryCounts.set(key, retryCount);
    const t = unixSeconds();
    retryRequests.push({ id, from: fromJid, count: retryCount, at: Date.now() });
    log(`retry receipt for ${id} from ${fromJid} (count ${retryCount})`);
    const stanza = node("receipt", { from: fromJid, id, type: "retry", t }, [
      node("retry", { count: String(retryCount), id, t, v: "1" }),
      node("registration", {}, Buffer.from(encodeBigEndian(party.creds.registrationId))),
    ]);
    for (const connection of loggedInConnections()) sendNode(connection, stanza);
  };

  const handleNode = async (connection: Connection, stanza: BinaryNode): Promise<void> => {
    if (silenced) return;
    switch (stanza.tag) {
      case "iq":
        return handleIq(connection, stanza);
      case "message":
        return handleOutboundMessage(connection, stanza);
      case "receipt": {
        const ids = [stanza.attrs.id ?? "", ...children(child(stanza, "list"), "item").map((item) => item.attrs.id ?? "")];
        receipts.push({
          id: ids[0]!, ids, to: stanza.attrs.to ?? "", participant: stanza.attrs.participant,
          type: stanza.attrs.type ?? "delivery", at: Date.now(),
        });
        sendNode(connection, node("ack", { class: "receipt", id: stanza.attrs.id, from: stanza.attrs.to, type: stanza.attrs.type }));
        return;
      }
      case "chatstate": {
        const state = children(stanza)[0];
        chatstates.push({ to: stanza.attrs.to ?? "", state: state?.tag ?? "", media: state?.attrs.media, at: Date.now() });
        return;
      }
      case "presence":
        presences.push({ type: stanza.attrs.type ?? "available", name: stanza.attrs.name, at: Date.now() });
        return;
      default:
        // ack (of our stanzas), ib (unified_session, offline_batch): nothing to answer.
        return;
    }
  };

  // ---- the WebSocket server -------------------------------------------------------------------

  const httpServer = createServer((_request, response) => {
    response.writeHead(426, { "content-type": "text/plain" }).end("WebSocket only\n");
  });
  const sockets = new Set<Socket>();
  httpServer.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  const wss = new WebSocketServer({ noServer: true });
  httpServer.on("upgrade", (request: IncomingMessage, socket, head) => {
    if (!request.url?.startsWith("/ws/chat")) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => onConnection(ws));
  });

  const onConnection = (socket: WebSocket): void => {
    const connection: Connection = {
      id: ++connectionCount,
      socket,
      noise: makeNoiseServer(SERVER_STATIC_KEY_PAIR),
      phase: "hello",
      loggedIn: false,
      offlineSent: false,
      pendingIqs: new Map(),
      queue: Promise.resolve(),
    };
    liveConnections.add(connection);
    const readFrames = makeFrameReader();
    log(`connection ${connection.id} opened`);
    socket.on("message", (data: RawData) => {
      const chunk = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      let frames: Buffer[];
      try {
        frames = readFrames(chunk);
      } catch (error) {
        recordError(`connection ${connection.id}: ${(error as Error).message}`);
        socket.terminate();
        return;
      }
      for (const payload of frames) {
        try {
          if (connection.phase === "hello") {
            const hello = proto.HandshakeMessage.decode(payload).clientHello;
            if (!hello?.ephemeral) throw new Error("first frame is not a ClientHello");
            // The ServerHello is a raw frame (no transport encryption yet); silence drops it too.
            if (!silenced) socket.send(frame(connection.noise.serverHello(hello.ephemeral)));
            connection.phase = "finish";
          } else if (connection.phase === "finish") {
            const finish = proto.HandshakeMessage.decode(payload).clientFinish;
            if (!finish?.static || !finish.payload) throw new Error("second frame is not a ClientFinish");
            const { clientStatic, payload: clientPayload } = connection.noise.clientFinish(finish.static, finish.payload);
            connection.phase = "transport";
            if (!silenced) handleClientPayload(connection, clientStatic, clientPayload);
          } else if (connection.phase === "transport") {
            // Decrypt in arrival order (the counter), decode and handle one at a time.
            const plaintext = connection.noise.decrypt(payload);
            connection.queue = connection.queue
              .then(async () => handleNode(connection, await decodeBinaryNode(plaintext)))
              .catch((error: Error) => recordError(`connection ${connection.id}: ${error.stack ?? error.message}`));
          }
        } catch (error) {
          recordError(`connection ${connection.id} (${connection.phase}): ${(error as Error).message}`);
          socket.terminate();
          return;
        }
      }
    });
    socket.on("close", () => {
      connection.phase = "closed";
      connection.loggedIn = false;
      if (connection.closeTimer) clearTimeout(connection.closeTimer);
      for (const pending of connection.pendingIqs.values()) pending.reject(new Error(`connection ${connection.id} closed before replying`));
      connection.pendingIqs.clear();
      liveConnections.delete(connection);
      log(`connection ${connection.id} closed`);
    });
    socket.on("error", (error) => log(`connection ${connection.id} socket error: ${error.message}`));
  };

  await new Promise<void>((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = httpServer.address() as AddressInfo;

  // ---- test API -------------------------------------------------------------------------------

  const ensureGroup = (groupJid: string, members: string[]): void => {
    let group = groups.get(groupJid);
    if (!group) groups.set(groupJid, (group = { id: groupJid, subject: `Group ${groupJid.split("@")[0]}`, participants: new Set() }));
    for (const member of members) group.participants.add(member);
  };

  const completePairing = async (
    connection: Connection, method: "qr" | "code", companionIdentityKey: Buffer, advSecret: Buffer,
    timeoutMs: number, businessName?: string,
  ): Promise<{ deviceJid: string }> => {
    const registration = connection.registration!;
    const device = makeDevice(nextDeviceId++);
    const { stanza, deviceDetails } = buildPairSuccess({
      iqId: nextIqId(),
      deviceJid: device.pnJid,
      deviceLid: device.lidJid,
      keyIndex: device.keyIndex,
      deviceId: device.id,
      companionIdentityKey,
      advSecret,
      accountKeyPair: { private: phone.creds.signedIdentityKey.private, public: phone.identityPublicKey },
      platform: "android",
      businessName,
    });
    const reply = await queryClient(connection, stanza, timeoutMs);
    const problem = checkPairDeviceSign(reply, deviceDetails, companionIdentityKey, phone.identityPublicKey);
    if (problem) throw new Error(`pairing failed: ${problem}`);
    device.noiseKey = connection.clientStatic;
    device.identityKey = companionIdentityKey;
    device.registrationId = registration.registrationId;
    device.signedPreKey = registration.signedPreKey;
    devices.set(device.id, device);
    pairings.push({ method, deviceJid: device.pnJid, deviceLid: device.lidJid, at: Date.now() });
    log(`paired ${device.pnJid} by ${method}; sending 515`);
    // WhatsApp ends the registration stream right after pairing; Baileys reconnects and logs in.
    endStream(connection, node("stream:error", { code: "515" }));
    return { deviceJid: device.pnJid };
  };

  const waitFor = (waiters: Set<() => void>, check: () => boolean, timeoutMs: number, label: string): Promise<void> => {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        waiters.delete(waiter);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${label}`));
      }, timeoutMs);
      waiters.add(waiter);
    });
  };

  const fake: WhatsAppFake = {
    url: `ws://127.0.0.1:${port}/ws/chat`,
    phoneNumber,
    accountJid,
    accountLid,
    get connections() { return connectionCount; },
    get openConnections() { return liveConnections.size; },
    get logins() { return loginCount; },
    get qrRefsIssued() { return qrRefsIssued; },
    get latestQrRefs() { return [...latestQrRefs]; },
    pairings, pairingCodeRequests, received, phoneCopies, receipts, chatstates, presences, iqs, errors, keyFetches, retryRequests,

    async requestRetry({ from, id, count, addressing }) {
      const contact = await getContact(from);
      await sendRetryReceipt(contact.party, addressing === "lid" ? contact.lidJid : contact.pnJid, id, count);
    },

    async notifyDevices({ from, change, devices = [0] }) {
      const contact = await getContact(from);
      const [user, server] = contact.pnJid.split("@") as [string, string];
      const stanza = node("notification", { from: contact.pnJid, type: "devices", id: nextIqId(), t: unixSeconds() }, [
        node(change, { device_hash: randomBytes(4).toString("hex") }, devices.map((device) => node("device", { jid: device ? `${user}:${device}@${server}` : contact.pnJid }))),
      ]);
      for (const connection of loggedInConnections()) sendNode(connection, stanza);
    },

    async scanQr(qr, scanOptions = {}) {
      const parsed = parseQr(qr);
      const connection = [...liveConnections].find((candidate) => candidate.registration?.refs.includes(parsed.ref));
      if (!connection) throw new Error(`no open connection shows QR ref ${parsed.ref} (expired, or the socket closed)`);
      if (!connection.clientStatic?.equals(parsed.noiseKey)) throw new Error("QR noise key does not match the connection's Noise static key");
      if (!connection.registration!.identityKey.equals(parsed.identityKey)) throw new Error("QR identity key does not match the registration payload");
      return completePairing(connection, "qr", parsed.identityKey, parsed.advSecret, scanOptions.timeoutMs ?? 5000, scanOptions.businessName);
    },

    async confirmPairingCode(code, confirmOptions = {}) {
      const timeoutMs = confirmOptions.timeoutMs ?? 10_000;
      const connection = [...liveConnections].reverse().find((candidate) => candidate.linkCode && candidate.registration);
      if (!connection) throw new Error("no open connection has requested a pairing code (sock.requestPairingCode)");
      const linkCode = connection.linkCode!;
      if (linkCode.phoneNumber !== phoneNumber) throw new Error(`pairing code requested for ${linkCode.phoneNumber}, but the fake's account is ${phoneNumber}`);
      const companionEphemeralPublic = unwrapWithPairingCode(linkCode.wrappedCompanionEphemeral, code.toUpperCase());
      const primaryEphemeral = Curve.generateKeyPair();
      const finished = new Promise<BinaryNode>((resolve, reject) => {
        const timer = setTimeout(() => {
          connection.pendingIqs.delete("companion_finish");
          reject(new Error(`no companion_finish within ${timeoutMs} ms`));
        }, timeoutMs);
        connection.pendingIqs.set("companion_finish", {
          resolve: (request) => {
            clearTimeout(timer);
            resolve(request);
          },
          reject: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        });
      });
      sendNode(connection, node("notification", { from: SERVER_JID, type: "link_code_companion_reg", id: nextIqId(), t: unixSeconds() }, [
        node("link_code_companion_reg", { stage: "primary_hello" }, [
          node("link_code_pairing_ref", {}, Buffer.from(linkCode.ref)),
          node("primary_identity_pub", {}, phone.identityPublicKey),
          node("link_code_pairing_wrapped_primary_ephemeral_pub", {}, wrapWithPairingCode(primaryEphemeral.public, code.toUpperCase())),
        ]),
      ]));
      const finish = child(await finished, "link_code_companion_reg");
      const wrappedKeyBundle = bytes(child(finish, "link_code_pairing_wrapped_key_bundle"));
      if (!wrappedKeyBundle) throw new Error("companion_finish has no wrapped key bundle");
      let result: ReturnType<typeof finishLinkCode>;
      try {
        result = finishLinkCode({
          wrappedKeyBundle,
          companionEphemeralPublic,
          primaryEphemeral,
          primaryIdentity: { private: phone.creds.signedIdentityKey.private, public: phone.identityPublicKey },
        });
      } catch (error) {
        throw new Error(`pairing code ${code} does not match what Baileys generated (${(error as Error).message})`);
      }
      if (!result.companionIdentityKey.equals(connection.registration!.identityKey)) throw new Error("link-code bundle names a different companion identity");
      return completePairing(connection, "code", result.companionIdentityKey, result.advSecret, timeoutMs);
    },

    async sendText(input) {
      const item: InboundItem = {
        kind: "text",
        input,
        id: input.id ?? randomBytes(16).toString("hex").toUpperCase(),
        timestamp: input.timestamp ?? Math.floor(Date.now() / 1000),
      };
      const contact = await getContact(input.from);
      if (input.group) ensureGroup(input.group, [contact.pnJid]);
      const targets = loggedInConnections().filter((connection) => connection.offlineSent);
      if (silenced || !targets.length) {
        offlineQueue.push(item);
        log(`queued ${item.id} (no logged-in companion)`);
        return { id: item.id, queued: true };
      }
      for (const connection of targets) await deliverInbound(connection, item, false);
      return { id: item.id, queued: false };
    },

    async sendOwnText(input) {
      const id = input.id ?? randomBytes(16).toString("hex").toUpperCase();
      const destination = input.chat === undefined ? accountJid : (await getContact(input.chat)).pnJid;
      const message: proto.IMessage = { deviceSentMessage: { destinationJid: destination, message: { conversation: input.text } } };
      const targets = loggedInConnections().filter((connection) => connection.offlineSent);
      if (!targets.length) throw new Error("sendOwnText: no logged-in companion");
      for (const connection of targets) {
        const device = connection.device!;
        const encrypted = await phone.encrypt(device.pnJid, message, () => takeBundle(device));
        sendNode(connection, node("message", {
          from: accountJid, id, type: "text", t: unixSeconds(), notify: pushName,
          ...(input.chat === undefined ? {} : { recipient: destination }),
        }, [node("enc", { v: "2", type: encrypted.type }, encrypted.ciphertext)]));
        log(`delivered own message ${id} (${input.chat === undefined ? "self chat" : `to ${destination}`}) to connection ${connection.id}`);
      }
      return { id };
    },

    async waitForMessage(predicate = () => true, timeoutMs = 10_000) {
      let found: WhatsAppReceivedMessage | undefined;
      await waitFor(messageWaiters, () => (found = received.find(predicate)) !== undefined, timeoutMs, "a message from Baileys");
      return found!;
    },

    async waitForLogin(timeoutMs = 10_000) {
      await waitFor(loginWaiters, () => loggedInConnections().some((connection) => connection.offlineSent), timeoutMs, "a login");
    },

    addGroup(group) {
      ensureGroup(group.id, group.participants ?? []);
      if (group.subject) groups.get(group.id)!.subject = group.subject;
    },

    disconnect(code, disconnectOptions = {}) {
      const targets = disconnectOptions.all
        ? [...liveConnections].filter((connection) => connection.phase === "transport")
        : loggedInConnections();
      for (const connection of targets) {
        let stanza: BinaryNode;
        if (code === 440) stanza = node("stream:error", {}, [node("conflict", { type: "replaced" })]);
        else if (code === 411) stanza = node("ib", { from: SERVER_JID }, [node("downgrade_webclient", {})]);
        else if (code === 401) {
          stanza = node("stream:error", { code: "401" }, [node("conflict", { type: "device_removed" })]);
          if (connection.device) connection.device.removed = true;
        } else stanza = node("stream:error", { code: String(code) });
        log(`connection ${connection.id}: stream error ${code}`);
        connection.loggedIn = false;
        endStream(connection, stanza);
      }
    },

    failNextLogin(reason) {
      failNextLoginReason = reason;
    },

    dropSocket() {
      for (const connection of liveConnections) connection.socket.terminate();
    },

    silence(on) {
      silenced = on;
    },

    holdOfflineMarker(on) {
      offlineMarkerHeld = on;
      if (!on) for (const send of heldMarkers.splice(0)) send();
    },

    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const connection of liveConnections) {
        if (connection.closeTimer) clearTimeout(connection.closeTimer);
        connection.socket.terminate();
      }
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };
  return fake;
}
