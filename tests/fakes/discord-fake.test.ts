/**
 * The real discord.js client (14.28) against the loopback Discord fake: login, messages in and
 * out, rate limits, resume after closes, zombie detection and disallowed intents.
 */
import assert from "node:assert/strict";
import type { EventEmitter } from "node:events";
import { test, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { inflateSync } from "node:zlib";
import {
  ButtonInteraction, ChannelType, Client, DiscordAPIError, GatewayIntentBits, Partials, type Message,
} from "discord.js";
import { WebSocket } from "ws";
import { startDiscordFake, type DiscordFake, type DiscordFakeOptions } from "./discord-fake.ts";

const GUILD_ID = "1100000000000000001";
const CHANNEL_ID = "1100000000000000002";
const USER_ID = "1100000000000000003";
const DM_CHANNEL_ID = "1100000000000000004";

const FULL_INTENTS = [
  GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.DirectMessages, GatewayIntentBits.MessageContent,
];

/** Polls `predicate` every 10 ms; fails with `label` after `timeoutMs`. */
async function waitUntil(predicate: () => boolean, label: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${label}`);
    await sleep(10);
  }
}

/** The next `name` event whose arguments satisfy `accept`, or a rejection after `timeoutMs`. */
function nextEvent<T extends unknown[]>(emitter: EventEmitter, name: string, accept: (...args: T) => boolean = () => true, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(name, listener);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${name}`));
    }, timeoutMs);
    const listener = (...args: unknown[]) => {
      if (!accept(...(args as T))) return;
      clearTimeout(timer);
      emitter.off(name, listener);
      resolve(args as T);
    };
    emitter.on(name, listener);
  });
}

/** A fake with one guild and one text channel, and a factory for clients; all are torn down after the test. */
async function setup(t: TestContext, options: DiscordFakeOptions = {}) {
  const fake = await startDiscordFake({
    guilds: [{ id: GUILD_ID, name: "Test Guild", channels: [{ id: CHANNEL_ID, name: "general", type: 0 }] }],
    ...options,
  });
  const clients: Client[] = [];
  t.after(async () => {
    for (const client of clients) await client.destroy();
    await fake.close();
  });
  const connect = async (clientOptions: { intents?: GatewayIntentBits[]; partials?: Partials[]; login?: boolean } = {}) => {
    const client = new Client({
      intents: clientOptions.intents ?? FULL_INTENTS,
      partials: clientOptions.partials ?? [Partials.Channel],
      rest: { api: fake.apiBase },
    });
    clients.push(client);
    // An 'error' with no listener would kill the test process.
    client.on("error", () => {});
    if (clientOptions.login !== false) await client.login(fake.token);
    return client;
  };
  return { fake, connect };
}

function pushAndReceive(fake: DiscordFake, client: Client, message: Parameters<DiscordFake["pushMessage"]>[0]): Promise<Message> {
  const received = nextEvent<[Message]>(client, "messageCreate", (candidate) => candidate.author.id === message.authorId);
  fake.pushMessage(message);
  return received.then(([candidate]) => candidate);
}

test("login reaches ready through the fake's REST and gateway, with only rest.api set", async (t) => {
  const { fake, connect } = await setup(t);
  const client = await connect();

  assert.equal(client.user?.id, fake.botUserId);
  assert.equal(client.isReady(), true);
  assert.equal(client.guilds.cache.get(GUILD_ID)?.channels.cache.get(CHANNEL_ID)?.type, ChannelType.GuildText);
  const gatewayBot = fake.restCalls.find((call) => call.path === "/gateway/bot");
  assert.equal(gatewayBot?.headers.authorization, `Bot ${fake.token}`);
  assert.equal(fake.gatewayConnections.length, 1);
  assert.deepEqual(fake.gatewayConnections[0]?.query, { v: "10", encoding: "json" }, "no compress=zlib-stream while zlib-sync is absent");
  assert.equal(fake.gatewayConnections[0]?.path, "/gateway");
  assert.equal(fake.identifies, 1);
  const sentTypes = fake.gatewayEvents.filter((event) => event.direction === "out" && event.t).map((event) => `${event.t}:${event.s}`);
  assert.deepEqual(sentTypes, ["READY:1", "GUILD_CREATE:2"]);
  await waitUntil(() => fake.gatewayEvents.some((event) => event.op === 11), "a heartbeat ACK", 3000);
  assert.ok(fake.gatewayEvents.some((event) => event.direction === "in" && event.op === 1), "the client heartbeats");
});

