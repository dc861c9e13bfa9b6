/**
 * createResilientModel on its own, over stub ModelClients (our own port): the SDK paths are
 * covered by models.test.ts against the provider fakes. The stubs throw what the SDKs throw in
 * shape (`status`, `headers`), so the mapping to ModelError (model-error.ts) runs for real.
 * Sleeps are injected and recorded; nothing here waits on real time.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ModelClient, ModelRequest, ModelResponse } from "../../src/agent/models/model-client.ts";
import { ModelError } from "../../src/agent/models/model-error.ts";
import { ModelSlots } from "../../src/agent/models/model-slots.ts";
import { createResilientModel, type ResilientModelOptions } from "../../src/agent/models/resilient-model.ts";

/** A broken slot hand-off would leave a call waiting forever: fail instead. */
const BOUNDED = { timeout: 5_000 };

const USAGE = { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 };
const REQUEST = { system: "be brief", messages: [{ role: "user" as const, content: "hi" }], tools: [] };

/** Thrown by the stub the way the SDKs throw an HTTP failure: a status and the response headers. */
class APIError extends Error {
  readonly status: number;
  readonly headers: Headers;
  readonly error: { type: string; message: string };
  constructor(status: number, message: string, headers: Record<string, string> = {}, type = "api_error") {
    super(`${status} ${message}`);
    this.name = "APIError";
    this.status = status;
    this.headers = new Headers(headers);
    this.error = { type, message };
  }
}

/** What the SDKs throw when their own request timeout passes. */
class APIConnectionTimeoutError extends Error {
  constructor() {
    super("Request timed out.");
    this.name = "APIConnectionTimeoutError";
  }
}

type Step = Error | string | ((request: ModelRequest) => Promise<ModelResponse>);

/** A ModelClient that plays `steps` in order (the last one repeats) and records every call. */
function stubClient(provider: string, steps: Step[], calls: string[]): ModelClient {
  let index = 0;
  return {
    provider,
    async complete(request) {
      calls.push(`${provider}/${request.model}`);
      const step = steps[Math.min(index, steps.length - 1)]!;
      index += 1;
      if (typeof step === "function") return step(request);
      if (step instanceof Error) throw step;
      return { text: step, toolCalls: [], stopReason: "end_turn", usage: USAGE, model: request.model };
    },
  };
}

/** Sleeps that resolve at once and remember how long they were asked to wait. */
function recordedSleep(): { sleeps: number[]; sleep: NonNullable<ResilientModelOptions["sleep"]> } {
  const sleeps: number[] = [];
  return {
    sleeps,
    sleep: async (ms, signal) => {
      sleeps.push(ms);
      if (signal?.aborted) throw signal.reason;
    },
  };
}

/** One sentence for a chat: a single line, ending in a full stop, with no second sentence. */
function assertOneSentence(text: string): void {
  assert.doesNotMatch(text, /\n/);
  assert.match(text, /\.$/);
  assert.equal(text.match(/[.!?](\s|$)/g)?.length, 1, `one sentence: ${text}`);
}

test("a 429 with retry-after is retried after exactly the provider's delay, on the same model, and answers", BOUNDED, async () => {
  const calls: string[] = [];
  const { sleeps, sleep } = recordedSleep();
  const model = createResilientModel({
    candidates: [{ ref: "anthropic/primary", client: stubClient("anthropic", [new APIError(429, "slow down", { "retry-after": "3" }), "hello"], calls) }],
    sleep,
    random: () => 0.5,
  });
  const response = await model.complete(REQUEST);
  assert.equal(response.text, "hello");
  assert.equal(response.model, "anthropic/primary", "the ref that answered, provider included");
  assert.deepEqual(calls, ["anthropic/primary", "anthropic/primary"]);
  assert.deepEqual(sleeps, [3_000]);
});

