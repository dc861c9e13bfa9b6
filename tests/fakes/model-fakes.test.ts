import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { startAnthropicFake } from "./anthropic-fake.ts";
import { startOpenAIFake } from "./openai-fake.ts";
import {
  contextTooLong,
  echoLastUserMessage,
  lastUserText,
  rateLimited,
  toolResults,
  type ModelFake,
  type ModelFakeOptions,
  type ModelStep,
} from "./model-script.ts";

const model = "claude-fake-1";

async function anthropicFake(t: TestContext, options?: ModelFakeOptions) {
  const fake = await startAnthropicFake(options);
  t.after(() => fake.close());
  const client = new Anthropic({ apiKey: "sk-ant-test", baseURL: fake.url, maxRetries: 0 });
  return { fake, client };
}

async function openAIFake(t: TestContext, options?: ModelFakeOptions) {
  const fake = await startOpenAIFake(options);
  t.after(() => fake.close());
  const client = new OpenAI({ apiKey: "sk-test", baseURL: fake.url, maxRetries: 0 });
  return { fake, client };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("expected the call to fail");
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let attempt = 0; attempt < 200 && !condition(); attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.ok(condition(), "condition never became true");
}

const weatherTools = [
  { name: "get_weather", description: "Weather for a city", input_schema: { type: "object" as const, properties: {} } },
];

// ---------------------------------------------------------------- Anthropic

test("anthropic: a plain reply comes back as a message with the text, the model echoed and usage", async (t) => {
  const { fake, client } = await anthropicFake(t);
  fake.enqueue({ text: "hello there" });

  const message = await client.messages.create({
    model,
    max_tokens: 100,
    messages: [{ role: "user", content: "hi" }],
  });

  assert.equal(message.type, "message");
  assert.equal(message.role, "assistant");
  assert.equal(message.model, model);
  assert.match(message.id, /^msg_/);
  assert.deepEqual(message.content, [{ type: "text", text: "hello there" }]);
  assert.equal(message.stop_reason, "end_turn");
  assert.ok(message.usage.input_tokens > 0);
  assert.ok(message.usage.output_tokens > 0);
  assert.equal(fake.pendingSteps(), 0);
});

test("anthropic: with an empty queue the default step answers \"ok\", and setDefault changes it", async (t) => {
  const { fake, client } = await anthropicFake(t);
  const ask = async () => {
    const message = await client.messages.create({ model, max_tokens: 10, messages: [{ role: "user", content: "x" }] });
    return message.content[0]?.type === "text" ? message.content[0].text : undefined;
  };
  assert.equal(await ask(), "ok");
  fake.setDefault({ text: "changed" });
  assert.equal(await ask(), "changed");
});

test("anthropic: steps are consumed one per request in the order they were enqueued", async (t) => {
  const { fake, client } = await anthropicFake(t);
  fake.enqueue({ text: "one" });
  fake.enqueue({ text: "two" }, { text: "three" });
  const texts: string[] = [];
  for (let turn = 0; turn < 4; turn += 1) {
    const message = await client.messages.create({ model, max_tokens: 10, messages: [{ role: "user", content: "x" }] });
    texts.push(message.content[0]?.type === "text" ? message.content[0].text : "");
  }
  assert.deepEqual(texts, ["one", "two", "three", "ok"]);
});

test("anthropic: a streamed reply arrives in several text_delta chunks that MessageStream reassembles", async (t) => {
  const { fake, client } = await anthropicFake(t);
  fake.enqueue({ text: "The quick brown fox jumps", usage: { inputTokens: 42, outputTokens: 7 } });

  const stream = client.messages.stream({ model, max_tokens: 100, messages: [{ role: "user", content: "go" }] });
  const pieces: string[] = [];
  stream.on("text", (text) => pieces.push(text));
  const message = await stream.finalMessage();

  assert.ok(pieces.length > 1, `expected several chunks, got ${pieces.length}`);
  assert.equal(pieces.join(""), "The quick brown fox jumps");
  assert.equal(await stream.finalText(), "The quick brown fox jumps");
  assert.equal(message.stop_reason, "end_turn");
  assert.equal(message.usage.input_tokens, 42);
  assert.equal(message.usage.output_tokens, 7);
  assert.equal(fake.requests[0]?.body.stream, true);
});

