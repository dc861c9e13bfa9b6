import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { autoRetry } from "@grammyjs/auto-retry";
import { run, sequentialize } from "@grammyjs/runner";
import { Api, Bot, GrammyError, HttpError, InlineKeyboard, webhookCallback } from "grammy";
import {
  CONFLICT_OTHER_GET_UPDATES,
  CONFLICT_WEBHOOK_ACTIVE,
  parseMarkdownV2,
  startTelegramFake,
  type TelegramFake,
  type TelegramFakeOptions,
} from "./telegram-fake.ts";

/** A fake that misbehaves must fail a test, not hang the file. */
const LIMIT = { timeout: 15_000 };

const CANT_PARSE_DOT =
  "Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'";

const cleanupStacks = new WeakMap<TestContext, (() => unknown)[]>();

/**
 * Runs `cleanup` after the test, last registered first. `t.after` hooks run first-in first-out,
 * which would close the fake before the bots on it stop; a bot left polling a closed fake retries
 * forever and keeps the process alive. Every cleanup runs even if an earlier one throws.
 */
function defer(t: TestContext, cleanup: () => unknown): void {
  let stack = cleanupStacks.get(t);
  if (stack === undefined) {
    const created: (() => unknown)[] = [];
    cleanupStacks.set(t, (stack = created));
    t.after(async () => {
      const errors: unknown[] = [];
      for (const run of created.reverse()) await Promise.resolve().then(run).catch((error: unknown) => void errors.push(error));
      if (errors.length > 0) throw errors[0];
    });
  }
  stack.push(cleanup);
}

async function telegramFake(t: TestContext, options?: TelegramFakeOptions): Promise<TelegramFake> {
  const fake = await startTelegramFake(options);
  defer(t, () => fake.close());
  return fake;
}

/** A real grammY bot on the fake, stopped (if still polling) before the fake closes. */
function botOn(t: TestContext, fake: TelegramFake, timeoutSeconds?: number): Bot {
  const bot = new Bot(fake.token, { client: { apiRoot: fake.url, ...(timeoutSeconds === undefined ? {} : { timeoutSeconds }) } });
  defer(t, async () => {
    if (bot.isRunning()) await bot.stop();
  });
  return bot;
}

function apiOn(fake: TelegramFake, timeoutSeconds?: number): Api {
  return new Api(fake.token, { apiRoot: fake.url, ...(timeoutSeconds === undefined ? {} : { timeoutSeconds }) });
}

/** `bot.start()` with its rejection observed, so a 409 does not become an unhandled rejection. */
function startPolling(bot: Bot, options?: Parameters<Bot["start"]>[0]): Promise<unknown> {
  const done = bot.start(options).then(() => undefined, (error: unknown) => error);
  return done;
}

function isApiError(code: number, description: string) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof GrammyError, `expected a GrammyError, got ${String(error)}`);
    assert.equal(error.error_code, code);
    assert.equal(error.description, description);
    return true;
  };
}

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const methodsAfter = (fake: TelegramFake, from = 0): string[] => fake.calls.slice(from).map((call) => call.method);

test("bot.start() receives a pushed private message, replies, and confirms the update only after the handler", LIMIT, async (t) => {
  const fake = await telegramFake(t);
  const bot = botOn(t, fake);
  const gate = Promise.withResolvers<void>();
  const entered = Promise.withResolvers<void>();
  bot.on("message:text", async (context) => {
    entered.resolve();
    await gate.promise;
    await context.reply(`echo: ${context.message.text}`);
  });
  const stopped = startPolling(bot);

  const updateId = fake.pushMessage({ chatId: 42, fromId: 42, text: "hello", firstName: "Ada" });
  await entered.promise;
  await sleep(50);
  // bot.start() handles a batch before polling again: the update is still unconfirmed.
  assert.ok(fake.confirmedOffset < updateId + 1);
  assert.deepEqual(fake.pendingUpdates().map((update) => update.update_id), [updateId]);

  gate.resolve();
  const reply = await fake.waitForCall("sendMessage");
  assert.equal(reply.params.chat_id, 42);
  assert.equal(reply.params.text, "echo: hello");
  await fake.waitForCall("getUpdates", (params) => params.offset === updateId + 1);
  assert.equal(fake.confirmedOffset, updateId + 1);

  const methods = methodsAfter(fake);
  const firstPoll = methods.indexOf("getUpdates");
  assert.ok(methods.indexOf("getMe") !== -1 && methods.indexOf("getMe") < firstPoll, methods.join());
  assert.ok(methods.indexOf("deleteWebhook") !== -1 && methods.indexOf("deleteWebhook") < firstPoll, methods.join());

  await bot.stop();
  assert.equal(await stopped, undefined);
  const last = fake.calls.at(-1);
  assert.equal(last?.method, "getUpdates");
  assert.deepEqual(last?.params, { offset: updateId + 1, limit: 1 });
});

