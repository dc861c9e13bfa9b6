export { readEnvironment, CREDENTIAL_VARIABLES } from "./environment.ts";
export type { Environment } from "./environment.ts";
export { loadConfigFile, validateConfig, configPath, CONFIG_FILE_NAME } from "./load-config.ts";
export type { ConfigState } from "./load-config.ts";
export type { ConfigProblem } from "./problems.ts";
export { formatProblems } from "./problems.ts";
export { structureProblems, MAX_CONFIG_DEPTH } from "./structure.ts";
export { maskSecret, maskSecrets, maskUrl, restoreMaskedSecrets, isSecretKey } from "./mask.ts";
export {
  resolveStateDir,
  resolveBindHost,
  resolvePort,
  setupModePort,
  configuredToken,
  resolveTrustProxy,
  DEFAULT_PORT,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
} from "./gateway-options.ts";
export type { GatewayFlags, TokenSource } from "./gateway-options.ts";
export type { FaradayConfig } from "./schema.ts";
export { loadConfigJsonSchema } from "./json-schema.ts";
export { fillWebhookSecret, newWebhookSecret } from "./webhook-secret.ts";
export { redactEnvValues } from "./redact-env.ts";
