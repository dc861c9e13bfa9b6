/**
 * Replies a WhatsApp customer can read: the gateway's own Baileys transport (real Baileys 7,
 * the SQLite auth store, device cache and sent-message store on a real database file) against
 * the loopback WhatsApp fake, whose contacts are real Signal parties that decrypt what they get.
 * A "restart" closes the socket and the database and opens both again from the file.
 */
import "../fakes/whatsapp-trust.ts";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { AccessPolicy } from "../../src/channels/access-policy.ts";
import { ChannelSupervisor } from "../../src/channels/channel-supervisor.ts";
import { WhatsAppAuthStore } from "../../src/channels/whatsapp/auth-store.ts";
import { baileysTransportFactory } from "../../src/channels/whatsapp/baileys-transport.ts";
import { WhatsAppDeviceCache } from "../../src/channels/whatsapp/device-cache.ts";
import { WhatsAppSentMessageStore } from "../../src/channels/whatsapp/sent-message-store.ts";
import type { TransportHandlers, WhatsAppInbound, WhatsAppTransport } from "../../src/channels/whatsapp/transport.ts";
import { createWhatsAppAdapter } from "../../src/channels/whatsapp/whatsapp-adapter.ts";
import { ComponentRegistry } from "../../src/gateway/components.ts";
import { createLogger } from "../../src/logging/index.ts";
import { openDatabase, type Database } from "../../src/state/index.ts";
import { startWhatsAppFake, type WhatsAppFake, type WhatsAppFakeOptions } from "../fakes/whatsapp-fake.ts";
import { eventually } from "../helpers/agent-harness.ts";

const LIMIT = { timeout: 60_000 };
const CONTACT = "15557654321";
const CONTACT_JID = `${CONTACT}@s.whatsapp.net`;
const DEVICE_TTL_MS = 60_000;
const silent = createLogger({ level: "silent" });

/** A clock the test moves; the device cache and the sent-message store read it. */
interface Clock { now: number }

interface Gateway {
  database: Database;
  store: WhatsAppAuthStore;
  deviceCache: WhatsAppDeviceCache;
  sent: WhatsAppSentMessageStore;
  connect(): Promise<Connection>;
  /** Close every socket and the database (a graceful stop of the process). */
  stop(): void;
}

interface Connection {
  transport: WhatsAppTransport;
  inbound: WhatsAppInbound[];
  qrs: string[];
  opened: boolean;
  closeCode: number | undefined | null;
}

async function startFake(t: TestContext, options: WhatsAppFakeOptions = {}): Promise<WhatsAppFake> {
  const fake = await startWhatsAppFake(options);
  t.after(() => fake.close());
  return fake;
}

async function stateFile(t: TestContext): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), "faraday-wa-sessions-"));
  t.after(() => rm(directory, { recursive: true, force: true }));
  return join(directory, "faraday.sqlite");
}

/** One gateway process's worth of WhatsApp: a database opened from `path` and its stores. */
async function openGateway(t: TestContext, path: string, fake: WhatsAppFake, clock: Clock): Promise<Gateway> {
  const database = await openDatabase(path);
  const store = new WhatsAppAuthStore(database);
  const deviceCache = new WhatsAppDeviceCache(database, { ttlMs: DEVICE_TTL_MS, now: () => clock.now });
  const sent = new WhatsAppSentMessageStore(database, { now: () => clock.now });
  const factory = baileysTransportFactory({ store, deviceCache, sentMessages: sent, webSocketUrl: fake.url, queryTimeoutMs: 5_000, logger: silent });
  const connections: Connection[] = [];
  const stop = () => {
    for (const connection of connections) connection.transport.close();
    if (database.isOpen) database.close();
  };
  t.after(stop);
  return {
    database, store, deviceCache, sent, stop,
    async connect() {
      const connection = { inbound: [], qrs: [], opened: false, closeCode: null } as unknown as Connection;
      const handlers: TransportHandlers = {
        qr: (qr) => void connection.qrs.push(qr),
        open: () => void (connection.opened = true),
        close: (code) => void (connection.closeCode = code),
        message: async (message) => void connection.inbound.push(message),
        frame: () => {},
      };
      connection.transport = await factory(handlers);
      connections.push(connection);
      return connection;
    },
  };
}

/** QR → scan → 515 → a new socket with the saved creds → open. */
async function link(gateway: Gateway, fake: WhatsAppFake): Promise<Connection> {
  const linking = await gateway.connect();
  await eventually(() => linking.qrs.length > 0, 15_000, "a QR");
  await fake.scanQr(linking.qrs[0]!);
  await eventually(() => linking.closeCode === 515, 15_000, "the 515 after the scan");
  linking.transport.close();
  return reconnect(gateway, fake);
}

