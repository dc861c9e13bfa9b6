/**
 * The public shapes of the WhatsApp fake (options, records, the test API); the implementation is
 * `../whatsapp-fake.ts`.
 */
import type { proto } from "baileys";

export interface WhatsAppFakeOptions {
  /** The account's phone number (digits only). Default 15550001111. */
  phoneNumber?: string;
  /** The account's push name; the phone's history notice carries it and Baileys adopts it as `creds.me.name`. Default "Faraday Test". */
  pushName?: string;
  /** How many QR refs one pair-device iq carries (Baileys shows each for 20 s, the first 60 s). Default 6. */
  qrRefs?: number;
  /**
   * Whether a login from a device this fake never paired is accepted (and adopted as paired).
   * Default true, so saved creds survive a restart of the fake. False answers `<failure reason="401"/>`.
   */
  acceptUnknownDevices?: boolean;
  /**
   * "always" (default): after each login the phone sends a FULL history-sync notice with the push
   * name (a fromMe protocolMessage upsert; sets creds.me.name). "never": nothing, as on a re-login.
   */
  historySyncNotice?: "always" | "never";
  /** Contacts answer each message Baileys sends them with a delivery receipt. Default true. */
  deliveryReceipts?: boolean;
  /**
   * One-time pre-keys each contact has on the server. Given: exactly that many, never refilled
   * (later key fetches get a bundle without one). Default 50, refilled when used up, as a phone does.
   */
  contactPreKeys?: number;
  /** A contact that cannot decrypt a message answers with a retry receipt, as a phone does. Default true. */
  retryOnDecryptFailure?: boolean;
  /** Debug log of the fake's decisions (not the traffic). */
  log?: (line: string) => void;
}

/** A message Baileys sent, decrypted by the recipient's Signal session. */
export interface WhatsAppReceivedMessage {
  /** The chat: the peer's JID as Baileys addressed it (`…@s.whatsapp.net`, `…@lid` or `…@g.us`). */
  to: string;
  /** The device the copy was decrypted for (a contact's device 0 for 1:1, each member for groups). */
  recipient: string;
  id: string;
  /** `conversation` or `extendedTextMessage.text`; "" for other message kinds. */
  text: string;
  message: proto.IMessage;
  /** Stanza `type` (text, media, reaction, …). */
  type: string;
  /** How this copy was encrypted: `pkmsg` (a new Signal session), `msg` (an existing one), `skmsg` (group sender key). */
  encType: "pkmsg" | "msg" | "skmsg";
  /** The companion device that sent it. */
  from: string;
  at: number;
}

export interface WhatsAppReceipt {
  /** First id; `ids` has all of them. */
  id: string;
  ids: string[];
  to: string;
  participant?: string;
  /** "read", "read-self", "inactive", "sender", "peer_msg", "hist_sync", … or "delivery" when absent. */
  type: string;
  at: number;
}

export interface WhatsAppChatstate {
  to: string;
  /** composing | paused (recording arrives as composing with media=audio). */
  state: string;
  media?: string;
  at: number;
}

export interface WhatsAppIqRecord {
  connection: number;
  xmlns: string;
  type: string;
  /** Tag of the first child, e.g. `count`, `usync`, `props`. */
  child: string;
  at: number;
}

export interface WhatsAppSendTextInput {
  /** The sender's phone number (digits, optionally with +) or JID. */
  from: string;
  text: string;
  /** The sender's push name (`notify`), e.g. "Ann". */
  pushName?: string;
  /** A group JID (`…@g.us`): the message is a sender-key (skmsg) group message from `from`. */
  group?: string;
  /** JIDs mentioned (extendedTextMessage.contextInfo.mentionedJid), e.g. the bot's JID. */
  mentions?: string[];
  /** Message id. Default a random 32-hex id, like a phone's. */
  id?: string;
  /**
   * 1:1 addressing. "pn" (default): from=<phone>@s.whatsapp.net with sender_lid; "lid":
   * from=<lid>@lid with sender_pn (then Baileys' key.remoteJid is the LID, remoteJidAlt the PN);
   * "lid-only": from=<lid>@lid without sender_pn (the phone number is not sent alongside).
   */
  addressing?: "pn" | "lid" | "lid-only";
  /** Unix seconds. Default now. */
  timestamp?: number;
}

/** A pre-key bundle the fake handed out (`iq xmlns=encrypt` `<key><user jid reason?/>`). */
export interface WhatsAppKeyFetch {
  jid: string;
  /** `identity` when Baileys forced a new session (assertSessions with force). */
  reason?: string;
  /** The one-time pre-key given away with it (consumed on the server), if any was left. */
  preKeyId?: number;
  /** The bundle as `injectE2ESession` takes it. */
  bundle: import("./signal-party.ts").PreKeyBundle;
  at: number;
}

/** A retry receipt a contact sent (it could not decrypt `id`, or a test asked it to). */
export interface WhatsAppRetryRequest {
  id: string;
  from: string;
  count: number;
  at: number;
}

export interface WhatsAppPairing {
  method: "qr" | "code";
  deviceJid: string;
  deviceLid: string;
  at: number;
}

/** What `requestPairingCode` sent (the code itself never crosses the wire: the user types it on the phone). */
export interface WhatsAppPairingCodeRequest {
  /** The phone number Baileys claimed (its `jid` attribute, without the server). */
  phoneNumber: string;
  ref: string;
  connection: number;
  at: number;
}

export type WhatsAppDisconnectCode = 401 | 440 | 500 | 503 | 515 | number;

