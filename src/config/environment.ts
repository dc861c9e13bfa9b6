/**
 * The only place that reads `process.env`. Everything else receives an `Environment`.
 */
export interface Environment {
  /** `OPENCLAW_STATE_DIR`: where the gateway keeps its state. */
  readonly stateDir: string | undefined;
  /** `OPENCLAW_GATEWAY_PORT`. */
  readonly gatewayPort: string | undefined;
  /** `OPENCLAW_GATEWAY_TOKEN`: the bearer token for `/api/*`. */
  readonly gatewayToken: string | undefined;
  /** `OPENCLAW_GATEWAY_TRUST_PROXY`: `true` on Fly (its fly.toml sets it), overriding `gateway.trustProxy`. */
  readonly trustProxy: string | undefined;
  /** `LOG_LEVEL` / `OPENCLAW_LOG_LEVEL`. */
  readonly logLevel: string | undefined;
  /** Every variable, for `${env:NAME}` interpolation in config strings. */
  readonly variables: Readonly<Record<string, string | undefined>>;
}

/** Well-known credential variables that `doctor` reports on (masked). */
export const CREDENTIAL_VARIABLES = [
  "OPENCLAW_GATEWAY_TOKEN",
  "ANTHROPIC_API_KEY",
  "OPENAI_API_KEY",
  "TELEGRAM_BOT_TOKEN",
  "DISCORD_BOT_TOKEN",
  "FAVCRM_API_KEY",
] as const;

/** Read the environment once. Pass a record in tests. */
export function readEnvironment(source: NodeJS.ProcessEnv = process.env): Environment {
  const variables = Object.freeze({ ...source });
  return Object.freeze({
    stateDir: nonEmpty(source.OPENCLAW_STATE_DIR),
    gatewayPort: nonEmpty(source.OPENCLAW_GATEWAY_PORT),
    gatewayToken: nonEmpty(source.OPENCLAW_GATEWAY_TOKEN),
    trustProxy: nonEmpty(source.OPENCLAW_GATEWAY_TRUST_PROXY),
    logLevel: nonEmpty(source.OPENCLAW_LOG_LEVEL) ?? nonEmpty(source.LOG_LEVEL),
    variables,
  });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}
