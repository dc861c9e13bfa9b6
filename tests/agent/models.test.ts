import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { test, type TestContext } from "node:test";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { startOpenAIFake } from "../fakes/openai-fake.ts";
import { contextTooLong, rateLimited, toolResults, type ModelFake, type ModelFakeOptions } from "../fakes/model-script.ts";
import {
  createAnthropicClient,
  createOpenAIClient,
  createResilientModel,
  normaliseOpenAIBaseUrl,
  parseRetryAfter,
  resolveModelCandidates,
  ModelError,
  type ChatMessage,
  type ModelCandidate,
  type ModelClient,
  type ModelRequest,
  type ToolDefinition,
} from "../../src/agent/models/index.ts";

const ANTHROPIC_KEY = "fake-anthropic-key-0001";
const OPENAI_KEY = "sk-openai-test-key-0002";

async function anthropicFake(t: TestContext, options?: ModelFakeOptions) {
  const fake = await startAnthropicFake(options);
  t.after(() => fake.close());
  return fake;
}

async function openAIFake(t: TestContext, options?: ModelFakeOptions) {
  const fake = await startOpenAIFake(options);
  t.after(() => fake.close());
  return fake;
}

function anthropicClient(fake: ModelFake, apiKey = ANTHROPIC_KEY, timeoutMs?: number): ModelClient {
  return createAnthropicClient({ apiKey, baseUrl: fake.url, ...(timeoutMs ? { timeoutMs } : {}) });
}

function openAIClient(fake: ModelFake, apiKey = OPENAI_KEY): ModelClient {
  return createOpenAIClient({ apiKey, baseUrl: fake.url });
}