test("without retry-after, retries back off exponentially with jitter, capped at 30 s, for at most maxAttemptsPerModel attempts", BOUNDED, async () => {
  const calls: string[] = [];
  const { sleeps, sleep } = recordedSleep();
  const model = createResilientModel({
    candidates: [{ ref: "openai/one", client: stubClient("openai", [new APIError(503, "down")], calls) }],
    sleep,
    random: () => 0, // the low end of the jitter: half the ceiling
    baseDelayMs: 20_000,
    maxAttemptsPerModel: 4,
    maxTotalWaitMs: 1_000_000,
  });
  const error = await model.complete(REQUEST).then(() => assert.fail("should fail"), (thrown: unknown) => thrown);
  assert.ok(error instanceof ModelError);
  assert.equal(error.code, "MODEL_UNAVAILABLE");
  assert.equal(calls.length, 4);
  // Ceilings 20 s, 40 s → 30 s, 80 s → 30 s; random 0 waits half of each.
  assert.deepEqual(sleeps, [10_000, 15_000, 15_000]);
});

test("retries stay within the total wait budget: a retry-after longer than what is left moves to the fallback without sleeping", BOUNDED, async () => {
  const calls: string[] = [];
  const { sleeps, sleep } = recordedSleep();
  const model = createResilientModel({
    candidates: [
      { ref: "anthropic/primary", client: stubClient("anthropic", [new APIError(429, "slow", { "retry-after": "4" }), new APIError(429, "slower", { "retry-after": "40" })], calls) },
      { ref: "openai/fallback", client: stubClient("openai", ["from the fallback"], calls) },
    ],
    sleep,
    maxTotalWaitMs: 10_000,
  });
  const response = await model.complete(REQUEST);
  assert.equal(response.text, "from the fallback");
  assert.equal(response.model, "openai/fallback");
  assert.deepEqual(calls, ["anthropic/primary", "anthropic/primary", "openai/fallback"]);
  assert.deepEqual(sleeps, [4_000], "the 40 s retry-after (over the 6 s left) was not slept");
});

test("candidates are tried in order: a non-retryable failure moves on at once, and when all fail the last error is thrown", BOUNDED, async () => {
  const calls: string[] = [];
  const { sleeps, sleep } = recordedSleep();
  const model = createResilientModel({
    candidates: [
      { ref: "anthropic/first", client: stubClient("anthropic", [new APIError(401, "invalid x-api-key", {}, "authentication_error")], calls) },
      { ref: "openai/second", client: stubClient("openai", [new APIError(400, "bad field", {}, "invalid_request_error")], calls) },
      { ref: "local/third", client: stubClient("local", [new APIError(404, "no such model", {}, "not_found")], calls) },
    ],
    sleep,
  });
  assert.deepEqual(model.refs, ["anthropic/first", "openai/second", "local/third"]);
  const error = await model.complete(REQUEST).then(() => assert.fail("should fail"), (thrown: unknown) => thrown);
  assert.deepEqual(calls, ["anthropic/first", "openai/second", "local/third"], "each once, in order");
  assert.deepEqual(sleeps, [], "nothing retried");
  assert.ok(error instanceof ModelError);
  assert.equal(error.provider, "local", "the last candidate's error");
  assert.equal(error.code, "MODEL_BAD_REQUEST");
  assert.match(error.userMessage, /does not know the model "third"/);
});

test("a timeout goes to the fallback at once: the hung model is not asked again, even with attempts and budget left", BOUNDED, async () => {
  const calls: string[] = [];
  const { sleeps, sleep } = recordedSleep();
  const model = createResilientModel({
    candidates: [
      { ref: "anthropic/hung", client: stubClient("anthropic", [new APIConnectionTimeoutError(), "never asked twice"], calls) },
      { ref: "anthropic/second", client: stubClient("anthropic", [new APIError(504, "gateway timeout"), "nor this one"], calls) },
      { ref: "openai/third", client: stubClient("openai", ["answered"], calls) },
    ],
    sleep,
    maxAttemptsPerModel: 4,
  });
  const response = await model.complete(REQUEST);
  assert.equal(response.text, "answered");
  assert.deepEqual(calls, ["anthropic/hung", "anthropic/second", "openai/third"]);
  assert.deepEqual(sleeps, []);
});