export interface WhatsAppFake {
  /** `ws://127.0.0.1:PORT/ws/chat` — pass as `waWebSocketUrl`. */
  url: string;
  phoneNumber: string;
  /** `<phone>@s.whatsapp.net`. */
  accountJid: string;
  /** `<lid>@lid` of the account. */
  accountLid: string;
  /** WebSocket connections accepted, ever. */
  readonly connections: number;
  /** WebSocket connections currently open. */
  readonly openConnections: number;
  /** Successful logins (`<success>` sent). */
  readonly logins: number;
  /** QR refs sent in pair-device iqs, in total. */
  readonly qrRefsIssued: number;
  /** The refs of the latest pair-device iq. */
  readonly latestQrRefs: string[];
  readonly pairings: WhatsAppPairing[];
  readonly pairingCodeRequests: WhatsAppPairingCodeRequest[];
  /** Messages Baileys sent to contacts (1:1 and group), decrypted. */
  readonly received: WhatsAppReceivedMessage[];
  /** Copies Baileys sent to the account's phone (deviceSentMessage), decrypted. */
  readonly phoneCopies: WhatsAppReceivedMessage[];
  readonly receipts: WhatsAppReceipt[];
  readonly chatstates: WhatsAppChatstate[];
  /** `<presence type name>` stanzas Baileys sent. */
  readonly presences: Array<{ type: string; name?: string; at: number }>;
  readonly iqs: WhatsAppIqRecord[];
  /** Things that went wrong inside the fake (decryption failures, bad stanzas). Tests should expect it empty. */
  readonly errors: string[];
  /** Pre-key bundles handed out, in order. */
  readonly keyFetches: WhatsAppKeyFetch[];
  /** Retry receipts contacts sent. */
  readonly retryRequests: WhatsAppRetryRequest[];
  /**
   * A contact's phone asks for message `id` again (`<receipt type="retry">` with `<retry count>` and
   * its `<registration>`, as Baileys' `sendRetryRequest` and whatsmeow's `sendRetryReceipt` build
   * it), from its phone-number jid or (`addressing: "lid"`) its LID. Baileys answers by re-sending
   * the message (from its recent-message cache, else `getMessage`).
   */
  requestRetry(input: { from: string; id: string; count?: number; addressing?: "pn" | "lid" }): Promise<void>;
  /**
   * The server tells the logged-in devices that a contact's device list changed
   * (`<notification type="devices"><update|add|remove><device jid/></…>`); Baileys applies it to its
   * `userDevicesCache` (`handleDevicesNotification`, Socket/messages-recv.js).
   */
  notifyDevices(input: { from: string; change: "update" | "add" | "remove"; devices?: number[] }): Promise<void>;
  /**
   * Acts as the phone scanning `qr` (the string from `connection.update`): sends pair-success,
   * checks the companion's signed reply, registers the device and ends the stream with 515.
   * Resolves with the new device's JID once the 515 is sent. Throws if no connection shows that QR.
   */
  scanQr(qr: string, options?: { timeoutMs?: number; businessName?: string }): Promise<{ deviceJid: string }>;
  /**
   * Acts as the user typing `code` (what `sock.requestPairingCode` returned) on the phone:
   * completes the link-code exchange, then pair-success and 515 as for a QR.
   */
  confirmPairingCode(code: string, options?: { timeoutMs?: number }): Promise<{ deviceJid: string }>;
  /**
   * A contact (or a group member) sends a text. Delivered at once when a companion is logged in
   * (Baileys: messages.upsert "notify"), otherwise queued and delivered `offline` at the next login
   * ("append"). Resolves once written to the socket or queued.
   */
  sendText(input: WhatsAppSendTextInput): Promise<{ id: string; queued: boolean }>;
  /**
   * The account's owner types on their phone (device 0): in "Message yourself" (no `chat`), or
   * in the chat with `chat` (a contact's phone number). Delivered to every logged-in companion
   * as the phone's own message: `from` = the account's jid, `recipient` = the chat (omitted for
   * the self chat), content a `deviceSentMessage`. Baileys' decodeMessageNode makes that
   * `key.fromMe: true` with `remoteJid` = the chat (the account's own jid in the self chat).
   */
  sendOwnText(input: { text: string; chat?: string; id?: string }): Promise<{ id: string }>;
  /** The first received message (already received or future) matching `predicate`. */
  waitForMessage(predicate?: (message: WhatsAppReceivedMessage) => boolean, timeoutMs?: number): Promise<WhatsAppReceivedMessage>;
  /** Resolves when a companion is logged in and its offline batch was sent (Baileys is about to be "open"). */
  waitForLogin(timeoutMs?: number): Promise<void>;
  /** Registers group metadata for `w:g2` queries (groups used in sendText are registered automatically). */
  addGroup(group: { id: string; subject?: string; participants?: string[] }): void;
  /**
   * Ends every logged-in (or, with `all`, every) connection with a stream error:
   * 515 restart required; 401 device removed (the device is unpaired: later logins get
   * `<failure reason="401"/>`); 440 `<conflict type="replaced"/>`; 411 `<ib><downgrade_webclient/>`
   * (Baileys closes with multideviceMismatch); anything else `code=N`.
   */
  disconnect(code: WhatsAppDisconnectCode, options?: { all?: boolean }): void;
  /** The next login (of any device) is answered `<failure reason=…/>` (401 logged out, 403 banned, 503 …). */
  failNextLogin(reason: number): void;
  /** Destroys every TCP connection without a WebSocket close or stream error. */
  dropSocket(): void;
  /** While on, the fake answers nothing and delivers nothing (pings included); incoming frames are read and dropped. */
  silence(on: boolean): void;
  /**
   * While on, logins get their offline messages but not the `<ib><offline/>` that ends the batch,
   * so Baileys keeps their upserts buffered (their delivery receipts already sent). Off sends it.
   */
  holdOfflineMarker(on: boolean): void;
  /** Ends every socket and timer and stops listening. */
  close(): Promise<void>;
}