test("a wrong token fails login with discord.js's TokenInvalid after a 401 on /gateway/bot", async (t) => {
  const { fake } = await setup(t);
  const client = new Client({ intents: FULL_INTENTS, rest: { api: fake.apiBase } });
  t.after(() => client.destroy());
  await assert.rejects(client.login("FAKE0000.wrong.token"), (error: Error & { code?: string }) => {
    assert.equal(error.code, "TokenInvalid");
    return true;
  });
  assert.deepEqual(fake.restCalls.map((call) => [call.path, call.status]), [["/gateway/bot", 401]]);
  assert.equal(fake.gatewayConnections.length, 0);
});

test("a pushed guild message arrives as messageCreate with content, guild, member and bot mention", async (t) => {
  const { fake, connect } = await setup(t);
  const client = await connect();

  const message = await pushAndReceive(fake, client, { channelId: CHANNEL_ID, authorId: USER_ID, authorName: "alice", content: "hello bot", mentionsBot: true });

  assert.equal(message.content, `<@${fake.botUserId}> hello bot`);
  assert.equal(message.guildId, GUILD_ID);
  assert.equal(message.channel.type, ChannelType.GuildText);
  assert.equal(message.author.username, "alice");
  assert.equal(message.member?.id, USER_ID);
  assert.equal(message.mentions.users.has(fake.botUserId), true);
});

test("a guild message's content is empty without the MessageContent intent unless it mentions the bot", async (t) => {
  const { fake, connect } = await setup(t);
  const client = await connect({ intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages] });

  const plain = await pushAndReceive(fake, client, { channelId: CHANNEL_ID, authorId: USER_ID, content: "secret" });
  const mentioned = await pushAndReceive(fake, client, { channelId: CHANNEL_ID, authorId: USER_ID, content: "ping", mentionsBot: true });

  assert.equal(plain.content, "");
  assert.equal(mentioned.content, `<@${fake.botUserId}> ping`);
});

test("a DM arrives with Partials.Channel and is dropped without it", async (t) => {
  const { fake, connect } = await setup(t);
  const withPartial = await connect();
  const withoutPartial = await connect({ partials: [] });
  const droppedDms: Message[] = [];
  withoutPartial.on("messageCreate", (message) => {
    if (message.channel.type === ChannelType.DM) droppedDms.push(message);
  });

  const dm = await pushAndReceive(fake, withPartial, { channelId: DM_CHANNEL_ID, authorId: USER_ID, content: "psst", dm: true });
  // Dispatches are ordered: once this guild message reaches the partial-less client, the DM would have too.
  await pushAndReceive(fake, withoutPartial, { channelId: CHANNEL_ID, authorId: USER_ID, content: "after the dm" });

  assert.equal(dm.content, "psst");
  assert.equal(dm.channel.type, ChannelType.DM);
  assert.equal(dm.guildId, null);
  assert.equal(dm.channelId, DM_CHANNEL_ID);
  assert.deepEqual(droppedDms, []);
});

test("channel.send and message.reply reach the fake with allowed_mentions, and the bot's message is echoed", async (t) => {
  const { fake, connect } = await setup(t);
  const client = await connect();
  const channel = client.channels.cache.get(CHANNEL_ID);
  assert.ok(channel?.isSendable());

  const echoed = nextEvent<[Message]>(client, "messageCreate", (message) => message.author.id === fake.botUserId);
  const sent = await channel.send({ content: "hi @everyone", allowedMentions: { parse: [] } });
  const [echo] = await echoed;

  const [call] = fake.restCalls.filter((candidate) => candidate.method === "POST" && candidate.path === `/channels/${CHANNEL_ID}/messages`);
  assert.equal((call?.body as { content?: string }).content, "hi @everyone");
  assert.deepEqual((call?.body as { allowed_mentions?: unknown }).allowed_mentions, { parse: [] });
  assert.equal(sent.id, fake.sentMessages(CHANNEL_ID)[0]?.id);
  assert.equal(echo.id, sent.id);

  const incoming = await pushAndReceive(fake, client, { channelId: CHANNEL_ID, authorId: USER_ID, content: "question" });
  await incoming.reply({ content: "answer", allowedMentions: { repliedUser: false } });
  const reply = fake.sentMessages(CHANNEL_ID)[1];
  assert.equal(reply?.message_reference?.message_id, incoming.id);
  const replyCall = fake.restCalls.filter((candidate) => candidate.path === `/channels/${CHANNEL_ID}/messages`).at(-1);
  assert.deepEqual((replyCall?.body as { allowed_mentions?: unknown }).allowed_mentions, { replied_user: false });
});

