/**
 * A loopback fake of the OpenAI Chat Completions API (`POST /v1/chat/completions`, JSON and
 * SSE) and `GET /v1/models`, driven by a {@link ScriptStep} queue, for tests that run the
 * real `openai` SDK (or any OpenAI-compatible client, as for Ollama or vLLM) against it:
 *
 *   const fake = await startOpenAIFake();
 *   const client = new OpenAI({ apiKey: "test", baseURL: fake.url, maxRetries: 0 });
 *
 * More than 128 `tools` are refused with 400 `array_above_max_length` (param `tools`), as the
 * real API does: the limit is in the openai SDK's own docs ("A max of 128 functions are
 * supported", `node_modules/openai/src/resources/evals/runs/runs.ts`; assistants: "a maximum of
 * 128 tools"), and the exact error body is quoted from the API in vishalmysore/Tools4AI#16 and
 * julep-ai/julep#330 ("Invalid 'tools': array too long. Expected an array with maximum length
 * 128, but got an array with length 325 instead.", type `invalid_request_error`).
 */
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

type OpenAIError = { message: string; type: string; param: string | null; code: string | null };

const defaultErrors: Record<number, Omit<OpenAIError, "param">> = {
  400: { type: "invalid_request_error", code: null, message: "Invalid request" },
  401: { type: "invalid_request_error", code: "invalid_api_key", message: "Incorrect API key provided." },
  404: { type: "invalid_request_error", code: null, message: "Not found" },
  429: { type: "requests", code: "rate_limit_exceeded", message: "Rate limit reached for requests" },
  500: {
    type: "server_error",
    code: null,
    message: "The server had an error while processing your request. Sorry about that!",
  },
};

/**
 * Starts the fake on 127.0.0.1 with a free port. `url` already ends in `/v1`, like
 * `OPENAI_BASE_URL` and Ollama's `http://localhost:11434/v1`: pass it as `baseURL` unchanged.
 */
