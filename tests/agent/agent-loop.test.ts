import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { validateConfig } from "../../src/config/load-config.ts";
import { ConfigService } from "../../src/gateway/config-service.ts";
import { createLogger } from "../../src/logging/index.ts";
import { ensureStateDir, openDatabase } from "../../src/state/index.ts";
import { ToolCatalog } from "../../src/tools/index.ts";
import type { ToolSource } from "../../src/tools/tool-source.ts";
import { AgentRuntime } from "../../src/agent/agent-runtime.ts";
import { AgentFiles } from "../../src/agent/memory/agent-files.ts";
import { createMemoryTools } from "../../src/agent/memory/memory-tools.ts";
import { SessionStore } from "../../src/agent/sessions/session-store.ts";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { startOpenAIFake } from "../fakes/openai-fake.ts";
import { lastUserText, toolResults, type ModelFake } from "../fakes/model-script.ts";

const ANTHROPIC_KEY = "fake-anthropic-key-for-tests";
const OPENAI_KEY = "sk-test-openai-key-for-fakes-0000";

async function setup(t: TestContext, config: Record<string, unknown>, env: Record<string, string | undefined>, extraSources: ToolSource[] = []) {
  const directory = await mkdtemp(join(tmpdir(), "faraday-agent-"));
  t.after(() => rm(directory, { recursive: true, force: true }));
  const paths = await ensureStateDir(directory);
  const database = await openDatabase(paths.database);
  const sessions = new SessionStore(database);
  t.after(() => {
    sessions.flushSearchIndex();
    database.close();
  });
  const state = await validateConfig(config, env, paths.config);
  assert.equal(state.state, "valid", JSON.stringify(state.problems));
  const configService = new ConfigService(state, paths, env);
  const files = new AgentFiles(paths.agents);
  const memoryTools = createMemoryTools(files, sessions);
  const tools = new ToolCatalog({ sources: () => [memoryTools, ...extraSources] });
  const sleeps: number[] = [];
  const runtime = new AgentRuntime({
    config: configService, sessions, files, tools, env,
    logger: createLogger({ level: "silent" }),
    sleep: async (ms) => void sleeps.push(ms),
  });
  return { runtime, sessions, paths, sleeps };
}

async function anthropic(t: TestContext): Promise<ModelFake> {
  const fake = await startAnthropicFake();
  t.after(() => fake.close());
  return fake;
}

const modelConfig = (model: unknown = "anthropic/claude-test") => ({ agents: { defaults: { model }, list: [{ id: "main", default: true }] } });

test("a plain message gets the model's reply, and the exchange is on disk", async (t) => {
  const fake = await anthropic(t);
  fake.enqueue({ text: "Hello there!" });
  const { runtime, sessions } = await setup(t, modelConfig(), { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: fake.url });
  const result = await runtime.handle({ channel: "web", chat: "web", text: "Hi" });
  assert.equal(result.reply, "Hello there!");
  assert.equal(result.model, "anthropic/claude-test");
  assert.ok(result.usage.outputTokens > 0);
  const request = fake.requests.at(-1)!.body;
  assert.equal(request.model, "claude-test");
  assert.equal(request.messages.at(-1).content.at?.(-1)?.text ?? request.messages.at(-1).content, "Hi");
  assert.match(JSON.stringify(request.system), /Long-term memory/);
  const stored = sessions.messagesAfter(result.sessionId, 0).map((message) => [message.role, message.content]);
  assert.deepEqual(stored, [["user", "Hi"], ["assistant", "Hello there!"]]);
  assert.equal(sessions.get(result.sessionId)!.usage.turns, 1, "token usage per turn is stored");
});

test("the user's message is on disk before the model is called, and the reply before the turn resolves", async (t) => {
  const fake = await anthropic(t);
  const { runtime, paths } = await setup(t, modelConfig(), { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: fake.url });
  // What another process (a restart after a crash) would find on disk right now.
  const onDisk = async () => {
    const reader = await openDatabase(paths.database, { readOnly: true });
    try {
      return (reader.prepare("SELECT role, content FROM messages ORDER BY session_id, seq").all() as Array<{ role: string; content: string }>)
        .map((row) => `${row.role}: ${row.content}`);
    } finally {
      reader.close();
    }
  };
  let seenByTheModelCall: string[] = [];
  fake.enqueue(async () => {
    seenByTheModelCall = await onDisk();
    return { text: "Noted." };
  });
  const result = await runtime.handle({ channel: "web", chat: "web", text: "Remember the milk" });
  assert.equal(result.reply, "Noted.");
  assert.deepEqual(seenByTheModelCall, ["user: Remember the milk"]);
  assert.deepEqual(await onDisk(), ["user: Remember the milk", "assistant: Noted."]);
});

