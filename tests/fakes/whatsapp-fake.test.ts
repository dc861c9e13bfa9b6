/**
 * The real Baileys 7.0.0-rc14 client against the loopback WhatsApp fake: linking by QR and by
 * pairing code, login with saved creds, messages both ways through real Signal sessions, receipts
 * and typing, and every disconnect the gateway's adapter must survive.
 */
import "./whatsapp-trust.ts";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { test, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import * as baileys from "baileys";
import {
  Curve, initAuthCreds, makeWASocket, proto, WA_CERT_DETAILS,
  type AuthenticationState, type ConnectionState, type UserFacingSocketConfig, type WAMessage, type WAMessageUpdate,
} from "baileys";
import { verifySignature } from "libsignal/src/curve.js";
import { pino } from "pino";
import { startWhatsAppFake, type WhatsAppFake, type WhatsAppFakeOptions } from "./whatsapp-fake.ts";
import { isWhatsAppFakeTrusted, FAKE_ROOT_PUBLIC_KEY } from "./whatsapp-trust.ts";
import { buildCertChain } from "./whatsapp/noise-server.ts";
import { makeMemoryKeyStore } from "./whatsapp/signal-party.ts";

/** A fake that misbehaves must fail a test, not hang the file. */
const LIMIT = { timeout: 30_000 };
const CONTACT = "15557654321";
const CONTACT_JID = `${CONTACT}@s.whatsapp.net`;
const GROUP_JID = "120363000000000001@g.us";
/** WhatsApp's real "WhatsAppLongTerm1" root, as hard-coded in Baileys. */
const WHATSAPP_ROOT_HEX = "142375574d0a587166aae71ebe516437c4a28b73e3695c6ce1f7f9545da8ee6b";

type Socket = ReturnType<typeof makeWASocket>;

interface Client {
  sock: Socket;
  updates: Array<Partial<ConnectionState>>;
  upserts: Array<{ type: string; messages: WAMessage[] }>;
  messageUpdates: WAMessageUpdate[];
  /** The close's `lastDisconnect.error.output.statusCode`, once closed. */
  closeCode(): number | undefined;
  isOpen(): boolean;
}

/** Polls `check` every 10 ms until it returns something other than undefined/false. */
async function waitFor<T>(check: () => T | undefined | false, label: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${label}`);
    await sleep(10);
  }
}

function memoryAuth(): AuthenticationState {
  return { creds: initAuthCreds(), keys: makeMemoryKeyStore() };
}

async function startFake(t: TestContext, options: WhatsAppFakeOptions = {}): Promise<WhatsAppFake> {
  const fake = await startWhatsAppFake(options);
  t.after(() => fake.close());
  return fake;
}

/** A real Baileys socket on the fake, recording what it emits; ended after the test. */
function startClient(t: TestContext, fake: WhatsAppFake, auth: AuthenticationState, extra: Partial<UserFacingSocketConfig> = {}): Client {
  const sock = makeWASocket({
    waWebSocketUrl: fake.url,
    auth,
    logger: pino({ level: "silent" }),
    syncFullHistory: false,
    markOnlineOnConnect: false,
    defaultQueryTimeoutMs: 3000,
    ...extra,
  });
  const client: Client = {
    sock,
    updates: [],
    upserts: [],
    messageUpdates: [],
    closeCode() {
      const close = client.updates.find((update) => update.connection === "close");
      if (!close) return undefined;
      const error = close.lastDisconnect?.error as { output?: { statusCode?: number } } | undefined;
      return error?.output?.statusCode ?? -1;
    },
    isOpen() {
      return client.updates.some((update) => update.connection === "open") && client.closeCode() === undefined;
    },
  };
  sock.ev.on("connection.update", (update) => void client.updates.push(update));
  sock.ev.on("messages.upsert", (upsert) => void client.upserts.push(upsert));
  sock.ev.on("messages.update", (updates) => void client.messageUpdates.push(...updates));
  t.after(() => sock.end(undefined));
  return client;
}

/** QR -> scan -> 515 -> a new socket with the saved creds -> open. Returns the open client. */
async function linkByQr(t: TestContext, fake: WhatsAppFake, auth: AuthenticationState, extra: Partial<UserFacingSocketConfig> = {}): Promise<Client> {
  const pairingClient = startClient(t, fake, auth, extra);
  const qr = await waitFor(() => pairingClient.updates.find((update) => update.qr)?.qr, "a QR");
  await fake.scanQr(qr);
  assert.equal(await waitFor(() => pairingClient.closeCode(), "the 515 close"), 515);
  const client = startClient(t, fake, auth, extra);
  await waitFor(() => client.isOpen(), "connection open after the 515 restart");
  await fake.waitForLogin();
  return client;
}

function upserted(client: Client, predicate: (message: WAMessage, type: string) => boolean): WAMessage | undefined {
  for (const { type, messages } of client.upserts) for (const message of messages) if (predicate(message, type)) return message;
  return undefined;
}

test("whatsapp-trust.ts rewrites the root key inside the very Baileys module instance the socket uses", async () => {
  assert.equal(isWhatsAppFakeTrusted(), true);
  // The package entry and the file Baileys' noise handler imports must be one module.
  const defaults = await import("baileys/lib/Defaults/index.js") as typeof baileys;
  assert.equal(defaults.WA_CERT_DETAILS, WA_CERT_DETAILS);
  assert.deepEqual(Buffer.from(defaults.WA_CERT_DETAILS.PUBLIC_KEY), FAKE_ROOT_PUBLIC_KEY);
});

/** Prints WA_CERT_DETAILS.PUBLIC_KEY as a child process (a gateway) sees it. */
const CHILD_PROBE = `import { WA_CERT_DETAILS } from "baileys"; console.log(WA_CERT_DETAILS.PUBLIC_KEY.toString("hex"));`;

test("a child started with --import whatsapp-trust.ts trusts the fake root; one without it keeps WhatsApp's", LIMIT, async () => {
  const run = promisify(execFile);
  const probe = async (extraArgs: string[]): Promise<string> => {
    const { stdout } = await run(process.execPath, [...extraArgs, "--input-type=module", "-e", CHILD_PROBE], {
      cwd: fileURLToPath(new URL("../..", import.meta.url)), timeout: 20_000,
    });
    return stdout.trim();
  };
  assert.equal(await probe(["--import", "./tests/fakes/whatsapp-trust.ts"]), FAKE_ROOT_PUBLIC_KEY.toString("hex"));
  assert.equal(await probe([]), WHATSAPP_ROOT_HEX);
});

test("the fake's certificate chain really verifies under the fake root (Baileys rc14 itself checks only the serial)", () => {
  const chain = proto.CertChain.decode(buildCertChain(Buffer.alloc(32, 7)));
  const intermediate = proto.CertChain.NoiseCertificate.Details.decode(chain.intermediate!.details!);
  assert.equal(intermediate.issuerSerial, 0);
  const verify = (key: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean =>
    verifySignature(Buffer.from(key), Buffer.from(message), Buffer.from(signature));
  assert.equal(verify(FAKE_ROOT_PUBLIC_KEY, chain.intermediate!.details!, chain.intermediate!.signature!), true);
  assert.equal(verify(Buffer.from(WHATSAPP_ROOT_HEX, "hex"), chain.intermediate!.details!, chain.intermediate!.signature!), false);
  assert.equal(verify(intermediate.key!, chain.leaf!.details!, chain.leaf!.signature!), true);
  // Baileys' Curve.verify wraps libsignal's verifySignature in try/catch, but that returns false
  // instead of throwing, so any well-formed signature "verifies". If this starts failing, Baileys
  // fixed it and the trust module has become load-bearing: keep importing it.
  assert.equal(Curve.verify(Buffer.from(WHATSAPP_ROOT_HEX, "hex"), chain.intermediate!.details!, chain.intermediate!.signature!), true);
});

test("a new device gets a QR, the phone scans it, the server ends with 515 and the saved creds log in", LIMIT, async (t) => {
  const fake = await startFake(t, { qrRefs: 3 });
  const auth = memoryAuth();
  const client = await linkByQr(t, fake, auth);

  assert.equal(fake.qrRefsIssued, 3);
  assert.equal(fake.pairings.length, 1);
  assert.equal(fake.pairings[0]!.method, "qr");
  assert.equal(auth.creds.me?.id, "15550001111:1@s.whatsapp.net");
  assert.equal(auth.creds.me?.lid, fake.pairings[0]!.deviceLid);
  assert.equal(fake.connections, 2);
  assert.equal(fake.openConnections, 1);
  assert.equal(fake.logins, 1);
  // Baileys asked what a fresh login asks, and got answers (it reached "open").
  const asked = fake.iqs.map((iq) => `${iq.xmlns}/${iq.child}`);
  for (const expected of ["encrypt/count", "encrypt/registration", "passive/active", "encrypt/digest"]) {
    assert.ok(asked.includes(expected), `expected ${expected} in ${asked.join(", ")}`);
  }
  await waitFor(() => client.updates.some((update) => update.receivedPendingNotifications === true), "receivedPendingNotifications");
  // The phone's history notice carries the push name; Baileys adopts it and announces it.
  await waitFor(() => auth.creds.me?.name === "Faraday Test", "creds.me.name from the phone");
  await waitFor(() => fake.presences.find((presence) => presence.name === "Faraday Test"), "the presence with the name");
  assert.deepEqual(fake.errors, []);
});

test("saved creds on a new socket log in without a QR", LIMIT, async (t) => {
  const fake = await startFake(t);
  const auth = memoryAuth();
  const first = await linkByQr(t, fake, auth);
  first.sock.end(undefined);
  await waitFor(() => first.closeCode() !== undefined, "the first socket to close");

  const second = startClient(t, fake, auth);
  await waitFor(() => second.isOpen(), "open with saved creds");
  assert.equal(second.updates.some((update) => update.qr), false);
  assert.equal(fake.logins, 2);
  assert.equal(fake.pairings.length, 1);
});

test("saved creds still log in after the fake restarts, and messages flow both ways again", LIMIT, async (t) => {
  const first = await startFake(t);
  const auth = memoryAuth();
  const old = await linkByQr(t, first, auth);
  old.sock.end(undefined);
  await first.close();

  // A new fake knows nothing of the device: it adopts it (acceptUnknownDevices) and asks for pre-keys.
  const fake = await startFake(t);
  const client = startClient(t, fake, auth);
  await waitFor(() => client.isOpen(), "open on the new fake");
  assert.equal(client.updates.some((update) => update.qr), false);
  const { id } = await fake.sendText({ from: CONTACT, text: "after restart" });
  await waitFor(() => upserted(client, (message) => message.key.id === id && message.message?.conversation === "after restart"), "the upsert");
  await client.sock.sendMessage(CONTACT_JID, { text: "still here" });
  await fake.waitForMessage((message) => message.text === "still here");
  assert.deepEqual(fake.errors, []);
});

test("a fake that does not accept unknown devices refuses saved creds from another fake with 401", LIMIT, async (t) => {
  const first = await startFake(t);
  const auth = memoryAuth();
  const old = await linkByQr(t, first, auth);
  old.sock.end(undefined);
  const strict = await startFake(t, { acceptUnknownDevices: false });
  const client = startClient(t, strict, auth);
  assert.equal(await waitFor(() => client.closeCode(), "the refusal"), 401);
});

test("a contact's text is decrypted by Baileys as a notify upsert, and the reply, read receipt and typing reach the fake", LIMIT, async (t) => {
  const fake = await startFake(t);
  const client = await linkByQr(t, fake, memoryAuth());

  const { id } = await fake.sendText({ from: CONTACT, text: "hi", pushName: "Ann" });
  const incoming = await waitFor(() => upserted(client, (message, type) => type === "notify" && message.key.id === id), "the upsert");
  assert.equal(incoming.message?.conversation, "hi");
  assert.equal(incoming.key.remoteJid, CONTACT_JID);
  assert.equal(incoming.key.fromMe, false);
  assert.equal(incoming.pushName, "Ann");
  assert.match(incoming.key.remoteJidAlt ?? "", /@lid$/);

  await client.sock.sendPresenceUpdate("composing", CONTACT_JID);
  await client.sock.readMessages([incoming.key]);
  const sent = await client.sock.sendMessage(CONTACT_JID, { text: "hello, Ann" });
  const reply = await fake.waitForMessage((message) => message.text === "hello, Ann");
  assert.equal(reply.to, CONTACT_JID);
  assert.equal(reply.id, sent?.key.id);
  // The phone got its own copy (deviceSentMessage), as on WhatsApp.
  assert.ok(fake.phoneCopies.some((copy) => copy.id === sent?.key.id && copy.text === "hello, Ann"));

  await waitFor(() => fake.receipts.find((receipt) => receipt.type === "read" && receipt.id === id), "the read receipt");
  await waitFor(() => fake.chatstates.find((state) => state.to === CONTACT_JID && state.state === "composing"), "composing");
  // The contact's delivery receipt comes back as a status update (3 = DELIVERY_ACK).
  // (Baileys folds it into the still-buffered upsert of the sent message when it arrives early.)
  await waitFor(() => client.messageUpdates.find((update) => update.key.id === sent?.key.id && update.update.status === 3)
    ?? upserted(client, (message) => message.key.id === sent?.key.id && message.status === 3), "delivery status");

  // Second round: existing sessions, so plain `msg` both ways.
  const second = await fake.sendText({ from: CONTACT, text: "again" });
  await waitFor(() => upserted(client, (message) => message.key.id === second.id && message.message?.conversation === "again"), "the second upsert");
  await client.sock.sendMessage(CONTACT_JID, { text: "again to you" });
  await fake.waitForMessage((message) => message.text === "again to you");
  assert.deepEqual(fake.errors, []);
});

test("LID-addressed messages arrive with the LID as remoteJid and the phone number as remoteJidAlt", LIMIT, async (t) => {
  const fake = await startFake(t);
  const client = await linkByQr(t, fake, memoryAuth());
  const { id } = await fake.sendText({ from: CONTACT, text: "via lid", addressing: "lid" });
  const incoming = await waitFor(() => upserted(client, (message) => message.key.id === id), "the upsert");
  assert.match(incoming.key.remoteJid ?? "", /@lid$/);
  assert.equal(incoming.key.remoteJidAlt, CONTACT_JID);
  assert.equal(incoming.message?.conversation, "via lid");
  await client.sock.sendMessage(incoming.key.remoteJid!, { text: "lid reply" });
  const reply = await fake.waitForMessage((message) => message.text === "lid reply");
  assert.match(reply.to, /@lid$/);
  assert.deepEqual(fake.errors, []);
});

test("a group message (sender key) is decrypted, and a reply to the group reaches the members", LIMIT, async (t) => {
  const fake = await startFake(t);
  const client = await linkByQr(t, fake, memoryAuth());
  const botJid = client.sock.user!.id.replace(/:\d+@/, "@");
  const { id } = await fake.sendText({ group: GROUP_JID, from: CONTACT, text: "@bot hello group", pushName: "Ann", mentions: [botJid] });
  const incoming = await waitFor(() => upserted(client, (message) => message.key.id === id), "the group upsert");
  assert.equal(incoming.key.remoteJid, GROUP_JID);
  assert.equal(incoming.key.participant, CONTACT_JID);
  assert.equal(incoming.message?.extendedTextMessage?.text, "@bot hello group");
  assert.deepEqual(incoming.message?.extendedTextMessage?.contextInfo?.mentionedJid, [botJid]);

  const second = await fake.sendText({ group: GROUP_JID, from: CONTACT, text: "second" });
  await waitFor(() => upserted(client, (message) => message.key.id === second.id && message.message?.conversation === "second"), "the second group upsert");

  await client.sock.sendMessage(GROUP_JID, { text: "hello members" });
  const reply = await fake.waitForMessage((message) => message.text === "hello members");
  assert.equal(reply.to, GROUP_JID);
  assert.equal(reply.recipient, CONTACT_JID);
  assert.deepEqual(fake.errors, []);
});

test("texts sent while no device is online are delivered offline at the next login, as 'append'", LIMIT, async (t) => {
  const fake = await startFake(t);
  const auth = memoryAuth();
  const first = await linkByQr(t, fake, auth);
  first.sock.end(undefined);
  await waitFor(() => first.closeCode() !== undefined, "the close");

  const { id, queued } = await fake.sendText({ from: CONTACT, text: "while you were away" });
  assert.equal(queued, true);
  const second = startClient(t, fake, auth);
  const incoming = await waitFor(() => upserted(second, (message) => message.key.id === id), "the offline upsert");
  assert.equal(second.upserts.find((upsert) => upsert.messages.includes(incoming))?.type, "append");
  assert.equal(incoming.message?.conversation, "while you were away");
});

test("a pairing code links the device without a QR", LIMIT, async (t) => {
  const fake = await startFake(t);
  const auth = memoryAuth();
  const pairingClient = startClient(t, fake, auth);
  await waitFor(() => pairingClient.updates.find((update) => update.qr), "the socket to be ready (first QR)");
  const code = await pairingClient.sock.requestPairingCode(fake.phoneNumber);
  assert.match(code, /^[0-9A-Z]{8}$/);
  await waitFor(() => fake.pairingCodeRequests.length === 1, "the companion_hello");
  assert.equal(fake.pairingCodeRequests[0]!.phoneNumber, fake.phoneNumber);

  await fake.confirmPairingCode(code);
  assert.equal(await waitFor(() => pairingClient.closeCode(), "the 515 close"), 515);
  assert.equal(auth.creds.registered, true);
  const client = startClient(t, fake, auth);
  await waitFor(() => client.isOpen(), "open after pairing by code");
  assert.equal(fake.pairings[0]?.method, "code");
});

test("a wrong pairing code is refused by the fake", LIMIT, async (t) => {
  const fake = await startFake(t);
  const pairingClient = startClient(t, fake, memoryAuth());
  await waitFor(() => pairingClient.updates.find((update) => update.qr), "the first QR");
  await pairingClient.sock.requestPairingCode(fake.phoneNumber, "AAAAAAAA");
  await waitFor(() => fake.pairingCodeRequests.length === 1, "the companion_hello");
  await assert.rejects(fake.confirmPairingCode("BBBBBBBB", { timeoutMs: 3000 }), /does not match|companion identity/);
});

test("stream errors close Baileys with the matching status code", LIMIT, async (t) => {
  const fake = await startFake(t);
  const auth = memoryAuth();
  let client = await linkByQr(t, fake, auth);
  for (const code of [440, 500, 515, 503, 411]) {
    fake.disconnect(code);
    assert.equal(await waitFor(() => client.closeCode(), `close after ${code}`), code);
    client = startClient(t, fake, auth);
    await waitFor(() => client.isOpen(), `reopen after ${code}`);
  }
  assert.equal(fake.openConnections, 1);
});

test("401 (device removed) closes with 401 and the same creds are refused afterwards", LIMIT, async (t) => {
  const fake = await startFake(t);
  const auth = memoryAuth();
  const client = await linkByQr(t, fake, auth);
  fake.disconnect(401);
  assert.equal(await waitFor(() => client.closeCode(), "the 401 close"), 401);
  const again = startClient(t, fake, auth);
  assert.equal(await waitFor(() => again.closeCode(), "the failure on re-login"), 401);
  assert.equal(again.updates.some((update) => update.connection === "open"), false);
});

test("a login failure reason (403) reaches Baileys as the close code", LIMIT, async (t) => {
  const fake = await startFake(t);
  const auth = memoryAuth();
  const client = await linkByQr(t, fake, auth);
  client.sock.end(undefined);
  fake.failNextLogin(403);
  const again = startClient(t, fake, auth);
  assert.equal(await waitFor(() => again.closeCode(), "the 403 failure"), 403);
});

test("a dropped TCP connection closes Baileys with 428", LIMIT, async (t) => {
  const fake = await startFake(t);
  const client = await linkByQr(t, fake, memoryAuth());
  fake.dropSocket();
  assert.equal(await waitFor(() => client.closeCode(), "the close"), 428);
  await waitFor(() => fake.openConnections === 0, "the fake to see the socket gone");
});

test("a silent server (no pongs) makes Baileys give up with 408 after its keepalive window", LIMIT, async (t) => {
  const fake = await startFake(t);
  // Baileys pings every keepAliveIntervalMs and closes when nothing arrived for that + 5 s.
  const client = await linkByQr(t, fake, memoryAuth(), { keepAliveIntervalMs: 1000 });
  await sleep(1500);
  assert.equal(client.closeCode(), undefined, "pings are answered while the fake talks");
  fake.silence(true);
  const started = Date.now();
  assert.equal(await waitFor(() => client.closeCode(), "the keepalive close", 15_000), 408);
  assert.ok(Date.now() - started >= 5000, "Baileys waits keepAliveIntervalMs + 5 s");
});

test("a second socket with the same creds replaces the first (440 on the old one)", LIMIT, async (t) => {
  const fake = await startFake(t);
  const auth = memoryAuth();
  const first = await linkByQr(t, fake, auth);
  const second = startClient(t, fake, auth);
  await waitFor(() => second.isOpen(), "the second socket open");
  assert.equal(await waitFor(() => first.closeCode(), "the first socket replaced"), 440);
});

test("QR refs run out: Baileys closes with 408 after showing each ref", LIMIT, async (t) => {
  const fake = await startFake(t, { qrRefs: 2 });
  const client = startClient(t, fake, memoryAuth(), { qrTimeout: 300 });
  assert.equal(await waitFor(() => client.closeCode(), "the close after the last QR"), 408);
  assert.equal(client.updates.filter((update) => update.qr).length, 2);
  assert.equal(fake.latestQrRefs.length, 2);
});

test("Baileys' default in-memory device cache: a reply after a new socket force-fetches a bundle and starts a new session (pkmsg)", LIMIT, async (t) => {
  const fake = await startFake(t);
  const auth = memoryAuth();
  const first = await linkByQr(t, fake, auth);
  await fake.sendText({ from: CONTACT, text: "hi" });
  await waitFor(() => upserted(first, (message) => message.message?.conversation === "hi"), "the upsert");
  await first.sock.sendMessage(CONTACT_JID, { text: "one" });
  const one = await fake.waitForMessage((message) => message.text === "one");
  assert.equal(one.encType, "pkmsg", "the first reply of a socket replaces the session the contact started");
  // Signal keeps sending pkmsg on a new session until the other side answers on it.
  await fake.sendText({ from: CONTACT, text: "ok" });
  await waitFor(() => upserted(first, (message) => message.message?.conversation === "ok"), "the second upsert");
  await first.sock.sendMessage(CONTACT_JID, { text: "two" });
  const two = await fake.waitForMessage((message) => message.text === "two");
  assert.equal(two.encType, "msg", "the same socket keeps the session");
  const fetchesBefore = fake.keyFetches.filter((fetch) => fetch.jid.endsWith("@lid") && fetch.reason === "identity").length;

  first.sock.end(undefined);
  await waitFor(() => first.closeCode() !== undefined, "the first socket to close");
  const second = startClient(t, fake, auth);
  await waitFor(() => second.isOpen(), "open again");
  await second.sock.sendMessage(CONTACT_JID, { text: "three" });
  const three = await fake.waitForMessage((message) => message.text === "three");
  assert.equal(three.encType, "pkmsg", "a new session after the restart: the issue the persistent cache fixes");
  assert.ok(fake.keyFetches.filter((fetch) => fetch.jid.endsWith("@lid") && fetch.reason === "identity").length > fetchesBefore, "a forced key fetch");
  assert.deepEqual(fake.errors, []);
});

test("one-time pre-keys are handed out once; a pkmsg on a consumed one is refused ('Invalid PreKey ID') with a retry receipt, and Baileys re-sends", LIMIT, async (t) => {
  const fake = await startFake(t, { contactPreKeys: 3 });
  const client = await linkByQr(t, fake, memoryAuth());
  await client.sock.sendMessage(CONTACT_JID, { text: "first" });
  const first = await fake.waitForMessage((message) => message.text === "first");
  assert.equal(first.encType, "pkmsg");
  const used = fake.keyFetches.filter((fetch) => fetch.jid.startsWith(CONTACT) || fetch.jid.endsWith("@lid"));
  const contactFetches = fake.keyFetches.filter((fetch) => !fetch.jid.startsWith(fake.phoneNumber) && !fetch.jid.startsWith(fake.accountLid.split("@")[0]!));
  assert.ok(used.length >= 1);
  const consumed = contactFetches.at(-1)!;
  assert.ok(consumed.preKeyId !== undefined, "the bundle carried a one-time pre-key");
  const ids = contactFetches.map((fetch) => fetch.preKeyId).filter((id) => id !== undefined);
  assert.equal(new Set(ids).size, ids.length, "no pre-key handed out twice");

  // A session built again on the pre-key the contact already used (what a stale server copy or a
  // replayed bundle gives): the contact cannot decrypt it and asks again; Baileys re-sends the
  // same id on a freshly fetched session.
  await client.sock.signalRepository.injectE2ESession({ jid: consumed.jid, session: consumed.bundle });
  const sent = await client.sock.sendMessage(CONTACT_JID, { text: "second" });
  await waitFor(() => fake.errors.find((error) => error.includes(sent!.key.id!) && /Invalid PreKey ID/.test(error)), "the refusal");
  await waitFor(() => fake.retryRequests.find((request) => request.id === sent!.key.id), "a retry receipt");
  const resent = await fake.waitForMessage((message) => message.id === sent!.key.id && message.text === "second");
  assert.equal(resent.encType, "pkmsg");
  const later = fake.keyFetches.filter((fetch) => fetch.jid === consumed.jid && fetch.at > consumed.at);
  assert.ok(later.length >= 1 && later.every((fetch) => fetch.preKeyId !== consumed.preKeyId), "later fetches never repeat the consumed pre-key");
});

test("with a contact's one-time pre-keys used up, a key fetch gets a bundle without one and the session still works", LIMIT, async (t) => {
  const fake = await startFake(t, { contactPreKeys: 1 });
  const auth = memoryAuth();
  const client = await linkByQr(t, fake, auth);
  await client.sock.sendMessage(CONTACT_JID, { text: "uses the only pre-key" });
  await fake.waitForMessage((message) => message.text === "uses the only pre-key");
  client.sock.end(undefined);
  await waitFor(() => client.closeCode() !== undefined, "closed");
  const again = startClient(t, fake, auth);
  await waitFor(() => again.isOpen(), "open again");
  await again.sock.sendMessage(CONTACT_JID, { text: "signed pre-key only" });
  const reply = await fake.waitForMessage((message) => message.text === "signed pre-key only");
  assert.equal(reply.encType, "pkmsg");
  const contactFetches = fake.keyFetches.filter((fetch) => fetch.jid.endsWith("@lid") && !fetch.jid.startsWith(fake.accountLid.split("@")[0]!));
  assert.equal(contactFetches[0]!.preKeyId !== undefined, true);
  assert.equal(contactFetches.at(-1)!.preKeyId, undefined);
  assert.deepEqual(fake.errors, []);
});

test("device-list queries return the contact's LID for a phone-number user (and store the mapping in Baileys)", LIMIT, async (t) => {
  const fake = await startFake(t);
  const client = await linkByQr(t, fake, memoryAuth());
  const devices = await client.sock.getUSyncDevices([CONTACT_JID], false, false);
  assert.deepEqual(devices.map((device) => device.device), [0]);
  const lid = await client.sock.signalRepository.lidMapping.getLIDForPN(CONTACT_JID);
  assert.match(lid ?? "", /^2\d+@lid$/);
  assert.equal(baileys.jidNormalizedUser((await client.sock.signalRepository.lidMapping.getPNForLID(lid!)) ?? ""), CONTACT_JID);
});