test("bot.stop() while a handler still runs confirms that update before the handler finishes", LIMIT, async (t) => {
  const fake = await telegramFake(t);
  const bot = botOn(t, fake);
  const gate = Promise.withResolvers<void>();
  const entered = Promise.withResolvers<void>();
  bot.on("message:text", async (context) => {
    entered.resolve();
    await gate.promise;
    await context.reply("late reply");
  });
  const stopped = startPolling(bot);
  const updateId = fake.pushMessage({ chatId: 7, fromId: 7, text: "slow one" });
  await entered.promise;
  assert.ok(fake.confirmedOffset <= updateId);

  await bot.stop();
  assert.equal(fake.confirmedOffset, updateId + 1, "stop() confirmed an update whose handler has not finished");
  assert.deepEqual(fake.sent(), []);
  gate.resolve();
  await stopped;
  assert.deepEqual(fake.sent().map((params) => params.text), ["late reply"]);
});

test("the runner with sequentialize handles two chats concurrently, keeps order per chat, and confirms early", LIMIT, async (t) => {
  const fake = await telegramFake(t);
  const bot = new Bot(fake.token, { client: { apiRoot: fake.url } });
  const gate = Promise.withResolvers<void>();
  bot.use(sequentialize((context) => String(context.chat?.id)));
  bot.on("message:text", async (context) => {
    if (context.message.text === "a1") await gate.promise;
    await context.reply(`re ${context.message.text}`);
  });
  const runner = run(bot, { runner: { silent: true } });
  defer(t, async () => {
    gate.resolve();
    if (runner.isRunning()) await runner.stop();
  });

  const a1 = fake.pushMessage({ chatId: 1, fromId: 1, text: "a1" });
  fake.pushMessage({ chatId: 1, fromId: 1, text: "a2" });
  const b1 = fake.pushMessage({ chatId: 2, fromId: 2, text: "b1" });

  await fake.waitForCall("sendMessage", (params) => params.text === "re b1");
  assert.deepEqual(fake.sent(1), [], "a1 is blocked and a2 waits behind it");
  // The runner asks for the next batch as soon as the sink accepts this one, so a1 is
  // confirmed to Telegram while its handler is still running.
  await fake.waitForCall("getUpdates", (params) => params.offset === b1 + 1);
  assert.ok(fake.confirmedOffset > a1);

  gate.resolve();
  await fake.waitForCall("sendMessage", (params) => params.text === "re a2");
  assert.deepEqual(fake.sent(1).map((params) => params.text), ["re a1", "re a2"]);
  await runner.stop();
  assert.equal(runner.isRunning(), false);
});

test("the runner does not delete a stale webhook: its task rejects with the webhook 409", LIMIT, async (t) => {
  const fake = await telegramFake(t);
  fake.setWebhookUrl("https://old-deploy.example/telegram");
  const bot = new Bot(fake.token, { client: { apiRoot: fake.url } });
  const runner = run(bot, { runner: { silent: true } });
  defer(t, async () => {
    if (runner.isRunning()) await runner.stop();
  });
  const task = runner.task();
  assert.ok(task !== undefined);
  await assert.rejects(task, isApiError(409, CONFLICT_WEBHOOK_ACTIVE));
  assert.equal(runner.isRunning(), false);
  assert.equal(methodsAfter(fake).includes("deleteWebhook"), false);
});

