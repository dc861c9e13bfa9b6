/**
 * A loopback fake of the Anthropic Messages API (`POST /v1/messages`, JSON and SSE), driven
 * by a {@link ScriptStep} queue, for tests that run the real `@anthropic-ai/sdk` against it:
 *
 *   const fake = await startAnthropicFake();
 *   const client = new Anthropic({ apiKey: "test", baseURL: fake.url, maxRetries: 0 });
 *
 * Also answers `POST /v1/messages/count_tokens` and `GET /v1/models` (neither consumes a step).
 *
 * Prompt caching (`options.promptCache`) is a SIMULATION, not the real cache: the API caches the
 * request prefix up to each `cache_control` breakpoint, in the order tools → system → messages
 * (Anthropic's prompt-caching docs: "cache prefixes are created in the following order: tools,
 * system, then messages"; at most 4 breakpoints; a prefix under the model's minimum, 1,024 tokens
 * for Sonnet/Opus, is not cached). The fake keeps the SHA-256 of every prefix it has seen at a
 * breakpoint; on a later request the longest breakpoint prefix whose bytes are identical is a
 * hit, reported as `cache_read_input_tokens`, the rest of the breakpoint prefix as
 * `cache_creation_input_tokens`, and `input_tokens` is what is left (the API's meaning: uncached
 * input). Tokens are estimated (4 characters a token); entries never expire (the real TTL is 5
 * minutes). `promptCache` on the returned fake sums what it reported.
 */
import { createHash } from "node:crypto";
import {
  estimateTokens,
  splitIntoChunks,
  startScriptedServer,
  type Exchange,
  type ModelErrorSpec,
  type ModelFake,
  type ModelFakeOptions,
  type ResolvedStep,
} from "./model-script.ts";

const errorTypes: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  402: "billing_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  504: "timeout_error",
  529: "overloaded_error",
};

const errorMessages: Record<string, string> = {
  invalid_request_error: "Invalid request",
  authentication_error: "invalid x-api-key",
  rate_limit_error: "Number of request tokens has exceeded your per-minute rate limit",
  api_error: "Internal server error",
  overloaded_error: "Overloaded",
};

const toolNamePattern = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * Starts the fake on 127.0.0.1 with a free port. `url` is the origin (no `/v1`): pass it as
 * the SDK's `baseURL`, which appends `/v1/messages` itself.
 */
export async function startAnthropicFake(options: ModelFakeOptions = {}): Promise<ModelFake & { promptCache: PromptCacheStats }> {
  const promptCache: PromptCacheStats = { requests: 0, hits: 0, readTokens: 0, writeTokens: 0, uncachedTokens: 0, perRequest: [] };
  const cachedPrefixes = new Set<string>();
  let sequence = 0;
  const nextId = (prefix: string) => `${prefix}${String((sequence += 1)).padStart(4, "0")}`;
  const requestedModels = new Set<string>();

  const fake = await startScriptedServer(options, "", async (exchange) => {
    const { request } = exchange;
    const pathname = new URL(request.path, "http://fake").pathname;
    const requestHeaders = { "request-id": nextId("req_fake") };

    if (request.method === "GET" && pathname === "/v1/models") {
      // Listing models needs the key like every other call (the real APIs answer 401 without it;
      // a local server such as Ollama takes any). Checked against openai-openapi's `GET /models`
      // (bearer auth) and Anthropic's Models API docs (x-api-key required).
      const listRejection = authenticationProblem(request.headers, options.apiKey);
      if (listRejection) {
        request.rejected = listRejection;
        sendError(exchange, { status: 401, message: listRejection }, requestHeaders);
        return;
      }
      const ids = [...new Set([...(options.models ?? ["claude-fake"]), ...requestedModels])];
      exchange.sendJson(
        200,
        {
          data: ids.map((id) => ({
            type: "model",
            id,
            display_name: id,
            created_at: "2025-01-01T00:00:00Z",
          })),
          has_more: false,
          first_id: ids[0] ?? null,
          last_id: ids.at(-1) ?? null,
        },
        requestHeaders,
      );
      return;
    }
    const isMessages = pathname === "/v1/messages";
    const isCountTokens = pathname === "/v1/messages/count_tokens";
    if (request.method !== "POST" || !(isMessages || isCountTokens)) {
      sendError(exchange, { status: 404, message: `Not found: ${request.method} ${pathname}` }, requestHeaders);
      return;
    }

    const rejection = authenticationProblem(request.headers, options.apiKey);
    if (rejection) {
      request.rejected = rejection;
      sendError(exchange, { status: 401, message: rejection }, requestHeaders);
      return;
    }
    const problem = options.validate === false ? undefined : validationProblem(request.body, isCountTokens);
    if (problem) {
      request.rejected = problem;
      sendError(exchange, { status: 400, message: problem }, requestHeaders);
      return;
    }
    if (isCountTokens) {
      exchange.sendJson(200, { input_tokens: estimateTokens(request.rawBody) }, requestHeaders);
      return;
    }

    const model = String(request.body.model);
    requestedModels.add(model);
    const step = await exchange.nextStep();
    if (!step) return;
    const inputTokens = step.options.usage?.inputTokens ?? estimateTokens(request.rawBody);
    const streaming = request.body.stream === true;

    if (step.kind === "error" && !(streaming && step.error.midStream)) {
      sendError(exchange, withContextMessage(step.error, inputTokens), requestHeaders);
      return;
    }
    const content = contentBlocks(step, nextId);
    const cached = options.promptCache && !step.options.usage
      ? simulatePromptCache(request.body, inputTokens, cachedPrefixes, options.promptCache.minimumTokens ?? 1024, promptCache)
      : undefined;
    const usage = usageOf(step, cached?.inputTokens ?? inputTokens, cached);
    const stopReason = content.some((block) => block.type === "tool_use")
      ? "tool_use"
      : step.options.truncated
        ? "max_tokens"
        : "end_turn";
    const message = {
      id: nextId("msg_fake"),
      type: "message",
      role: "assistant",
      model,
      content,
      stop_reason: stopReason,
      stop_sequence: null,
      usage,
    };
    if (!streaming) {
      exchange.sendJson(200, message, requestHeaders);
      return;
    }
    await streamMessage(exchange, step, message, requestHeaders);
  });
  return Object.assign(fake, { promptCache });
}

