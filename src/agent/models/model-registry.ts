/**
 * From `agents.defaults.model` (or an agent's `model`), `models.providers` and the
 * environment to the ordered list of model clients to try. Clients are shared per
 * (api, provider, key, base URL, timeout): one SDK client per provider for the life of the process.
 */
import { createAnthropicClient } from "./anthropic-client.ts";
import { createDiscoveredModelClient, DISCOVERED_MODEL } from "./discovered-model.ts";
import type { ModelClient } from "./model-client.ts";
import { ModelError } from "./model-error.ts";
import { createOpenAIClient } from "./openai-client.ts";
import type { ModelCandidate } from "./resilient-model.ts";

/** `provider/model`, or a primary with fallbacks tried in order. */
export type ModelRef = string | { readonly primary: string; readonly fallbacks?: readonly string[] };

/** `models.providers.<name>` in openclaw.json. */
export interface ProviderSettings {
  readonly apiKey?: string;
  readonly baseUrl?: string;
  /** Which wire API the provider speaks; default `openai` (OpenAI-compatible) for custom providers. */
  readonly api?: "anthropic" | "openai";
  /** One request's time limit; default 120 000 ms. */
  readonly timeoutMs?: number;
  /** Calls to this provider at once (the agent's slots); default `agents.defaults.maxConcurrent`. */
  readonly maxConcurrent?: number;
}

export interface ResolveModelCandidatesOptions {
  modelRef?: ModelRef;
  providers?: Readonly<Record<string, ProviderSettings>>;
  /** The environment record from config (only `src/config` reads `process.env`). */
  env: Readonly<Record<string, string | undefined>>;
}

export type ResolvedModelCandidates =
  | { readonly candidates: readonly ModelCandidate[]; readonly notes: readonly string[] }
  | { readonly error: ModelError; readonly notes: readonly string[] };

/** Used when no model is configured and an Anthropic key is available. */
export const DEFAULT_ANTHROPIC_MODEL = "anthropic/claude-sonnet-5-5";
/** Used when no model is configured and only an OpenAI key is available (no OPENAI_BASE_URL). */
export const DEFAULT_OPENAI_MODEL = "openai/gpt-4.1";

export const NO_MODEL_MESSAGE =
  "No model is configured: set ANTHROPIC_API_KEY or OPENAI_API_KEY, or OPENAI_BASE_URL for a local OpenAI-compatible server (or agents.defaults.model in openclaw.json).";

/** Well-known providers: their key and base URL variables (the SDKs' own names). */
const BUILT_IN = {
  anthropic: { api: "anthropic", keyVariable: "ANTHROPIC_API_KEY", baseUrlVariable: "ANTHROPIC_BASE_URL" },
  openai: { api: "openai", keyVariable: "OPENAI_API_KEY", baseUrlVariable: "OPENAI_BASE_URL" },
} as const;

/** Sent when a provider with its own base URL needs no key (Ollama, vLLM …); the SDKs insist on one. */
const PLACEHOLDER_KEY = "faraday-no-key";

const clientCache = new Map<string, ModelClient>();

/**
 * The candidates to try, primary first. With no model configured, picks
 * `anthropic/claude-sonnet-5-5` when an Anthropic key is available; else, with an OpenAI base
 * URL (`OPENAI_BASE_URL` or `models.providers.openai.baseUrl`, key or not), the model that
 * server lists (`openai/*`, see discovered-model.ts); else `openai/gpt-4.1` when an OpenAI key
 * is available; else the model a custom provider with a `baseUrl` lists. A candidate that cannot be built (missing key, custom provider
 * without `baseUrl`, malformed ref) is skipped with a note; when none is left, returns a
 * MODEL_NOT_CONFIGURED error whose message names what to set (the env var or config key).
 * Never throws.
 */
export function resolveModelCandidates(options: ResolveModelCandidatesOptions): ResolvedModelCandidates {
  const providers = options.providers ?? {};
  const env = options.env;
  const refs = refsOf(options.modelRef) ?? defaultRefs(providers, env);
  if (refs.length === 0) {
    return {
      error: new ModelError("MODEL_NOT_CONFIGURED", NO_MODEL_MESSAGE, { userMessage: NO_MODEL_MESSAGE }),
      notes: [],
    };
  }

  const candidates: ModelCandidate[] = [];
  const notes: string[] = [];
  const fixes: string[] = [];
  for (const ref of refs) {
    const built = buildCandidate(ref, providers, env);
    if ("fix" in built) {
      notes.push(`${ref} skipped: ${built.fix}.`);
      fixes.push(built.fix);
    } else {
      candidates.push(built);
    }
  }
  if (candidates.length > 0) return { candidates, notes };
  const message = `The configured model cannot be used: ${fixes.join("; ")}.`;
  return { error: new ModelError("MODEL_NOT_CONFIGURED", message, { userMessage: message }), notes };
}