test("anthropic: chunkDelayMs spaces out streamed events, so text arrives before the reply ends", async (t) => {
  const { fake, client } = await anthropicFake(t);
  fake.enqueue({ text: "slowly streamed text", chunkDelayMs: 25 });
  const started = Date.now();
  let firstTextAt = 0;
  const stream = client.messages.stream({ model, max_tokens: 100, messages: [{ role: "user", content: "go" }] });
  stream.on("text", () => {
    firstTextAt ||= Date.now();
  });
  await stream.finalMessage();
  const finishedAt = Date.now();
  // message_start, ping, block start, 3 deltas, block stop, message_delta, message_stop: 9 pauses.
  assert.ok(finishedAt - started >= 9 * 25 - 10, `stream took ${finishedAt - started} ms`);
  assert.ok(finishedAt - firstTextAt >= 4 * 25 - 10, `text arrived only ${finishedAt - firstTextAt} ms before the end`);
});

test("anthropic: parallel tool calls round-trip and the follow-up tool_result request is recorded", async (t) => {
  const { fake, client } = await anthropicFake(t);
  fake.enqueue(
    {
      text: "Checking both.",
      toolCalls: [
        { id: "toolu_a", name: "get_weather", arguments: { city: "Paris" } },
        { name: "get_weather", arguments: { city: "Oslo" } },
      ],
    },
    (request) => ({ text: `got ${toolResults(request).length} results` }),
  );
  const messages: Anthropic.MessageParam[] = [{ role: "user", content: "weather in Paris and Oslo?" }];

  const first = await client.messages.create({ model, max_tokens: 100, tools: weatherTools, messages });
  assert.equal(first.stop_reason, "tool_use");
  const toolUses = first.content.filter((block) => block.type === "tool_use");
  assert.deepEqual(
    toolUses.map((block) => [block.name, block.input]),
    [
      ["get_weather", { city: "Paris" }],
      ["get_weather", { city: "Oslo" }],
    ],
  );
  assert.equal(toolUses[0]?.id, "toolu_a");
  assert.match(toolUses[1]?.id ?? "", /^toolu_/);

  messages.push({ role: "assistant", content: first.content });
  messages.push({
    role: "user",
    content: toolUses.map((block) => ({ type: "tool_result" as const, tool_use_id: block.id, content: `sunny in ${String((block.input as { city: string }).city)}` })),
  });
  const second = await client.messages.create({ model, max_tokens: 100, tools: weatherTools, messages });

  assert.deepEqual(second.content, [{ type: "text", text: "got 2 results" }]);
  assert.deepEqual(toolResults(fake.requests[1]!), [
    { toolCallId: "toolu_a", content: "sunny in Paris", isError: false },
    { toolCallId: toolUses[1]!.id, content: "sunny in Oslo", isError: false },
  ]);
});

test("anthropic: streamed tool calls arrive as input_json_delta fragments the SDK parses into input", async (t) => {
  const { fake, client } = await anthropicFake(t);
  fake.enqueue({ toolCalls: [{ name: "get_weather", arguments: { city: "Lisbon", days: [1, 2, 3] } }] });

  const stream = client.messages.stream({ model, max_tokens: 100, tools: weatherTools, messages: [{ role: "user", content: "?" }] });
  const fragments: string[] = [];
  stream.on("streamEvent", (event) => {
    if (event.type === "content_block_delta" && event.delta.type === "input_json_delta") fragments.push(event.delta.partial_json);
  });
  const message = await stream.finalMessage();

  assert.ok(fragments.filter((fragment) => fragment !== "").length > 1);
  assert.equal(message.stop_reason, "tool_use");
  const block = message.content[0];
  assert.equal(block?.type, "tool_use");
  assert.deepEqual(block?.type === "tool_use" ? block.input : undefined, { city: "Lisbon", days: [1, 2, 3] });
});

test("anthropic: a 429 with retry-after surfaces as RateLimitError with the header readable", async (t) => {
  const { fake, client } = await anthropicFake(t);
  fake.enqueue(rateLimited(7));

  const error = await rejection(client.messages.create({ model, max_tokens: 10, messages: [{ role: "user", content: "x" }] }));

  assert.ok(error instanceof Anthropic.RateLimitError);
  assert.equal(error.status, 429);
  assert.equal(error.headers.get("retry-after"), "7");
  assert.equal(error.type, "rate_limit_error");
  assert.match(error.requestID ?? "", /^req_/);
});