test("MODEL_CONTEXT_TOO_LONG is thrown at once: no retry, no fallback (the caller compacts)", BOUNDED, async () => {
  const calls: string[] = [];
  const { sleeps, sleep } = recordedSleep();
  const model = createResilientModel({
    candidates: [
      { ref: "anthropic/primary", client: stubClient("anthropic", [new APIError(400, "prompt is too long: 210000 tokens > 200000 maximum", {}, "invalid_request_error")], calls) },
      { ref: "openai/fallback", client: stubClient("openai", ["should not be asked"], calls) },
    ],
    sleep,
  });
  await assert.rejects(model.complete(REQUEST), (error: unknown) => error instanceof ModelError && error.code === "MODEL_CONTEXT_TOO_LONG");
  assert.deepEqual(calls, ["anthropic/primary"]);
  assert.deepEqual(sleeps, []);
});

test("every failure a chat can see is one sentence, with no key, no status dump and no stack", BOUNDED, async () => {
  const secret = "sk-ant-api03-SECRETSECRETSECRET";
  const failures: Array<[Error, string]> = [
    [new APIError(429, "rate limited"), "MODEL_RATE_LIMITED"],
    [new APIError(529, "overloaded", {}, "overloaded_error"), "MODEL_UNAVAILABLE"],
    [new APIError(500, "internal"), "MODEL_UNAVAILABLE"],
    [new APIConnectionTimeoutError(), "MODEL_TIMEOUT"],
    [new APIError(401, `invalid x-api-key ${secret}`, {}, "authentication_error"), "MODEL_AUTH_FAILED"],
    [new APIError(403, "forbidden", {}, "permission_error"), "MODEL_AUTH_FAILED"],
    [new APIError(413, "too large"), "MODEL_CONTEXT_TOO_LONG"],
    [new APIError(422, "unprocessable"), "MODEL_BAD_REQUEST"],
  ];
  for (const [thrown, code] of failures) {
    const model = createResilientModel({
      candidates: [{ ref: "anthropic/m", client: stubClient("anthropic", [thrown], []) }],
      sleep: recordedSleep().sleep,
      maxAttemptsPerModel: 2,
    });
    const error = await model.complete(REQUEST).then(() => assert.fail("should fail"), (caught: unknown) => caught);
    assert.ok(error instanceof ModelError, code);
    assert.equal(error.code, code);
    assertOneSentence(error.userMessage);
    assert.ok(!error.userMessage.includes(secret) && !error.message.includes(secret), "the key is in neither message");
    assert.doesNotMatch(error.userMessage, /\bat .*\.ts:\d+|\b[45]\d\d\b/, "no stack, no status code");
  }
  const none = createResilientModel({ candidates: [] });
  const error = await none.complete(REQUEST).then(() => assert.fail("should fail"), (caught: unknown) => caught);
  assert.ok(error instanceof ModelError);
  assert.equal(error.code, "MODEL_NOT_CONFIGURED");
  assertOneSentence(error.userMessage);
});

test("an abort during a retry's wait rejects with the signal's reason and makes no further attempt", BOUNDED, async () => {
  const calls: string[] = [];
  const controller = new AbortController();
  const model = createResilientModel({
    candidates: [
      { ref: "anthropic/primary", client: stubClient("anthropic", [new APIError(503, "down")], calls) },
      { ref: "openai/fallback", client: stubClient("openai", ["should not be asked"], calls) },
    ],
    sleep: async (_ms, signal) => {
      controller.abort(new Error("the chat went away"));
      if (signal?.aborted) throw signal.reason;
    },
  });
  await assert.rejects(model.complete({ ...REQUEST, signal: controller.signal }), /the chat went away/);
  assert.deepEqual(calls, ["anthropic/primary"]);
});