test("a message over 2000 characters is rejected with 50035 Invalid Form Body and not recorded", async (t) => {
  const { fake, connect } = await setup(t);
  const client = await connect();
  const channel = client.channels.cache.get(CHANNEL_ID);
  assert.ok(channel?.isSendable());

  await assert.rejects(channel.send("x".repeat(2001)), (error: unknown) => {
    assert.ok(error instanceof DiscordAPIError);
    assert.equal(error.code, 50035);
    assert.equal(error.status, 400);
    assert.match(error.message, /content\[BASE_TYPE_MAX_LENGTH\]: Must be 2000 or fewer in length/);
    return true;
  });
  await channel.send("x".repeat(2000));
  assert.equal(fake.sentMessages().length, 1);
});

test("sendTyping reaches the fake and resolves on its 204 without a JSON content type", async (t) => {
  const { fake, connect } = await setup(t);
  const client = await connect();
  const channel = client.channels.cache.get(CHANNEL_ID);
  assert.ok(channel?.isSendable());

  assert.equal(await channel.sendTyping(), undefined);

  assert.equal(fake.typingCalls(CHANNEL_ID).length, 1);
  assert.equal(fake.typingCalls("999").length, 0);
});

test("a DM channel created with users.createDM can be sent to", async (t) => {
  const { fake, connect } = await setup(t);
  const client = await connect();

  const dm = await client.users.createDM(USER_ID);
  await dm.send("hello in private");

  assert.equal(dm.type, ChannelType.DM);
  assert.equal(dm.recipientId, USER_ID);
  assert.equal(fake.sentMessages(dm.id)[0]?.content, "hello in private");
});

test("a 429 on messages is waited out by @discordjs/rest and the message then arrives once", async (t) => {
  const { fake, connect } = await setup(t);
  const client = await connect();
  const channel = client.channels.cache.get(CHANNEL_ID);
  assert.ok(channel?.isSendable());
  const rateLimits: Array<{ retryAfter: number; global: boolean; route: string }> = [];
  client.rest.on("rateLimited", (info) => rateLimits.push({ retryAfter: info.retryAfter, global: info.global, route: info.route }));
  fake.failNext("POST /channels/:id/messages", { status: 429, retryAfter: 0.3 }, 1);

  const started = Date.now();
  await channel.send("after the limit");
  const elapsed = Date.now() - started;

  const calls = fake.restCalls.filter((call) => call.path === `/channels/${CHANNEL_ID}/messages`);
  assert.deepEqual(calls.map((call) => call.status), [429, 200]);
  assert.ok(elapsed >= 300, `waited ${elapsed} ms`);
  assert.deepEqual(fake.sentMessages().map((message) => message.content), ["after the limit"]);
  // The 429 itself emits nothing: the retry finds the bucket exhausted (remaining 0, reset-after 0.3 s)
  // and emits rateLimited with the time left, which counts the 50 ms offset twice.
  assert.equal(rateLimits.length, 1);
  assert.equal(rateLimits[0]?.global, false);
  assert.equal(rateLimits[0]?.route, "/channels/:id/messages");
  assert.ok(rateLimits[0] && rateLimits[0].retryAfter > 300 && rateLimits[0].retryAfter <= 400, `retryAfter ${rateLimits[0]?.retryAfter}`);
});

test("a global 429 is waited out too and reported as global", async (t) => {
  const { fake, connect } = await setup(t);
  const client = await connect();
  const channel = client.channels.cache.get(CHANNEL_ID);
  assert.ok(channel?.isSendable());
  const globals: boolean[] = [];
  client.rest.on("rateLimited", (info) => globals.push(info.global));
  fake.failNext(`POST /channels/${CHANNEL_ID}/messages`, { status: 429, retryAfter: 0.2, global: true });

  const started = Date.now();
  await channel.send("global");

  assert.ok(Date.now() - started >= 200);
  assert.deepEqual(globals, [true]);
  assert.equal(fake.sentMessages().length, 1);
});