test("anthropic: a 500 surfaces as InternalServerError and a 529 as OverloadedError", async (t) => {
  const { fake, client } = await anthropicFake(t);
  fake.enqueue({ error: { status: 500 } }, { error: { status: 529 } });
  const ask = () => client.messages.create({ model, max_tokens: 10, messages: [{ role: "user", content: "x" }] });

  const internal = await rejection(ask());
  assert.ok(internal instanceof Anthropic.InternalServerError);
  assert.equal(internal.type, "api_error");
  const overloaded = await rejection(ask());
  assert.ok(overloaded instanceof Anthropic.OverloadedError);
  assert.equal(overloaded.apiMessage, "Overloaded");
});

test("anthropic: context too long is a 400 invalid_request_error saying prompt is too long", async (t) => {
  const { fake, client } = await anthropicFake(t);
  fake.enqueue(contextTooLong(250_000, 200_000));

  const error = await rejection(client.messages.create({ model, max_tokens: 10, messages: [{ role: "user", content: "x" }] }));

  assert.ok(error instanceof Anthropic.BadRequestError);
  assert.equal(error.type, "invalid_request_error");
  assert.equal(error.apiMessage, "prompt is too long: 250000 tokens > 200000 maximum");
});

test("anthropic: a function step sees the request body, system prompt and cache_control included", async (t) => {
  const { fake, client } = await anthropicFake(t);
  let seenSystem: unknown;
  fake.enqueue((request) => {
    seenSystem = request.body.system;
    return { text: `echo: ${lastUserText(request)}` };
  });

  const message = await client.messages.create({
    model,
    max_tokens: 10,
    system: [{ type: "text", text: "You are Faraday.", cache_control: { type: "ephemeral" } }],
    messages: [{ role: "user", content: [{ type: "text", text: "ping" }] }],
  });

  assert.deepEqual(message.content, [{ type: "text", text: "echo: ping" }]);
  assert.deepEqual(seenSystem, [{ type: "text", text: "You are Faraday.", cache_control: { type: "ephemeral" } }]);
});

test("anthropic: requests are recorded with method, path, lower-cased headers and the key as Bearer", async (t) => {
  const { fake, client } = await anthropicFake(t);
  await client.messages.create({ model, max_tokens: 10, messages: [{ role: "user", content: "x" }] });

  const [request] = fake.requests;
  assert.equal(request?.method, "POST");
  assert.equal(request?.path, "/v1/messages");
  // @anthropic-ai/sdk 1.x sends `apiKey` as `Authorization: Bearer`, not `x-api-key`.
  assert.equal(request?.headers.authorization, "Bearer sk-ant-test");
  assert.equal(request?.headers["x-api-key"], undefined);
  assert.match(request?.headers["anthropic-version"] ?? "", /^\d{4}-\d{2}-\d{2}$/);
  assert.equal(request?.headers["content-type"], "application/json");
  assert.equal(request?.body.model, model);
});