async function reconnect(gateway: Gateway, fake: WhatsAppFake): Promise<Connection> {
  const connection = await gateway.connect();
  await eventually(() => connection.opened, 15_000, "open");
  await fake.waitForLogin();
  return connection;
}

/** The contact writes; resolves with what the gateway's transport handed over. */
async function contactWrites(fake: WhatsAppFake, connection: Connection, text: string, options: { addressing?: "pn" | "lid" | "lid-only" } = {}): Promise<WhatsAppInbound> {
  await fake.sendText({ from: CONTACT, text, ...options });
  let found: WhatsAppInbound | undefined;
  await eventually(() => (found = connection.inbound.find((message) => message.text === text)) !== undefined, 15_000, `the gateway to take in "${text}"`);
  return found!;
}

/** The gateway replies; resolves with the copy the contact decrypted. */
async function reply(fake: WhatsAppFake, connection: Connection, chat: string, text: string) {
  const id = await connection.transport.sendText(chat, text);
  const received = await fake.waitForMessage((message) => message.id === id && message.text === text, 15_000);
  return { id, received };
}

const contactKeyFetches = (fake: WhatsAppFake) => fake.keyFetches.filter((fetch) => fetch.jid.endsWith("@lid") && !fetch.jid.startsWith(fake.accountLid.split("@")[0]!));

test("a known contact's reply after a graceful restart, and after an idle gap longer than the device-cache TTL, is a msg on the existing session the contact decrypts", LIMIT, async (t) => {
  const fake = await startFake(t);
  const path = await stateFile(t);
  const clock: Clock = { now: Date.now() };
  let gateway = await openGateway(t, path, fake, clock);
  let connection = await link(gateway, fake);

  // A new contact: the first reply builds our session with them (pkmsg); once they answer on it,
  // replies are plain messages on that session.
  const hello = await contactWrites(fake, connection, "hi");
  assert.equal((await reply(fake, connection, hello.chatJid, "one")).received.encType, "pkmsg");
  await contactWrites(fake, connection, "ok");
  assert.equal((await reply(fake, connection, hello.chatJid, "two")).received.encType, "msg");
  const fetchesBefore = contactKeyFetches(fake).length;

  // Graceful restart: socket and database closed, everything read back from the file.
  gateway.stop();
  gateway = await openGateway(t, path, fake, clock);
  connection = await reconnect(gateway, fake);
  const afterRestart = await reply(fake, connection, CONTACT_JID, "three");
  assert.equal(afterRestart.received.encType, "msg", "the session survived the restart");
  assert.equal(afterRestart.received.recipient.endsWith("@lid") || afterRestart.received.recipient === CONTACT_JID, true);
  assert.equal(contactKeyFetches(fake).length, fetchesBefore, "no key bundle fetched: no new session, no pre-key consumed");

  // Idle longer than the device list's TTL: the cached list is still used (no forced new
  // session) and re-read in the background with a devices-only query.
  const usyncsBefore = fake.iqs.filter((iq) => iq.xmlns === "usync").length;
  const stamp = gateway.deviceCache.fetchedAt(CONTACT);
  assert.ok(stamp !== undefined, "the contact's device list is in the database");
  clock.now += DEVICE_TTL_MS * 3;
  const afterGap = await reply(fake, connection, CONTACT_JID, "four");
  assert.equal(afterGap.received.encType, "msg", "the session survived the idle gap");
  await eventually(() => gateway.deviceCache.fetchedAt(CONTACT) === clock.now, 10_000, "the device list re-read");
  assert.ok(fake.iqs.filter((iq) => iq.xmlns === "usync").length > usyncsBefore);
  assert.equal((await reply(fake, connection, CONTACT_JID, "five")).received.encType, "msg");
  assert.equal(contactKeyFetches(fake).length, fetchesBefore, "still no new session");
  assert.deepEqual(fake.errors, []);
});

test("a device-list notification updates the stored list: 'update' drops it, and the next reply asks the server again", LIMIT, async (t) => {
  const fake = await startFake(t);
  const clock: Clock = { now: Date.now() };
  const gateway = await openGateway(t, await stateFile(t), fake, clock);
  const connection = await link(gateway, fake);
  const hello = await contactWrites(fake, connection, "hi");
  await reply(fake, connection, hello.chatJid, "one");
  assert.ok(gateway.deviceCache.get(CONTACT));
  await fake.notifyDevices({ from: CONTACT, change: "update" });
  await eventually(() => gateway.deviceCache.get(CONTACT) === undefined, 10_000, "the list dropped");
  const usyncsBefore = fake.iqs.filter((iq) => iq.xmlns === "usync").length;
  await reply(fake, connection, hello.chatJid, "two");
  assert.ok(fake.iqs.filter((iq) => iq.xmlns === "usync").length > usyncsBefore, "asked the server again");
  assert.ok(gateway.deviceCache.get(CONTACT), "and stored the answer");
  assert.deepEqual(fake.errors, []);
});

