import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { validateConfig } from "../../src/config/load-config.ts";
import { ConfigService } from "../../src/gateway/config-service.ts";
import { createLogger } from "../../src/logging/index.ts";
import { ensureStateDir, openDatabase } from "../../src/state/index.ts";
import { ToolCatalog } from "../../src/tools/index.ts";
import { AgentRuntime } from "../../src/agent/agent-runtime.ts";
import { AgentFiles } from "../../src/agent/memory/agent-files.ts";
import { SessionStore } from "../../src/agent/sessions/session-store.ts";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { startOpenAIFake } from "../fakes/openai-fake.ts";

async function setup(t: TestContext) {
  const anthropic = await startAnthropicFake();
  const openai = await startOpenAIFake();
  t.after(() => Promise.all([anthropic.close(), openai.close()]));
  anthropic.setDefault({ text: "from anthropic" });
  openai.setDefault({ text: "from openai" });
  const env = { ANTHROPIC_API_KEY: "fake-anthropic-key-for-tests", ANTHROPIC_BASE_URL: anthropic.url, OPENAI_API_KEY: "sk-test-openai-key-for-fakes-0000", OPENAI_BASE_URL: openai.url };
  const directory = await mkdtemp(join(tmpdir(), "faraday-commands-"));
  t.after(() => rm(directory, { recursive: true, force: true }));
  const paths = await ensureStateDir(directory);
  const database = await openDatabase(paths.database);
  const sessions = new SessionStore(database);
  t.after(() => {
    sessions.flushSearchIndex();
    database.close();
  });
  const state = await validateConfig({ agents: { defaults: { model: "anthropic/claude-test" }, list: [{ id: "main", default: true }] } }, env, paths.config);
  assert.equal(state.state, "valid");
  const runtime = new AgentRuntime({
    config: new ConfigService(state, paths, env), sessions, files: new AgentFiles(paths.agents), tools: new ToolCatalog({ sources: () => [] }), env,
    logger: createLogger({ level: "silent" }), sleep: async () => {},
  });
  return { runtime, sessions, anthropic, openai, database };
}

const modelCalls = (fake: { requests: Array<{ body: any }> }) => fake.requests.filter((request) => request.body?.messages).length;

test("/model shows the session's model; the owner switches it for that session only, and /model default goes back", async (t) => {
  const { runtime, anthropic, openai, database } = await setup(t);
  const owner = { channel: "telegram", chat: "1", sender: "1", senderRole: "owner" as const };
  assert.match((await runtime.handle({ ...owner, text: "/model" })).reply, /^Model: anthropic\/claude-test \(the agent's default\)/);
  assert.equal((await runtime.handle({ ...owner, text: "/model openai/gpt-test" })).reply, "This conversation now uses openai/gpt-test. /model default goes back to the agent's model.");
  const switched = await runtime.handle({ ...owner, text: "hello" });
  assert.equal(switched.reply, "from openai");
  assert.equal(switched.model, "openai/gpt-test");
  assert.equal(openai.requests.at(-1)!.body.model, "gpt-test");
  assert.match((await runtime.handle({ ...owner, text: "/status" })).reply, /Model: openai\/gpt-test/);
  // Stored per session, in the database: another chat keeps the default.
  assert.equal((await runtime.handle({ channel: "telegram", chat: "2", sender: "2", senderRole: "owner", text: "hi" })).reply, "from anthropic");
  assert.equal((database.prepare("SELECT COUNT(*) AS n FROM settings WHERE key LIKE 'session-model:%'").get() as { n: number }).n, 1);
  assert.match((await runtime.handle({ ...owner, text: "/model default" })).reply, /back on the agent's default model: anthropic\/claude-test/);
  assert.equal((await runtime.handle({ ...owner, text: "again" })).reply, "from anthropic");
  assert.equal(modelCalls(openai), 1);
  assert.equal(modelCalls(anthropic), 2);
});

test("a non-owner cannot switch the model: they get a sentence and nothing changes", async (t) => {
  const { runtime, openai } = await setup(t);
  const customer = { channel: "whatsapp", chat: "+15550001", sender: "+15550001" };
  assert.equal((await runtime.handle({ ...customer, text: "/model openai/gpt-test" })).reply, "Only the owner can switch the model.");
  assert.equal((await runtime.handle({ ...customer, senderRole: "customer", text: "/model openai/gpt-test" })).reply, "Only the owner can switch the model.");
  assert.equal((await runtime.handle({ ...customer, text: "hi" })).reply, "from anthropic");
  assert.equal(modelCalls(openai), 0);
});

test("/model with a provider that has no key, or with no provider at all, says why and keeps the model", async (t) => {
  const { runtime } = await setup(t);
  const web = { channel: "web", chat: "web", sender: "web" };
  const first = await runtime.handle({ ...web, text: "hi" });
  const session = { ...web, sessionId: first.sessionId };
  assert.match((await runtime.handle({ ...session, text: "/model gpt-test" })).reply, /not a model reference; write provider\/model/);
  assert.match((await runtime.handle({ ...session, text: "/model nowhere/some-model" })).reply, /^Cannot switch to nowhere\/some-model: /);
  assert.match((await runtime.handle({ ...session, text: "/model" })).reply, /anthropic\/claude-test \(the agent's default\)/);
});

test("/whoami tells the sender their role and ids; the web chat is the owner", async (t) => {
  const { runtime } = await setup(t);
  const reply = (await runtime.handle({ channel: "telegram", account: "999", chat: "-100", chatType: "group", sender: "42", senderName: "Amy Lee", text: "/whoami@faraday_test_bot" })).reply;
  assert.match(reply, /^You are Amy Lee, role: user\.\nChannel: telegram \(account 999\), group chat -100\nYour id: 42\nAgent: main; session: /);
  assert.match((await runtime.handle({ channel: "web", chat: "web", sender: "web", text: "/whoami" })).reply, /role: owner/);
});
