/** What the agent loop may use from the model layer. */
export type {
  ChatMessage,
  ModelClient,
  ModelRequest,
  ModelResponse,
  ModelUsage,
  ToolCall,
  ToolDefinition,
} from "./model-client.ts";
export { MODEL_TIMEOUT_MS } from "./model-client.ts";
export { ModelSlots } from "./model-slots.ts";
export { ModelError, toModelError, parseRetryAfter } from "./model-error.ts";
export type { ModelErrorCode, ModelErrorContext, ModelErrorOptions } from "./model-error.ts";
export { createAnthropicClient, normaliseAnthropicBaseUrl, ANTHROPIC_DEFAULT_MAX_TOKENS } from "./anthropic-client.ts";
export type { AnthropicClientOptions } from "./anthropic-client.ts";
export { createOpenAIClient, normaliseOpenAIBaseUrl } from "./openai-client.ts";
export type { OpenAIClientOptions } from "./openai-client.ts";
export { createResilientModel } from "./resilient-model.ts";
export type { ModelCandidate, ResilientModel, ResilientModelOptions, RetryLogger } from "./resilient-model.ts";
export { resolveModelCandidates, DEFAULT_ANTHROPIC_MODEL, DEFAULT_OPENAI_MODEL, NO_MODEL_MESSAGE } from "./model-registry.ts";
export { createDiscoveredModelClient, DISCOVERED_MODEL } from "./discovered-model.ts";
export type { DiscoveredModelClient, DiscoveryState } from "./discovered-model.ts";
export type {
  ModelRef,
  ProviderSettings,
  ResolveModelCandidatesOptions,
  ResolvedModelCandidates,
} from "./model-registry.ts";