test("a stale webhook makes getUpdates answer 409 and bot.start() deletes it before polling", LIMIT, async (t) => {
  const fake = await telegramFake(t);
  fake.setWebhookUrl("https://old-deploy.example/telegram");
  await assert.rejects(apiOn(fake).getUpdates({ timeout: 0 }), isApiError(409, CONFLICT_WEBHOOK_ACTIVE));
  assert.equal((await apiOn(fake).getWebhookInfo()).url, "https://old-deploy.example/telegram");

  const before = fake.calls.length;
  const bot = botOn(t, fake);
  bot.on("message:text", (context) => context.reply("polling again"));
  const stopped = startPolling(bot);
  fake.pushMessage({ chatId: 3, fromId: 3, text: "anyone?" });
  await fake.waitForCall("sendMessage");
  const methods = methodsAfter(fake, before);
  assert.ok(methods.indexOf("deleteWebhook") !== -1 && methods.indexOf("deleteWebhook") < methods.indexOf("getUpdates"), methods.join());
  assert.equal(fake.webhookUrl, "");
  await bot.stop();
  assert.equal(await stopped, undefined);
});

test("a second concurrent getUpdates wins: the older long poll gets 409 Conflict", LIMIT, async (t) => {
  const fake = await telegramFake(t);
  const api = apiOn(fake);
  const older = api.getUpdates({ timeout: 10 });
  await fake.waitForCall("getUpdates");
  const newer = api.getUpdates({ timeout: 10 });
  await assert.rejects(older, isApiError(409, CONFLICT_OTHER_GET_UPDATES));

  const updateId = fake.pushMessage({ chatId: 5, fromId: 5, text: "for the newer poller" });
  const updates = await newer;
  assert.deepEqual(updates.map((update) => update.update_id), [updateId]);
});

test("a second bot polling the same token makes the first bot.start() reject with 409, bypassing bot.catch", LIMIT, async (t) => {
  const fake = await telegramFake(t);
  const first = botOn(t, fake);
  const second = botOn(t, fake);
  const caught: unknown[] = [];
  first.catch((error) => void caught.push(error));
  second.on("message:text", (context) => context.reply("second bot here"));
  const firstStopped = startPolling(first);
  await fake.waitForCall("getUpdates");
  const secondStopped = startPolling(second);

  const firstError = await firstStopped;
  assert.ok(isApiError(409, CONFLICT_OTHER_GET_UPDATES)(firstError));
  assert.equal(first.isRunning(), false);
  assert.deepEqual(caught, []);

  fake.pushMessage({ chatId: 8, fromId: 8, text: "who answers?" });
  await fake.waitForCall("sendMessage");
  await second.stop();
  assert.equal(await secondStopped, undefined);
});

test("auto-retry waits retry_after on a 429 and sends again; maxRetryAttempts 3 means 4 requests", LIMIT, async (t) => {
  const fake = await telegramFake(t);
  const bot = botOn(t, fake);
  bot.api.config.use(autoRetry({ maxRetryAttempts: 3, maxDelaySeconds: 60 }));

  fake.failNext("sendMessage", { status: 429, retryAfter: 1 });
  const message = await bot.api.sendMessage(11, "after the flood wait");
  const attempts = fake.calls.filter((call) => call.method === "sendMessage");
  assert.equal(attempts.length, 2);
  assert.ok((attempts[1]?.at ?? 0) - (attempts[0]?.at ?? 0) >= 950, "waited retry_after");
  assert.equal(message.text, "after the flood wait");
  assert.equal(fake.sent(11).length, 1);

  // Without auto-retry the 429 reaches the caller with retry_after.
  fake.failNext("sendMessage", { status: 429, retryAfter: 1 });
  await assert.rejects(apiOn(fake).sendMessage(11, "x"), (error: unknown) => {
    assert.ok(isApiError(429, "Too Many Requests: retry after 1")(error));
    assert.equal((error as GrammyError).parameters.retry_after, 1);
    return true;
  });

  // A retry_after above maxDelaySeconds is thrown at once.
  fake.failNext("sendMessage", { status: 429, retryAfter: 120 });
  const startedAt = Date.now();
  await assert.rejects(bot.api.sendMessage(11, "y"), isApiError(429, "Too Many Requests: retry after 120"));
  assert.ok(Date.now() - startedAt < 1000);

  // Attempts are bounded: 1 + 3 retries, then the 429 is thrown.
  fake.failNext("sendMessage", { status: 429, retryAfter: 0 }, 10);
  const before = fake.calls.length;
  await assert.rejects(bot.api.sendMessage(11, "z"), isApiError(429, "Too Many Requests: retry after 0"));
  assert.equal(methodsAfter(fake, before).filter((method) => method === "sendMessage").length, 4);
});

