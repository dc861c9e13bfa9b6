import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { startTelegramFake } from "../fakes/telegram-fake.ts";
import { lastUserText, type ModelStep, type RecordedRequest } from "../fakes/model-script.ts";
import { api, startGateway, tempStateDir } from "../helpers/gateway-process.ts";
import { eventually } from "../helpers/agent-harness.ts";

const TOKEN = "test-gateway-token-0123456789";
const OWNER = 1001;

async function setup(t: TestContext, options: { reply?: (request: RecordedRequest) => ModelStep; telegram?: Record<string, unknown>; stateDir?: string } = {}) {
  const model = await startAnthropicFake();
  t.after(() => model.close());
  model.setDefault(options.reply ?? ((request) => ({ text: `You said: ${lastUserText(request)}` })));
  const telegram = await startTelegramFake();
  t.after(() => telegram.close());
  const stateDir = options.stateDir ?? await tempStateDir(t);
  const configure = async (extra: Record<string, unknown> = {}) => {
    await mkdir(stateDir, { recursive: true });
    await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({
      agents: { defaults: { model: "anthropic/claude-test" }, list: [{ id: "main", default: true }] },
      channels: { telegram: { enabled: true, apiRoot: telegram.url, pollingTimeoutSeconds: 1, allowFrom: [OWNER], groupPolicy: "open", ...options.telegram, ...extra } },
    }));
  };
  await configure();
  const env = { OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_API_KEY: "fake-anthropic-key-for-tests", ANTHROPIC_BASE_URL: model.url, TELEGRAM_BOT_TOKEN: telegram.token };
  const launch = async () => {
    const gateway = await startGateway(t, stateDir, { env, allowUnconfigured: false });
    const channelState = async () => (await api(gateway.url, "/api/status", { token: TOKEN })).json.components.find((component: { name: string }) => component.name === "channel:telegram");
    await eventually(async () => (await channelState())?.state === "connected", 15_000, "telegram connected");
    return { gateway, channelState };
  };
  return { model, telegram, stateDir, env, launch, ...(await launch()) };
}

const modelCalls = (model: { requests: Array<{ body: any }> }) => model.requests.filter((request) => request.body?.messages).length;

test("an unknown DM gets a pairing code and no model call; an allowFrom sender is answered with typing first", async (t) => {
  const { model, telegram } = await setup(t);
  telegram.pushMessage({ chatId: 2002, fromId: 2002, text: "who are you?" });
  await eventually(() => telegram.sent(2002).length === 1, 10_000, "the pairing reply");
  assert.match(telegram.sent(2002)[0]!.text, /pairing code is [A-HJ-NP-Z2-9]{8}/);
  assert.equal(modelCalls(model), 0);
  telegram.pushMessage({ chatId: OWNER, fromId: OWNER, text: "hi" });
  await eventually(() => telegram.sent(OWNER).length === 1, 10_000, "the answer");
  assert.equal(telegram.sent(OWNER)[0]!.text, "You said: hi");
  assert.ok(telegram.chatActions(OWNER).some((action) => action.action === "typing"));
  assert.equal(telegram.sent(OWNER)[0]!.parse_mode, "HTML", "the reply's Markdown as HTML, never MarkdownV2 (which . ! ( ) - break)");
});

test("a long reply is split into messages within 4096, in order", async (t) => {
  const long = Array.from({ length: 120 }, (_, index) => `Paragraph ${index}. ${"Some words here. ".repeat(5)}`).join("\n\n");
  const { telegram } = await setup(t, { reply: () => ({ text: long }) });
  telegram.pushMessage({ chatId: OWNER, fromId: OWNER, text: "essay please" });
  await eventually(() => telegram.sent(OWNER).map((message) => message.text).join("\n\n").length >= long.length - 50, 15_000, "all parts");
  const parts = telegram.sent(OWNER).map((message) => message.text as string);
  assert.ok(parts.length >= 3);
  for (const part of parts) assert.ok(part.length <= 4096);
  assert.equal(parts.join("\n\n").replace(/\s+/g, " ").trim(), long.replace(/\s+/g, " ").trim());
});

