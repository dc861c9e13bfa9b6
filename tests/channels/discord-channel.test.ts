import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { startDiscordFake } from "../fakes/discord-fake.ts";
import { lastUserText } from "../fakes/model-script.ts";
import { api, runToExit, startGateway, tempStateDir } from "../helpers/gateway-process.ts";
import { eventually } from "../helpers/agent-harness.ts";

const TOKEN = "test-gateway-token-0123456789";
const GUILD = { id: "100000000000000001", name: "Salon", channels: [{ id: "200000000000000001", name: "general", type: 0 as const }] };
const OWNER = "300000000000000001";
const STRANGER = "300000000000000002";

async function setup(t: TestContext, options: { privilegedIntentsAllowed?: boolean; dmPolicy?: string; reply?: (text: string) => string } = {}) {
  const model = await startAnthropicFake();
  t.after(() => model.close());
  model.setDefault((request) => ({ text: (options.reply ?? ((text) => `You said: ${text}`))(lastUserText(request)) }));
  const discord = await startDiscordFake({ guilds: [GUILD], heartbeatIntervalMs: 500, ...(options.privilegedIntentsAllowed === false ? { privilegedIntentsAllowed: false } : {}) });
  t.after(() => discord.close());
  const stateDir = await tempStateDir(t);
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({
    agents: { defaults: { model: "anthropic/claude-test" }, list: [{ id: "main", default: true }] },
    channels: { discord: { enabled: true, apiBase: discord.apiBase, dmPolicy: options.dmPolicy ?? "pairing", groupPolicy: "open", watchdogSeconds: 3 } },
  }));
  const env = { OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_API_KEY: "fake-anthropic-key-for-tests", ANTHROPIC_BASE_URL: model.url, DISCORD_BOT_TOKEN: discord.token };
  const gateway = await startGateway(t, stateDir, { env, allowUnconfigured: false });
  const channelState = async () => (await api(gateway.url, "/api/status", { token: TOKEN })).json.components.find((component: { name: string }) => component.name === "channel:discord");
  if (options.privilegedIntentsAllowed !== false) await eventually(async () => (await channelState())?.state === "connected", 15_000, "discord connected");
  return { model, discord, gateway, stateDir, channelState };
}

const userRequests = (model: { requests: Array<{ body: any }> }) => model.requests.filter((request) => request.body?.messages);

test("an unknown DM gets a pairing code and never reaches the model; approving admits them and they are told", async (t) => {
  const { model, discord, gateway, stateDir } = await setup(t);
  discord.pushMessage({ channelId: "400000000000000001", authorId: STRANGER, content: "hello?", dm: true });
  await eventually(() => discord.sentMessages().length === 1, 10_000, "the pairing reply");
  const code = /pairing code is ([A-HJ-NP-Z2-9]{8})/.exec(discord.sentMessages()[0]!.content)?.[1];
  assert.ok(code, discord.sentMessages()[0]!.content);
  assert.equal(userRequests(model).length, 0, "nothing reached the model");
  const listed = JSON.parse((await runToExit(t, ["pairing", "list", "--json", "--state-dir", stateDir], { OPENCLAW_GATEWAY_TOKEN: TOKEN })).stdout);
  assert.equal(listed.pending[0].code, code);
  const approved = await runToExit(t, ["pairing", "approve", "discord", code!, "--state-dir", stateDir], { OPENCLAW_GATEWAY_TOKEN: TOKEN });
  assert.equal(approved.code, 0, approved.stderr);
  await eventually(() => discord.sentMessages().some((message) => /approved/i.test(message.content)), 10_000, "the welcome");
  discord.pushMessage({ channelId: "400000000000000001", authorId: STRANGER, content: "now?", dm: true });
  await eventually(() => discord.sentMessages().some((message) => message.content === "You said: now?"), 10_000, "the answer");
  assert.equal((await api(gateway.url, "/api/pairing", { token: TOKEN })).json.pending.length, 0);
});

test("in a guild, a message without a mention is ignored and one with a mention is answered, with typing first", async (t) => {
  const { model, discord } = await setup(t);
  discord.pushMessage({ channelId: GUILD.channels[0]!.id, authorId: OWNER, content: "just chatting" });
  discord.pushMessage({ channelId: GUILD.channels[0]!.id, authorId: OWNER, content: "what time is it?", mentionsBot: true });
  await eventually(() => discord.sentMessages(GUILD.channels[0]!.id).length === 1, 10_000, "one answer");
  assert.equal(discord.sentMessages()[0]!.content, "You said: what time is it?");
  assert.equal(userRequests(model).length, 1, "only the mention reached the model");
  assert.ok(discord.typingCalls(GUILD.channels[0]!.id).length >= 1, "typing was sent");
  const body = discord.restCalls.find((call) => call.method === "POST" && call.path.endsWith("/messages"))!.body as { allowed_mentions?: { parse: unknown[] } };
  assert.deepEqual(body.allowed_mentions?.parse, [], "replies can never ping @everyone");
});