test("auto-retry retries network errors forever whatever maxRetryAttempts says, unless rethrowHttpErrors", LIMIT, async (t) => {
  const fake = await telegramFake(t);
  fake.stall(true);

  const unbounded = botOn(t, fake, 1);
  unbounded.api.config.use(autoRetry({ maxRetryAttempts: 0, maxDelaySeconds: 60 }));
  const controller = new AbortController();
  let settled = false;
  // grammY types its signal parameter with the abort-controller polyfill's AbortSignal.
  const signal = controller.signal as unknown as Parameters<Api["sendMessage"]>[3];
  const pending = unbounded.api.sendMessage(12, "into the void", {}, signal).finally(() => (settled = true));
  pending.catch(() => undefined);
  // 1 s client timeout, 3 s backoff, then a second request despite maxRetryAttempts: 0.
  await waitUntil(() => fake.calls.filter((call) => call.method === "sendMessage").length >= 2, "a retried sendMessage");
  assert.equal(settled, false);
  controller.abort();
  await assert.rejects(pending, HttpError);

  const bounded = botOn(t, fake, 1);
  bounded.api.config.use(autoRetry({ maxRetryAttempts: 3, maxDelaySeconds: 60, rethrowHttpErrors: true }));
  const before = fake.calls.length;
  await assert.rejects(bounded.api.sendMessage(12, "fail fast"), (error: unknown) => {
    assert.ok(error instanceof HttpError);
    assert.match(String((error.error as Error).message), /timed out after 1 seconds/);
    return true;
  });
  assert.equal(methodsAfter(fake, before).length, 1);
  fake.stall(false);
});

test("a stalled fake makes getUpdates fail on the client timeout, which bounds the whole long poll", LIMIT, async (t) => {
  const fake = await telegramFake(t);
  const api = apiOn(fake, 2);
  assert.deepEqual(await api.getUpdates({ timeout: 0 }), []);

  fake.stall(true);
  const startedAt = Date.now();
  await assert.rejects(api.getUpdates({ timeout: 0 }), (error: unknown) => {
    assert.ok(error instanceof HttpError);
    assert.equal(error.message, "Network request for 'getUpdates' failed!");
    assert.match(String((error.error as Error).message), /Request to 'getUpdates' timed out after 2 seconds/);
    return true;
  });
  assert.ok(Date.now() - startedAt >= 1900);
  assert.equal(fake.calls.at(-1)?.method, "getUpdates", "the stalled request was received");
  fake.stall(false);
  assert.deepEqual(await api.getUpdates({ timeout: 0 }), []);

  // timeoutSeconds covers the server's long-poll wait too: it must exceed getUpdates' timeout.
  await assert.rejects(apiOn(fake, 1).getUpdates({ timeout: 3 }), (error: unknown) => {
    assert.ok(error instanceof HttpError);
    assert.match(String((error.error as Error).message), /timed out after 1 seconds/);
    return true;
  });
});

test("a 4097-unit message is rejected with Telegram's error; the limit counts UTF-16 units after parsing", LIMIT, async (t) => {
  const fake = await telegramFake(t);
  const api = apiOn(fake);
  const tooLong = isApiError(400, "Bad Request: message is too long");
  await assert.rejects(api.sendMessage(5, "a".repeat(4097)), tooLong);
  assert.equal((await api.sendMessage(5, "a".repeat(4096))).text.length, 4096);
  await api.sendMessage(5, "😀".repeat(2048));
  await assert.rejects(api.sendMessage(5, `${"😀".repeat(2048)}a`), tooLong);
  await api.sendMessage(5, "\\.".repeat(4096), { parse_mode: "MarkdownV2" });
  await assert.rejects(api.sendMessage(5, "   "), isApiError(400, "Bad Request: message text is empty"));
  assert.equal(fake.sent(5).length, 3);
  assert.equal(fake.calls.filter((call) => call.method === "sendMessage").length, 6);
});