test("close 4000 makes the client RESUME on resume_gateway_url, replay what it missed, and keep receiving", async (t) => {
  const { fake, connect } = await setup(t);
  const client = await connect();
  const resumed = nextEvent<[number, number]>(client, "shardResume");
  const contents: string[] = [];
  client.on("messageCreate", (message) => contents.push(message.content));

  fake.closeConnection(4000);
  fake.pushMessage({ channelId: CHANNEL_ID, authorId: USER_ID, content: "while disconnected" });
  const [, replayedEvents] = await resumed;
  await pushAndReceive(fake, client, { channelId: CHANNEL_ID, authorId: USER_ID, content: "after resume" });

  assert.equal(fake.identifies, 1);
  assert.equal(fake.resumes, 1);
  assert.equal(replayedEvents, 2, "the missed MESSAGE_CREATE plus RESUMED");
  assert.deepEqual(contents, ["while disconnected", "after resume"]);
  assert.deepEqual(fake.gatewayConnections.map((connection) => [connection.path, connection.closeCode]), [["/gateway", 4000], ["/resume-gateway", undefined]]);
});

test("an abrupt close (1006, no close frame) is resumed the same way", async (t) => {
  const { fake, connect } = await setup(t);
  const client = await connect();
  const resumed = nextEvent(client, "shardResume");

  fake.closeConnection(1006);
  await resumed;
  const message = await pushAndReceive(fake, client, { channelId: CHANNEL_ID, authorId: USER_ID, content: "still here" });

  assert.equal(message.content, "still here");
  assert.equal(fake.identifies, 1);
  assert.equal(fake.resumes, 1);
  assert.equal(fake.gatewayConnections[0]?.closeCode, 1006);
  assert.equal(fake.connected(), 1);
});

test("op 7 RECONNECT is followed by a resume", async (t) => {
  const { fake, connect } = await setup(t);
  const client = await connect();
  const resumed = nextEvent(client, "shardResume");

  fake.requestReconnect();
  await resumed;

  assert.equal(fake.identifies, 1);
  assert.equal(fake.resumes, 1);
});

test("disallowed privileged intents close with 4014: login rejects, shardDisconnect fires, no reconnect", async (t) => {
  const { fake, connect } = await setup(t, { privilegedIntentsAllowed: false });
  const client = await connect({ login: false });
  const disconnects: number[] = [];
  const shardErrors: string[] = [];
  client.on("shardDisconnect", (event) => disconnects.push(event.code));
  client.on("shardError", (error) => shardErrors.push(error.message));

  await assert.rejects(client.login(fake.token), { name: "Error", message: "Used disallowed intents" });
  // @discordjs/ws would reconnect 500 ms after a recoverable close; wait past that.
  await sleep(800);

  assert.deepEqual(disconnects, [4014]);
  assert.deepEqual(shardErrors, ["Used disallowed intents"]);
  assert.equal(fake.gatewayConnections.length, 1);
  assert.equal(fake.gatewayConnections[0]?.closeCode, 4014);
  assert.equal(fake.identifies, 1);
});

test("without privileged intents the same fake still lets a non-privileged login through", async (t) => {
  const { fake, connect } = await setup(t, { privilegedIntentsAllowed: false });
  const client = await connect({ intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages] });
  assert.equal(client.user?.id, fake.botUserId);
});

test("a zombie connection (no heartbeat ACKs) is detected within two heartbeat intervals and resumed", async (t) => {
  const heartbeatIntervalMs = 500;
  const { fake, connect } = await setup(t, { heartbeatIntervalMs });
  const client = await connect();
  const reconnecting = nextEvent(client, "shardReconnecting");
  const resumed = nextEvent(client, "shardResume");

  const started = Date.now();
  fake.zombie(true);
  fake.pushMessage({ channelId: CHANNEL_ID, authorId: USER_ID, content: "sent into the void" });
  const received = nextEvent<[Message]>(client, "messageCreate", (message) => message.content === "sent into the void");
  await reconnecting;
  const detectedAfter = Date.now() - started;
  await resumed;
  await received;

  // The first unacknowledged heartbeat goes out at most one interval after the zombie starts; the next beat gives up.
  assert.ok(detectedAfter >= heartbeatIntervalMs - 50 && detectedAfter <= 2 * heartbeatIntervalMs + 200, `detected after ${detectedAfter} ms`);
  assert.equal(fake.identifies, 1);
  assert.equal(fake.resumes, 1);
  assert.equal(fake.gatewayConnections[0]?.closeCode, 4200, "discord.js closes a zombie with 4200 and resumes");
});

