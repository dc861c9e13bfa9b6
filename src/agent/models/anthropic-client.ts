/**
 * The Anthropic Messages API adapter of the ModelClient port, on `@anthropic-ai/sdk`.
 * The SDK is imported on the first call, so the gateway's start-up never pays for it.
 */
import type Anthropic from "@anthropic-ai/sdk";
import { MODEL_TIMEOUT_MS, type ChatMessage, type ModelClient, type ModelRequest, type ModelResponse, type ToolCall, type ToolDefinition } from "./model-client.ts";
import { defaultKeySource, rethrowModelFailure, withDeadline, type ModelErrorContext } from "./model-error.ts";

export interface AnthropicClientOptions {
  apiKey: string;
  /** Default `https://api.anthropic.com` (the SDK appends `/v1/messages`); a trailing `/v1` is dropped. */
  baseUrl?: string;
  /** Per-request timeout; default 120 000 ms (`models.providers.<name>.timeoutMs`). */
  timeoutMs?: number;
  fetch?: typeof globalThis.fetch;
  /** The provider name reported and used in errors; default `anthropic`. */
  provider?: string;
  /** Where the key came from, named when it is rejected; default `ANTHROPIC_API_KEY`. */
  keySource?: string;
}

/** Output budget when the request does not set `maxTokens` (the API requires one). */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;
const DEFAULT_BASE_URL = "https://api.anthropic.com";

/**
 * The SDK appends `/v1/messages` to its base URL, so `https://proxy.example/v1` (as many
 * gateways and the OpenAI habit write it) would become `/v1/v1/messages`: a trailing `/v1`
 * (and trailing slashes) are dropped. `https://api.anthropic.com`, `…/v1` and `…/v1/` all work.
 */
export function normaliseAnthropicBaseUrl(baseUrl: string): string {
  return baseUrl.trim().replace(/\/+$/, "").replace(/\/v1$/, "");
}
const DEFAULT_TIMEOUT_MS = MODEL_TIMEOUT_MS;
const EPHEMERAL = { type: "ephemeral" } as const;

/**
 * A ModelClient for the Anthropic Messages API. The SDK does not retry (`maxRetries: 0`):
 * the resilient model does. Caches the stable prefix (system prompt and tool list) with
 * `cache_control`. Streams when the request has `onTextDelta`.
 * `complete` throws ModelError, or the signal's reason when the request was aborted.
 */