test("a retry receipt after a restart gets the message re-sent from the database, under either jid form; nothing for an unknown id", LIMIT, async (t) => {
  const fake = await startFake(t);
  const path = await stateFile(t);
  const clock: Clock = { now: Date.now() };
  let gateway = await openGateway(t, path, fake, clock);
  let connection = await link(gateway, fake);
  const hello = await contactWrites(fake, connection, "hi");
  const { id } = await reply(fake, connection, hello.chatJid, "the answer you could not read");
  assert.equal(gateway.sent.count(), 1);

  gateway.stop();
  gateway = await openGateway(t, path, fake, clock);
  connection = await reconnect(gateway, fake);

  // An id the gateway never sent first: Baileys handles receipts in order, so once the known
  // id's re-send arrives, the unknown one has been dealt with.
  await fake.requestRetry({ from: CONTACT, id: "3EB0UNKNOWN0000000000000" });
  await fake.requestRetry({ from: CONTACT, id });
  await eventually(() => fake.received.filter((message) => message.id === id).length === 2, 15_000, "the re-send");
  const resent = fake.received.filter((message) => message.id === id)[1]!;
  assert.equal(resent.text, "the answer you could not read", "the contact decrypted the re-sent copy");
  assert.equal(fake.received.some((message) => message.id === "3EB0UNKNOWN0000000000000"), false);

  // The contact's phone asks again, this time under its LID.
  await fake.requestRetry({ from: CONTACT, id, addressing: "lid" });
  await eventually(() => fake.received.filter((message) => message.id === id).length === 3, 15_000, "the re-send to the LID");
  assert.match(fake.received.filter((message) => message.id === id)[2]!.to, /@lid$/);
  assert.deepEqual(fake.errors, []);
});

test("a LID-only sender (no phone number alongside) listed in allowFrom by phone number is admitted, through Baileys' LID mapping", LIMIT, async (t) => {
  const fake = await startFake(t);
  const path = await stateFile(t);
  const clock: Clock = { now: Date.now() };
  let gateway = await openGateway(t, path, fake, clock);
  let connection = await link(gateway, fake);
  const first = await contactWrites(fake, connection, "hi");
  assert.equal(first.sender, `+${CONTACT}`);

  // After a restart (the mapping comes back from the database) the contact writes LID-only.
  gateway.stop();
  gateway = await openGateway(t, path, fake, clock);
  connection = await reconnect(gateway, fake);
  const lidOnly = await contactWrites(fake, connection, "via lid only", { addressing: "lid-only" });
  assert.match(lidOnly.chatJid, /@lid$/);
  assert.equal(lidOnly.sender, `+${CONTACT}`);
  const policy = new AccessPolicy(gateway.database);
  const verdict = policy.decide({
    channel: "whatsapp", account: "+15550001111", chat: lidOnly.chatJid, chatType: "dm", sender: lidOnly.sender,
    text: lidOnly.text, platformId: `${lidOnly.chatJid}:${lidOnly.id}`, addressedToBot: false,
  }, { dmPolicy: "allowlist", allowFrom: [`+${CONTACT}`] });
  assert.deepEqual(verdict, { allow: true });

  // A LID nobody ever mapped stays a LID: not admitted by a phone number.
  await fake.sendText({ from: "15559998888", text: "stranger", addressing: "lid-only" });
  await eventually(() => connection.inbound.some((message) => message.text === "stranger"), 15_000, "the stranger's message");
  const stranger = connection.inbound.find((message) => message.text === "stranger")!;
  assert.match(stranger.sender, /@lid$/);
  assert.equal(policy.decide({
    channel: "whatsapp", account: "+15550001111", chat: stranger.chatJid, chatType: "dm", sender: stranger.sender,
    text: stranger.text, platformId: `${stranger.chatJid}:${stranger.id}`, addressedToBot: false,
  }, { dmPolicy: "allowlist", allowFrom: ["+15559998888"] }).allow, false);
  assert.deepEqual(fake.errors, []);
});