test("a half-open zombie holds the client 'ready' until ws's 30 s close timeout, then it resumes", { timeout: 45_000 }, async (t) => {
  const heartbeatIntervalMs = 500;
  const { fake, connect } = await setup(t, { heartbeatIntervalMs });
  const client = await connect();
  const reconnecting = nextEvent(client, "shardReconnecting", () => true, 40_000);
  const resumed = nextEvent(client, "shardResume", () => true, 40_000);

  const started = Date.now();
  fake.zombie(true, { halfOpen: true });
  await sleep(3 * heartbeatIntervalMs);
  const readyWhileDead = client.isReady();
  await reconnecting;
  const reconnectAfter = Date.now() - started;
  await resumed;

  assert.equal(readyWhileDead, true, "discord.js still reports ready while waiting for the close handshake");
  assert.ok(reconnectAfter >= 30_000 && reconnectAfter <= 33_000, `reconnecting after ${reconnectAfter} ms`);
  assert.equal(fake.identifies, 1);
});

test("a button click arrives as a ButtonInteraction and update() reaches the interaction callback", async (t) => {
  const { fake, connect } = await setup(t);
  const client = await connect();
  const channel = client.channels.cache.get(CHANNEL_ID);
  assert.ok(channel?.isSendable());
  await channel.send({ content: "approve?", components: [{ type: 1, components: [{ type: 2, style: 1, label: "Approve", custom_id: "approve:42" }] }] });

  const created = nextEvent<[ButtonInteraction]>(client, "interactionCreate");
  const pushed = fake.pushInteraction({ channelId: CHANNEL_ID, userId: USER_ID, customId: "approve:42" });
  const [interaction] = await created;
  assert.ok(interaction instanceof ButtonInteraction);
  await interaction.update({ content: "approved", components: [] });
  await assert.rejects(interaction.reply("again"), /already been sent or deferred/);

  assert.equal(interaction.customId, "approve:42");
  assert.equal(interaction.user.id, USER_ID);
  assert.equal(interaction.message.id, fake.sentMessages()[0]?.id);
  assert.deepEqual(fake.interactionCallbacks().map((callback) => [callback.interactionId, callback.type]), [[pushed.id, 7]]);
  assert.equal(fake.sentMessages()[0]?.content, "approved");
});

test("the gateway speaks zlib-stream when a client asks for it", async (t) => {
  const { fake } = await setup(t);
  const socket = new WebSocket(`${fake.gatewayUrl}?v=10&encoding=json&compress=zlib-stream`);
  t.after(() => socket.terminate());
  const frames: Buffer[] = [];
  socket.on("message", (data: Buffer) => frames.push(data));
  await waitUntil(() => frames.length >= 1, "HELLO");
  socket.send(JSON.stringify({ op: 2, d: { token: fake.token, intents: 1, properties: {}, shard: [0, 1] } }));
  await waitUntil(() => frames.length >= 3, "READY and GUILD_CREATE");

  // One deflate context per connection: inflate the concatenation, payloads split at each sync flush.
  const text = inflateSync(Buffer.concat(frames), { finishFlush: 2 /* Z_SYNC_FLUSH */ }).toString("utf8");
  const payloads = text.split(/(?<=\})(?=\{"s")/).map((part) => JSON.parse(part) as { op: number; t: string | null });
  assert.deepEqual(payloads.map((payload) => [payload.op, payload.t]), [[10, null], [0, "READY"], [0, "GUILD_CREATE"]]);
  for (const frame of frames) assert.deepEqual([...frame.subarray(-4)], [0, 0, 0xff, 0xff]);
});

test("refuseIdentify(4011): login rejects with discord.js's 'Sharding is required' and the shard stays down", async (t) => {
  const { fake, connect } = await setup(t);
  fake.refuseIdentify(4011);
  const client = await connect({ login: false });
  const disconnected = nextEvent<[{ code: number }]>(client, "shardDisconnect");
  await assert.rejects(client.login(fake.token), { name: "Error", message: "Sharding is required" });
  assert.equal((await disconnected)[0].code, 4011);
  assert.equal(fake.identifies, 1);
});

test("a fatal close after ready (4010) fires shardDisconnect, the shard stops, and the session is gone", async (t) => {
  const { fake, connect } = await setup(t);
  const client = await connect();
  const disconnected = nextEvent<[{ code: number }]>(client, "shardDisconnect");
  fake.closeConnection(4010);
  assert.equal((await disconnected)[0].code, 4010);
  // discord.js marks the shard Disconnected (5) for the unrecoverable codes only; it neither resumes nor identifies.
  assert.equal(client.ws.shards.first()?.status, 5);
  assert.equal(fake.resumes, 0);
  assert.equal(fake.identifies, 1);
});
