/**
 * The OpenAI Chat Completions adapter of the ModelClient port, on the `openai` SDK. The same
 * adapter serves any OpenAI-compatible server (Ollama, vLLM, LM Studio) through `baseUrl`.
 * The SDK is imported on the first call, so the gateway's start-up never pays for it.
 */
import type OpenAI from "openai";
import { MODEL_TIMEOUT_MS, type ChatMessage, type ModelClient, type ModelRequest, type ModelResponse, type ModelUsage, type ToolCall } from "./model-client.ts";
import { defaultKeySource, rethrowModelFailure, withDeadline, type ModelErrorContext } from "./model-error.ts";

export interface OpenAIClientOptions {
  /** Required by the SDK even when the server ignores it: a local server takes a dummy like `ollama`. */
  apiKey: string;
  /** Default `https://api.openai.com/v1`; e.g. `http://localhost:11434/v1` for Ollama. */
  baseUrl?: string;
  /** Per-request timeout; default 120 000 ms (`models.providers.<name>.timeoutMs`). */
  timeoutMs?: number;
  fetch?: typeof globalThis.fetch;
  /** The provider name reported and used in errors; default `openai`. */
  provider?: string;
  /** Where the key came from, named when it is rejected; default `OPENAI_API_KEY` (or `models.providers.<name>.apiKey`). */
  keySource?: string;
}

const DEFAULT_BASE_URL = "https://api.openai.com/v1";

/**
 * A base URL with no path at all (`http://localhost:11434`) gets `/v1`, where every
 * OpenAI-compatible server (Ollama, vLLM, LM Studio, llama.cpp) serves the API; any other path
 * is kept as written (`https://host/openai/v1`, `…/api/v1`).
 */
export function normaliseOpenAIBaseUrl(baseUrl: string): string {
  const trimmed = baseUrl.trim().replace(/\/+$/, "");
  try {
    return new URL(trimmed).pathname === "/" ? `${trimmed}/v1` : trimmed;
  } catch {
    return trimmed;
  }
}
const DEFAULT_TIMEOUT_MS = MODEL_TIMEOUT_MS;

type CreateParams = OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming;

/**
 * A ModelClient for Chat Completions. The SDK does not retry (`maxRetries: 0`): the resilient
 * model does. Streams (with `include_usage`) when the request has `onTextDelta`.
 * `maxTokens` goes out as `max_completion_tokens` to provider `openai` (its newer models
 * refuse `max_tokens`) and as `max_tokens` to every other OpenAI-compatible server.
 * `complete` throws ModelError, or the signal's reason when the request was aborted.
 */
export function createOpenAIClient(options: OpenAIClientOptions): ModelClient {
  const provider = options.provider ?? "openai";
  const errorContext: ModelErrorContext = {
    keySource: options.keySource ?? defaultKeySource(provider),
    secrets: [options.apiKey],
  };
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let sdk: Promise<OpenAI> | undefined;
  const loadSdk = (): Promise<OpenAI> =>
    (sdk ??= Promise.all([import("openai"), import("./http-fetch.ts")]).then(
      ([{ default: OpenAISdk }, { sharedHttpFetch }]) =>
        new OpenAISdk({
          apiKey: options.apiKey,
          // Explicit values, so the SDK never reads OPENAI_* variables from process.env itself.
          baseURL: options.baseUrl === undefined ? DEFAULT_BASE_URL : normaliseOpenAIBaseUrl(options.baseUrl),
          organization: null,
          project: null,
          adminAPIKey: null,
          webhookSecret: null,
          maxRetries: 0,
          timeout: timeoutMs,
          // Node:http underneath, not the built-in fetch: see http-fetch.ts for what that saves.
          fetch: options.fetch ?? sharedHttpFetch(),
        }),
      (error: unknown) => {
        sdk = undefined;
        throw error;
      },
    ));

  return {
    provider,
    async complete(request: ModelRequest): Promise<ModelResponse> {
      const client = await loadSdk();
      const params = toOpenAIParams(request, provider === "openai");
      const model = `${provider}/${request.model}`;
      return withDeadline(timeoutMs, provider, request.signal, async (signal) => {
        try {
          if (!request.onTextDelta) {
            const completion = await client.chat.completions.create(params, { signal });
            return fromOpenAICompletion(completion, model);
          }
          return await streamCompletion(client, params, request.onTextDelta, signal, model);
        } catch (error) {
          if (error instanceof TextDeltaListenerError) throw error.cause;
          rethrowModelFailure(error, provider, { ...errorContext, model: request.model }, request.signal);
        }
      });
    },
    async listModels(signal?: AbortSignal): Promise<string[]> {
      const client = await loadSdk();
      try {
        const ids: string[] = [];
        // Bounded: a server listing thousands of models still costs at most a few pages.
        for await (const model of client.models.list({ signal })) {
          ids.push(model.id);
          if (ids.length >= 1000) break;
        }
        return ids;
      } catch (error) {
        rethrowModelFailure(error, provider, errorContext, signal);
      }
    },
  };
}

/** Wraps an error the caller's `onTextDelta` threw, so it is not mistaken for a model failure. */
class TextDeltaListenerError extends Error {}

