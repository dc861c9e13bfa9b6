/**
 * The port between the agent loop and a model provider. Provider-neutral: the Anthropic and
 * OpenAI adapters translate to and from their SDKs; the loop only sees these types.
 */

/** How long one model request may take before it fails with MODEL_TIMEOUT, unless the provider sets `timeoutMs`. */
export const MODEL_TIMEOUT_MS = 120_000;

/** A tool call the model asked for. `arguments` is already parsed JSON. */
export interface ToolCall {
  readonly id: string;
  readonly name: string;
  readonly arguments: Record<string, unknown>;
}

export type ChatMessage =
  /**
   * `context`: the gateway's turn-context block (date, time, channel, sender) for the turn's own
   * message, sent before `content` and never stored. See src/agent/turn-context.ts.
   */
  | { readonly role: "user"; readonly content: string; readonly context?: string }
  | { readonly role: "assistant"; readonly content: string; readonly toolCalls?: readonly ToolCall[] }
  | { readonly role: "tool"; readonly toolCallId: string; readonly name: string; readonly content: string; readonly isError?: boolean };

/** A tool as the model sees it (name already sanitised to ^[a-zA-Z0-9_-]{1,64}$). */
export interface ToolDefinition {
  readonly name: string;
  readonly description: string;
  /** JSON Schema of the arguments (type: "object"). */
  readonly inputSchema: Record<string, unknown>;
}

export interface ModelUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cacheReadTokens: number;
  readonly cacheWriteTokens: number;
}

export interface ModelRequest {
  /** The model name without the provider prefix, e.g. `claude-sonnet-5-5`. */
  readonly model: string;
  readonly system: string;
  readonly messages: readonly ChatMessage[];
  readonly tools: readonly ToolDefinition[];
  readonly maxTokens?: number;
  readonly signal?: AbortSignal;
  /** When given, the adapter streams and calls this with each text fragment as it arrives. */
  readonly onTextDelta?: (delta: string) => void;
}

export interface ModelResponse {
  readonly text: string;
  readonly toolCalls: readonly ToolCall[];
  readonly stopReason: "end_turn" | "tool_use" | "max_tokens" | "other";
  readonly usage: ModelUsage;
  /** `provider/model` that actually answered (after fallbacks). */
  readonly model: string;
}

/** One provider's client. Throws ModelError (a FaradayError with a MODEL_* code) on failure. */
export interface ModelClient {
  readonly provider: string;
  complete(request: ModelRequest): Promise<ModelResponse>;
  /**
   * The model ids the provider lists (`GET /v1/models`): one cheap authenticated request, used
   * to pick a local server's model and by `faraday doctor`. Throws ModelError like `complete`.
   */
  listModels?(signal?: AbortSignal): Promise<string[]>;
}