export async function startOpenAIFake(options: ModelFakeOptions = {}): Promise<ModelFake> {
  let sequence = 0;
  const nextId = (prefix: string) => `${prefix}${String((sequence += 1)).padStart(4, "0")}`;
  const requestedModels = new Set<string>();

  return startScriptedServer(options, "/v1", async (exchange) => {
    const { request } = exchange;
    const pathname = new URL(request.path, "http://fake").pathname;
    const headers = { "x-request-id": nextId("req_fake") };

    if (request.method === "GET" && pathname === "/v1/models") {
      // Listing models needs the key like every other call (the real APIs answer 401 without it;
      // a local server such as Ollama takes any). Checked against openai-openapi's `GET /models`
      // (bearer auth) and Anthropic's Models API docs (x-api-key required).
      const listRejection = authenticationProblem(request.headers, options.apiKey);
      if (listRejection) {
        request.rejected = listRejection;
        sendError(exchange, { status: 401, message: listRejection }, headers);
        return;
      }
      const ids = [...new Set([...(options.models ?? ["gpt-fake"]), ...requestedModels])];
      const data = ids.map((id) => ({ id, object: "model", created: 1_700_000_000, owned_by: "faraday-fake" }));
      exchange.sendJson(200, { object: "list", data }, headers);
      return;
    }
    if (request.method !== "POST" || pathname !== "/v1/chat/completions") {
      sendError(exchange, { status: 404, message: `Invalid URL (${request.method} ${pathname})` }, headers);
      return;
    }
    const rejection = authenticationProblem(request.headers, options.apiKey);
    if (rejection) {
      request.rejected = rejection;
      sendError(exchange, { status: 401, message: rejection }, headers);
      return;
    }
    const problem = options.validate === false ? undefined : validationProblem(request.body);
    if (problem) {
      request.rejected = problem.message;
      sendError(exchange, { status: 400, ...problem }, headers, problem.param);
      return;
    }

    const model = String(request.body.model);
    requestedModels.add(model);
    const step = await exchange.nextStep();
    if (!step) return;
    const inputTokens = step.options.usage?.inputTokens ?? estimateTokens(request.rawBody);
    const streaming = request.body.stream === true;

    if (step.kind === "error" && !(streaming && step.error.midStream)) {
      const contextError = step.error.contextTooLong ? contextTooLongError(step.error, inputTokens) : step.error;
      sendError(exchange, contextError, headers, step.error.contextTooLong ? "messages" : null);
      return;
    }
    const toolCalls = (step.kind === "reply" ? step.toolCalls : []).map((call) => ({
      id: call.id ?? nextId("call_fake"),
      type: "function" as const,
      function: { name: call.name, arguments: JSON.stringify(call.arguments) },
    }));
    const finishReason = toolCalls.length > 0 ? "tool_calls" : step.options.truncated ? "length" : "stop";
    const common = {
      id: nextId("chatcmpl-fake"),
      created: Math.floor(Date.now() / 1000),
      model,
      service_tier: "default",
      system_fingerprint: "fp_fake",
    };
    const usage = usageOf(step, inputTokens, toolCalls.map((call) => call.function.arguments).join(""));

    if (!streaming) {
      const message = {
        role: "assistant",
        content: step.text === "" && toolCalls.length > 0 ? null : step.text,
        refusal: null,
        annotations: [],
        ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
      };
      const choice = { index: 0, message, logprobs: null, finish_reason: finishReason };
      exchange.sendJson(200, { ...common, object: "chat.completion", choices: [choice], usage }, headers);
      return;
    }

    const includeUsage = request.body.stream_options?.include_usage === true;
    const delay = step.options.chunkDelayMs ?? 0;
    const chunkBase = { ...common, object: "chat.completion.chunk", ...(includeUsage ? { usage: null } : {}) };
    const send = (payload: unknown) => exchange.writeEvent(`data: ${JSON.stringify(payload)}\n\n`, delay);
    const sendDelta = (delta: Record<string, unknown>, finish: string | null = null) =>
      send({ ...chunkBase, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });

    exchange.startEvents(headers);
    const firstContent = step.text === "" && toolCalls.length > 0 ? null : "";
    if (!(await sendDelta({ role: "assistant", content: firstContent, refusal: null }))) return;
    for (const content of splitIntoChunks(step.text)) {
      if (!(await sendDelta({ content }))) return;
    }
    if (step.kind === "error") {
      // A mid-stream failure arrives as a data event carrying `error`, without `[DONE]`.
      await send({ error: errorBody(step.error) });
      exchange.end();
      return;
    }
    for (const [index, call] of toolCalls.entries()) {
      const opening = { index, id: call.id, type: "function", function: { name: call.function.name, arguments: "" } };
      if (!(await sendDelta({ tool_calls: [opening] }))) return;
      for (const fragment of splitIntoChunks(call.function.arguments)) {
        if (!(await sendDelta({ tool_calls: [{ index, function: { arguments: fragment } }] }))) return;
      }
    }
    if (!(await sendDelta({}, finishReason))) return;
    if (includeUsage && !(await send({ ...chunkBase, choices: [], usage }))) return;
    if (!(await exchange.writeEvent("data: [DONE]\n\n", delay))) return;
    exchange.end();
  });
}