test("429 on sendMessage is waited out; the reply arrives once", async (t) => {
  const { telegram } = await setup(t);
  telegram.failNext("sendMessage", { status: 429, retryAfter: 1 });
  telegram.pushMessage({ chatId: OWNER, fromId: OWNER, text: "slowly" });
  await eventually(() => telegram.sent(OWNER).length === 1, 15_000, "the reply after 429");
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(telegram.sent(OWNER).length, 1);
});

test("409 Conflict is survived: the channel backs off, reconnects and keeps answering", async (t) => {
  const { telegram, channelState } = await setup(t);
  telegram.failNext("getUpdates", { status: 409 }, 2);
  await eventually(async () => (await channelState()).state === "reconnecting", 10_000, "reconnecting after 409");
  await eventually(async () => (await channelState()).state === "connected", 20_000, "connected again");
  telegram.pushMessage({ chatId: OWNER, fromId: OWNER, text: "after the conflict" });
  await eventually(() => telegram.sent(OWNER).some((message) => message.text === "You said: after the conflict"), 10_000, "answer");
});

test("a stale webhook left by another deployment is cleared and polling works", async (t) => {
  const { telegram, launch, gateway } = await setup(t);
  gateway.kill("SIGTERM");
  await gateway.exited;
  telegram.setWebhookUrl("https://old-deployment.example.test/hook");
  await launch();
  assert.ok(telegram.calls.filter((call) => call.method === "deleteWebhook").length >= 2, "deleteWebhook on start");
  telegram.pushMessage({ chatId: OWNER, fromId: OWNER, text: "polling again" });
  await eventually(() => telegram.sent(OWNER).some((message) => message.text === "You said: polling again"), 15_000, "the answer");
});

test("in a group the bot answers only when mentioned or replied to", async (t) => {
  const { model, telegram } = await setup(t);
  telegram.pushMessage({ chatId: -500, fromId: OWNER, text: "no mention here", chatType: "supergroup" });
  telegram.pushMessage({ chatId: -500, fromId: OWNER, text: "what's up?", chatType: "supergroup", mentionBot: true });
  await eventually(() => telegram.sent(-500).length === 1, 10_000, "one answer");
  assert.equal(telegram.sent(-500)[0]!.text, "You said: what's up?");
  assert.equal(modelCalls(model), 1);
});

test("killed mid-turn, the gateway answers that message exactly once after restart", async (t) => {
  let slow = true;
  const context = await setup(t, { reply: (request) => ({ text: `You said: ${lastUserText(request)}`, ...(slow ? { delayMs: 30_000 } : {}) }) });
  const { model, telegram, gateway, launch } = context;
  telegram.pushMessage({ chatId: OWNER, fromId: OWNER, text: "important" });
  await eventually(() => modelCalls(model) === 1, 10_000, "the turn started");
  gateway.kill("SIGKILL");
  await gateway.exited;
  slow = false;
  await launch();
  await eventually(() => telegram.sent(OWNER).length >= 1, 15_000, "the answer after restart");
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  assert.deepEqual(telegram.sent(OWNER).map((message) => message.text), ["You said: important"], "exactly once");
});

test("a dead (stalled) connection is reported as not connected within the watchdog interval", async (t) => {
  const context = await setup(t);
  const { telegram, channelState } = context;
  telegram.stall(true);
  const started = Date.now();
  await eventually(async () => (await channelState()).state !== "connected", 15_000, "watchdog").catch(async (error) => {
    throw new Error(`${error.message}\n${JSON.stringify(await channelState())}\n${context.gateway.stdout().slice(-3000)}`);
  });
  assert.ok(Date.now() - started <= 12_000, `noticed after ${Date.now() - started} ms`);
  telegram.stall(false);
  await eventually(async () => (await channelState()).state === "connected", 30_000, "recovered");
});

