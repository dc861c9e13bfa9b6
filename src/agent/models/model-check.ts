/**
 * `faraday doctor`'s model line: which model answers, with which key, and — unless offline —
 * whether the provider accepts that key, by one cheap authenticated request (`GET /v1/models`,
 * no tokens spent). Every line that is not "ok" says what to change.
 */
import { DISCOVERED_MODEL } from "./discovered-model.ts";
import { ModelError } from "./model-error.ts";
import { resolveModelCandidates, type ModelRef, type ProviderSettings } from "./model-registry.ts";

export interface ModelCheck {
  readonly status: "ok" | "warn" | "fail";
  readonly detail: string;
  /** `provider/model` that would answer, when one is known. */
  readonly model?: string;
}

export interface ModelCheckInput {
  modelRef?: ModelRef;
  providers?: Readonly<Record<string, ProviderSettings>>;
  env: Readonly<Record<string, string | undefined>>;
  /** Make no request (doctor --offline). */
  offline?: boolean;
  timeoutMs?: number;
}

/** Never throws: every failure is a line. */
export async function checkModelProvider(input: ModelCheckInput): Promise<ModelCheck> {
  const resolved = resolveModelCandidates({ env: input.env, ...(input.modelRef === undefined ? {} : { modelRef: input.modelRef }), ...(input.providers ? { providers: input.providers } : {}) });
  // Not configured is a warning: the gateway runs (and answers with this sentence); a key the
  // provider refuses, or a provider that cannot be reached, is a failure.
  if ("error" in resolved) return { status: "warn", detail: resolved.error.userMessage };
  const primary = resolved.candidates[0]!;
  const slash = primary.ref.indexOf("/");
  const wanted = primary.ref.slice(slash + 1);
  const skipped = resolved.notes.length ? ` (${resolved.notes.join(" ")})` : "";
  if (input.offline) return { status: "ok", detail: `${primary.ref}${skipped}; not checked (--offline)`, model: primary.ref };
  if (!primary.client.listModels) return { status: "ok", detail: `${primary.ref}${skipped}; this provider cannot be checked without a model call`, model: primary.ref };
  let models: string[];
  try {
    models = await primary.client.listModels(AbortSignal.timeout(input.timeoutMs ?? 10_000));
  } catch (error) {
    const failure = error instanceof ModelError ? error : undefined;
    const why = failure ? failure.message : (error as Error).message;
    return { status: "fail", detail: `${primary.ref}: ${why}`, model: primary.ref };
  }
  if (wanted === DISCOVERED_MODEL) {
    const provider = primary.ref.slice(0, slash);
    if (models.length === 1) return { status: "ok", detail: `${provider}/${models[0]} (the only model its server lists; set agents.defaults.model to pin it)`, model: `${provider}/${models[0]}` };
    if (models.length === 0) return { status: "warn", detail: `the ${provider} server lists no models: load one (Ollama: \`ollama pull llama3.1\`), or set agents.defaults.model` };
    return { status: "warn", detail: `no model chosen and the ${provider} server has ${models.length}: set agents.defaults.model to one of: ${models.slice(0, 8).map((model) => `${provider}/${model}`).join(", ")}${models.length > 8 ? ", …" : ""}` };
  }
  if (models.length > 0 && !models.includes(wanted)) {
    return { status: "warn", detail: `${primary.ref}: the key works, but the provider does not list "${wanted}" (it lists ${models.slice(0, 5).join(", ")}${models.length > 5 ? ", …" : ""}); check agents.defaults.model`, model: primary.ref };
  }
  return { status: "ok", detail: `${primary.ref}${skipped}: the provider accepted the key (${models.length} models listed)`, model: primary.ref };
}