/** What the prompt-cache simulation reported, summed over requests. */
export interface PromptCacheStats {
  requests: number;
  /** Requests that read a cached prefix. */
  hits: number;
  readTokens: number;
  writeTokens: number;
  uncachedTokens: number;
  /** What each request read from and wrote to the cache, in order. */
  perRequest: Array<{ readTokens: number; writeTokens: number }>;
}

/** The request's prefixes at each `cache_control` breakpoint, shortest first (tools → system → messages). */
function breakpointPrefixes(body: Record<string, unknown>): string[] {
  const prefixes: string[] = [];
  let prefix = "";
  const walk = (section: string, items: unknown[]) => {
    for (const item of items) {
      prefix += `${section}:${JSON.stringify(item)}\n`;
      if (typeof item === "object" && item !== null && "cache_control" in item) prefixes.push(prefix);
    }
  };
  walk("tools", Array.isArray(body.tools) ? body.tools : []);
  walk("system", typeof body.system === "string" ? [{ type: "text", text: body.system }] : Array.isArray(body.system) ? body.system : []);
  for (const message of Array.isArray(body.messages) ? (body.messages as Array<{ role?: unknown; content?: unknown }>) : []) {
    walk(`messages.${String(message.role)}`, typeof message.content === "string" ? [{ type: "text", text: message.content }] : Array.isArray(message.content) ? message.content : []);
  }
  return prefixes;
}

export function simulatePromptCache(body: Record<string, unknown>, totalTokens: number, seen: Set<string>, minimumTokens: number, stats: PromptCacheStats) {
  const prefixes = breakpointPrefixes(body).map((text) => ({ hash: createHash("sha256").update(text).digest("hex"), tokens: estimateTokens(text) })).filter((prefix) => prefix.tokens >= minimumTokens);
  const hit = [...prefixes].reverse().find((prefix) => seen.has(prefix.hash));
  const readTokens = Math.min(hit?.tokens ?? 0, totalTokens);
  const longest = prefixes.at(-1)?.tokens ?? 0;
  const writeTokens = Math.max(0, Math.min(longest, totalTokens) - readTokens);
  for (const prefix of prefixes) seen.add(prefix.hash);
  const inputTokens = totalTokens - readTokens - writeTokens;
  stats.requests += 1;
  if (hit) stats.hits += 1;
  stats.readTokens += readTokens;
  stats.writeTokens += writeTokens;
  stats.uncachedTokens += inputTokens;
  stats.perRequest.push({ readTokens, writeTokens });
  return { inputTokens, readTokens, writeTokens };
}

type ContentBlock =
  | { type: "text"; text: string }
  | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> };

