import type { SecretStore } from "../../state/index.ts";

/**
 * Model API keys kept in the state dir's secret store (by `faraday onboard` or the dashboard's
 * Setup page), by provider, with the environment variable each stands in for. The gateway's
 * environment wins when both are set.
 */
export const MODEL_KEY_SECRETS = {
  anthropic: { secret: "anthropic.apiKey", variable: "ANTHROPIC_API_KEY" },
  openai: { secret: "openai.apiKey", variable: "OPENAI_API_KEY" },
} as const;

export type KeyedProvider = keyof typeof MODEL_KEY_SECRETS;

export function isKeyedProvider(name: string): name is KeyedProvider {
  return Object.hasOwn(MODEL_KEY_SECRETS, name);
}

/**
 * The variables the model registry reads: the environment, with keys from the secret store
 * filling in what it lacks. A live view: a key stored later is seen by the next turn.
 */
export function modelEnvironment(variables: Readonly<Record<string, string | undefined>>, secrets: SecretStore): Readonly<Record<string, string | undefined>> {
  const stored = new Map<string, string>(Object.values(MODEL_KEY_SECRETS).map(({ secret, variable }) => [variable, secret]));
  return new Proxy(variables, {
    get(target, name) {
      const value = target[name as string];
      if (typeof name !== "string" || (value !== undefined && value.trim() !== "") || !stored.has(name)) return value;
      return secrets.get(stored.get(name)!);
    },
    has(target, name) {
      return name in target || (typeof name === "string" && stored.has(name) && secrets.get(stored.get(name)!) !== undefined);
    },
  });
}

/** Where the key for `provider` comes from as the gateway sees it. */
export function modelKeySource(provider: KeyedProvider, variables: Readonly<Record<string, string | undefined>>, secrets: SecretStore): "env" | "secret-store" | null {
  const { secret, variable } = MODEL_KEY_SECRETS[provider];
  if (variables[variable]?.trim()) return "env";
  return secrets.get(secret) ? "secret-store" : null;
}
