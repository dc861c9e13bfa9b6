import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { startOpenAIFake } from "../fakes/openai-fake.ts";
import { lastUserText, type ModelFake, type ModelStep } from "../fakes/model-script.ts";
import { eventually, startAgentHarness } from "../helpers/agent-harness.ts";
import { ModelSlots } from "../../src/agent/models/index.ts";

const ANTHROPIC_KEY = "fake-anthropic-key-for-tests";
const OPENAI_KEY = "sk-test-openai-key-for-fakes-0000";

/** A model step that answers only when the test opens the gate: a provider that hangs until then. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, step: async (): Promise<ModelStep> => (await opened, { text: "late answer" }) };
}

/** Two providers: `anthropic` (working) and `slow`, an OpenAI-compatible server that hangs. */
async function setup(t: TestContext, slow: Record<string, unknown> = {}, defaults: Record<string, unknown> = {}) {
  const working = await startAnthropicFake();
  t.after(() => working.close());
  working.setDefault((request) => ({ text: `working: ${lastUserText(request)}` }));
  const hung: ModelFake = await startOpenAIFake();
  t.after(() => hung.close());
  const config = {
    agents: {
      defaults: { model: "anthropic/claude-test", ...defaults },
      list: [{ id: "main", default: true }, { id: "stuck", model: "slow/gpt-fake" }, { id: "careful", model: { primary: "slow/gpt-fake", fallbacks: ["anthropic/claude-test"] } }],
    },
    models: { providers: { slow: { api: "openai", baseUrl: hung.url, apiKey: OPENAI_KEY, ...slow } } },
  };
  const harness = await startAgentHarness(t, { config, env: { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: working.url } });
  return { working, hung, ...harness };
}

test("four calls hung on one provider take only that provider's slots: another agent on a working provider is answered meanwhile", { timeout: 30_000 }, async (t) => {
  const { working, hung, runtime } = await setup(t);
  const { open, step } = gate();
  hung.setDefault(step);
  const stuck = ["a", "b", "c", "d"].map((chat) => runtime.handle({ channel: "telegram", chat, agentId: "stuck", text: `stuck ${chat}` }));
  let stuckAnswered = 0;
  for (const turn of stuck) void turn.then(() => stuckAnswered++);
  // The sentinel: all four requests are at the hung provider, filling the default four slots.
  await eventually(() => hung.requests.length === 4, 10_000, "four requests at the hung provider");
  assert.equal(runtime.slots.running("slow"), 4);

  const other = await runtime.handle({ channel: "telegram", chat: "e", text: "hello" });
  assert.equal(other.reply, "working: hello");
  assert.equal(working.requests.length, 1);
  assert.equal(stuckAnswered, 0, "the hung calls are still hung");
  assert.equal(runtime.slots.running("slow"), 4);

  open();
  const results = await Promise.all(stuck);
  assert.deepEqual(results.map((result) => result.reply), ["late answer", "late answer", "late answer", "late answer"]);
  assert.equal(runtime.slots.running("slow"), 0);
});

test("models.providers.<name>.maxConcurrent limits that provider alone; the rest wait in order and are answered", { timeout: 30_000 }, async (t) => {
  const { working, hung, runtime } = await setup(t, { maxConcurrent: 1 });
  const { open, step } = gate();
  hung.setDefault(step);
  const first = runtime.handle({ channel: "telegram", chat: "a", agentId: "stuck", text: "one" });
  const second = runtime.handle({ channel: "telegram", chat: "b", agentId: "stuck", text: "two" });
  await eventually(() => runtime.slots.waiting("slow") === 1, 10_000, "the second call waiting for the slow provider's one slot");
  assert.equal(hung.requests.length, 1, "one call at the provider");
  // The default (4) still applies to the working provider.
  const replies = await Promise.all(["c", "d", "e"].map((chat) => runtime.handle({ channel: "telegram", chat, text: chat })));
  assert.deepEqual(replies.map((reply) => reply.reply), ["working: c", "working: d", "working: e"]);
  assert.equal(hung.requests.length, 1);
  open();
  assert.equal((await first).reply, "late answer");
  assert.equal((await second).reply, "late answer");
  assert.equal(hung.requests.length, 2);
  assert.equal(working.requests.length, 3);
});