function request(overrides: Partial<ModelRequest> = {}): ModelRequest {
  return {
    model: "fake-model",
    system: "You are Faraday.",
    messages: [{ role: "user", content: "hi" }],
    tools: [],
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("expected the call to fail");
}

async function modelRejection(promise: Promise<unknown>): Promise<ModelError> {
  const error = await rejection(promise);
  assert.ok(error instanceof ModelError, `expected a ModelError, got ${String(error)}`);
  return error;
}

/** No key may appear in what a user or a log line sees. */
function assertNoSecrets(error: ModelError, ...secrets: string[]): void {
  const visible = [error.message, error.userMessage, JSON.stringify(error.details ?? {})].join("\n");
  for (const secret of secrets) assert.ok(!visible.includes(secret), `the error shows a key: ${visible}`);
  assert.doesNotMatch(visible, /sk-\*\*\*/);
}

function recordingSleep() {
  const sleeps: number[] = [];
  return { sleeps, sleep: async (ms: number) => void sleeps.push(ms), total: () => sleeps.reduce((sum, ms) => sum + ms, 0) };
}

const weatherTools: ToolDefinition[] = [
  { name: "get_time", description: "Time in a zone", inputSchema: { type: "object", properties: { zone: { type: "string" } } } },
  { name: "get_weather", description: "Weather for a city", inputSchema: { type: "object", properties: { city: { type: "string" } } } },
];

// ------------------------------------------------------------------ plain replies

test("anthropic: a plain reply returns the text, end_turn, usage with cache counts and the provider/model", async (t) => {
  const fake = await anthropicFake(t);
  fake.enqueue({ text: "hello there", usage: { inputTokens: 12, outputTokens: 3, cacheReadInputTokens: 100, cacheCreationInputTokens: 7 } });

  const response = await anthropicClient(fake).complete(request({ model: "claude-fake-1" }));

  assert.equal(response.text, "hello there");
  assert.deepEqual(response.toolCalls, []);
  assert.equal(response.stopReason, "end_turn");
  assert.deepEqual(response.usage, { inputTokens: 12, outputTokens: 3, cacheReadTokens: 100, cacheWriteTokens: 7 });
  assert.equal(response.model, "anthropic/claude-fake-1");
  const body = fake.requests[0]?.body;
  assert.equal(body.model, "claude-fake-1");
  assert.equal(body.max_tokens, 4096);
  assert.equal(body.stream, undefined);
  assert.deepEqual(body.messages, [{ role: "user", content: [{ type: "text", text: "hi" }] }]);
});

test("anthropic: with onTextDelta the reply is streamed in pieces that add up to the text", async (t) => {
  const fake = await anthropicFake(t);
  fake.enqueue({ text: "The quick brown fox jumps", usage: { inputTokens: 42, outputTokens: 7 } });
  const pieces: string[] = [];

  const response = await anthropicClient(fake).complete(request({ onTextDelta: (delta) => pieces.push(delta) }));

  assert.equal(fake.requests[0]?.body.stream, true);
  assert.ok(pieces.length > 1, `expected several pieces, got ${pieces.length}`);
  assert.equal(pieces.join(""), "The quick brown fox jumps");
  assert.equal(response.text, "The quick brown fox jumps");
  assert.equal(response.usage.inputTokens, 42);
  assert.equal(response.usage.outputTokens, 7);
});

test("anthropic: a truncated reply reports max_tokens and a request maxTokens is sent as given", async (t) => {
  const fake = await anthropicFake(t);
  fake.enqueue({ text: "cut", truncated: true });
  const response = await anthropicClient(fake).complete(request({ maxTokens: 123 }));
  assert.equal(response.stopReason, "max_tokens");
  assert.equal(fake.requests[0]?.body.max_tokens, 123);
});

test("openai: a plain reply returns the text, end_turn, and usage with cached tokens counted apart", async (t) => {
  const fake = await openAIFake(t);
  fake.enqueue({ text: "hello there", usage: { inputTokens: 40, outputTokens: 6, cacheReadInputTokens: 10 } });

  const response = await openAIClient(fake).complete(request({ model: "gpt-fake" }));

  assert.equal(response.text, "hello there");
  assert.equal(response.stopReason, "end_turn");
  assert.deepEqual(response.usage, { inputTokens: 40, outputTokens: 6, cacheReadTokens: 10, cacheWriteTokens: 0 });
  assert.equal(response.model, "openai/gpt-fake");
  const body = fake.requests[0]?.body;
  assert.deepEqual(body.messages, [
    { role: "system", content: "You are Faraday." },
    { role: "user", content: "hi" },
  ]);
  assert.equal(body.tools, undefined);
  assert.equal(fake.requests[0]?.headers.authorization, `Bearer ${OPENAI_KEY}`);
});

test("openai: with onTextDelta the reply is streamed with include_usage, pieces add up, usage is read", async (t) => {
  const fake = await openAIFake(t);
  fake.enqueue({ text: "The quick brown fox jumps", usage: { inputTokens: 40, outputTokens: 6, cacheReadInputTokens: 10 } });
  const pieces: string[] = [];

  const response = await openAIClient(fake).complete(request({ onTextDelta: (delta) => pieces.push(delta) }));

  const body = fake.requests[0]?.body;
  assert.equal(body.stream, true);
  assert.deepEqual(body.stream_options, { include_usage: true });
  assert.ok(pieces.length > 1);
  assert.equal(pieces.join(""), "The quick brown fox jumps");
  assert.equal(response.text, "The quick brown fox jumps");
  assert.equal(response.stopReason, "end_turn");
  assert.deepEqual(response.usage, { inputTokens: 40, outputTokens: 6, cacheReadTokens: 10, cacheWriteTokens: 0 });
});

test("openai: maxTokens goes out as max_completion_tokens to openai and as max_tokens to other servers", async (t) => {
  const fake = await openAIFake(t);
  await openAIClient(fake).complete(request({ maxTokens: 77 }));
  await createOpenAIClient({ apiKey: "ollama", baseUrl: fake.url, provider: "local" }).complete(request({ maxTokens: 88 }));
  assert.equal(fake.requests[0]?.body.max_completion_tokens, 77);
  assert.equal(fake.requests[0]?.body.max_tokens, undefined);
  assert.equal(fake.requests[1]?.body.max_tokens, 88);
  assert.equal(fake.requests[1]?.body.max_completion_tokens, undefined);
});

// ------------------------------------------------------------------ tool calls

test("anthropic: parallel tool calls round-trip; results go back as one user turn of tool_result blocks", async (t) => {
  const fake = await anthropicFake(t);
  fake.enqueue(
    {
      text: "Checking both.",
      toolCalls: [
        { id: "toolu_a", name: "get_weather", arguments: { city: "Paris" } },
        { id: "toolu_b", name: "get_weather", arguments: { city: "Oslo" } },
      ],
    },
    (received) => ({ text: `got ${toolResults(received).length} results` }),
  );
  const client = anthropicClient(fake);
  const messages: ChatMessage[] = [{ role: "user", content: "weather in Paris and Oslo?" }];

  const first = await client.complete(request({ messages, tools: weatherTools }));
  assert.equal(first.stopReason, "tool_use");
  assert.equal(first.text, "Checking both.");
  assert.deepEqual(first.toolCalls, [
    { id: "toolu_a", name: "get_weather", arguments: { city: "Paris" } },
    { id: "toolu_b", name: "get_weather", arguments: { city: "Oslo" } },
  ]);

  messages.push(
    { role: "assistant", content: first.text, toolCalls: first.toolCalls },
    { role: "tool", toolCallId: "toolu_a", name: "get_weather", content: "sunny" },
    { role: "tool", toolCallId: "toolu_b", name: "get_weather", content: "city not found", isError: true },
  );
  const second = await client.complete(request({ messages, tools: weatherTools }));

  assert.equal(second.text, "got 2 results");
  const sent = fake.requests[1]?.body.messages;
  assert.equal(fake.requests[1]?.rejected, undefined);
  assert.deepEqual(sent, [
    { role: "user", content: [{ type: "text", text: "weather in Paris and Oslo?" }] },
    {
      role: "assistant",
      content: [
        { type: "text", text: "Checking both." },
        { type: "tool_use", id: "toolu_a", name: "get_weather", input: { city: "Paris" } },
        { type: "tool_use", id: "toolu_b", name: "get_weather", input: { city: "Oslo" } },
      ],
    },
    {
      role: "user",
      content: [
        { type: "tool_result", tool_use_id: "toolu_a", content: "sunny" },
        { type: "tool_result", tool_use_id: "toolu_b", content: "city not found", is_error: true },
      ],
    },
  ]);
});

test("anthropic: streamed tool calls are parsed, and consecutive same-role messages are merged", async (t) => {
  const fake = await anthropicFake(t);
  fake.enqueue({ toolCalls: [{ id: "toolu_s", name: "get_time", arguments: { zone: "Europe/Oslo" } }] });
  const messages: ChatMessage[] = [
    { role: "user", content: "first" },
    { role: "user", content: "second" },
    { role: "assistant", content: "" },
    { role: "user", content: "third" },
  ];

  const response = await anthropicClient(fake).complete(request({ messages, tools: weatherTools, onTextDelta: () => {} }));

  assert.equal(response.stopReason, "tool_use");
  assert.deepEqual(response.toolCalls, [{ id: "toolu_s", name: "get_time", arguments: { zone: "Europe/Oslo" } }]);
  assert.deepEqual(fake.requests[0]?.body.messages, [
    {
      role: "user",
      content: [
        { type: "text", text: "first" },
        { type: "text", text: "second" },
        { type: "text", text: "third" },
      ],
    },
  ]);
});

test("openai: parallel tool calls round-trip; results go back as role:tool messages after tool_calls", async (t) => {
  const fake = await openAIFake(t);
  fake.enqueue(
    {
      toolCalls: [
        { id: "call_a", name: "get_weather", arguments: { city: "Paris" } },
        { id: "call_b", name: "get_time", arguments: { zone: "Europe/Oslo" } },
      ],
    },
    (received) => ({ text: `got ${toolResults(received).length} results` }),
  );
  const client = openAIClient(fake);
  const messages: ChatMessage[] = [{ role: "user", content: "weather and time?" }];

  const first = await client.complete(request({ messages, tools: weatherTools }));
  assert.equal(first.stopReason, "tool_use");
  assert.equal(first.text, "");
  assert.deepEqual(first.toolCalls, [
    { id: "call_a", name: "get_weather", arguments: { city: "Paris" } },
    { id: "call_b", name: "get_time", arguments: { zone: "Europe/Oslo" } },
  ]);

  messages.push(
    { role: "assistant", content: first.text, toolCalls: first.toolCalls },
    { role: "tool", toolCallId: "call_a", name: "get_weather", content: "sunny" },
    { role: "tool", toolCallId: "call_b", name: "get_time", content: "no such zone", isError: true },
  );
  const second = await client.complete(request({ messages, tools: weatherTools }));

  assert.equal(second.text, "got 2 results");
  const body = fake.requests[1]?.body;
  assert.equal(fake.requests[1]?.rejected, undefined);
  assert.deepEqual(body.tools[1], {
    type: "function",
    function: { name: "get_weather", description: "Weather for a city", parameters: weatherTools[1]!.inputSchema },
  });
  assert.deepEqual(body.messages.slice(2), [
    {
      role: "assistant",
      content: null,
      tool_calls: [
        { id: "call_a", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
        { id: "call_b", type: "function", function: { name: "get_time", arguments: '{"zone":"Europe/Oslo"}' } },
      ],
    },
    { role: "tool", tool_call_id: "call_a", content: "sunny" },
    { role: "tool", tool_call_id: "call_b", content: "Error: no such zone" },
  ]);
});

test("openai: streamed parallel tool calls are assembled from their fragments by index", async (t) => {
  const fake = await openAIFake(t);
  fake.enqueue({
    text: "Looking.",
    toolCalls: [
      { id: "call_x", name: "get_weather", arguments: { city: "Lisbon", days: [1, 2, 3] } },
      { id: "call_y", name: "get_time", arguments: { zone: "Asia/Tokyo" } },
    ],
  });
  const pieces: string[] = [];

  const response = await openAIClient(fake).complete(request({ tools: weatherTools, onTextDelta: (delta) => pieces.push(delta) }));

  assert.equal(pieces.join(""), "Looking.");
  assert.equal(response.stopReason, "tool_use");
  assert.deepEqual(response.toolCalls, [
    { id: "call_x", name: "get_weather", arguments: { city: "Lisbon", days: [1, 2, 3] } },
    { id: "call_y", name: "get_time", arguments: { zone: "Asia/Tokyo" } },
  ]);
});

test("openai: tool arguments that are not valid JSON are kept raw under _raw", async () => {
  // The fakes always send valid JSON, so this server is a fetch that answers one crafted completion.
  const completion = {
    id: "chatcmpl-1",
    object: "chat.completion",
    created: 1,
    model: "llama3",
    choices: [
      {
        index: 0,
        finish_reason: "stop",
        message: {
          role: "assistant",
          content: null,
          tool_calls: [
            { id: "call_bad", type: "function", function: { name: "get_weather", arguments: '{"city": "Par' } },
            { id: "call_list", type: "function", function: { name: "get_weather", arguments: "[1]" } },
            { id: "call_empty", type: "function", function: { name: "get_time", arguments: "" } },
          ],
        },
      },
    ],
  };
  const fetch: typeof globalThis.fetch = async () =>
    new Response(JSON.stringify(completion), { status: 200, headers: { "content-type": "application/json" } });
  const client = createOpenAIClient({ apiKey: "ollama", baseUrl: "http://127.0.0.1:9/v1", provider: "local", fetch });

  const response = await client.complete(request({ model: "llama3", tools: weatherTools }));

  assert.deepEqual(response.toolCalls, [
    { id: "call_bad", name: "get_weather", arguments: { _raw: '{"city": "Par' } },
    { id: "call_list", name: "get_weather", arguments: { _raw: "[1]" } },
    { id: "call_empty", name: "get_time", arguments: {} },
  ]);
  // Ollama answers tool calls with finish_reason "stop"; the loop must still see tool_use.
  assert.equal(response.stopReason, "tool_use");
  assert.equal(response.model, "local/llama3");
});

// ------------------------------------------------------------------ prompt caching

test("anthropic: the system prompt and the last tool carry cache_control, nothing else does", async (t) => {
  const fake = await anthropicFake(t);
  await anthropicClient(fake).complete(request({ tools: weatherTools }));

  const body = fake.requests[0]?.body;
  assert.deepEqual(body.system, [{ type: "text", text: "You are Faraday.", cache_control: { type: "ephemeral" } }]);
  assert.equal(body.tools.length, 2);
  assert.equal(body.tools[0].cache_control, undefined);
  assert.deepEqual(body.tools[1], {
    name: "get_weather",
    description: "Weather for a city",
    input_schema: weatherTools[1]!.inputSchema,
    cache_control: { type: "ephemeral" },
  });
});

// ------------------------------------------------------------------ errors and retries

test("a 429 with retry-after is retried after the provider's delay, then answers", async (t) => {
  const fake = await anthropicFake(t);
  fake.enqueue(rateLimited(7), { text: "finally" });
  const { sleeps, sleep } = recordingSleep();
  const model = createResilientModel({ candidates: [{ ref: "anthropic/claude-fake", client: anthropicClient(fake) }], sleep });

  const response = await model.complete({ system: "s", messages: [{ role: "user", content: "x" }], tools: [] });

  assert.equal(response.text, "finally");
  assert.equal(response.model, "anthropic/claude-fake");
  assert.deepEqual(sleeps, [7000]);
  assert.equal(fake.requests.length, 2);
  assert.equal(fake.requests[1]?.body.model, "claude-fake");
});

test("openai: a 429 carrying retry-after-ms is honoured to the millisecond", async (t) => {
  const fake = await openAIFake(t);
  fake.enqueue({ error: { status: 429, headers: { "retry-after-ms": "1250" } } }, { text: "ok now" });
  const { sleeps, sleep } = recordingSleep();
  const model = createResilientModel({ candidates: [{ ref: "openai/gpt-fake", client: openAIClient(fake) }], sleep });

  const response = await model.complete({ system: "", messages: [{ role: "user", content: "x" }], tools: [] });

  assert.equal(response.text, "ok now");
  assert.deepEqual(sleeps, [1250]);
});

test("500s until the attempts run out move on to the fallback model on the other provider", async (t) => {
  const anthropic = await anthropicFake(t, { defaultStep: { error: { status: 500 } } });
  const openai = await openAIFake(t);
  openai.enqueue({ text: "from the fallback" });
  const { sleeps, sleep } = recordingSleep();
  const model = createResilientModel({
    candidates: [
      { ref: "anthropic/claude-fake", client: anthropicClient(anthropic) },
      { ref: "openai/gpt-fake", client: openAIClient(openai) },
    ],
    maxAttemptsPerModel: 3,
    baseDelayMs: 100,
    random: () => 1,
    sleep,
  });

  const response = await model.complete({ system: "s", messages: [{ role: "user", content: "x" }], tools: [] });

  assert.equal(response.text, "from the fallback");
  assert.equal(response.model, "openai/gpt-fake");
  assert.equal(anthropic.requests.length, 3);
  assert.equal(openai.requests.length, 1);
  assert.equal(openai.requests[0]?.body.model, "gpt-fake");
  // Exponential: 100 · 2^0, 100 · 2^1 (random() = 1 takes the top of the jitter range).
  assert.deepEqual(sleeps, [100, 200]);
});

test("when every candidate keeps failing, the last ModelError is thrown and total sleep stays within budget", async (t) => {
  const anthropic = await anthropicFake(t, { defaultStep: { error: { status: 529 } } });
  const openai = await openAIFake(t, { defaultStep: rateLimited(2) });
  const { sleeps, sleep, total } = recordingSleep();
  const maxTotalWaitMs = 5_000;
  const model = createResilientModel({
    candidates: [
      { ref: "anthropic/claude-fake", client: anthropicClient(anthropic) },
      { ref: "openai/gpt-fake", client: openAIClient(openai) },
    ],
    maxTotalWaitMs,
    baseDelayMs: 1_000,
    maxAttemptsPerModel: 10,
    sleep,
  });

  const error = await modelRejection(model.complete({ system: "s", messages: [{ role: "user", content: "x" }], tools: [] }));

  assert.equal(error.code, "MODEL_RATE_LIMITED");
  assert.match(error.userMessage, /rate-limited|unavailable|overloaded/);
  assert.ok(sleeps.length > 0, "expected retries with sleeps");
  assert.ok(total() <= maxTotalWaitMs, `slept ${total()} ms in all`);
  assert.ok(anthropic.requests.length > 1);
  assert.ok(openai.requests.length >= 1);
  assertNoSecrets(error, ANTHROPIC_KEY, OPENAI_KEY);
});

test("a retry-after longer than the wait budget left moves on to the next model without sleeping", async (t) => {
  const anthropic = await anthropicFake(t);
  anthropic.enqueue(rateLimited(120));
  const openai = await openAIFake(t);
  const { sleeps, sleep } = recordingSleep();
  const model = createResilientModel({
    candidates: [
      { ref: "anthropic/claude-fake", client: anthropicClient(anthropic) },
      { ref: "openai/gpt-fake", client: openAIClient(openai) },
    ],
    maxTotalWaitMs: 60_000,
    sleep,
  });

  const response = await model.complete({ system: "s", messages: [{ role: "user", content: "x" }], tools: [] });

  assert.equal(response.model, "openai/gpt-fake");
  assert.deepEqual(sleeps, []);
  assert.equal(anthropic.requests.length, 1);
});

test("a 401 is MODEL_AUTH_FAILED naming the env var, is not retried, and shows no key", async (t) => {
  const fake = await anthropicFake(t, { apiKey: "fake-anthropic-right-key" });
  const { sleeps, sleep } = recordingSleep();
  const wrongKey = "fake-anthropic-wrong-key-9876";
  const model = createResilientModel({ candidates: [{ ref: "anthropic/claude-fake", client: anthropicClient(fake, wrongKey) }], sleep });

  const error = await modelRejection(model.complete({ system: "s", messages: [{ role: "user", content: "x" }], tools: [] }));

  assert.equal(error.code, "MODEL_AUTH_FAILED");
  assert.equal(error.retryable, false);
  assert.equal(error.status, 401);
  assert.equal(error.userMessage, "The model provider rejected the API key; check ANTHROPIC_API_KEY.");
  assert.equal(fake.requests.length, 1);
  assert.deepEqual(sleeps, []);
  assertNoSecrets(error, wrongKey, "fake-anthropic-right-key");
});

test("openai: a 401 names OPENAI_API_KEY and the masked key in OpenAI's message is redacted", async (t) => {
  const fake = await openAIFake(t, { apiKey: "sk-right" });
  const wrongKey = "sk-proj-wrong-secret-5555";
  const error = await modelRejection(openAIClient(fake, wrongKey).complete(request()));
  assert.equal(error.code, "MODEL_AUTH_FAILED");
  assert.match(error.userMessage, /OPENAI_API_KEY/);
  assertNoSecrets(error, wrongKey, "5555");
});

test("an auth failure on the primary moves on to the fallback model", async (t) => {
  const anthropic = await anthropicFake(t, { apiKey: "fake-anthropic-right-key" });
  const openai = await openAIFake(t);
  const model = createResilientModel({
    candidates: [
      { ref: "anthropic/claude-fake", client: anthropicClient(anthropic, "sk-ant-wrong") },
      { ref: "openai/gpt-fake", client: openAIClient(openai) },
    ],
    sleep: async () => assert.fail("must not sleep"),
  });
  const response = await model.complete({ system: "s", messages: [{ role: "user", content: "x" }], tools: [] });
  assert.equal(response.model, "openai/gpt-fake");
  assert.equal(anthropic.requests.length, 1);
});

for (const provider of ["anthropic", "openai"] as const) {
  test(`${provider}: context too long is MODEL_CONTEXT_TOO_LONG, thrown at once without retry or fallback`, async (t) => {
    const fake = provider === "anthropic" ? await anthropicFake(t) : await openAIFake(t);
    fake.enqueue(contextTooLong(250_000, 200_000));
    const fallback = await openAIFake(t);
    const client = provider === "anthropic" ? anthropicClient(fake) : openAIClient(fake);
    const model = createResilientModel({
      candidates: [
        { ref: `${provider}/big`, client },
        { ref: "openai/fallback", client: openAIClient(fallback) },
      ],
      sleep: async () => assert.fail("must not sleep"),
    });

    const error = await modelRejection(model.complete({ system: "s", messages: [{ role: "user", content: "x" }], tools: [] }));

    assert.equal(error.code, "MODEL_CONTEXT_TOO_LONG");
    assert.equal(error.retryable, false);
    assert.match(error.userMessage, /too long/);
    assert.equal(fake.requests.length, 1);
    assert.equal(fallback.requests.length, 0);
  });
}

test("a 529 is retryable MODEL_UNAVAILABLE saying the model is overloaded", async (t) => {
  const fake = await anthropicFake(t);
  fake.enqueue({ error: { status: 529 } });
  const error = await modelRejection(anthropicClient(fake).complete(request()));
  assert.equal(error.code, "MODEL_UNAVAILABLE");
  assert.equal(error.retryable, true);
  assert.equal(error.status, 529);
  assert.match(error.userMessage, /overloaded/);
});

test("a dropped connection is retryable MODEL_UNAVAILABLE, and a slow answer past timeoutMs is MODEL_TIMEOUT", async (t) => {
  const fake = await anthropicFake(t);
  fake.enqueue({ disconnect: true }, { delayMs: 5_000 });
  const client = anthropicClient(fake, ANTHROPIC_KEY, 200);

  const dropped = await modelRejection(client.complete(request()));
  assert.equal(dropped.code, "MODEL_UNAVAILABLE");
  assert.equal(dropped.retryable, true);

  const slow = await modelRejection(client.complete(request()));
  assert.equal(slow.code, "MODEL_TIMEOUT");
  assert.equal(slow.retryable, true);
});

test("a stream that fails after some text is retried, and the retry streams its answer again", async (t) => {
  const fake = await anthropicFake(t);
  fake.enqueue({ text: "partial answer", error: { status: 529, midStream: true } }, { text: "full answer" });
  const { sleeps, sleep } = recordingSleep();
  const pieces: string[] = [];
  const model = createResilientModel({ candidates: [{ ref: "anthropic/claude-fake", client: anthropicClient(fake) }], sleep });

  const response = await model.complete({
    system: "s",
    messages: [{ role: "user", content: "x" }],
    tools: [],
    onTextDelta: (delta) => pieces.push(delta),
  });

  assert.equal(response.text, "full answer");
  assert.equal(pieces.join(""), "partial answerfull answer");
  assert.equal(sleeps.length, 1);
  assert.equal(fake.requests.length, 2);
});

test("aborting the request rejects with the signal's reason and is not retried", async (t) => {
  const fake = await openAIFake(t);
  fake.setDefault({ text: "late", delayMs: 5_000 });
  const controller = new AbortController();
  const model = createResilientModel({
    candidates: [{ ref: "openai/gpt-fake", client: openAIClient(fake) }],
    sleep: async () => assert.fail("must not sleep"),
  });

  const pending = rejection(
    model.complete({ system: "s", messages: [{ role: "user", content: "x" }], tools: [], signal: controller.signal }),
  );
  while (fake.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  const reason = new Error("user pressed stop");
  controller.abort(reason);

  assert.equal(await pending, reason);
  assert.equal(fake.requests.length, 1);
});

test("parseRetryAfter reads retry-after-ms, seconds and HTTP dates", () => {
  const now = Date.parse("2025-01-01T00:00:00Z");
  assert.equal(parseRetryAfter(new Headers({ "retry-after-ms": "1500.4" }), now), 1501);
  assert.equal(parseRetryAfter(new Headers({ "retry-after": "3" }), now), 3000);
  assert.equal(parseRetryAfter(new Headers({ "retry-after": "Wed, 01 Jan 2025 00:00:10 GMT" }), now), 10_000);
  assert.equal(parseRetryAfter(new Headers({ "retry-after": "soon" }), now), undefined);
  assert.equal(parseRetryAfter(new Headers(), now), undefined);
});

// ------------------------------------------------------------------ registry

const noTools = { system: "s", messages: [{ role: "user" as const, content: "x" }], tools: [] };

test("registry: with no model and no keys the error is the one clear sentence", () => {
  const result = resolveModelCandidates({ env: {} });
  assert.ok("error" in result);
  assert.equal(result.error.code, "MODEL_NOT_CONFIGURED");
  assert.equal(
    result.error.userMessage,
    "No model is configured: set ANTHROPIC_API_KEY or OPENAI_API_KEY, or OPENAI_BASE_URL for a local OpenAI-compatible server (or agents.defaults.model in openclaw.json).",
  );
});

test("registry: with only ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL set, claude-sonnet-5-5 is asked at that URL", async (t) => {
  const fake = await anthropicFake(t);
  const result = resolveModelCandidates({ env: { ANTHROPIC_API_KEY: "sk-ant-env-key", ANTHROPIC_BASE_URL: fake.url } });
  assert.ok("candidates" in result);
  assert.deepEqual(result.candidates.map((candidate) => candidate.ref), ["anthropic/claude-sonnet-5-5"]);

  const response = await createResilientModel({ candidates: result.candidates }).complete(noTools);

  assert.equal(response.model, "anthropic/claude-sonnet-5-5");
  assert.equal(fake.requests[0]?.body.model, "claude-sonnet-5-5");
  assert.equal(fake.requests[0]?.headers.authorization, "Bearer sk-ant-env-key");
});

test("registry: with OPENAI_API_KEY and OPENAI_BASE_URL but no model, the server's only model is asked, not gpt-4.1", async (t) => {
  const fake = await openAIFake(t, { models: ["llama3.1"] });
  const result = resolveModelCandidates({ env: { OPENAI_API_KEY: "sk-env-openai", OPENAI_BASE_URL: fake.url } });
  assert.ok("candidates" in result);
  const response = await createResilientModel({ candidates: result.candidates }).complete(noTools);
  assert.equal(response.model, "openai/llama3.1");
  assert.deepEqual(fake.requests.map((recorded) => `${recorded.method} ${recorded.path}`), ["GET /v1/models", "POST /v1/chat/completions"]);
  assert.equal(fake.requests[1]?.body.model, "llama3.1");
});

test("registry: OPENAI_BASE_URL alone (no key, no model) works with a local server's one model", async (t) => {
  const fake = await openAIFake(t, { models: ["qwen2.5"] });
  fake.enqueue({ text: "hello from the local model" });
  const result = resolveModelCandidates({ env: { OPENAI_BASE_URL: fake.url } });
  assert.ok("candidates" in result);
  assert.deepEqual(result.candidates.map((candidate) => candidate.ref), ["openai/*"]);

  const response = await createResilientModel({ candidates: result.candidates }).complete(noTools);

  assert.equal(response.text, "hello from the local model");
  assert.equal(response.model, "openai/qwen2.5");
  assert.equal(fake.requests[1]?.body.model, "qwen2.5");
  // The SDK insists on a key; a placeholder goes out, never a real one.
  assert.equal(fake.requests[1]?.headers.authorization, "Bearer faraday-no-key");
});

test("registry: a local server with several models and none named answers with the list to choose from", async (t) => {
  const fake = await openAIFake(t, { models: ["llama3.1", "qwen2.5"] });
  const result = resolveModelCandidates({ env: { OPENAI_BASE_URL: fake.url } });
  assert.ok("candidates" in result);

  const error = await rejection(createResilientModel({ candidates: result.candidates, sleep: async () => assert.fail("must not retry") }).complete(noTools));

  assert.ok(error instanceof ModelError);
  assert.equal(error.code, "MODEL_NOT_CONFIGURED");
  assert.equal(error.userMessage, `No model is chosen and the server at ${fake.url} has 2: set agents.defaults.model to one of: openai/llama3.1, openai/qwen2.5.`);
  assert.deepEqual(fake.requests.map((recorded) => recorded.path), ["/v1/models"], "no chat request without a model");
});

test("registry: a local server that lists no models says to load one", async (t) => {
  const fake = await openAIFake(t, { models: [] });
  const result = resolveModelCandidates({ modelRef: "local/*", providers: { local: { baseUrl: fake.url } }, env: {} });
  assert.ok("candidates" in result);
  const error = await rejection(createResilientModel({ candidates: result.candidates, sleep: async () => assert.fail("must not retry") }).complete(noTools));
  assert.ok(error instanceof ModelError);
  assert.match(error.userMessage, /lists no models: load one first \(Ollama: `ollama pull llama3\.1`\)/);
});

test("registry: a custom provider with a baseUrl and no model anywhere is asked for its models", async (t) => {
  const fake = await openAIFake(t, { models: ["mistral"] });
  const result = resolveModelCandidates({ providers: { local: { baseUrl: fake.url } }, env: {} });
  assert.ok("candidates" in result);
  const response = await createResilientModel({ candidates: result.candidates }).complete(noTools);
  assert.equal(response.model, "local/mistral");
});

test("an OpenAI-compatible base URL without a path gets /v1", async (t) => {
  const fake = await openAIFake(t);
  const origin = fake.url.replace(/\/v1$/, "");
  assert.equal(normaliseOpenAIBaseUrl(origin), `${origin}/v1`);
  assert.equal(normaliseOpenAIBaseUrl(`${origin}/`), `${origin}/v1`);
  assert.equal(normaliseOpenAIBaseUrl("https://host.example/openai/v1/"), "https://host.example/openai/v1");
  const result = resolveModelCandidates({ modelRef: "local/llama3", providers: { local: { baseUrl: origin } }, env: {} });
  assert.ok("candidates" in result);
  await createResilientModel({ candidates: result.candidates }).complete(noTools);
  assert.equal(fake.requests[0]?.path, "/v1/chat/completions");
});

for (const suffix of ["", "/", "/v1", "/v1/"]) {
  test(`an Anthropic base URL written as ORIGIN${suffix} reaches /v1/messages`, async (t) => {
    const fake = await anthropicFake(t);
    const result = resolveModelCandidates({ env: { ANTHROPIC_API_KEY: `sk-ant-suffix${suffix.length}`, ANTHROPIC_BASE_URL: `${fake.url}${suffix}` } });
    assert.ok("candidates" in result);
    await createResilientModel({ candidates: result.candidates }).complete(noTools);
    assert.equal(fake.requests[0]?.path, "/v1/messages");
  });
}

test("listModels is one authenticated request; a wrong key is MODEL_AUTH_FAILED naming where the key came from", async (t) => {
  const fake = await openAIFake(t, { apiKey: "sk-right-key", models: ["gpt-fake"] });
  assert.deepEqual(await createOpenAIClient({ apiKey: "sk-right-key", baseUrl: fake.url }).listModels?.(), ["gpt-fake"]);
  const error = await rejection(createOpenAIClient({ apiKey: "sk-wrong-key-0000", baseUrl: fake.url }).listModels!());
  assert.ok(error instanceof ModelError);
  assert.equal(error.code, "MODEL_AUTH_FAILED");
  assert.match(error.message, /OPENAI_API_KEY/);
  assert.doesNotMatch(error.message, /sk-wrong-key-0000/);

  const anthropic = await anthropicFake(t, { apiKey: "sk-ant-right", models: ["claude-fake"] });
  assert.deepEqual(await createAnthropicClient({ apiKey: "sk-ant-right", baseUrl: `${anthropic.url}/v1` }).listModels?.(), ["claude-fake"]);
  const anthropicError = await rejection(createAnthropicClient({ apiKey: "sk-ant-wrong", baseUrl: anthropic.url }).listModels!());
  assert.ok(anthropicError instanceof ModelError);
  assert.equal(anthropicError.code, "MODEL_AUTH_FAILED");
});

test("registry: an ollama-style provider local/llama3 with a baseUrl uses the OpenAI adapter without a key", async (t) => {
  const fake = await openAIFake(t);
  fake.enqueue({ text: "hi from llama" });
  const result = resolveModelCandidates({
    modelRef: "local/llama3",
    providers: { local: { baseUrl: fake.url } },
    env: {},
  });
  assert.ok("candidates" in result);
  assert.equal(result.candidates[0]?.client.provider, "local");

  const response = await createResilientModel({ candidates: result.candidates }).complete(noTools);

  assert.equal(response.text, "hi from llama");
  assert.equal(response.model, "local/llama3");
  assert.equal(fake.requests[0]?.path, "/v1/chat/completions");
  assert.equal(fake.requests[0]?.body.model, "llama3");
});

test("registry: a custom provider with api anthropic uses the Anthropic adapter and its configured key", async (t) => {
  const fake = await anthropicFake(t);
  const result = resolveModelCandidates({
    modelRef: "proxy/claude-x",
    providers: { proxy: { baseUrl: fake.url, api: "anthropic", apiKey: "sk-ant-proxy-key" } },
    env: {},
  });
  assert.ok("candidates" in result);
  await createResilientModel({ candidates: result.candidates }).complete(noTools);
  assert.equal(fake.requests[0]?.path, "/v1/messages");
  assert.equal(fake.requests[0]?.headers.authorization, "Bearer sk-ant-proxy-key");
});

test("registry: the same client instance is reused for the same provider, key and base URL", async (t) => {
  const fake = await anthropicFake(t);
  const env = { ANTHROPIC_API_KEY: "sk-ant-reuse", ANTHROPIC_BASE_URL: fake.url };
  const first = resolveModelCandidates({ modelRef: "anthropic/claude-a", env });
  const second = resolveModelCandidates({ modelRef: { primary: "anthropic/claude-b" }, env });
  const otherKey = resolveModelCandidates({ modelRef: "anthropic/claude-a", env: { ...env, ANTHROPIC_API_KEY: "sk-ant-other" } });
  assert.ok("candidates" in first && "candidates" in second && "candidates" in otherKey);

  const client: ModelClient | undefined = first.candidates[0]?.client;
  assert.ok(client);
  assert.equal(second.candidates[0]?.client, client);
  assert.notEqual(otherKey.candidates[0]?.client, client);
  for (let turn = 0; turn < 3; turn += 1) await createResilientModel({ candidates: first.candidates }).complete(noTools);
  assert.equal(fake.requests.length, 3);
});

test("registry: a fallback whose key is missing is skipped with a note; the primary stays", () => {
  const result = resolveModelCandidates({
    modelRef: { primary: "anthropic/claude-sonnet-5-5", fallbacks: ["openai/gpt-4.1"] },
    env: { ANTHROPIC_API_KEY: "sk-ant-present" },
  });
  assert.ok("candidates" in result);
  assert.deepEqual(result.candidates.map((candidate: ModelCandidate) => candidate.ref), ["anthropic/claude-sonnet-5-5"]);
  assert.equal(result.notes.length, 1);
  assert.match(result.notes[0] ?? "", /openai\/gpt-4\.1 skipped: set OPENAI_API_KEY/);
});

test("registry: when every configured candidate is skipped, MODEL_NOT_CONFIGURED names what to set", () => {
  const result = resolveModelCandidates({
    modelRef: { primary: "openai/gpt-4.1", fallbacks: ["local/llama3"] },
    env: { ANTHROPIC_API_KEY: "fake-anthropic-irrelevant-key" },
  });
  assert.ok("error" in result);
  assert.equal(result.error.code, "MODEL_NOT_CONFIGURED");
  assert.match(result.error.userMessage, /set OPENAI_API_KEY/);
  assert.match(result.error.userMessage, /models\.providers\.local\.baseUrl/);
  assert.ok(!result.error.message.includes("fake-anthropic-irrelevant-key"));
});

// ------------------------------------------------------------------ start-up cost

test("importing the models index loads neither SDK until a client is first called", async () => {
  const index = fileURLToPath(new URL("../../src/agent/models/index.ts", import.meta.url));
  const script = `
    import { registerHooks } from "node:module";
    const seen = [];
    registerHooks({ resolve(specifier, context, next) { seen.push(specifier); return next(specifier, context); } });
    const models = await import(${JSON.stringify(index)});
    models.createAnthropicClient({ apiKey: "k" });
    models.createOpenAIClient({ apiKey: "k" });
    models.resolveModelCandidates({ env: { ANTHROPIC_API_KEY: "k" } });
    console.log(JSON.stringify(seen));
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script]);
  const specifiers: string[] = JSON.parse(stdout);
  assert.ok(specifiers.some((specifier) => specifier.endsWith("model-registry.ts")), "the hook saw the imports");
  assert.deepEqual(specifiers.filter((specifier) => /anthropic-ai|^openai/.test(specifier)), []);
});