test("a long reply arrives as messages of at most 2000 characters, in order, nothing lost", async (t) => {
  const long = Array.from({ length: 60 }, (_, index) => `Line ${index}: ${"lorem ipsum ".repeat(8)}`).join("\n");
  const { discord } = await setup(t, { dmPolicy: "open", reply: () => long });
  discord.pushMessage({ channelId: "400000000000000002", authorId: OWNER, content: "tell me a lot", dm: true });
  await eventually(() => discord.sentMessages().reduce((sum, message) => sum + message.content.length, 0) >= long.length - 200, 15_000, "all chunks");
  const pieces = discord.sentMessages().map((message) => message.content);
  assert.ok(pieces.length >= 3);
  for (const piece of pieces) assert.ok([...piece].length <= 2000);
  assert.equal(pieces.join("\n").replace(/\s+/g, " ").trim(), long.replace(/\s+/g, " ").trim());
});

test("a 429 on send is waited out and the message arrives once", async (t) => {
  const { discord } = await setup(t, { dmPolicy: "open" });
  discord.failNext("POST /channels/:id/messages", { status: 429, retryAfter: 0.3 });
  discord.pushMessage({ channelId: "400000000000000003", authorId: OWNER, content: "rate me", dm: true });
  await eventually(() => discord.sentMessages().length === 1, 15_000, "the reply after the 429");
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(discord.sentMessages().length, 1, "no duplicate");
});

test("a gateway close 4000 resumes without a new identify, and messages keep flowing", async (t) => {
  const { discord, gateway, channelState } = await setup(t, { dmPolicy: "open" });
  const identifies = discord.identifies;
  discord.closeConnection(4000);
  await eventually(() => discord.resumes >= 1, 10_000, "a resume");
  // Reported while it lasted (the state flips back within a second: read the log, not a poll).
  await eventually(() => /"state":"reconnecting","reason":"gateway connection lost; discord.js is resuming it"/.test(gateway.stdout()), 10_000, "reconnecting reported");
  await eventually(async () => (await channelState())?.state === "connected", 10_000, "connected after the resume");
  discord.pushMessage({ channelId: "400000000000000004", authorId: OWNER, content: "still there?", dm: true });
  await eventually(() => discord.sentMessages().some((message) => message.content === "You said: still there?"), 10_000, "the answer after resume");
  assert.equal(discord.identifies, identifies);
});

test("disallowed intents: the channel is failed with the portal switch to turn on, and the gateway keeps serving", async (t) => {
  const { gateway, channelState } = await setup(t, { privilegedIntentsAllowed: false });
  await eventually(async () => (await channelState())?.state === "failed", 15_000, "failed state");
  assert.match((await channelState()).reason, /Message Content Intent/);
  assert.equal((await api(gateway.url, "/healthz")).status, 200);
  assert.equal((await api(gateway.url, "/readyz")).status, 503);
});

test("a half-open connection is reported as not connected within the watchdog interval", async (t) => {
  const { discord, channelState } = await setup(t, { dmPolicy: "open" });
  discord.zombie(true, { halfOpen: true });
  const started = Date.now();
  await eventually(async () => (await channelState())?.state !== "connected", 10_000, "the watchdog");
  assert.ok(Date.now() - started < 8_000, `noticed after ${Date.now() - started} ms (watchdog 3 s)`);
});

test("fatal gateway closes (4004, 4010–4014), at login or after it, end `failed` with the fix, without a retry loop", async (t) => {
  const { discord, gateway, channelState } = await setup(t, { dmPolicy: "open" });
  const restart = async () => {
    assert.equal((await api(gateway.url, "/api/channels/discord/restart", { token: TOKEN, method: "POST", body: {} })).status, 200);
  };
  // `failed` is only ever reached by a fatal error: a retried one shows `reconnecting` ("retrying in N s") instead.
  const expectFailed = async (reason: RegExp, what: string) => {
    await eventually(async () => (await channelState())?.state === "failed", 15_000, `failed after ${what}`).catch(async (error) => {
      throw new Error(`${error.message}: ${JSON.stringify(await channelState())}`);
    });
    assert.match((await channelState()).reason, reason, what);
  };
  const reasons: Array<[number, RegExp]> = [
    [4004, /rejected the bot token.*DISCORD_BOT_TOKEN/],
    [4010, /Invalid shard/],
    [4011, /Sharding required.*fewer servers/],
    [4012, /Invalid API version.*Update Faraday/],
    [4013, /Invalid intents/],
    [4014, /Message Content Intent/],
  ];
  // After ready: discord.js emits ShardDisconnect and its shard has stopped.
  for (const [code, reason] of reasons) {
    const identifies = discord.identifies;
    discord.closeConnection(code);
    await expectFailed(reason, `close ${code} after ready`);
    assert.equal(discord.identifies, identifies, `no new identify after ${code}`);
    await restart();
    await eventually(async () => (await channelState())?.state === "connected", 15_000, `connected again after ${code}`);
  }
  // At login: discord.js's login rejects with "Authentication failed", "Invalid shard", … .
  for (const [code, reason] of reasons) {
    discord.refuseIdentify(code as 4004);
    const identifies = discord.identifies;
    await restart();
    await expectFailed(reason, `close ${code} at login`);
    assert.equal(discord.identifies, identifies + 1, `one identify for ${code}, not a loop`);
  }
  discord.refuseIdentify(undefined);
  await restart();
  await eventually(async () => (await channelState())?.state === "connected", 15_000, "connected once Discord accepts again");
  assert.equal((await api(gateway.url, "/healthz")).status, 200);
});