async function streamCompletion(
  client: OpenAI,
  params: CreateParams,
  onTextDelta: (delta: string) => void,
  signal: AbortSignal | undefined,
  model: string,
): Promise<ModelResponse> {
  const stream = await client.chat.completions.create(
    { ...params, stream: true, stream_options: { include_usage: true } },
    { signal },
  );
  let text = "";
  let finishReason: string | null = null;
  let usage: OpenAI.CompletionUsage | undefined;
  // Tool calls arrive as fragments keyed by `index`: the first carries id and name, the rest
  // append to `arguments`.
  const calls = new Map<number, { id: string; name: string; arguments: string }>();
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices[0];
    if (!choice) continue;
    const content = choice.delta.content ?? choice.delta.refusal;
    if (content) {
      text += content;
      try {
        onTextDelta(content);
      } catch (error) {
        // Leaving the loop aborts the stream.
        throw new TextDeltaListenerError("onTextDelta threw", { cause: error });
      }
    }
    for (const [position, fragment] of (choice.delta.tool_calls ?? []).entries()) {
      const index = fragment.index ?? position;
      const call = calls.get(index) ?? { id: "", name: "", arguments: "" };
      if (fragment.id) call.id ||= fragment.id;
      if (fragment.function?.name) call.name ||= fragment.function.name;
      call.arguments += fragment.function?.arguments ?? "";
      calls.set(index, call);
    }
    if (choice.finish_reason) finishReason = choice.finish_reason;
  }
  // The SDK's stream ends quietly when aborted: that is not a finished answer.
  if (signal?.aborted) throw signal.reason ?? new Error("the model request was aborted");
  const toolCalls = [...calls.entries()]
    .sort(([left], [right]) => left - right)
    .map(([, call], position) => toToolCall(call.id || `call_${position}`, call.name, call.arguments));
  return { text, toolCalls, stopReason: stopReasonOf(finishReason, toolCalls.length), usage: usageOf(usage), model };
}

/** The Chat Completions request for a port request (without the streaming fields). */
export function toOpenAIParams(request: ModelRequest, officialApi: boolean): CreateParams {
  const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = request.tools.map((tool) => ({
    type: "function",
    function: { name: tool.name, description: tool.description, parameters: tool.inputSchema },
  }));
  const maxTokens =
    request.maxTokens === undefined
      ? {}
      : officialApi
        ? { max_completion_tokens: request.maxTokens }
        : { max_tokens: request.maxTokens };
  return {
    model: request.model,
    messages: [
      ...(request.system === "" ? [] : [{ role: "system" as const, content: request.system }]),
      ...toOpenAIMessages(request.messages),
    ],
    ...(tools.length === 0 ? {} : { tools }),
    ...maxTokens,
  };
}

/**
 * Port messages → Chat Completions messages. Tool calls carry their arguments as a JSON
 * string; a failed tool result is prefixed `Error: ` (the API has no error flag).
 */
export function toOpenAIMessages(messages: readonly ChatMessage[]): OpenAI.Chat.Completions.ChatCompletionMessageParam[] {
  return messages.map((message): OpenAI.Chat.Completions.ChatCompletionMessageParam => {
    if (message.role === "user") {
      // The turn context as a text part of its own before the text, so the person's words stay whole.
      if (!message.context) return { role: "user", content: message.content };
      return { role: "user", content: [{ type: "text", text: message.context }, { type: "text", text: message.content }] };
    }
    if (message.role === "tool") {
      return {
        role: "tool",
        tool_call_id: message.toolCallId,
        content: message.isError && !/^error\b/i.test(message.content) ? `Error: ${message.content}` : message.content,
      };
    }
    const toolCalls = message.toolCalls ?? [];
    if (toolCalls.length === 0) return { role: "assistant", content: message.content };
    return {
      role: "assistant",
      content: message.content === "" ? null : message.content,
      tool_calls: toolCalls.map((call) => ({
        id: call.id,
        type: "function",
        function: { name: call.name, arguments: JSON.stringify(call.arguments) },
      })),
    };
  });
}

/** A non-streamed completion → the port's response. */
export function fromOpenAICompletion(completion: OpenAI.Chat.Completions.ChatCompletion, model: string): ModelResponse {
  const choice = completion.choices[0];
  const message = choice?.message;
  const toolCalls = (message?.tool_calls ?? []).flatMap((call) =>
    call.type === "function" ? [toToolCall(call.id, call.function.name, call.function.arguments)] : [],
  );
  return {
    text: message?.content ?? message?.refusal ?? "",
    toolCalls,
    stopReason: stopReasonOf(choice?.finish_reason ?? null, toolCalls.length),
    usage: usageOf(completion.usage),
    model,
  };
}

/**
 * Arguments that do not parse as a JSON object are kept as `{ _raw: "<text>" }`, so the
 * loop can answer the call with an error result instead of running it with nothing.
 */
function toToolCall(id: string, name: string, argumentsText: string): ToolCall {
  if (argumentsText.trim() === "") return { id, name, arguments: {} };
  try {
    const parsed: unknown = JSON.parse(argumentsText);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
      return { id, name, arguments: parsed as Record<string, unknown> };
    }
  } catch {
    // Falls through to the raw form.
  }
  return { id, name, arguments: { _raw: argumentsText } };
}

function stopReasonOf(reason: string | null, toolCallCount: number): ModelResponse["stopReason"] {
  // Some compatible servers (Ollama among them) answer tool calls with finish_reason "stop".
  if (toolCallCount > 0 && (reason === "tool_calls" || reason === "stop" || reason === null)) return "tool_use";
  switch (reason) {
    case "stop":
      return "end_turn";
    case "tool_calls":
      return "tool_use";
    case "length":
      return "max_tokens";
    default:
      return "other";
  }
}

/** `prompt_tokens` includes the cached ones; the port counts them apart, as Anthropic does. */
function usageOf(usage: OpenAI.CompletionUsage | undefined | null): ModelUsage {
  const cached = usage?.prompt_tokens_details?.cached_tokens ?? 0;
  return {
    inputTokens: Math.max(0, (usage?.prompt_tokens ?? 0) - cached),
    outputTokens: usage?.completion_tokens ?? 0,
    cacheReadTokens: cached,
    cacheWriteTokens: 0,
  };
}
