/**
 * A model named by the server rather than the config: with a base URL (a local
 * OpenAI-compatible server — Ollama, vLLM, LM Studio) and no `agents.defaults.model`, the gateway
 * asks the server's `GET /v1/models` which models exist. Exactly one: it is used (what a person
 * who pulled one model into Ollama expects), and the status names it. Several: every message is
 * answered with the list to choose from ("set agents.defaults.model to one of: local/llama3.1,
 * local/qwen2.5"). None: the answer says to load one. The list is asked again after a failure
 * and at most every 30 s otherwise, so a model pulled later is found without a restart.
 */
import type { ModelClient, ModelRequest, ModelResponse } from "./model-client.ts";
import { ModelError } from "./model-error.ts";

/** The model part of a ref that means "the one the server lists": `openai/*`. */
export const DISCOVERED_MODEL = "*";

const REFRESH_MS = 30_000;
const LISTED_IN_MESSAGE = 8;

export interface DiscoveredModelOptions {
  /** The provider's client; must implement `listModels`. */
  client: ModelClient;
  /** The provider name as used in refs (`openai`, `local`). */
  provider: string;
  /** Where the models are listed, for messages. */
  baseUrl: string;
  /** Injectable clock (ms). */
  now?: () => number;
}

/** What discovery found, for the agent's status line and `faraday doctor`. */
export type DiscoveryState =
  | { readonly state: "unknown" }
  | { readonly state: "one"; readonly model: string }
  | { readonly state: "several" | "none"; readonly models: readonly string[]; readonly message: string };

export interface DiscoveredModelClient extends ModelClient {
  /** The last result of asking the server (`unknown` before the first turn). */
  discovery(): DiscoveryState;
}

/** Wraps a provider's client so each turn uses the one model its server lists. */
export function createDiscoveredModelClient(options: DiscoveredModelOptions): DiscoveredModelClient {
  const { client, provider, baseUrl } = options;
  const now = options.now ?? Date.now;
  let state: DiscoveryState = { state: "unknown" };
  let checkedAt = -Infinity;
  const listModels = client.listModels?.bind(client);

  const choose = async (signal: AbortSignal | undefined): Promise<string> => {
    if (state.state === "one" && now() - checkedAt < REFRESH_MS) return state.model;
    if (!listModels) {
      throw notConfigured(`set agents.defaults.model to ${provider}/MODEL: the ${provider} provider cannot list its models`);
    }
    const models = await listModels(signal);
    checkedAt = now();
    if (models.length === 1) {
      state = { state: "one", model: models[0] as string };
      return state.model;
    }
    const message = models.length === 0
      ? `The model server at ${baseUrl} lists no models: load one first (Ollama: \`ollama pull llama3.1\`), or set agents.defaults.model.`
      : `No model is chosen and the server at ${baseUrl} has ${models.length}: set agents.defaults.model to one of: ${models.slice(0, LISTED_IN_MESSAGE).map((model) => `${provider}/${model}`).join(", ")}${models.length > LISTED_IN_MESSAGE ? ", …" : ""}.`;
    state = { state: models.length === 0 ? "none" : "several", models, message };
    throw notConfigured(message);
  };

  return {
    provider,
    discovery: () => state,
    async complete(request: ModelRequest): Promise<ModelResponse> {
      const model = await choose(request.signal);
      try {
        return await client.complete({ ...request, model });
      } catch (error) {
        // The model may be gone (deleted, renamed): ask again next time.
        checkedAt = -Infinity;
        throw error;
      }
    },
    ...(listModels ? { listModels } : {}),
  };
}

function notConfigured(message: string): ModelError {
  return new ModelError("MODEL_NOT_CONFIGURED", message, { userMessage: message });
}
