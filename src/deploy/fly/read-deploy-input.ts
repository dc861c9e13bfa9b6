import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { newWebhookSecret, validateConfig, type FaradayConfig } from "../../config/index.ts";
import { FaradayError } from "../../errors/index.ts";
import { readEnvFile } from "./env-file.ts";
import { checkSecretValue } from "./secret-value.ts";

/** Credentials passed along when present even if the config does not name them. */
const OPTIONAL_SECRETS = ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN", "FAVCRM_API_KEY", "OPENCLAW_GATEWAY_TOKEN"];
/** The Fly secret a generated Telegram webhook secret is kept in; the pushed config names it. */
export const WEBHOOK_SECRET_NAME = "TELEGRAM_WEBHOOK_SECRET";

/**
 * A config with `channels.telegram.webhook.url` but no `secret` gets `${env:TELEGRAM_WEBHOOK_SECRET}`
 * (without one Telegram's webhook would accept forged updates from anyone, and the gateway refuses
 * such a config). Returns undefined when the config needs nothing.
 */
export function withWebhookSecretReference(raw: unknown): unknown {
  const webhook = (raw as { channels?: { telegram?: { webhook?: Record<string, unknown> } } } | undefined)?.channels?.telegram?.webhook;
  if (!webhook || typeof webhook !== "object" || typeof webhook.url !== "string" || webhook.secret !== undefined) return undefined;
  const root = raw as Record<string, Record<string, Record<string, unknown>>>;
  return {
    ...root,
    channels: { ...root.channels, telegram: { ...root.channels!.telegram, webhook: { ...webhook, secret: `\${env:${WEBHOOK_SECRET_NAME}}` } } },
  };
}

const secretNameFromEnvRef = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Secret names a config needs on the server, with a reason for each. */
export function secretsNeeded(config: FaradayConfig | undefined, raw: unknown): Map<string, string> {
  const needed = new Map<string, string>();
  const channels = config?.channels;
  if (channels?.discord && channels.discord.enabled !== false && !channels.discord.token) needed.set("DISCORD_BOT_TOKEN", "channels.discord is enabled");
  if (channels?.telegram && channels.telegram.enabled !== false && !channels.telegram.botToken) needed.set("TELEGRAM_BOT_TOKEN", "channels.telegram is enabled");
  const models = [config?.agents?.defaults?.model, ...(config?.agents?.list ?? []).map((agent) => agent.model)];
  for (const model of models) {
    const refs = typeof model === "string" ? [model] : model ? [model.primary, ...(model.fallbacks ?? [])] : [];
    for (const ref of refs) {
      if (ref.startsWith("anthropic/") && !config?.models?.providers?.anthropic?.apiKey) needed.set("ANTHROPIC_API_KEY", `model ${ref}`);
      if (ref.startsWith("openai/") && !config?.models?.providers?.openai?.apiKey) needed.set("OPENAI_API_KEY", `model ${ref}`);
    }
  }
  for (const match of JSON.stringify(raw ?? {}).matchAll(secretNameFromEnvRef)) needed.set(match[1]!, "referenced as ${env:…} in the config");
  return needed;
}

export interface DeployInput {
  readonly envFile: string | undefined;
  readonly configFile: string | undefined;
  /** The parsed openclaw.json to push, if any. */
  readonly raw: unknown;
  /** Every secret to set on Fly, by name (checked: Fly stores each exactly). */
  readonly secrets: Record<string, string>;
  /** The Telegram webhook secret the deploy supplies (generated or remembered), when the config needed one. */
  readonly webhookSecret?: string;
}

/**
 * Read what a deploy sends: `.env` (or --env-file), the config (or --config) and the secrets the
 * config needs.
 * @throws FaradayError CONFIG_MISSING / CONFIG_INVALID for the config file, DEPLOY_SECRET_MISSING,
 *   DEPLOY_SECRET_INVALID for a value Fly would not store exactly.
 */
export async function readDeployInput(options: {
  cwd: string;
  envFile?: string;
  configFile?: string;
  env: Readonly<Record<string, string | undefined>>;
  /** The webhook secret an earlier deploy generated (from the local deploy record). */
  rememberedWebhookSecret?: string;
}): Promise<DeployInput> {
  const envFile = options.envFile ? resolve(options.cwd, options.envFile) : existsSync(join(options.cwd, ".env")) ? join(options.cwd, ".env") : undefined;
  if (options.envFile && !existsSync(envFile!)) throw new FaradayError("CONFIG_MISSING", `--env-file ${options.envFile}: no such file (${envFile})`);
  const fileValues = envFile ? await readEnvFile(envFile) : {};
  const configFile = options.configFile ? resolve(options.cwd, options.configFile) : existsSync(join(options.cwd, "openclaw.json")) ? join(options.cwd, "openclaw.json") : undefined;
  let raw: unknown;
  let config: FaradayConfig | undefined;
  let webhookSecret: string | undefined;
  if (configFile) {
    let text: string;
    try {
      text = await readFile(configFile, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new FaradayError("CONFIG_MISSING", `--config ${options.configFile}: no such file (${configFile}). Write one (see deploy/openclaw.example.json), or leave --config out to deploy with defaults`);
      throw new FaradayError("CONFIG_UNREADABLE", `cannot read ${configFile}: ${(error as Error).message}`);
    }
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw new FaradayError("CONFIG_INVALID", `${configFile} is not valid JSON (${(error as Error).message}): fix it, then run this again (\`faraday config validate --file ${configFile}\` lists every problem)`);
    }
    const referenced = withWebhookSecretReference(raw);
    if (referenced) {
      webhookSecret = fileValues[WEBHOOK_SECRET_NAME] || options.env[WEBHOOK_SECRET_NAME] || options.rememberedWebhookSecret || newWebhookSecret();
      fileValues[WEBHOOK_SECRET_NAME] = webhookSecret;
      raw = referenced;
    }
    const state = await validateConfig(raw, { ...options.env, ...fileValues }, configFile);
    if (state.state !== "valid") {
      throw new FaradayError("CONFIG_INVALID", `${configFile} has problems:\n${state.problems.map((problem) => `  ${problem.path || "(file)"}: ${problem.message}`).join("\n")}`);
    }
    config = state.config;
  }
  const secrets: Record<string, string> = {};
  const missing: string[] = [];
  for (const [name, why] of secretsNeeded(config, raw)) {
    const value = fileValues[name] || options.env[name];
    if (value) secrets[name] = value;
    else missing.push(`${name} (${why})`);
  }
  if (missing.length) {
    throw new FaradayError("DEPLOY_SECRET_MISSING", `missing secrets: ${missing.join(", ")}. Put them in ${envFile ?? ".env"} (NAME=value lines) or the environment; they go to Fly through stdin, never the command line`);
  }
  for (const name of OPTIONAL_SECRETS) {
    const value = fileValues[name] || (name === "OPENCLAW_GATEWAY_TOKEN" ? undefined : options.env[name]);
    if (value && !secrets[name]) secrets[name] = value;
  }
  // Every non-empty .env entry is a secret for the app; an empty one (`NAME=`) is not sent.
  for (const [name, value] of Object.entries(fileValues)) if (value !== "") secrets[name] ??= value;
  for (const [name, value] of Object.entries(secrets)) checkSecretValue(name, value);
  return { envFile, configFile, raw, secrets, ...(webhookSecret ? { webhookSecret } : {}) };
}