function refsOf(modelRef: ModelRef | undefined): string[] | undefined {
  if (modelRef === undefined) return undefined;
  if (typeof modelRef === "string") return modelRef.trim() === "" ? undefined : [modelRef];
  return [modelRef.primary, ...(modelRef.fallbacks ?? [])];
}

function defaultRefs(providers: Readonly<Record<string, ProviderSettings>>, env: ResolveModelCandidatesOptions["env"]): string[] {
  if (keyFor("anthropic", providers, env)) return [DEFAULT_ANTHROPIC_MODEL];
  // A base URL of one's own is a server with models of its own (Ollama has no gpt-4.1): ask it.
  if (nonEmpty(providers.openai?.baseUrl) ?? nonEmpty(env[BUILT_IN.openai.baseUrlVariable])) return [`openai/${DISCOVERED_MODEL}`];
  if (keyFor("openai", providers, env)) return [DEFAULT_OPENAI_MODEL];
  const custom = Object.entries(providers).find(([name, settings]) => name !== "anthropic" && name !== "openai" && nonEmpty(settings.baseUrl));
  if (custom) return [`${custom[0]}/${DISCOVERED_MODEL}`];
  return [];
}

function buildCandidate(
  ref: string,
  providers: Readonly<Record<string, ProviderSettings>>,
  env: ResolveModelCandidatesOptions["env"],
): ModelCandidate | { fix: string } {
  const slash = ref.indexOf("/");
  if (slash <= 0 || slash === ref.length - 1) {
    return { fix: `write "${ref}" as provider/model, e.g. anthropic/claude-sonnet-5-5` };
  }
  const provider = ref.slice(0, slash);
  const settings = providers[provider] ?? {};
  const builtIn = provider === "anthropic" || provider === "openai" ? BUILT_IN[provider] : undefined;
  const api = builtIn?.api ?? settings.api ?? "openai";
  const baseUrl = nonEmpty(settings.baseUrl) ?? (builtIn ? nonEmpty(env[builtIn.baseUrlVariable]) : undefined);
  const key = keyFor(provider, providers, env);
  const keySource = nonEmpty(settings.apiKey) || !builtIn ? `models.providers.${provider}.apiKey` : builtIn.keyVariable;

  if (!builtIn && baseUrl === undefined) {
    return { fix: `set models.providers.${provider}.baseUrl for ${ref} (e.g. http://localhost:11434/v1 for Ollama)` };
  }
  // The official APIs need a key; a server at a base URL of your own may not.
  if (key === undefined && baseUrl === undefined) {
    return { fix: `set ${keySource} for ${ref}` };
  }
  const apiKey = key ?? PLACEHOLDER_KEY;
  const timeoutMs = settings.timeoutMs;
  const cacheKey = JSON.stringify([api, provider, apiKey, baseUrl ?? null, timeoutMs ?? null]);
  let client = clientCache.get(cacheKey);
  if (!client) {
    const clientOptions = { apiKey, provider, keySource, ...(baseUrl === undefined ? {} : { baseUrl }), ...(timeoutMs === undefined ? {} : { timeoutMs }) };
    client = api === "anthropic" ? createAnthropicClient(clientOptions) : createOpenAIClient(clientOptions);
    clientCache.set(cacheKey, client);
  }
  if (ref.slice(slash + 1) === DISCOVERED_MODEL) {
    const discoveredKey = `${cacheKey}|${DISCOVERED_MODEL}`;
    let discovered = clientCache.get(discoveredKey);
    if (!discovered) {
      discovered = createDiscoveredModelClient({ client, provider, baseUrl: baseUrl ?? (api === "anthropic" ? "https://api.anthropic.com" : "https://api.openai.com/v1") });
      clientCache.set(discoveredKey, discovered);
    }
    return { ref, client: discovered };
  }
  return { ref, client };
}

function keyFor(
  provider: string,
  providers: Readonly<Record<string, ProviderSettings>>,
  env: ResolveModelCandidatesOptions["env"],
): string | undefined {
  const configured = nonEmpty(providers[provider]?.apiKey);
  if (configured) return configured;
  if (provider === "anthropic" || provider === "openai") return nonEmpty(env[BUILT_IN[provider].keyVariable]);
  return undefined;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}