test("a provider that does not answer within its timeoutMs fails once, is not asked again, and the fallback answers", { timeout: 30_000 }, async (t) => {
  const { working, hung, runtime } = await setup(t, { timeoutMs: 300 });
  const { open, step } = gate();
  t.after(open);
  hung.setDefault(step);
  const result = await runtime.handle({ channel: "telegram", chat: "a", agentId: "careful", text: "are you there" });
  assert.equal(result.reply, "working: are you there");
  assert.equal(result.model, "anthropic/claude-test");
  assert.equal(hung.requests.length, 1, "a timed-out model is not retried");
  assert.equal(working.requests.length, 1);
  assert.equal(runtime.slots.running("slow"), 0, "the timed-out call gave its slot back");

  const alone = await runtime.handle({ channel: "telegram", chat: "b", agentId: "stuck", text: "and you" });
  assert.equal(alone.errorCode, "MODEL_TIMEOUT");
  assert.match(alone.reply, /took too long/);
  assert.equal(hung.requests.length, 2);
});

test("ModelSlots: per-provider limits, arrival order, and a raised limit hands out waiting slots", async () => {
  let limit = 1;
  const slots = new ModelSlots((provider) => (provider === "a" ? limit : 2));
  const order: string[] = [];
  const releases: Array<() => void> = [];
  const call = (provider: string, name: string) => slots.run(provider, () => new Promise<void>((resolve) => {
    order.push(name);
    releases.push(resolve);
  }));
  // Work starts a few microtasks after its slot is handed out: let them run (nothing here waits on time).
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  const calls = [call("a", "a1"), call("a", "a2"), call("a", "a3"), call("b", "b1"), call("b", "b2")];
  await settle();
  assert.deepEqual(order, ["a1", "b1", "b2"]);
  assert.equal(slots.waiting("a"), 2);
  limit = 2;
  slots.refresh();
  await settle();
  assert.deepEqual(order, ["a1", "b1", "b2", "a2"]);
  releases[0]!();
  await calls[0];
  await settle();
  assert.deepEqual(order, ["a1", "b1", "b2", "a2", "a3"]);
  for (const release of releases.slice(1)) release();
  await Promise.all(calls);
  assert.equal(slots.running("a") + slots.running("b") + slots.waiting("a"), 0);
});

for (const provider of ["anthropic", "openai"] as const) {
  test(`${provider}: an answer that stalls after its headers (mid-stream) fails with MODEL_TIMEOUT at the deadline, not never`, { timeout: 20_000 }, async (t) => {
    const { createAnthropicClient, createOpenAIClient, ModelError } = await import("../../src/agent/models/index.ts");
    const fake = provider === "anthropic" ? await startAnthropicFake() : await startOpenAIFake();
    t.after(() => fake.close());
    // Headers and the first event at once, the rest a minute later: the SDKs' own timeout has stopped by then.
    fake.enqueue({ text: "one two three four five six", chunkDelayMs: 60_000 });
    const options = { apiKey: provider === "anthropic" ? ANTHROPIC_KEY : OPENAI_KEY, baseUrl: fake.url, timeoutMs: 400 };
    const client = provider === "anthropic" ? createAnthropicClient(options) : createOpenAIClient(options);
    const deltas: string[] = [];
    const error = await client.complete({ model: "m", system: "s", messages: [{ role: "user", content: "hi" }], tools: [], onTextDelta: (delta) => deltas.push(delta) })
      .then(() => assert.fail("expected a timeout"), (caught: unknown) => caught);
    assert.ok(error instanceof ModelError, String(error));
    assert.equal(error.code, "MODEL_TIMEOUT");
    assert.match(error.userMessage, /took too long/);
  });
}