for (const code of [411, 403] as const) {
  test(`${code} from WhatsApp halts the channel with the fix and keeps the link (real Baileys, real adapter)`, LIMIT, async (t) => {
    const fake = await startFake(t);
    const clock: Clock = { now: Date.now() };
    const gateway = await openGateway(t, await stateFile(t), fake, clock);
    (await link(gateway, fake)).transport.close();
    const adapter = createWhatsAppAdapter({
      connect: baileysTransportFactory({ store: gateway.store, deviceCache: gateway.deviceCache, sentMessages: gateway.sent, webSocketUrl: fake.url, queryTimeoutMs: 5_000, logger: silent }),
      store: gateway.store,
      knownChat: () => true,
      onLinked: () => {},
      logger: silent,
      openTimeoutMs: 15_000,
    });
    const supervisor = new ChannelSupervisor(adapter, { receive: async () => {}, action: async () => {} }, new ComponentRegistry(), silent, { initialBackoffMs: 20, maxBackoffMs: 50, random: () => 0.5 });
    t.after(() => supervisor.stop());
    if (code === 403) fake.failNextLogin(403);
    supervisor.start();
    if (code === 411) {
      await eventually(() => supervisor.state.state === "connected", 15_000, "connected");
      fake.disconnect(411);
    }
    await eventually(() => supervisor.state.state === "failed", 15_000, `failed after ${code}`);
    assert.match(supervisor.state.reason, code === 411 ? /411, multi-device mismatch.*update WhatsApp on the phone/ : /refused this account \(403\).*link is kept/);
    assert.equal(gateway.store.isLinked(), true, "the creds are kept");
    // The sentinel: the channel is restarted by hand and connects with the same creds — had the
    // policy reconnected on its own, the fake would have counted more logins than this one.
    const logins = fake.logins;
    await supervisor.restart();
    await eventually(() => supervisor.state.state === "connected", 15_000, "connected after a manual restart");
    assert.equal(fake.logins, logins + 1, "exactly one login: the manual restart's");
  });
}

test("messages Baileys holds after their delivery receipts are taken in by a graceful stop, and named in the log when the socket closes without one", LIMIT, async (t) => {
  const fake = await startFake(t);
  const path = await stateFile(t);
  const clock: Clock = { now: Date.now() };
  let gateway = await openGateway(t, path, fake, clock);
  let connection = await link(gateway, fake);
  gateway.stop();

  // Offline messages arrive at the next login; WhatsApp gets their delivery receipts, but the
  // batch is not finished, so Baileys keeps the upserts in its buffer.
  fake.holdOfflineMarker(true);
  await eventually(() => fake.openConnections === 0, 10_000, "the socket closed");
  const first = await fake.sendText({ from: CONTACT, text: "written while you were down" });
  assert.equal(first.queued, true);
  gateway = await openGateway(t, path, fake, clock);
  connection = await reconnect(gateway, fake);
  // ("inactive": the delivery receipt of a client that has not announced itself online.)
  const delivered = (id: string) => fake.receipts.some((receipt) => receipt.id === id && (receipt.type === "delivery" || receipt.type === "inactive"));
  await eventually(() => delivered(first.id), 15_000, "the delivery receipt");
  assert.equal(connection.inbound.length, 0, "still inside Baileys' buffer");
  await connection.transport.drain();
  assert.deepEqual(connection.inbound.map((message) => message.id), [first.id]);

  // Without the drain (the socket dropped), the id is in the log: WhatsApp will not send it again.
  const lines: string[] = [];
  const logger = createLogger({ level: "info", destination: { write: (line: string) => void lines.push(line) } as unknown as NodeJS.WritableStream });
  gateway.stop();
  await eventually(() => fake.openConnections === 0, 10_000, "the socket closed");
  const second = await fake.sendText({ from: CONTACT, text: "also while you were down" });
  assert.equal(second.queued, true);
  const database = await openDatabase(path);
  t.after(() => database.isOpen && database.close());
  const store = new WhatsAppAuthStore(database);
  const inbound: WhatsAppInbound[] = [];
  let opened = false;
  const transport = await baileysTransportFactory({ store, webSocketUrl: fake.url, queryTimeoutMs: 5_000, logger })({
    qr: () => {}, open: () => void (opened = true), close: () => {}, message: async (message) => void inbound.push(message), frame: () => {},
  });
  t.after(() => transport.close());
  await eventually(() => opened, 15_000, "open");
  await eventually(() => delivered(second.id), 15_000, "the second delivery receipt");
  transport.close();
  assert.equal(inbound.length, 0);
  const logged = lines.map((line) => JSON.parse(line) as { msg: string; id?: string }).find((entry) => entry.id === second.id);
  assert.match(logged?.msg ?? "", /arrived as the socket closed and was not taken in/);
  fake.holdOfflineMarker(false);
});