function contentBlocks(step: ResolvedStep, nextId: (prefix: string) => string): ContentBlock[] {
  const blocks: ContentBlock[] = [];
  if (step.text !== "") blocks.push({ type: "text", text: step.text });
  if (step.kind === "reply") {
    for (const call of step.toolCalls) {
      blocks.push({ type: "tool_use", id: call.id ?? nextId("toolu_fake"), name: call.name, input: call.arguments });
    }
  }
  return blocks;
}

function usageOf(step: ResolvedStep, inputTokens: number, cached?: { readTokens: number; writeTokens: number }) {
  const usage = step.options.usage ?? { cacheReadInputTokens: cached?.readTokens, cacheCreationInputTokens: cached?.writeTokens };
  const output =
    step.text + (step.kind === "reply" ? step.toolCalls.map((call) => JSON.stringify(call.arguments)).join("") : "");
  return {
    input_tokens: inputTokens,
    cache_creation_input_tokens: usage.cacheCreationInputTokens ?? 0,
    cache_read_input_tokens: usage.cacheReadInputTokens ?? 0,
    output_tokens: usage.outputTokens ?? estimateTokens(output),
    service_tier: "standard",
  };
}

/** The SSE sequence the real API sends: message_start, ping, blocks, message_delta, message_stop. */
async function streamMessage(
  exchange: Exchange,
  step: ResolvedStep,
  message: { content: ContentBlock[]; stop_reason: string; usage: ReturnType<typeof usageOf> },
  headers: Record<string, string>,
): Promise<void> {
  const delay = step.options.chunkDelayMs ?? 0;
  const send = (type: string, data: Record<string, unknown> = {}) =>
    exchange.writeEvent(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`, delay);

  exchange.startEvents(headers);
  const { usage } = message;
  const startUsage = { ...usage, output_tokens: 1 };
  if (!(await send("message_start", { message: { ...message, content: [], stop_reason: null, usage: startUsage } })))
    return;
  if (!(await send("ping"))) return;

  for (const [index, block] of message.content.entries()) {
    if (block.type === "text") {
      if (!(await send("content_block_start", { index, content_block: { type: "text", text: "" } }))) return;
      for (const text of splitIntoChunks(block.text)) {
        if (!(await send("content_block_delta", { index, delta: { type: "text_delta", text } }))) return;
      }
      // A mid-stream failure cuts the reply off after its text, as an overloaded API does.
      if (step.kind === "error") {
        const { type, message: errorMessage } = errorBody(step.error);
        await send("error", { error: { type, message: errorMessage } });
        exchange.end();
        return;
      }
    } else {
      const start = { type: "tool_use", id: block.id, name: block.name, input: {} };
      if (!(await send("content_block_start", { index, content_block: start }))) return;
      for (const partial_json of ["", ...splitIntoChunks(JSON.stringify(block.input))]) {
        if (!(await send("content_block_delta", { index, delta: { type: "input_json_delta", partial_json } }))) return;
      }
    }
    if (!(await send("content_block_stop", { index }))) return;
  }
  if (step.kind === "error") {
    const { type, message: errorMessage } = errorBody(step.error);
    await send("error", { error: { type, message: errorMessage } });
    exchange.end();
    return;
  }
  const delta = { stop_reason: message.stop_reason, stop_sequence: null };
  const deltaUsage = {
    input_tokens: usage.input_tokens,
    cache_creation_input_tokens: usage.cache_creation_input_tokens,
    cache_read_input_tokens: usage.cache_read_input_tokens,
    output_tokens: usage.output_tokens,
  };
  if (!(await send("message_delta", { delta, usage: deltaUsage }))) return;
  if (!(await send("message_stop"))) return;
  exchange.end();
}

function withContextMessage(error: ModelErrorSpec, inputTokens: number): ModelErrorSpec {
  if (!error.contextTooLong) return error;
  const maximum = error.contextTooLong.maximum ?? 200_000;
  const tokens = error.contextTooLong.tokens ?? Math.max(inputTokens, maximum + 1);
  return { ...error, type: error.type ?? "invalid_request_error", message: `prompt is too long: ${tokens} tokens > ${maximum} maximum` };
}

function errorBody(error: ModelErrorSpec): { type: string; message: string } {
  const type = error.type ?? errorTypes[error.status] ?? (error.status >= 500 ? "api_error" : "invalid_request_error");
  return { type, message: error.message ?? errorMessages[type] ?? `Error ${error.status}` };
}

/** `{"type":"error","error":{"type","message"},"request_id"}` with `retry-after` when given. */
function sendError(exchange: Exchange, error: ModelErrorSpec, headers: Record<string, string>): void {
  const retryAfter: Record<string, string> =
    error.retryAfter === undefined ? {} : { "retry-after": String(error.retryAfter) };
  exchange.sendJson(
    error.status,
    { type: "error", error: errorBody(error), request_id: headers["request-id"] },
    { ...headers, ...retryAfter, ...error.headers },
  );
}

function authenticationProblem(headers: Record<string, string>, apiKey: string | undefined): string | undefined {
  if (apiKey === undefined) return undefined;
  const presented = headers["x-api-key"] ?? headers.authorization?.replace(/^Bearer /, "");
  if (!presented) return "x-api-key header is required";
  return presented === apiKey ? undefined : "invalid x-api-key";
}

/** The request mistakes the real API rejects with 400 that an agent loop can make. */
// `body` is arbitrary client JSON, hence `any`.
function validationProblem(body: any, countTokens = false): string | undefined {
  if (body === null || typeof body !== "object" || Array.isArray(body)) return "request body must be a JSON object";
  if (typeof body.model !== "string") return "model: Field required";
  if (!countTokens && typeof body.max_tokens !== "number") return "max_tokens: Field required";
  if (!Array.isArray(body.messages)) return "messages: Field required";
  if (body.messages.length === 0) return "messages: at least one message is required";

  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools)) return "tools: Input should be a valid list";
    const seen = new Set<string>();
    for (const [index, tool] of (body.tools as Array<{ name?: unknown; input_schema?: unknown; type?: unknown }>).entries()) {
      if (tool.type !== undefined && tool.type !== "custom") continue;
      if (typeof tool.name !== "string" || !toolNamePattern.test(tool.name)) {
        return `tools.${index}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`;
      }
      if (typeof tool.input_schema !== "object" || tool.input_schema === null) {
        return `tools.${index}.custom.input_schema: Field required`;
      }
      if (seen.has(tool.name)) return "tools: Tool names must be unique.";
      seen.add(tool.name);
    }
  }

  const messages = body.messages as Array<{ role?: unknown; content?: unknown }>;
  for (const [index, message] of messages.entries()) {
    if (message.role === "system") {
      return 'messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter, not "system" as an input message role.';
    }
    if (message.role !== "user" && message.role !== "assistant") {
      return `messages.${index}.role: Input should be 'user' or 'assistant'`;
    }
    const blocks = typeof message.content === "string" ? [{ type: "text", text: message.content }] : message.content;
    if (!Array.isArray(blocks)) return `messages.${index}.content: Field required`;
    const finalAssistant = index === messages.length - 1 && message.role === "assistant";
    const empty = blocks.length === 0 || (typeof message.content === "string" && message.content === "");
    if (empty && !finalAssistant) {
      return `messages.${index}: all messages must have non-empty content except for the optional final assistant message`;
    }
    for (const [blockIndex, block] of (blocks as Array<Record<string, unknown>>).entries()) {
      if (block.type === "text" && block.text === "" && typeof message.content !== "string") {
        return `messages.${index}.content.${blockIndex}.text: text content blocks must be non-empty`;
      }
    }
  }

  for (const [index, message] of messages.entries()) {
    const blocks = Array.isArray(message.content) ? (message.content as Array<Record<string, unknown>>) : [];
    if (message.role === "assistant") {
      const toolUseIds = blocks.filter((block) => block.type === "tool_use").map((block) => String(block.id));
      if (toolUseIds.length === 0) continue;
      const next = messages[index + 1];
      const answered = new Set(
        Array.isArray(next?.content)
          ? (next.content as Array<Record<string, unknown>>)
              .filter((block) => block.type === "tool_result")
              .map((block) => String(block.tool_use_id))
          : [],
      );
      const missing = toolUseIds.filter((id) => !answered.has(id));
      if (missing.length > 0) {
        return `messages.${index + 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(", ")}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`;
      }
    } else {
      const previous = messages[index - 1];
      const offered = new Set(
        previous?.role === "assistant" && Array.isArray(previous.content)
          ? (previous.content as Array<Record<string, unknown>>)
              .filter((block) => block.type === "tool_use")
              .map((block) => String(block.id))
          : [],
      );
      for (const [blockIndex, block] of blocks.entries()) {
        if (block.type === "tool_result" && !offered.has(String(block.tool_use_id))) {
          return `messages.${index}.content.${blockIndex}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${String(block.tool_use_id)}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
        }
      }
    }
  }
  return undefined;
}