test("webhook mode: setWebhook with the secret, updates acked through the route, a wrong secret refused", async (t) => {
  const stateDir = await tempStateDir(t);
  // The webhook URL must name the gateway's port, which is only known once it listens: use a fixed free port.
  const { createServer } = await import("node:net");
  const port = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port: free } = server.address() as { port: number };
      server.close(() => resolve(free));
    });
  });
  // Telegram is told the public https URL; the fake posts to the gateway's loopback route instead.
  const publicUrl = "https://bot.example.test/channels/telegram/webhook";
  const url = `http://127.0.0.1:${port}/channels/telegram/webhook`;
  const model = await startAnthropicFake();
  t.after(() => model.close());
  model.setDefault((request) => ({ text: `You said: ${lastUserText(request)}` }));
  const telegram = await startTelegramFake();
  t.after(() => telegram.close());
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({
    agents: { defaults: { model: "anthropic/claude-test" } },
    channels: { telegram: { enabled: true, apiRoot: telegram.url, allowFrom: [OWNER], webhook: { url: publicUrl, secret: "webhook-secret-123" } } },
  }));
  const gateway = await startGateway(t, stateDir, {
    args: ["--port", String(port)],
    allowUnconfigured: false,
    env: { OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_API_KEY: "fake-anthropic-key-for-tests", ANTHROPIC_BASE_URL: model.url, TELEGRAM_BOT_TOKEN: telegram.token },
  });
  await eventually(() => telegram.webhookUrl === publicUrl, 10_000, "setWebhook").catch((error) => {
    throw new Error(`${error.message}\n${gateway.stdout()}\n${gateway.stderr()}`);
  });
  assert.equal(telegram.calls.find((call) => call.method === "setWebhook")!.params.secret_token, "webhook-secret-123");
  const update = { update_id: 1, message: { message_id: 1, date: 0, chat: { id: OWNER, type: "private", first_name: "O" }, from: { id: OWNER, is_bot: false, first_name: "O" }, text: "via webhook" } };
  assert.equal(await telegram.webhookPost(url, update as never, "wrong"), 401);
  assert.equal(await telegram.webhookPost(url, update as never, "webhook-secret-123"), 200);
  await eventually(() => telegram.sent(OWNER).length === 1, 10_000, "answer");
  assert.equal(await telegram.webhookPost(url, update as never, "webhook-secret-123"), 200, "a redelivery is acked");
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(telegram.sent(OWNER).length, 1, "and deduplicated");
});

test("a confirm-level tool asks in the Telegram chat with Yes/No buttons; only the asker's Yes runs it", async (t) => {
  const { startFavcrmFake, FAVCRM_FAKE_DEFAULT_API_KEY } = await import("../fakes/favcrm-fake.ts");
  const { toolResults } = await import("../fakes/model-script.ts");
  const favcrm = await startFavcrmFake();
  t.after(() => favcrm.close());
  const model = await startAnthropicFake();
  t.after(() => model.close());
  model.enqueue(
    { toolCalls: [{ name: "favcrm__void_invoice", arguments: { invoiceId: "inv_9", reason: "duplicate" } }] },
    (request) => ({ text: `Done: ${toolResults(request).at(-1)!.content.slice(0, 30)}` }),
  );
  const telegram = await startTelegramFake();
  t.after(() => telegram.close());
  const stateDir = await tempStateDir(t);
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({
    agents: { defaults: { model: "anthropic/claude-test" } },
    channels: { telegram: { enabled: true, apiRoot: telegram.url, pollingTimeoutSeconds: 1, groupPolicy: "open", requireMention: false } },
  }));
  await startGateway(t, stateDir, {
    allowUnconfigured: false,
    env: {
      OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_API_KEY: "fake-anthropic-key-for-tests", ANTHROPIC_BASE_URL: model.url,
      TELEGRAM_BOT_TOKEN: telegram.token, FAVCRM_MCP_URL: favcrm.url, FAVCRM_API_KEY: FAVCRM_FAKE_DEFAULT_API_KEY,
    },
  });
  telegram.pushMessage({ chatId: -700, fromId: OWNER, text: "void invoice inv_9", chatType: "group" });
  await eventually(() => telegram.sent(-700).some((message) => /Approval needed/.test(message.text)), 15_000, "the approval prompt");
  const prompt = telegram.sent(-700).find((message) => /Approval needed/.test(message.text))!;
  const buttons = prompt.reply_markup.inline_keyboard[0] as Array<{ text: string; callback_data: string }>;
  assert.deepEqual(buttons.map((button) => button.text), ["Yes, go ahead", "No"]);
  assert.equal(favcrm.calls.filter((call) => call.tool === "void_invoice").length, 0, "nothing sent before the yes");
  telegram.pushCallbackQuery({ chatId: -700, fromId: 9999, data: buttons[0]!.callback_data, messageId: 1 });
  await eventually(() => telegram.calls.some((call) => call.method === "answerCallbackQuery"), 10_000, "the stranger's press answered");
  assert.equal(favcrm.calls.filter((call) => call.tool === "void_invoice").length, 0, "a stranger's Yes does nothing");
  telegram.pushCallbackQuery({ chatId: -700, fromId: OWNER, data: buttons[0]!.callback_data, messageId: 1 });
  await eventually(() => favcrm.calls.some((call) => call.tool === "void_invoice"), 10_000, "the call after Yes");
  await eventually(() => telegram.sent(-700).some((message) => /^Done:/.test(message.text)), 10_000, "the reply");
});

