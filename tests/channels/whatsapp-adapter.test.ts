/**
 * WhatsApp's reconnect policy, state reporting, linking and access rules, behind the adapter's
 * own transport port (src/channels/whatsapp/transport.ts) and under the real ChannelSupervisor.
 * The socket-level behaviour with the real Baileys is in whatsapp-channel.test.ts.
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { ChannelSupervisor } from "../../src/channels/channel-supervisor.ts";
import { AccessPolicy } from "../../src/channels/access-policy.ts";
import type { InboundMessage } from "../../src/channels/channel-adapter.ts";
import { closeAction, phoneDigits, phoneFromJid, type TransportHandlers, type WhatsAppTransport } from "../../src/channels/whatsapp/transport.ts";
import { createWhatsAppAdapter, type WhatsAppAdapter } from "../../src/channels/whatsapp/whatsapp-adapter.ts";
import { ComponentRegistry } from "../../src/gateway/components.ts";
import { createLogger } from "../../src/logging/index.ts";
import { eventually } from "../helpers/agent-harness.ts";

const silent = createLogger({ level: "silent" });

/** One fake socket per connect; records what the adapter did with it. */
class FakeSocket implements WhatsAppTransport {
  readonly handlers: TransportHandlers;
  closed = false;
  sent: Array<{ jid: string; text: string }> = [];
  read: unknown[] = [];
  typing: Array<{ jid: string; typing: boolean }> = [];
  pairingRequests: string[] = [];
  loggedOut = false;
  drained = 0;
  constructor(handlers: TransportHandlers) {
    this.handlers = handlers;
  }
  async requestPairingCode(digits: string) {
    this.pairingRequests.push(digits);
    return "ABCD1234";
  }
  async sendText(jid: string, text: string) {
    this.sent.push({ jid, text });
    return `sent-${this.sent.length}`;
  }
  async markRead(key: unknown) {
    this.read.push(key);
  }
  async setTyping(jid: string, typing: boolean) {
    this.typing.push({ jid, typing });
  }
  async logout() {
    this.loggedOut = true;
  }
  async drain() {
    this.drained++;
  }
  close() {
    this.closed = true;
  }
}

interface Harness {
  adapter: WhatsAppAdapter;
  supervisor: ChannelSupervisor;
  components: ComponentRegistry;
  sockets: FakeSocket[];
  store: { linked: string | undefined; wiped: number };
  received: InboundMessage[];
  linkedCalls: number;
  /** What the next connect does once the socket exists. */
  onConnect: (socket: FakeSocket) => void;
  state(): { state: string; reason: string };
  /** Sockets not closed: never more than one. */
  live(): FakeSocket[];
  /** Restarts the supervisor scheduled after a backoff (each also runs, on a real timer). */
  retries: number[];
}