export function createAnthropicClient(options: AnthropicClientOptions): ModelClient {
  const provider = options.provider ?? "anthropic";
  const errorContext: ModelErrorContext = {
    keySource: options.keySource ?? defaultKeySource(provider),
    secrets: [options.apiKey],
  };
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let sdk: Promise<Anthropic> | undefined;
  const loadSdk = (): Promise<Anthropic> =>
    (sdk ??= Promise.all([import("@anthropic-ai/sdk"), import("./http-fetch.ts")]).then(
      ([{ default: AnthropicSdk }, { sharedHttpFetch }]) =>
        new AnthropicSdk({
          apiKey: options.apiKey,
          // Explicit, so the SDK never reads ANTHROPIC_BASE_URL from process.env itself.
          baseURL: options.baseUrl === undefined ? DEFAULT_BASE_URL : normaliseAnthropicBaseUrl(options.baseUrl),
          maxRetries: 0,
          timeout: timeoutMs,
          openTelemetry: false,
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
      const params = toAnthropicParams(request);
      const context = { ...errorContext, model: request.model };
      return withDeadline(timeoutMs, provider, request.signal, async (signal) => {
        try {
          const message = request.onTextDelta
            ? await streamMessage(client, params, request.onTextDelta, signal)
            : await client.messages.create(params, { signal });
          return fromAnthropicMessage(message, `${provider}/${request.model}`);
        } catch (error) {
          if (error instanceof TextDeltaListenerError) throw error.cause;
          rethrowModelFailure(error, provider, context, request.signal);
        }
      });
    },
    async listModels(signal?: AbortSignal): Promise<string[]> {
      const client = await loadSdk();
      try {
        const ids: string[] = [];
        for await (const model of client.models.list({ limit: 100 }, { signal })) {
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

/** Thrown through the SDK when the caller's `onTextDelta` threw: the caller gets its own error back. */
class TextDeltaListenerError extends Error {}

async function streamMessage(
  client: Anthropic,
  params: Anthropic.MessageCreateParamsNonStreaming,
  onTextDelta: (delta: string) => void,
  signal: AbortSignal | undefined,
): Promise<Anthropic.Message> {
  const stream = client.messages.stream(params, { signal });
  let listenerFailure: TextDeltaListenerError | undefined;
  stream.on("text", (delta) => {
    if (listenerFailure) return;
    try {
      onTextDelta(delta);
    } catch (error) {
      listenerFailure = new TextDeltaListenerError("onTextDelta threw", { cause: error });
      stream.abort();
    }
  });
  try {
    return await stream.finalMessage();
  } catch (error) {
    throw listenerFailure ?? error;
  }
}

/** The Messages API request for a port request: system and last tool marked for caching. */
export function toAnthropicParams(request: ModelRequest): Anthropic.MessageCreateParamsNonStreaming {
  const tools = request.tools.map((tool, index) => toAnthropicTool(tool, index === request.tools.length - 1));
  return {
    model: request.model,
    max_tokens: request.maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS,
    ...(request.system === "" ? {} : { system: [{ type: "text", text: request.system, cache_control: EPHEMERAL }] }),
    messages: toAnthropicMessages(request.messages),
    ...(tools.length === 0 ? {} : { tools }),
  };
}

function toAnthropicTool(tool: ToolDefinition, last: boolean): Anthropic.Tool {
  return {
    name: tool.name,
    description: tool.description,
    input_schema: tool.inputSchema as Anthropic.Tool.InputSchema,
    ...(last ? { cache_control: EPHEMERAL } : {}),
  };
}

type Block = Anthropic.ContentBlockParam;
type Role = "user" | "assistant";

/**
 * Port messages → Messages API turns: assistant tool calls become `tool_use` blocks, tool
 * results become `tool_result` blocks in a user turn, and consecutive same-role turns merge
 * (the API wants user and assistant to alternate, with every tool_result first in its turn).
 * Empty text is dropped: the API rejects empty text blocks.
 */
export function toAnthropicMessages(messages: readonly ChatMessage[]): Anthropic.MessageParam[] {
  const turns: Array<{ role: Role; content: Block[] }> = [];
  const append = (role: Role, blocks: Block[]) => {
    if (blocks.length === 0) return;
    const last = turns.at(-1);
    if (last?.role === role) last.content.push(...blocks);
    else turns.push({ role, content: blocks });
  };
  for (const message of messages) {
    if (message.role === "user") {
      // The turn context is a block of its own before the text, after the cached prefix.
      append("user", [...textBlocks(message.context ?? ""), ...textBlocks(message.content)]);
    } else if (message.role === "assistant") {
      const toolUses = (message.toolCalls ?? []).map(
        (call): Block => ({ type: "tool_use", id: call.id, name: call.name, input: call.arguments }),
      );
      append("assistant", [...textBlocks(message.content), ...toolUses]);
    } else {
      append("user", [
        {
          type: "tool_result",
          tool_use_id: message.toolCallId,
          content: message.content,
          ...(message.isError ? { is_error: true } : {}),
        },
      ]);
    }
  }
  return turns.map(({ role, content }) => ({
    role,
    content: role === "user" && toolResultAfterText(content) ? [...content.filter(isToolResult), ...content.filter((block) => !isToolResult(block))] : content,
  }));
}

/** True when a tool_result follows another kind of block (the common turn needs no reordering). */
function toolResultAfterText(content: readonly Block[]): boolean {
  let sawOther = false;
  for (const block of content) {
    if (!isToolResult(block)) sawOther = true;
    else if (sawOther) return true;
  }
  return false;
}

function textBlocks(text: string): Block[] {
  return text === "" ? [] : [{ type: "text", text }];
}

function isToolResult(block: Block): boolean {
  return block.type === "tool_result";
}

/** A Messages API reply → the port's response. */
export function fromAnthropicMessage(message: Anthropic.Message, model: string): ModelResponse {
  let text = "";
  const toolCalls: ToolCall[] = [];
  for (const block of message.content) {
    if (block.type === "text") text += block.text;
    else if (block.type === "tool_use") {
      const input = block.input;
      const argumentsObject =
        typeof input === "object" && input !== null && !Array.isArray(input)
          ? (input as Record<string, unknown>)
          : { _raw: JSON.stringify(input) };
      toolCalls.push({ id: block.id, name: block.name, arguments: argumentsObject });
    }
  }
  const usage = message.usage;
  return {
    text,
    toolCalls,
    stopReason: stopReasonOf(message.stop_reason),
    usage: {
      inputTokens: usage.input_tokens ?? 0,
      outputTokens: usage.output_tokens ?? 0,
      cacheReadTokens: usage.cache_read_input_tokens ?? 0,
      cacheWriteTokens: usage.cache_creation_input_tokens ?? 0,
    },
    model,
  };
}

function stopReasonOf(reason: Anthropic.StopReason | null): ModelResponse["stopReason"] {
  switch (reason) {
    case "end_turn":
    case "stop_sequence":
      return "end_turn";
    case "tool_use":
      return "tool_use";
    case "max_tokens":
    case "model_context_window_exceeded":
      return "max_tokens";
    default:
      return "other";
  }
}