test("webhook mode: an update that cannot be stored is answered 500, and Telegram's redelivery is stored and answered once", async (t) => {
  const stateDir = await tempStateDir(t);
  const { createServer } = await import("node:net");
  const port = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port: free } = server.address() as { port: number };
      server.close(() => resolve(free));
    });
  });
  const url = `http://127.0.0.1:${port}/channels/telegram/webhook`;
  const model = await startAnthropicFake();
  t.after(() => model.close());
  model.setDefault((request) => ({ text: `You said: ${lastUserText(request)}` }));
  const telegram = await startTelegramFake();
  t.after(() => telegram.close());
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({
    agents: { defaults: { model: "anthropic/claude-test" } },
    channels: { telegram: { enabled: true, apiRoot: telegram.url, allowFrom: [OWNER], webhook: { url: "https://bot.example.test/channels/telegram/webhook", secret: "webhook-secret-123" } } },
  }));
  const gateway = await startGateway(t, stateDir, {
    args: ["--port", String(port)],
    allowUnconfigured: false,
    env: { OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_API_KEY: "fake-anthropic-key-for-tests", ANTHROPIC_BASE_URL: model.url, TELEGRAM_BOT_TOKEN: telegram.token },
  });
  await eventually(() => telegram.webhookUrl !== "", 10_000, "setWebhook");

  // Another process holds the database's write lock: the gateway cannot store the update
  // (SQLite gives up after its 5 s busy timeout) — a real store failure, not a mock.
  const { DatabaseSync } = await import("node:sqlite");
  const locker = new DatabaseSync(join(stateDir, "faraday.sqlite"), { timeout: 5_000 });
  t.after(() => locker.close());
  locker.exec("BEGIN IMMEDIATE");
  const update = { update_id: 7, message: { message_id: 7, date: 0, chat: { id: OWNER, type: "private", first_name: "O" }, from: { id: OWNER, is_bot: false, first_name: "O" }, text: "stored on the second try" } };
  const statuses = await telegram.deliverWebhook(url, update as never, {
    secondMs: 100,
    // Telegram sends the update again at once after the first failure: free the database first.
    onAttempt: (status, attempt) => {
      if (attempt === 1) locker.exec("ROLLBACK");
    },
  });
  assert.deepEqual(statuses, [500, 200], "500 while not stored, then the redelivery is taken");
  await eventually(() => telegram.sent(OWNER).length === 1, 10_000, "the answer").catch((error) => {
    throw new Error(`${error.message}\n${gateway.stdout().slice(-3000)}`);
  });
  assert.equal(telegram.sent(OWNER)[0]!.text, "You said: stored on the second try");
  // A later update is the sentinel: by its answer, a second answer to the first would have come.
  const next = { ...update, update_id: 8, message: { ...update.message, message_id: 8, text: "and this one" } };
  assert.deepEqual(await telegram.deliverWebhook(url, next as never), [200]);
  await eventually(() => telegram.sent(OWNER).length === 2, 10_000, "the second answer");
  assert.deepEqual(telegram.sent(OWNER).map((message) => message.text), ["You said: stored on the second try", "You said: and this one"]);
  assert.match(gateway.stdout(), /could not store a Telegram update/);
});