function usageOf(step: ResolvedStep, inputTokens: number, argumentsText: string) {
  const usage = step.options.usage ?? {};
  const cached = usage.cacheReadInputTokens ?? 0;
  const promptTokens = inputTokens + cached + (usage.cacheCreationInputTokens ?? 0);
  const completionTokens = usage.outputTokens ?? estimateTokens(step.text + argumentsText);
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function contextTooLongError(error: ModelErrorSpec, inputTokens: number): ModelErrorSpec {
  const maximum = error.contextTooLong?.maximum ?? 200_000;
  const tokens = error.contextTooLong?.tokens ?? Math.max(inputTokens, maximum + 1);
  return {
    ...error,
    type: error.type ?? "invalid_request_error",
    code: error.code ?? "context_length_exceeded",
    message:
      error.message ??
      `This model's maximum context length is ${maximum} tokens. However, your messages resulted in ${tokens} tokens. Please reduce the length of the messages.`,
  };
}

function errorBody(error: ModelErrorSpec, param: string | null = null): OpenAIError {
  const fallback = defaultErrors[error.status] ?? (error.status >= 500 ? defaultErrors[500]! : defaultErrors[400]!);
  return {
    message: error.message ?? fallback.message,
    type: error.type ?? fallback.type,
    param,
    code: error.code ?? fallback.code,
  };
}

/** `{"error":{"message","type","param","code"}}` with `retry-after` when given. */
function sendError(
  exchange: Exchange,
  error: ModelErrorSpec,
  headers: Record<string, string>,
  param: string | null = null,
): void {
  const retryAfter: Record<string, string> =
    error.retryAfter === undefined ? {} : { "retry-after": String(error.retryAfter) };
  exchange.sendJson(error.status, { error: errorBody(error, param) }, { ...headers, ...retryAfter, ...error.headers });
}

function authenticationProblem(headers: Record<string, string>, apiKey: string | undefined): string | undefined {
  if (apiKey === undefined) return undefined;
  const presented = headers.authorization?.replace(/^Bearer /, "");
  if (!presented) return "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";
  if (presented === apiKey) return undefined;
  return `Incorrect API key provided: ${presented.slice(0, 3)}***${presented.slice(-4)}. You can find your API key at https://platform.openai.com/account/api-keys.`;
}

/** Chat Completions' limit on `tools` per request. */
const MAX_TOOLS = 128;

const roles = new Set(["system", "developer", "user", "assistant", "tool", "function"]);

/** The request mistakes the real API rejects with 400 that an agent loop can make. */
// `body` is arbitrary client JSON, hence `any`.
function validationProblem(body: any): { message: string; param: string | null; code?: string } | undefined {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    return { message: "We could not parse the JSON body of your request.", param: null };
  }
  if (typeof body.model !== "string") return { message: "you must provide a model parameter", param: null };
  if (!Array.isArray(body.messages)) {
    return { message: "Missing required parameter: 'messages'.", param: "messages", code: "missing_required_parameter" };
  }
  if (body.messages.length === 0) {
    return {
      message: "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      param: "messages",
      code: "empty_array",
    };
  }
  if (Array.isArray(body.tools) && body.tools.length > MAX_TOOLS) {
    return {
      message: `Invalid 'tools': array too long. Expected an array with maximum length ${MAX_TOOLS}, but got an array with length ${body.tools.length} instead.`,
      param: "tools",
      code: "array_above_max_length",
    };
  }
  for (const [index, tool] of (Array.isArray(body.tools) ? body.tools : []).entries()) {
    const name = tool?.function?.name;
    const param = `tools[${index}].function.name`;
    if (typeof name !== "string" || !/^[a-zA-Z0-9_-]+$/.test(name)) {
      return {
        message: `Invalid '${param}': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`,
        param,
        code: "invalid_value",
      };
    }
    if (name.length > 64) {
      return {
        message: `Invalid '${param}': string too long. Expected a string with maximum length 64, but got a string with length ${name.length} instead.`,
        param,
        code: "string_above_max_length",
      };
    }
  }

  const messages = body.messages as Array<{ role?: unknown; tool_calls?: unknown; tool_call_id?: unknown }>;
  let offered = new Set<string>();
  let offeredBy = 0;
  for (const [index, message] of messages.entries()) {
    const param = `messages.[${index}].role`;
    if (typeof message.role !== "string" || !roles.has(message.role)) {
      return { message: `Invalid value: '${String(message.role)}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.`, param, code: "invalid_value" };
    }
    if (message.role === "tool") {
      const id = String(message.tool_call_id);
      if (!offered.has(id)) {
        return {
          message: "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
          param,
        };
      }
      offered.delete(id);
      continue;
    }
    if (offered.size > 0) return unanswered(offered, offeredBy);
    offeredBy = index;
    offered = new Set(
      message.role === "assistant" && Array.isArray(message.tool_calls)
        ? (message.tool_calls as Array<{ id?: unknown }>).map((call) => String(call.id))
        : [],
    );
  }
  return offered.size > 0 ? unanswered(offered, offeredBy) : undefined;
}

function unanswered(ids: Set<string>, index: number): { message: string; param: string } {
  return {
    message: `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${[...ids].join(", ")}`,
    param: `messages.[${index}].role`,
  };
}