function harness(t: TestContext, options: { linked?: boolean; keepAliveMs?: number; knownChats?: string[] } = {}): Harness {
  const components = new ComponentRegistry();
  const state: Harness = {
    sockets: [],
    store: { linked: options.linked === false ? undefined : "15550001111:1@s.whatsapp.net", wiped: 0 },
    received: [],
    linkedCalls: 0,
    retries: [],
    onConnect: (socket: FakeSocket) => queueMicrotask(() => socket.handlers.open({ id: "15550001111:1@s.whatsapp.net" })),
  } as unknown as Harness;
  const known = new Set(options.knownChats ?? ["15557654321@s.whatsapp.net"]);
  const adapter = createWhatsAppAdapter({
    connect: async (handlers) => {
      assert.equal(state.sockets.filter((socket: FakeSocket) => !socket.closed).length, 0, "never two sockets for one account");
      const socket = new FakeSocket(handlers);
      state.sockets.push(socket);
      state.onConnect(socket);
      return socket;
    },
    store: {
      isLinked: () => state.store.linked !== undefined,
      linkedAs: () => state.store.linked,
      wipe: () => {
        state.store.linked = undefined;
        state.store.wiped++;
      },
    },
    knownChat: (chat) => known.has(chat),
    onLinked: () => state.linkedCalls++,
    logger: silent,
    keepAliveMs: options.keepAliveMs ?? 60_000,
    openTimeoutMs: 2_000,
    qrToDataUrl: async (qr) => `data:image/png;base64,${Buffer.from(qr).toString("base64")}`,
  });
  const supervisor = new ChannelSupervisor(adapter, {
    receive: async (message) => {
      state.received.push(message);
    },
    action: async () => {},
  }, components, silent, {
    initialBackoffMs: 30, maxBackoffMs: 100, random: () => 0.5,
    scheduleRetry: (run, delayMs) => {
      state.retries.push(delayMs);
      const timer = setTimeout(run, delayMs);
      return { cancel: () => clearTimeout(timer) };
    },
  });
  t.after(() => supervisor.stop());
  return Object.assign(state, {
    adapter,
    supervisor,
    components,
    state: () => supervisor.state,
    live: () => state.sockets.filter((socket) => !socket.closed),
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("disconnect codes map to WhatsApp's policy", () => {
  assert.deepEqual(closeAction(515), { kind: "restart-now" });
  assert.deepEqual(closeAction(401), { kind: "logged-out" });
  assert.deepEqual(closeAction(403), { kind: "forbidden" });
  assert.deepEqual(closeAction(411), { kind: "multidevice-mismatch" });
  assert.deepEqual(closeAction(440), { kind: "replaced" });
  for (const code of [408, 428, 500, 503, undefined]) assert.deepEqual(closeAction(code), { kind: "backoff" }, String(code));
  assert.equal(phoneFromJid("15557654321@s.whatsapp.net"), "+15557654321");
  assert.equal(phoneFromJid("15557654321:7@s.whatsapp.net"), "+15557654321");
  assert.equal(phoneFromJid("1203630@g.us"), "1203630@g.us");
  assert.equal(phoneDigits("+1 (555) 123-4567"), "15551234567");
  assert.equal(phoneDigits("call me"), undefined);
});

test("an unlinked WhatsApp reports logged_out with the fix, and opens no socket", async (t) => {
  const h = harness(t, { linked: false });
  h.supervisor.start();
  await eventually(() => h.state().state === "logged_out");
  assert.match(h.state().reason, /faraday channels login whatsapp/);
  assert.equal(h.sockets.length, 0);
  const component = h.components.list().find((entry) => entry.name === "channel:whatsapp");
  assert.equal(component?.ready, false);
});

test("connected only while a socket is open; 515 reconnects at once with no backoff", async (t) => {
  const h = harness(t);
  h.supervisor.start();
  await eventually(() => h.state().state === "connected");
  assert.equal(h.adapter.connected, true);
  const before = Date.now();
  h.sockets[0]!.handlers.close(515, "Stream Errored (restart required)");
  assert.equal(h.sockets[0]!.closed, true, "the old socket is closed (listeners removed) before anything else");
  await eventually(() => h.sockets.length === 2 && h.state().state === "connected");
  assert.ok(Date.now() - before < 1_000, "no backoff after 515");
  assert.equal(h.live().length, 1);
  // The old socket's late events are not ours any more. Sentinel: a later 515 on the current
  // socket is handled after the late 500 would have been; only then look for a backoff.
  h.sockets[0]!.handlers.close(500, "late");
  h.sockets[1]!.handlers.close(515, "Stream Errored (restart required)");
  await eventually(() => h.sockets.length === 3 && h.state().state === "connected");
  assert.deepEqual(h.retries, [], "the old socket's late 500 scheduled no backoff restart");
  assert.equal(h.live().length, 1);
});

test("401 wipes the creds and reports logged_out; no reconnect loop", async (t) => {
  const h = harness(t);
  h.supervisor.start();
  await eventually(() => h.state().state === "connected");
  h.sockets[0]!.handlers.close(401, "Connection Failure");
  await eventually(() => h.state().state === "logged_out");
  assert.equal(h.store.wiped, 1);
  assert.equal(h.adapter.connected, false);
  // The supervisor settled in logged_out without scheduling a restart: nothing can open a socket later.
  assert.deepEqual(h.retries, [], "no reconnect scheduled after a logout");
  assert.equal(h.sockets.length, 1, "no new socket after a logout");
  assert.equal(h.adapter.loginStatus().state, "idle");
});

for (const [code, pattern] of [[403, /refused this account \(403\).*link is kept/], [411, /\(411, multi-device mismatch\): update WhatsApp on the phone/]] as const) {
  for (const when of ["after open", "at login"] as const) {
    test(`${code} ${when} halts with the fix, keeps the creds, and does not reconnect`, async (t) => {
      const h = harness(t);
      if (when === "at login") h.onConnect = (socket) => queueMicrotask(() => socket.handlers.close(code, "Connection Failure"));
      h.supervisor.start();
      if (when === "after open") {
        await eventually(() => h.state().state === "connected");
        h.sockets[0]!.handlers.close(code, "Connection Failure");
      }
      await eventually(() => h.state().state === "failed");
      assert.match(h.state().reason, pattern);
      assert.equal(h.store.wiped, 0, "only 401 wipes the link");
      assert.equal(h.store.linked, "15550001111:1@s.whatsapp.net");
      assert.equal(h.adapter.loginStatus().state, "linked");
      assert.deepEqual(h.retries, [], "no reconnect scheduled");
      // And the owner's restart connects with the kept link — only that one new socket.
      h.onConnect = (socket) => queueMicrotask(() => socket.handlers.open({ id: "15550001111:1@s.whatsapp.net" }));
      await h.supervisor.restart();
      await eventually(() => h.state().state === "connected");
      assert.equal(h.sockets.length, 2, "no reconnect loop: only the manual restart's socket");
    });
  }
}

test("a graceful stop first takes in what the socket still holds", async (t) => {
  const h = harness(t);
  h.supervisor.start();
  await eventually(() => h.state().state === "connected");
  await h.supervisor.stop();
  assert.equal(h.sockets[0]!.drained, 1);
  assert.equal(h.sockets[0]!.closed, true);
});

test("440 (another client took over) fails with reason replaced and does not reconnect", async (t) => {
  const h = harness(t);
  h.supervisor.start();
  await eventually(() => h.state().state === "connected");
  h.sockets[0]!.handlers.close(440, "Stream Errored (conflict)");
  await eventually(() => h.state().state === "failed");
  assert.match(h.state().reason, /^replaced/);
  assert.deepEqual(h.retries, [], "no reconnect scheduled: no ping-pong with the other session");
  assert.equal(h.sockets.length, 1, "no ping-pong with the other session");
  assert.equal(h.store.wiped, 0, "the link is still valid");
  // The owner presses "reconnect" once the other session is gone.
  await h.supervisor.restart();
  await eventually(() => h.state().state === "connected");
  assert.equal(h.sockets.length, 2);
});

test("408/428/500 reconnect with capped backoff", async (t) => {
  const h = harness(t);
  h.supervisor.start();
  await eventually(() => h.state().state === "connected");
  for (const [index, code] of [408, 428, 500].entries()) {
    h.sockets[index]!.handlers.close(code, "Connection Lost");
    await eventually(() => h.state().state === "reconnecting" || h.sockets.length === index + 2);
    await eventually(() => h.sockets.length === index + 2 && h.state().state === "connected");
    assert.equal(h.live().length, 1);
  }
});

test("a socket that fails to log in is retried with backoff, then connects", async (t) => {
  const h = harness(t);
  let attempts = 0;
  h.onConnect = (socket) => queueMicrotask(() => (++attempts < 3 ? socket.handlers.close(428, "Connection Closed") : socket.handlers.open({ id: "15550001111:1@s.whatsapp.net" })));
  h.supervisor.start();
  await eventually(() => h.state().state === "reconnecting");
  assert.match(h.state().reason, /428/);
  await eventually(() => h.state().state === "connected");
  assert.equal(h.sockets.length, 3);
});

test("the watchdog reconnects a socket that stopped delivering", async (t) => {
  const h = harness(t, { keepAliveMs: 10 }); // watchdog: 2 × 10 ms + 10 s slack is too long for a test…
  // …so check the arithmetic and drive the real supervisor with a short adapter watchdog.
  assert.equal(h.adapter.watchdogMs, 10_020);
  const fast = Object.create(h.adapter, { watchdogMs: { value: 200 } }) as WhatsAppAdapter;
  const components = new ComponentRegistry();
  const supervisor = new ChannelSupervisor(fast, { receive: async () => {}, action: async () => {} }, components, silent, { initialBackoffMs: 20, maxBackoffMs: 50, random: () => 0.5 });
  t.after(() => supervisor.stop());
  supervisor.start();
  await eventually(() => supervisor.state.state === "connected");
  // Frames keep it alive…
  const beat = setInterval(() => h.sockets.at(-1)?.handlers.frame(), 50);
  await sleep(500);
  assert.equal(h.sockets.length, 1);
  // …silence does not: it is noticed, never reported as connected meanwhile, and reconnected.
  clearInterval(beat);
  await eventually(() => h.sockets.length >= 2, 3_000);
  assert.equal(h.live().length, 1);
  await eventually(() => supervisor.state.state === "connected");
});

test("inbound text is stored, then read-receipted; replies only to chats that wrote; fails fast when disconnected", async (t) => {
  const h = harness(t);
  h.supervisor.start();
  await eventually(() => h.state().state === "connected");
  const socket = h.sockets[0]!;
  await socket.handlers.message({ id: "M1", chatJid: "15557654321@s.whatsapp.net", sender: "+15557654321", pushName: "Ann", text: "hi", isGroup: false, addressedToMe: false, key: { id: "M1" } });
  assert.deepEqual(h.received.map((message) => ({ chat: message.chat, sender: message.sender, text: message.text, platformId: message.platformId, chatType: message.chatType })), [
    { chat: "15557654321@s.whatsapp.net", sender: "+15557654321", text: "hi", platformId: "15557654321@s.whatsapp.net:M1", chatType: "dm" },
  ]);
  assert.deepEqual(socket.read, [{ id: "M1" }], "read receipt after the message is stored");

  await h.adapter.sendTyping("15557654321@s.whatsapp.net");
  assert.equal(await h.adapter.sendText("15557654321@s.whatsapp.net", "hello Ann"), "sent-1");
  assert.deepEqual(socket.typing, [{ jid: "15557654321@s.whatsapp.net", typing: true }, { jid: "15557654321@s.whatsapp.net", typing: false }]);
  await assert.rejects(h.adapter.sendText("15550009999@s.whatsapp.net", "cold message"), { code: "CHANNEL_NOT_ALLOWED" });
  assert.equal(socket.sent.length, 1, "never starts a conversation");

  socket.handlers.close(500, "bad session");
  const started = Date.now();
  h.onConnect = () => {}; // the next socket never opens
  await assert.rejects(h.adapter.sendText("15557654321@s.whatsapp.net", "while down"), { code: "CHANNEL_UNAVAILABLE" });
  assert.ok(Date.now() - started < 200, "fails fast");
});

test("linking by QR: rotating codes with PNG data URLs, then the scan's 515 finishes it", async (t) => {
  const h = harness(t, { linked: false });
  h.onConnect = (socket) => queueMicrotask(() => socket.handlers.qr("2@ref-one,noise,identity,adv"));
  h.supervisor.start();
  await eventually(() => h.state().state === "logged_out");
  const first = await h.adapter.beginLogin({});
  assert.ok(["starting", "qr"].includes(first.state), first.state);
  await eventually(() => h.adapter.loginStatus().qrDataUrl !== null);
  assert.equal(h.adapter.loginStatus().state, "qr");
  assert.equal(h.adapter.loginStatus().qr, "2@ref-one,noise,identity,adv");
  assert.match(h.adapter.loginStatus().qrDataUrl!, /^data:image\/png;base64,/);
  // Asking again while linking does not open a second socket.
  await h.adapter.beginLogin({});
  assert.equal(h.sockets.length, 1);
  h.sockets[0]!.handlers.qr("2@ref-two,noise,identity,adv");
  await eventually(() => h.adapter.loginStatus().qr === "2@ref-two,noise,identity,adv");
  // The phone scans: the creds now carry the account; WhatsApp restarts the stream.
  h.store.linked = "15550001111:2@s.whatsapp.net";
  h.sockets[0]!.handlers.close(515, "restart required");
  await eventually(() => h.adapter.loginStatus().state === "linked");
  assert.equal(h.adapter.loginStatus().account, "+15550001111");
  assert.equal(h.adapter.loginStatus().qr, null);
  assert.equal(h.linkedCalls, 1);
  assert.equal(h.sockets[0]!.closed, true);
  // The owner restarts the channel (the gateway does this in onLinked): it connects with the creds.
  h.onConnect = (socket) => queueMicrotask(() => socket.handlers.open({ id: "15550001111:2@s.whatsapp.net" }));
  await h.supervisor.restart();
  await eventually(() => h.state().state === "connected");
  await assert.rejects(h.adapter.beginLogin({}), { code: "CHANNEL_ALREADY_LINKED" });
});

test("linking by pairing code, QR expiry, and unlinking", async (t) => {
  const h = harness(t, { linked: false });
  h.onConnect = (socket) => queueMicrotask(() => socket.handlers.qr("2@ref,noise,identity,adv"));
  await assert.rejects(h.adapter.beginLogin({ phoneNumber: "not a number" }), { code: "BAD_REQUEST" });
  await h.adapter.beginLogin({ phoneNumber: "+1 555 000 1111" });
  await eventually(() => h.adapter.loginStatus().state === "pairing_code");
  assert.equal(h.adapter.loginStatus().pairingCode, "ABCD1234");
  assert.deepEqual(h.sockets[0]!.pairingRequests, ["15550001111"]);
  assert.equal(h.adapter.loginStatus().qr, null, "no QR shown when linking by code");

  // Nobody typed it: WhatsApp gives up (408) and the status says what to do.
  h.sockets[0]!.handlers.close(408, "QR refs attempts ended");
  await eventually(() => h.adapter.loginStatus().state === "failed");
  assert.match(h.adapter.loginStatus().reason!, /pairing code expired.*start linking again/);
  assert.equal(h.live().length, 0);

  // Linked and connected, then unlinked by the owner: WhatsApp is told, creds wiped.
  h.store.linked = "15550001111:3@s.whatsapp.net";
  h.onConnect = (socket) => queueMicrotask(() => socket.handlers.open({ id: "15550001111:3@s.whatsapp.net" }));
  h.supervisor.start();
  await eventually(() => h.state().state === "connected");
  const socket = h.sockets.at(-1)!;
  await h.adapter.logout();
  assert.equal(socket.loggedOut, true);
  assert.equal(socket.closed, true);
  assert.equal(h.store.linked, undefined);
  assert.equal(h.adapter.connected, false);
});

test("access: E.164 numbers in allowFrom admit WhatsApp senders; groups answer only when mentioned", async (t) => {
  const { mkdtemp, rm } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { openDatabase } = await import("../../src/state/database.ts");
  const directory = await mkdtemp(join(tmpdir(), "faraday-wa-access-"));
  const database = await openDatabase(join(directory, "db.sqlite"));
  t.after(async () => {
    database.close();
    await rm(directory, { recursive: true, force: true });
  });
  const policy = new AccessPolicy(database);
  const dm = (sender: string): InboundMessage => ({ channel: "whatsapp", account: "+15550001111", chat: `${sender.slice(1)}@s.whatsapp.net`, chatType: "dm", sender, text: "hi", platformId: `x:${sender}`, addressedToBot: false });
  const config = { dmPolicy: "allowlist" as const, allowFrom: ["+15557654321"] };
  assert.deepEqual(policy.decide(dm("+15557654321"), config), { allow: true });
  assert.equal(policy.decide(dm("+15550000000"), config).allow, false);
  const pairing = policy.decide(dm("+15550000000"), { dmPolicy: "pairing" });
  assert.equal(pairing.allow, false);
  assert.match((pairing as { reply: string }).reply, /pairing code is [A-Z2-9]{8}/);

  const group = (addressed: boolean): InboundMessage => ({ channel: "whatsapp", account: "+15550001111", chat: "120363000000000001@g.us", chatType: "group", sender: "+15557654321", text: "hi", platformId: `g:${addressed}`, addressedToBot: addressed });
  const groupConfig = { groupPolicy: "allowlist" as const, groups: ["120363000000000001@g.us"] };
  assert.deepEqual(policy.decide(group(true), groupConfig), { allow: true });
  assert.deepEqual(policy.decide(group(false), groupConfig), { allow: false, reason: "not mentioned" });
});

test("a message that cannot be stored restarts the channel instead of crashing or read-receipting it", async (t) => {
  const h = harness(t);
  const components = new ComponentRegistry();
  const supervisor = new ChannelSupervisor(h.adapter, {
    receive: async () => {
      throw new Error("database is locked");
    },
    action: async () => {},
  }, components, silent, { initialBackoffMs: 20, maxBackoffMs: 50, random: () => 0.5 });
  t.after(() => supervisor.stop());
  supervisor.start();
  await eventually(() => supervisor.state.state === "connected");
  const socket = h.sockets[0]!;
  await socket.handlers.message({ id: "M9", chatJid: "15557654321@s.whatsapp.net", sender: "+15557654321", text: "hi", isGroup: false, addressedToMe: false, key: { id: "M9" } });
  assert.deepEqual(socket.read, [], "no blue ticks for a message we did not keep");
  await eventually(() => h.sockets.length === 2 && supervisor.state.state === "connected");
  assert.equal(socket.closed, true);
});