test("MarkdownV2 with an unescaped '.' is rejected with can't parse entities; escaped text gets entities", LIMIT, async (t) => {
  const fake = await telegramFake(t);
  const api = apiOn(fake);
  await assert.rejects(api.sendMessage(5, "1.5!", { parse_mode: "MarkdownV2" }), isApiError(400, CANT_PARSE_DOT));
  await assert.rejects(
    api.sendMessage(5, "*unclosed", { parse_mode: "MarkdownV2" }),
    isApiError(400, "Bad Request: can't parse entities: Can't find end of Bold entity at byte offset 0"),
  );
  assert.equal((await api.sendMessage(5, "1.5!")).text, "1.5!");

  const message = await api.sendMessage(5, "1\\.5\\! *bold* [link](https://example.com/a\\)b)", { parse_mode: "MarkdownV2" });
  assert.equal(message.text, "1.5! bold link");
  assert.deepEqual(message.entities, [
    { type: "bold", offset: 5, length: 4 },
    { type: "text_link", offset: 10, length: 4, url: "https://example.com/a)b" },
  ]);
  // TDLib's own fixtures: byte offsets count UTF-8 bytes, code only needs '`' escaped.
  assert.throws(() => parseMarkdownV2("🏟 🏟_abacaba"), /^Error: Can't find end of Italic entity at byte offset 9$/);
  assert.throws(() => parseMarkdownV2("🏟 🏟_abac * asd "), /Can't find end of Bold entity at byte offset 15/);
  assert.deepEqual(parseMarkdownV2("`a.b` ```js\nx = 1;\n```"), {
    text: "a.b x = 1;\n",
    entities: [{ type: "code", offset: 0, length: 3 }, { type: "pre", offset: 4, length: 7, language: "js" }],
  });
});

test("a pushed callback query arrives as callback_query on the bot's message and can be answered once", LIMIT, async (t) => {
  const fake = await telegramFake(t);
  const bot = botOn(t, fake);
  const seen: { data: string; messageId: number | undefined }[] = [];
  bot.on("callback_query:data", async (context) => {
    seen.push({ data: context.callbackQuery.data, messageId: context.callbackQuery.message?.message_id });
    await context.answerCallbackQuery({ text: "noted" });
    await context.editMessageText(`chosen: ${context.callbackQuery.data}`);
  });
  const keyboard = new InlineKeyboard().text("Yes", "answer:yes");
  const message = await bot.api.sendMessage(9, "pick one", { reply_markup: keyboard });
  assert.deepEqual(fake.sent(9)[0]?.reply_markup, { inline_keyboard: [[{ text: "Yes", callback_data: "answer:yes" }]] });

  const stopped = startPolling(bot);
  fake.pushCallbackQuery({ chatId: 9, fromId: 9, data: "answer:yes", messageId: message.message_id });
  const answered = await fake.waitForCall("answerCallbackQuery");
  await fake.waitForCall("editMessageText");
  assert.deepEqual(seen, [{ data: "answer:yes", messageId: message.message_id }]);
  assert.equal(answered.params.text, "noted");
  const [edited] = fake.botMessages(9);
  assert.equal(edited?.text, "chosen: answer:yes");
  assert.equal(edited?.reply_markup, undefined, "an edit without reply_markup drops the keyboard");

  await assert.rejects(
    bot.api.answerCallbackQuery(String(answered.params.callback_query_id)),
    isApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid"),
  );
  await bot.stop();
  assert.equal(await stopped, undefined);
});

test("getUpdates honours offset, limit and timeout, and returns a held poll as soon as an update arrives", LIMIT, async (t) => {
  const fake = await telegramFake(t);
  const api = apiOn(fake);
  const ids = [1, 2, 3].map((n) => fake.pushMessage({ chatId: 4, fromId: 4, text: `m${n}` }));
  assert.deepEqual((await api.getUpdates({ limit: 2 })).map((update) => update.update_id), ids.slice(0, 2));
  assert.equal(fake.confirmedOffset, 0);
  assert.equal((await api.getWebhookInfo()).pending_update_count, 3);

  const offset = (ids[1] ?? 0) + 1;
  assert.deepEqual((await api.getUpdates({ offset })).map((update) => update.update_id), [ids[2]]);
  assert.equal(fake.confirmedOffset, offset);
  assert.deepEqual(fake.pendingUpdates().map((update) => update.update_id), [ids[2]]);

  const after = (ids[2] ?? 0) + 1;
  let startedAt = Date.now();
  assert.deepEqual(await api.getUpdates({ offset: after, timeout: 1 }), []);
  assert.ok(Date.now() - startedAt >= 900);

  const held = api.getUpdates({ offset: after, timeout: 10 });
  await fake.waitForCall("getUpdates", (params) => params.timeout === 10);
  startedAt = Date.now();
  const pushed = fake.pushMessage({ chatId: 4, fromId: 4, text: "wake up" });
  assert.deepEqual((await held).map((update) => update.update_id), [pushed]);
  assert.ok(Date.now() - startedAt < 1000);
});

test("pushed group messages carry the mention, bot_command and reply_to_message a real update has", LIMIT, async (t) => {
  const fake = await telegramFake(t);
  const api = apiOn(fake);
  const group = -1001234567890;
  fake.pushMessage({ chatId: group, fromId: 5, text: "what's up?", chatType: "supergroup", mentionBot: true, username: "ada" });
  const sent = await api.sendMessage(group, "not much");
  fake.pushMessage({ chatId: group, fromId: 5, text: "and now?", chatType: "supergroup", replyToBot: true });
  fake.pushMessage({ chatId: 5, fromId: 5, text: "/start@faraday_test_bot hi" });

  const [mention, reply, command] = (await api.getUpdates()).map((update) => update.message);
  assert.equal(mention?.text, "@faraday_test_bot what's up?");
  assert.deepEqual(mention?.entities, [{ type: "mention", offset: 0, length: 17 }]);
  assert.deepEqual(mention?.chat, { id: group, type: "supergroup", title: "Faraday test group" });
  assert.deepEqual(mention?.from, { id: 5, is_bot: false, first_name: "Test", language_code: "en", username: "ada" });
  assert.equal(reply?.reply_to_message?.message_id, sent.message_id);
  assert.equal(reply?.reply_to_message?.from?.id, fake.botId);
  assert.ok((reply?.message_id ?? 0) > sent.message_id);
  assert.deepEqual(command?.entities, [{ type: "bot_command", offset: 0, length: 23 }]);
  assert.equal(command?.chat.type, "private");
});

test("wrong tokens get 401, unknown methods 404, and failNext faults answer the next calls then stop", LIMIT, async (t) => {
  const fake = await telegramFake(t);
  await assert.rejects(new Api("654321:WRONG", { apiRoot: fake.url }).getMe(), isApiError(401, "Unauthorized"));
  assert.equal(fake.calls.at(-1)?.authorized, false);

  const api = apiOn(fake);
  const raw = api.raw as unknown as Record<string, (payload: object) => Promise<unknown>>;
  await assert.rejects(raw.sendTelepathicMessage!({}), isApiError(404, "Not Found"));

  fake.failNext("sendMessage", { status: 403 });
  await assert.rejects(api.sendMessage(6, "hi"), isApiError(403, "Forbidden: bot was blocked by the user"));
  fake.failNext("sendChatAction", { status: 500 }, 2);
  await assert.rejects(api.sendChatAction(6, "typing"), isApiError(500, "Internal Server Error"));
  await assert.rejects(api.sendChatAction(6, "typing"), isApiError(500, "Internal Server Error"));
  assert.equal(await api.sendChatAction(6, "typing"), true);
  assert.deepEqual(fake.chatActions(6).map((params) => params.action), ["typing"]);
  fake.failNext("sendMessage", { status: 400, description: "Bad Request: chat not found" });
  await assert.rejects(api.sendMessage(6, "hi"), isApiError(400, "Bad Request: chat not found"));
  assert.equal((await api.sendMessage(6, "hi")).text, "hi");

  assert.equal(await api.setMyCommands([{ command: "start", description: "Start" }]), true);
  assert.deepEqual(fake.commands, [{ command: "start", description: "Start" }]);
  const message = await api.sendMessage(6, "to delete");
  assert.equal(await api.deleteMessage(6, message.message_id), true);
  await assert.rejects(api.deleteMessage(6, message.message_id), isApiError(400, "Bad Request: message to delete not found"));
});

test("webhook mode: setWebhook blocks polling and webhookPost delivers an update with the secret token", LIMIT, async (t) => {
  const fake = await telegramFake(t);
  const bot = new Bot(fake.token, { client: { apiRoot: fake.url } });
  const texts: string[] = [];
  bot.on("message:text", (context) => void texts.push(context.message.text));
  const server = createServer(webhookCallback(bot, "http", { secretToken: "s3cret" }));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  defer(t, () => new Promise<void>((resolve) => server.close(() => resolve())));
  const hook = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

  await assert.rejects(
    bot.api.setWebhook("http://insecure.example/telegram"),
    isApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"),
  );
  assert.equal(await bot.api.setWebhook("https://faraday.example/telegram", { secret_token: "s3cret" }), true);
  assert.equal(fake.webhookUrl, "https://faraday.example/telegram");
  await assert.rejects(apiOn(fake).getUpdates(), isApiError(409, CONFLICT_WEBHOOK_ACTIVE));

  const updateId = fake.pushMessage({ chatId: 13, fromId: 13, text: "via webhook" });
  const update = fake.pendingUpdates().find((pending) => pending.update_id === updateId);
  assert.ok(update !== undefined);
  assert.equal(await fake.webhookPost(hook, update), 200);
  assert.equal(await fake.webhookPost(hook, update, "wrong"), 401);
  assert.deepEqual(texts, ["via webhook"]);
});

test("with the real server's 3 s anti-spin floor, bot.stop() right after a poll waits out the floor", LIMIT, async (t) => {
  const fake = await telegramFake(t, { repeatPollFloorSeconds: 1 });
  const bot = botOn(t, fake);
  bot.on("message:text", (context) => context.reply("ok"));
  const stopped = startPolling(bot);
  const updateId = fake.pushMessage({ chatId: 14, fromId: 14, text: "hi" });
  await fake.waitForCall("getUpdates", (params) => params.offset === updateId + 1);
  const startedAt = Date.now();
  await bot.stop();
  assert.ok(Date.now() - startedAt >= 900, "the confirming getUpdates was held for the floor");
  assert.equal(await stopped, undefined);
});

test("deliverWebhook sends an update again until a 2xx, like Telegram's WebhookActor: at once, then after 2 s, honouring Retry-After", LIMIT, async (t) => {
  const fake = await telegramFake(t);
  const answers = [500, 503, 429, 200];
  const seen: Array<{ at: number; body: string }> = [];
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      seen.push({ at: performance.now(), body });
      const status = answers[seen.length - 1] ?? 200;
      response.writeHead(status, status === 429 ? { "retry-after": "1" } : {});
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  defer(t, () => new Promise<void>((resolve) => server.close(() => resolve())));
  const hook = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const updateId = fake.pushMessage({ chatId: 13, fromId: 13, text: "again" });
  const update = fake.pendingUpdates().find((pending) => pending.update_id === updateId)!;

  // 100 ms stand in for a second of the real schedule; only lower bounds are timed (a busy
  // machine can only make a wait longer), and "at once" is "well before the 2 s step".
  const statuses = await fake.deliverWebhook(hook, update, { secondMs: 100 });
  assert.deepEqual(statuses, [500, 503, 429, 200], "sent until the 2xx, then no more");
  assert.ok(seen.every((request) => JSON.parse(request.body).update_id === updateId), "the same update every time");
  const gaps = seen.slice(1).map((request, index) => request.at - seen[index]!.at);
  assert.ok(gaps[0]! < 190, `the first failure is retried at once (${gaps[0]} ms)`);
  assert.ok(gaps[1]! >= 195, `the second after 2 s (${gaps[1]} ms)`);
  assert.ok(gaps[2]! >= 95, `a 429 after its Retry-After, 1 s (${gaps[2]} ms)`);
  // A 2xx on the first try is one delivery.
  assert.deepEqual(await fake.deliverWebhook(hook, update, { secondMs: 100 }), [200]);
});