test("`provider/*` reports the model the server answered with; a named model reports its ref", BOUNDED, async () => {
  const calls: string[] = [];
  const discovered = createResilientModel({
    candidates: [{ ref: "local/*", client: stubClient("local", [async () => ({ text: "hi", toolCalls: [], stopReason: "end_turn", usage: USAGE, model: "local/llama3.1" })], calls) }],
  });
  assert.equal((await discovered.complete(REQUEST)).model, "local/llama3.1");
  // Model names may contain slashes: only the provider prefix is removed.
  const nested = createResilientModel({ candidates: [{ ref: "openrouter/meta/llama-3", client: stubClient("openrouter", ["ok"], calls) }] });
  assert.equal((await nested.complete(REQUEST)).model, "openrouter/meta/llama-3");
  assert.deepEqual(calls, ["local/*", "openrouter/meta/llama-3"]);
});

test("each attempt runs in its own provider's slot; a retry's wait holds none, and another provider is never held", BOUNDED, async () => {
  const slots = new ModelSlots(() => 1);
  const calls: string[] = [];
  let peak = 0;
  let releaseFirst!: () => void;
  const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
  let releaseSleep!: () => void;
  let sleeping!: () => void;
  const asleep = new Promise<void>((resolve) => (sleeping = resolve));
  const observe = (text: string) => async (request: ModelRequest): Promise<ModelResponse> => {
    peak = Math.max(peak, slots.running("anthropic"));
    return { text, toolCalls: [], stopReason: "end_turn", usage: USAGE, model: request.model };
  };

  // A: its first attempt holds anthropic's only slot until released.
  const a = createResilientModel({
    slots,
    candidates: [{ ref: "anthropic/a", client: stubClient("anthropic", [async (request) => {
      await firstHeld;
      return observe("a")(request);
    }], calls) }],
  });
  const aAnswer = a.complete(REQUEST);
  // B on anthropic waits for the slot; C on openai does not.
  const b = createResilientModel({ slots, candidates: [{ ref: "anthropic/b", client: stubClient("anthropic", [observe("b")], calls) }] });
  const bAnswer = b.complete(REQUEST);
  const c = createResilientModel({ slots, candidates: [{ ref: "openai/c", client: stubClient("openai", [observe("c")], calls) }] });
  assert.equal((await c.complete(REQUEST)).text, "c", "another provider is not held by anthropic's full slot");
  assert.equal(slots.running("anthropic"), 1);
  assert.equal(slots.waiting("anthropic"), 1, "B waits for anthropic's slot");
  assert.deepEqual(calls, ["anthropic/a", "openai/c"]);
  releaseFirst();
  assert.equal((await aAnswer).text, "a");
  assert.equal((await bAnswer).text, "b");
  assert.equal(peak, 1, "never two anthropic calls at once");

  // D: a 429, then a wait that the test holds. The wait holds no slot: E is answered meanwhile.
  const d = createResilientModel({
    slots,
    candidates: [{ ref: "anthropic/d", client: stubClient("anthropic", [new APIError(429, "slow", { "retry-after": "1" }), observe("d")], calls) }],
    sleep: () => {
      sleeping();
      return new Promise<void>((resolve) => (releaseSleep = resolve));
    },
  });
  const dAnswer = d.complete(REQUEST);
  await asleep;
  assert.equal(slots.running("anthropic"), 0, "no slot held while waiting to retry");
  const e = createResilientModel({ slots, candidates: [{ ref: "anthropic/e", client: stubClient("anthropic", [observe("e")], calls) }] });
  assert.equal((await e.complete(REQUEST)).text, "e");
  releaseSleep();
  assert.equal((await dAnswer).text, "d");
  assert.equal(slots.running("anthropic"), 0);
  assert.equal(peak, 1);
});