test("anthropic: a tool_use left without a tool_result is refused like the real API, consuming no step", async (t) => {
  const { fake, client } = await anthropicFake(t);
  fake.enqueue({ text: "never sent" });

  const error = await rejection(
    client.messages.create({
      model,
      max_tokens: 10,
      messages: [
        { role: "user", content: "x" },
        { role: "assistant", content: [{ type: "tool_use", id: "toolu_lost", name: "get_weather", input: {} }] },
        { role: "user", content: "and?" },
      ],
    }),
  );

  assert.ok(error instanceof Anthropic.BadRequestError);
  assert.match(error.apiMessage ?? "", /tool_use` ids were found without `tool_result` blocks immediately after: toolu_lost/);
  assert.equal(fake.pendingSteps(), 1);
  assert.ok(fake.requests[0]?.rejected);
});

test("anthropic: other mistakes the real API refuses get its 400 messages", async (t) => {
  const { client } = await anthropicFake(t);
  const user = { role: "user" as const, content: "x" };
  const cases: Array<[Anthropic.MessageCreateParamsNonStreaming, RegExp]> = [
    [{ model, max_tokens: 10, messages: [{ role: "system" as "user", content: "s" }, user] }, /Unexpected role "system"/],
    [
      { model, max_tokens: 10, messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_x", content: "r" }] }] },
      /messages\.0\.content\.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_x/,
    ],
    [{ model, max_tokens: 10, messages: [{ role: "user", content: [{ type: "text", text: "" }] }] }, /text content blocks must be non-empty/],
    [{ model, max_tokens: 10, messages: [{ role: "user", content: [] }] }, /must have non-empty content/],
    [
      { model, max_tokens: 10, tools: [{ name: "favcrm.cancel", input_schema: { type: "object" } }], messages: [user] },
      /tools\.0\.custom\.name: String should match pattern/,
    ],
    [{ model, max_tokens: 10, tools: [...weatherTools, ...weatherTools], messages: [user] }, /Tool names must be unique/],
  ];
  for (const [params, pattern] of cases) {
    const error = await rejection(client.messages.create(params));
    assert.ok(error instanceof Anthropic.BadRequestError, String(error));
    assert.match(error.apiMessage ?? "", pattern);
  }
});

test("anthropic: a wrong key gets a 401 AuthenticationError when the fake is given an apiKey", async (t) => {
  const { client } = await anthropicFake(t, { apiKey: "sk-ant-other" });
  const error = await rejection(client.messages.create({ model, max_tokens: 10, messages: [{ role: "user", content: "x" }] }));
  assert.ok(error instanceof Anthropic.AuthenticationError);
});

test("anthropic: a mid-stream error fails the stream after the partial text", async (t) => {
  const { fake, client } = await anthropicFake(t);
  fake.enqueue({ text: "partial answer", error: { status: 529, midStream: true } });

  const stream = client.messages.stream({ model, max_tokens: 100, messages: [{ role: "user", content: "go" }] });
  const pieces: string[] = [];
  stream.on("text", (text) => pieces.push(text));
  const error = await rejection(stream.finalMessage());

  assert.ok(error instanceof Anthropic.APIError);
  assert.equal(error.type, "overloaded_error");
  assert.equal(pieces.join(""), "partial answer");
});

test("anthropic: count_tokens and models answer without consuming steps", async (t) => {
  const { fake, client } = await anthropicFake(t, { models: ["claude-listed"] });
  fake.enqueue({ text: "kept" });
  const count = await client.messages.countTokens({ model, messages: [{ role: "user", content: "hello" }] });
  assert.ok(count.input_tokens > 0);
  const ids: string[] = [];
  for await (const info of client.models.list()) ids.push(info.id);
  assert.deepEqual(ids, ["claude-listed"]);
  assert.equal(fake.pendingSteps(), 1);
});

// ---------------------------------------------------------------- OpenAI

test("openai: a plain reply comes back as a chat.completion with the model echoed and usage", async (t) => {
  const { fake, client } = await openAIFake(t);
  fake.enqueue({ text: "hello there" });

  const completion = await client.chat.completions.create({ model: "gpt-fake", messages: [{ role: "user", content: "hi" }] });

  assert.equal(completion.object, "chat.completion");
  assert.equal(completion.model, "gpt-fake");
  assert.match(completion.id, /^chatcmpl-/);
  assert.equal(completion.choices[0]?.message.content, "hello there");
  assert.equal(completion.choices[0]?.message.role, "assistant");
  assert.equal(completion.choices[0]?.finish_reason, "stop");
  assert.ok((completion.usage?.prompt_tokens ?? 0) > 0);
  assert.equal(completion.usage?.total_tokens, (completion.usage?.prompt_tokens ?? 0) + (completion.usage?.completion_tokens ?? 0));
});

test("openai: a streamed reply arrives as several delta.content chunks, then usage, then [DONE]", async (t) => {
  const { fake, client } = await openAIFake(t);
  fake.enqueue({ text: "The quick brown fox jumps", usage: { inputTokens: 40, outputTokens: 6, cacheReadInputTokens: 10 } });

  const stream = await client.chat.completions.create({
    model: "gpt-fake",
    messages: [{ role: "user", content: "go" }],
    stream: true,
    stream_options: { include_usage: true },
  });
  const pieces: string[] = [];
  let finishReason: string | null | undefined;
  let usage: OpenAI.CompletionUsage | null | undefined;
  for await (const chunk of stream) {
    assert.equal(chunk.object, "chat.completion.chunk");
    const choice = chunk.choices[0];
    if (choice?.delta.content) pieces.push(choice.delta.content);
    if (choice?.finish_reason) finishReason = choice.finish_reason;
    if (chunk.usage) usage = chunk.usage;
  }

  assert.ok(pieces.length > 1);
  assert.equal(pieces.join(""), "The quick brown fox jumps");
  assert.equal(finishReason, "stop");
  assert.equal(usage?.prompt_tokens, 50);
  assert.equal(usage?.prompt_tokens_details?.cached_tokens, 10);
  assert.equal(usage?.completion_tokens, 6);
});

test("openai: the stream helper reassembles streamed parallel tool calls", async (t) => {
  const { fake, client } = await openAIFake(t);
  fake.enqueue({
    toolCalls: [
      { name: "get_weather", arguments: { city: "Paris" } },
      { name: "get_time", arguments: { zone: "Europe/Oslo" } },
    ],
  });

  const stream = client.chat.completions.stream({ model: "gpt-fake", messages: [{ role: "user", content: "?" }] });
  const completion = await stream.finalChatCompletion();

  const choice = completion.choices[0];
  assert.equal(choice?.finish_reason, "tool_calls");
  assert.deepEqual(
    choice?.message.tool_calls?.map((call) => (call.type === "function" ? [call.function.name, JSON.parse(call.function.arguments)] : [])),
    [
      ["get_weather", { city: "Paris" }],
      ["get_time", { zone: "Europe/Oslo" }],
    ],
  );
});

test("openai: parallel tool calls round-trip and the follow-up role:tool messages are recorded", async (t) => {
  const { fake, client } = await openAIFake(t);
  fake.enqueue(
    { toolCalls: [{ id: "call_a", name: "get_weather", arguments: { city: "Paris" } }, { name: "get_weather", arguments: { city: "Oslo" } }] },
    { text: "done" },
  );
  const tools: OpenAI.ChatCompletionTool[] = [
    { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: {} } } },
  ];
  const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: "user", content: "weather?" }];

  const first = await client.chat.completions.create({ model: "gpt-fake", tools, messages });
  const message = first.choices[0]!.message;
  assert.equal(first.choices[0]?.finish_reason, "tool_calls");
  assert.equal(message.content, null);
  const calls = (message.tool_calls ?? []).filter((call) => call.type === "function");
  assert.deepEqual(calls.map((call) => JSON.parse(call.function.arguments)), [{ city: "Paris" }, { city: "Oslo" }]);
  assert.equal(calls[0]?.id, "call_a");
  assert.match(calls[1]?.id ?? "", /^call_/);

  messages.push(message);
  for (const call of calls) messages.push({ role: "tool", tool_call_id: call.id, content: `sunny (${call.id})` });
  const second = await client.chat.completions.create({ model: "gpt-fake", tools, messages });

  assert.equal(second.choices[0]?.message.content, "done");
  assert.deepEqual(toolResults(fake.requests[1]!), [
    { toolCallId: "call_a", content: "sunny (call_a)", isError: false },
    { toolCallId: calls[1]!.id, content: `sunny (${calls[1]!.id})`, isError: false },
  ]);
});

test("openai: a 429 with retry-after surfaces as RateLimitError with the header readable", async (t) => {
  const { fake, client } = await openAIFake(t);
  fake.enqueue(rateLimited(3));

  const error = await rejection(client.chat.completions.create({ model: "gpt-fake", messages: [{ role: "user", content: "x" }] }));

  assert.ok(error instanceof OpenAI.RateLimitError);
  assert.equal(error.headers.get("retry-after"), "3");
  assert.equal(error.code, "rate_limit_exceeded");
});

test("openai: a 500 surfaces as InternalServerError", async (t) => {
  const { fake, client } = await openAIFake(t);
  fake.enqueue({ error: { status: 500 } });
  const error = await rejection(client.chat.completions.create({ model: "gpt-fake", messages: [{ role: "user", content: "x" }] }));
  assert.ok(error instanceof OpenAI.InternalServerError);
  assert.equal(error.type, "server_error");
});

test("openai: context too long is a 400 with code context_length_exceeded", async (t) => {
  const { fake, client } = await openAIFake(t);
  fake.enqueue(contextTooLong(130_000, 128_000));
  const error = await rejection(client.chat.completions.create({ model: "gpt-fake", messages: [{ role: "user", content: "x" }] }));
  assert.ok(error instanceof OpenAI.BadRequestError);
  assert.equal(error.code, "context_length_exceeded");
  assert.equal(error.param, "messages");
  assert.match(error.message, /maximum context length is 128000 tokens.*130000 tokens/);
});

test("openai: a function default step echoes the last user message for every request", async (t) => {
  const { client } = await openAIFake(t, { defaultStep: echoLastUserMessage });
  const answers = await Promise.all(
    ["one", "two", "three"].map(async (text) => {
      const completion = await client.chat.completions.create({
        model: "gpt-fake",
        messages: [{ role: "system", content: "sys" }, { role: "user", content: text }],
      });
      return completion.choices[0]?.message.content;
    }),
  );
  assert.deepEqual(answers, ["one", "two", "three"]);
});

test("openai: requests are recorded with the Bearer authorization header and the body", async (t) => {
  const { fake, client } = await openAIFake(t);
  await client.chat.completions.create({ model: "gpt-fake", messages: [{ role: "user", content: "x" }] });
  const [request] = fake.requests;
  assert.equal(request?.path, "/v1/chat/completions");
  assert.equal(request?.headers.authorization, "Bearer sk-test");
  assert.deepEqual(request?.body.messages, [{ role: "user", content: "x" }]);
});

test("openai: GET /v1/models lists the fixed models and the ones requested so far", async (t) => {
  const { client } = await openAIFake(t, { models: ["llama3.2"] });
  await client.chat.completions.create({ model: "qwen3", messages: [{ role: "user", content: "x" }] });
  const ids: string[] = [];
  for await (const entry of client.models.list()) ids.push(entry.id);
  assert.deepEqual(ids, ["llama3.2", "qwen3"]);
});

test("openai: tool_calls without role:tool answers, and stray tool messages, are refused like the real API", async (t) => {
  const { fake, client } = await openAIFake(t);
  fake.enqueue({ text: "never sent" });
  const toolCall = { id: "call_lost", type: "function" as const, function: { name: "f", arguments: "{}" } };
  const cases: Array<[OpenAI.ChatCompletionMessageParam[], RegExp, string]> = [
    [
      [{ role: "user", content: "x" }, { role: "assistant", content: null, tool_calls: [toolCall] }, { role: "user", content: "and?" }],
      /did not have response messages: call_lost/,
      "messages.[1].role",
    ],
    [
      [{ role: "user", content: "x" }, { role: "assistant", content: null, tool_calls: [toolCall] }],
      /did not have response messages: call_lost/,
      "messages.[1].role",
    ],
    [
      [{ role: "user", content: "x" }, { role: "tool", tool_call_id: "call_lost", content: "result" }],
      /role 'tool' must be a response to a preceeding message with 'tool_calls'/,
      "messages.[1].role",
    ],
  ];
  for (const [messages, pattern, param] of cases) {
    const error = await rejection(client.chat.completions.create({ model: "gpt-fake", messages }));
    assert.ok(error instanceof OpenAI.BadRequestError);
    assert.match(error.message, pattern);
    assert.equal(error.param, param);
  }
  assert.equal(fake.pendingSteps(), 1);
  assert.equal(fake.requests.filter((request) => request.rejected).length, 3);
});

test("openai: a wrong key gets a 401 AuthenticationError when the fake is given an apiKey", async (t) => {
  const { client } = await openAIFake(t, { apiKey: "sk-right" });
  const error = await rejection(client.chat.completions.create({ model: "gpt-fake", messages: [{ role: "user", content: "x" }] }));
  assert.ok(error instanceof OpenAI.AuthenticationError);
  assert.equal(error.code, "invalid_api_key");
});

test("openai: a mid-stream error fails the stream after the partial text", async (t) => {
  const { fake, client } = await openAIFake(t);
  fake.enqueue({ text: "partial", error: { status: 500, midStream: true } });
  const stream = await client.chat.completions.create({ model: "gpt-fake", messages: [{ role: "user", content: "x" }], stream: true });
  let text = "";
  const error = await rejection(
    (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    })(),
  );
  assert.ok(error instanceof OpenAI.APIError);
  assert.equal(text, "partial");
});

// ---------------------------------------------------------------- both

for (const provider of ["anthropic", "openai"] as const) {
  const ask = async (t: TestContext, options: { timeout?: number } = {}) => {
    if (provider === "anthropic") {
      const { fake, client } = await anthropicFake(t);
      const withOptions = client.withOptions(options);
      const call = (content: string) =>
        withOptions.messages
          .create({ model, max_tokens: 10, messages: [{ role: "user", content }] })
          .then((message) => (message.content[0]?.type === "text" ? message.content[0].text : ""));
      return { fake, call };
    }
    const { fake, client } = await openAIFake(t);
    const withOptions = client.withOptions(options);
    const call = (content: string) =>
      withOptions.chat.completions
        .create({ model: "gpt-fake", messages: [{ role: "user", content }] })
        .then((completion) => completion.choices[0]?.message.content ?? "");
    return { fake, call };
  };

  test(`${provider}: a delayed step lets a later request finish first`, async (t) => {
    const { fake, call } = await ask(t);
    fake.enqueue({ text: "slow", delayMs: 200 }, { text: "fast" });
    const order: string[] = [];
    const slow = call("a").then((text) => order.push(text));
    await waitFor(() => fake.requests.length === 1);
    const fast = call("b").then((text) => order.push(text));
    await Promise.all([slow, fast]);
    assert.deepEqual(order, ["fast", "slow"]);
  });

  test(`${provider}: a bare delay answers like the default step, late, and the client timeout fires`, async (t) => {
    const { fake, call } = await ask(t, { timeout: 300 });
    fake.setDefault((request) => ({ text: `late ${lastUserText(request)}` }));
    fake.enqueue({ delayMs: 5_000 }, { delayMs: 20 });
    const error = await rejection(call("x"));
    assert.match((error as Error).constructor.name, /APIConnectionTimeoutError/);
    assert.equal(await call("y"), "late y");
  });

  test(`${provider}: a disconnect step surfaces as a connection error`, async (t) => {
    const { fake, call } = await ask(t);
    fake.enqueue({ disconnect: true });
    const error = await rejection(call("x"));
    assert.match((error as Error).constructor.name, /APIConnectionError/);
  });

  test(`${provider}: close() ends a held response promptly instead of hanging`, async (t) => {
    const { fake, call } = await ask(t);
    fake.enqueue({ text: "never", delayMs: 60_000 });
    const pending = rejection(call("x"));
    await waitFor(() => fake.requests.length === 1);
    const started = Date.now();
    await fake.close();
    assert.ok(Date.now() - started < 1_000);
    assert.match(((await pending) as Error).constructor.name, /APIConnectionError/);
  });
}

test("one script drives either fake to the same replies", async (t) => {
  const script: ModelStep[] = [{ text: "first" }, { toolCalls: [{ id: "same_id", name: "lookup", arguments: { q: 1 } }] }];
  const { fake: anthropic, client: anthropicClient } = await anthropicFake(t);
  const { fake: openai, client: openaiClient } = await openAIFake(t);
  const fakes: ModelFake[] = [anthropic, openai];
  for (const fake of fakes) fake.enqueue(...script);

  const a1 = await anthropicClient.messages.create({ model, max_tokens: 10, messages: [{ role: "user", content: "x" }] });
  const a2 = await anthropicClient.messages.create({ model, max_tokens: 10, messages: [{ role: "user", content: "x" }] });
  const o1 = await openaiClient.chat.completions.create({ model: "gpt-fake", messages: [{ role: "user", content: "x" }] });
  const o2 = await openaiClient.chat.completions.create({ model: "gpt-fake", messages: [{ role: "user", content: "x" }] });

  assert.deepEqual(a1.content, [{ type: "text", text: "first" }]);
  assert.equal(o1.choices[0]?.message.content, "first");
  assert.deepEqual(a2.content, [{ type: "tool_use", id: "same_id", name: "lookup", input: { q: 1 } }]);
  assert.deepEqual(o2.choices[0]?.message.tool_calls, [
    { id: "same_id", type: "function", function: { name: "lookup", arguments: '{"q":1}' } },
  ]);
});