test("a tool loop: the model writes memory, gets the result, then answers; MEMORY.md is written", async (t) => {
  const fake = await anthropic(t);
  fake.enqueue(
    { toolCalls: [{ name: "memory_write", arguments: { content: "Customer prefers mornings", section: "Preferences" } }] },
    (request) => ({ text: `Noted (${toolResults(request)[0]?.content.slice(0, 6)})` }),
  );
  const { runtime, paths } = await setup(t, modelConfig(), { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: fake.url });
  const result = await runtime.handle({ channel: "web", chat: "web", text: "Remember I like mornings" });
  assert.equal(result.reply, "Noted (Saved.)");
  assert.deepEqual(result.toolCalls.map((call) => [call.name, call.decision, call.isError]), [["memory_write", "auto", false]]);
  const memory = await readFile(join(paths.agents, "main", "MEMORY.md"), "utf8");
  assert.match(memory, /## Preferences\n\nCustomer prefers mornings/);
  // The next turn's system prompt carries the memory.
  fake.enqueue({ text: "ok" });
  await runtime.handle({ channel: "web", chat: "web", text: "again" });
  assert.match(JSON.stringify(fake.requests.at(-1)!.body.system), /Customer prefers mornings/);
});

test("parallel tool calls are all answered, in one follow-up request", async (t) => {
  const fake = await startOpenAIFake();
  t.after(() => fake.close());
  fake.enqueue(
    { toolCalls: [
      { name: "memory_search", arguments: { query: "mornings" } },
      { name: "memory_read", arguments: {} },
      { name: "no_such_tool", arguments: {} },
    ] },
    { text: "done" },
  );
  const { runtime } = await setup(t, modelConfig("openai/gpt-test"), { OPENAI_API_KEY: OPENAI_KEY, OPENAI_BASE_URL: fake.url });
  const result = await runtime.handle({ channel: "web", chat: "web", text: "look it up" });
  assert.equal(result.reply, "done");
  const answered = toolResults(fake.requests.at(-1)!);
  assert.equal(answered.length, 3, "every call answered");
  assert.match(answered[2]!.content, /There is no tool named no_such_tool\b/);
  assert.deepEqual(result.toolCalls.map((call) => call.isError), [false, false, true]);
});

test("429 with retry-after, then success", async (t) => {
  const fake = await anthropic(t);
  fake.enqueue({ error: { status: 429, retryAfter: 2 } }, { text: "after the wait" });
  const { runtime, sleeps } = await setup(t, modelConfig(), { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: fake.url });
  const result = await runtime.handle({ channel: "web", chat: "web", text: "hi" });
  assert.equal(result.reply, "after the wait");
  assert.ok(sleeps.some((ms) => ms >= 2000), `honours retry-after: ${sleeps}`);
});

test("500 until exhausted, then the fallback model answers; all failing gives a clear reply", async (t) => {
  const primary = await anthropic(t);
  primary.setDefault({ error: { status: 500 } });
  const fallback = await startOpenAIFake();
  t.after(() => fallback.close());
  fallback.enqueue({ text: "from the fallback" });
  const env = { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: primary.url, OPENAI_API_KEY: OPENAI_KEY, OPENAI_BASE_URL: fallback.url };
  const { runtime, sleeps } = await setup(t, modelConfig({ primary: "anthropic/claude-test", fallbacks: ["openai/gpt-test"] }), env);
  const result = await runtime.handle({ channel: "web", chat: "web", text: "hi" });
  assert.equal(result.reply, "from the fallback");
  assert.equal(result.model, "openai/gpt-test");
  assert.ok(primary.requests.length > 1, "the primary was retried");

  fallback.setDefault({ error: { status: 503 } });
  const failed = await runtime.handle({ channel: "web", chat: "web", text: "hi again" });
  assert.ok(failed.errorCode?.startsWith("MODEL_"), failed.errorCode);
  assert.match(failed.reply, /try again/i);
  assert.ok(!failed.reply.includes("Error:") && !failed.reply.includes("    at "), "no stack trace");
  assert.ok(sleeps.reduce((sum, ms) => sum + ms, 0) <= 120_000);
});

test("with no model and no key, every message gets one sentence naming the env var", async (t) => {
  const { runtime } = await setup(t, { agents: { list: [{ id: "main" }] } }, {});
  const result = await runtime.handle({ channel: "web", chat: "web", text: "hello?" });
  assert.equal(result.errorCode, "MODEL_NOT_CONFIGURED");
  assert.match(result.reply, /ANTHROPIC_API_KEY/);
  assert.equal(result.reply.split(/(?<=\.)\s/).length, 1, "one sentence");
});

test("compaction at a small budget summarises older turns and never splits a tool call from its result", async (t) => {
  const fake = await anthropic(t);
  const { runtime, sessions } = await setup(t, {
    agents: { defaults: { model: "anthropic/claude-test", contextTokens: 2_500 }, list: [{ id: "main" }] },
  }, { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: fake.url });
  fake.setDefault((request) => {
    const system = JSON.stringify(request.body.system);
    if (system.includes("You summarise conversations")) return { text: "SUMMARY: the user talked about bookings." };
    return { text: `reply to ${lastUserText(request).slice(0, 10)} ${"x".repeat(400)}` };
  });
  fake.enqueue({ toolCalls: [{ name: "memory_read", arguments: {} }] });
  let sessionId: string | undefined;
  for (let index = 0; index < 12; index++) {
    const result = await runtime.handle({ channel: "web", chat: "web", text: `message ${index} ${"y".repeat(400)}`, ...(sessionId ? { sessionId } : {}) });
    sessionId = result.sessionId;
  }
  const session = sessions.get(sessionId!)!;
  assert.ok(session.summaryThrough > 0, "older turns were summarised");
  assert.match(session.summary ?? "", /SUMMARY/);
  assert.equal(sessions.messagesAfter(sessionId!, 0).length, session.messageCount, "the full history stays on disk");
  const last = fake.requests.filter((request) => !JSON.stringify(request.body.system).includes("You summarise")).at(-1)!.body;
  assert.match(JSON.stringify(last.system), /SUMMARY: the user talked about bookings/);
  assert.equal(last.messages[0].role, "user", "the window starts at a user turn");
  for (const request of fake.requests) assert.equal(request.rejected, undefined, `a window the API would refuse: ${request.rejected}`);
});

test("a provider's context-too-long error triggers compaction and one retry", async (t) => {
  const fake = await anthropic(t);
  const { runtime, sessions } = await setup(t, modelConfig(), { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: fake.url });
  const first = await runtime.handle({ channel: "web", chat: "web", text: "one" });
  await runtime.handle({ channel: "web", chat: "web", text: "two", sessionId: first.sessionId });
  fake.enqueue(
    { error: { status: 400, contextTooLong: { tokens: 300_000, maximum: 200_000 } } },
    { text: "SUMMARY of one and two" },
    { text: "answered after compaction" },
  );
  const result = await runtime.handle({ channel: "web", chat: "web", text: "three", sessionId: first.sessionId });
  assert.equal(result.reply, "answered after compaction");
  assert.ok(sessions.get(first.sessionId)!.summaryThrough > 0);
});

test("one session is strictly ordered while two sessions interleave", async (t) => {
  const fake = await anthropic(t);
  fake.setDefault((request) => {
    const text = lastUserText(request);
    return { text: `echo ${text}`, delayMs: text.startsWith("slow") ? 300 : 10 };
  });
  const { runtime } = await setup(t, modelConfig(), { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: fake.url });
  const finished: string[] = [];
  const track = (label: string, promise: Promise<{ reply: string }>) => promise.then((result) => {
    finished.push(label);
    return result;
  });
  await Promise.all([
    track("A1", runtime.handle({ channel: "telegram", chat: "A", text: "slow A1" })),
    track("A2", runtime.handle({ channel: "telegram", chat: "A", text: "fast A2" })),
    track("B1", runtime.handle({ channel: "telegram", chat: "B", text: "fast B1" })),
  ]);
  assert.ok(finished.indexOf("A1") < finished.indexOf("A2"), `in order within a chat: ${finished}`);
  assert.ok(finished.indexOf("B1") < finished.indexOf("A1"), `concurrent across chats: ${finished}`);
  // A2's request carried A1's exchange: the lane ran it after A1 was stored.
  const a2 = fake.requests.find((request) => lastUserText(request) === "fast A2")!;
  assert.match(JSON.stringify(a2.body.messages), /echo slow A1/);
});

test("at most maxConcurrent sessions call the model at once; the rest wait their turn and are all answered", async (t) => {
  const fake = await anthropic(t);
  const DELAY_MS = 80;
  const arrivals: number[] = [];
  fake.setDefault((request) => {
    arrivals.push(performance.now());
    return { text: `echo ${lastUserText(request)}`, delayMs: DELAY_MS };
  });
  const config = { agents: { defaults: { model: "anthropic/claude-test", maxConcurrent: 2 }, list: [{ id: "main", default: true }] } };
  const { runtime } = await setup(t, config, { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: fake.url });
  const results = await Promise.all(["a", "b", "c", "d", "e", "f"].map((chat) => runtime.handle({ channel: "telegram", chat, text: `hi ${chat}` })));
  assert.deepEqual(results.map((result) => result.reply), ["a", "b", "c", "d", "e", "f"].map((chat) => `echo hi ${chat}`));
  // Requests the fake was holding at the moment each one arrived (each is held DELAY_MS).
  const overlapping = arrivals.map((at) => arrivals.filter((other) => other <= at && at < other + DELAY_MS).length);
  assert.equal(Math.max(...overlapping), 2, `never more than 2 model calls at once: ${overlapping}`);
});

test("a turn busy in a tool (or waiting for a person's YES) holds no model slot: other sessions are answered meanwhile", async (t) => {
  const fake = await anthropic(t);
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let started!: () => void;
  const toolStarted = new Promise<void>((resolve) => (started = resolve));
  const slowTool: ToolSource = {
    name: "slow",
    trusted: true,
    list: () => [{ name: "wait_for_release", description: "Waits until the test releases it.", inputSchema: { type: "object", properties: {} }, annotations: { readOnlyHint: true } }],
    call: async () => {
      started();
      await released;
      return { content: "released" };
    },
  };
  fake.setDefault((request) => {
    const text = lastUserText(request);
    if (text === "use the slow tool" && toolResults(request).length === 0) return { toolCalls: [{ name: "wait_for_release", arguments: {} }] };
    return { text: `echo ${text}` };
  });
  const config = { agents: { defaults: { model: "anthropic/claude-test", maxConcurrent: 1 }, list: [{ id: "main", default: true }] } };
  const { runtime } = await setup(t, config, { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: fake.url }, [slowTool]);
  const slow = runtime.handle({ channel: "telegram", chat: "A", text: "use the slow tool" });
  await toolStarted;
  // maxConcurrent 1, and A is still in its turn: B is answered anyway.
  const other = await runtime.handle({ channel: "telegram", chat: "B", text: "meanwhile" });
  assert.equal(other.reply, "echo meanwhile");
  release();
  const finished = await slow;
  assert.equal(finished.toolCalls[0]?.result, "released");
});

test("/new starts a fresh session and keeps memory; /status reports agent, model and usage; /help lists commands", async (t) => {
  const fake = await anthropic(t);
  const { runtime, sessions } = await setup(t, modelConfig(), { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: fake.url });
  const first = await runtime.handle({ channel: "telegram", chat: "42", text: "hello" });
  const status = await runtime.handle({ channel: "telegram", chat: "42", text: "/status" });
  assert.equal(status.sessionId, first.sessionId);
  assert.match(status.reply, /Agent: main/);
  assert.match(status.reply, /Model: anthropic\/claude-test/);
  assert.match(status.reply, /2 messages/);
  const requestsBefore = fake.requests.length;
  const fresh = await runtime.handle({ channel: "telegram", chat: "42", text: "/new" });
  assert.notEqual(fresh.sessionId, first.sessionId);
  assert.equal(fake.requests.length, requestsBefore, "commands never reach the model");
  const next = await runtime.handle({ channel: "telegram", chat: "42", text: "who am I?" });
  assert.equal(next.sessionId, fresh.sessionId);
  assert.equal(fake.requests.at(-1)!.body.messages.length, 1, "the new session starts empty");
  assert.equal(sessions.get(first.sessionId)!.active, false);
  assert.match((await runtime.handle({ channel: "telegram", chat: "42", text: "/help" })).reply, /\/new/);
});

test("dmScope main shares one session across a user's chats; bindings route a chat to its agent", async (t) => {
  const fake = await anthropic(t);
  const { runtime } = await setup(t, {
    agents: { defaults: { model: "anthropic/claude-test" }, list: [{ id: "main", default: true }, { id: "sales", instructions: "You sell." }] },
    bindings: [{ agentId: "sales", match: { channel: "discord" } }],
    session: { dmScope: "main" },
  }, { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: fake.url });
  const telegram = await runtime.handle({ channel: "telegram", chat: "1", text: "hi" });
  const whatsapp = await runtime.handle({ channel: "whatsapp", chat: "2", text: "hi" });
  assert.equal(telegram.sessionId, whatsapp.sessionId);
  const discord = await runtime.handle({ channel: "discord", chat: "3", text: "hi" });
  assert.equal(discord.agentId, "sales");
  assert.match(JSON.stringify(fake.requests.at(-1)!.body.system), /You sell\./);
});
