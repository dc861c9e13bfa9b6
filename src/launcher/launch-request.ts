import { join } from "node:path";
import { checkFlyAppName, machineSize, MEMORY_CHOICES_MB, type DeployFlyOptions } from "../deploy/index.ts";
import { FaradayError } from "../errors/index.ts";

/** What the launcher's form sends. Secret fields are never stored or echoed. */
export interface LaunchForm {
  readonly app: string;
  /** The Fly organisation (slug) the app is created in. */
  readonly org: string;
  readonly region: string;
  readonly memoryMb: number;
  readonly provider: "anthropic" | "openai";
  readonly modelKey: string;
  readonly telegramToken?: string;
  readonly discordToken?: string;
  readonly whatsapp: boolean;
  readonly favcrmKey?: string;
}

/** Credential variables a deploy passes along when present: the launcher's form is their only source. */
export const CREDENTIAL_NAMES = ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN", "FAVCRM_API_KEY", "OPENCLAW_GATEWAY_TOKEN"] as const;

const REGION = /^[a-z]{3}$/;
/** Fly organisation slugs: lowercase letters, digits and dashes. */
const ORG_SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** The config file the launcher writes: not `openclaw.json`, so `update` (which passes no config) does not push it again. */
export const LAUNCHER_CONFIG_FILE = "launcher-config.json";

function text(body: Record<string, unknown>, name: string, label: string, required: boolean): string | undefined {
  const value = body[name];
  if (value === undefined || value === null || value === "") {
    if (required) throw new FaradayError("BAD_REQUEST", `${label} is required`);
    return undefined;
  }
  if (typeof value !== "string") throw new FaradayError("BAD_REQUEST", `${label} must be text`);
  const trimmed = value.trim();
  if (required && !trimmed) throw new FaradayError("BAD_REQUEST", `${label} is required`);
  // One NAME=VALUE line each on flyctl's stdin: a line break would split the value.
  if (/[\r\n]/.test(trimmed)) throw new FaradayError("BAD_REQUEST", `${label} must be one line`);
  return trimmed || undefined;
}

/** An app name a Fly app (and a file name) can have, or BAD_REQUEST. */
export function checkAppName(value: unknown): string {
  try {
    return checkFlyAppName(value);
  } catch {
    throw new FaradayError("BAD_REQUEST", "app name: 3–63 lowercase letters, digits and dashes, not starting or ending with a dash (Fly app names are global)");
  }
}

/**
 * Check the form's JSON body.
 * @throws FaradayError BAD_REQUEST naming the field and the fix.
 */
export function parseLaunchForm(input: unknown): LaunchForm {
  if (typeof input !== "object" || input === null) throw new FaradayError("BAD_REQUEST", "send the form as a JSON object");
  const body = input as Record<string, unknown>;
  const app = checkAppName(body.app);
  const region = text(body, "region", "region", false) ?? "iad";
  if (!REGION.test(region)) throw new FaradayError("BAD_REQUEST", `region "${region}" is not a Fly region code (three letters, e.g. iad, ams, sin)`);
  const org = text(body, "org", "Fly organisation", false) ?? "personal";
  if (!ORG_SLUG.test(org)) throw new FaradayError("BAD_REQUEST", `Fly organisation "${org}" is not an organisation slug (lowercase letters, digits and dashes; \`flyctl orgs list\` shows yours)`);
  const memory = body.memoryMb ?? 256;
  const memoryMb = typeof memory === "string" ? Number(memory) : memory;
  if (typeof memoryMb !== "number" || !Number.isInteger(memoryMb)) {
    throw new FaradayError("BAD_REQUEST", `memory "${String(memory)}" is not a whole number of MB (e.g. ${MEMORY_CHOICES_MB.join(", ")})`);
  }
  machineSize(memoryMb);
  const provider = body.provider ?? "anthropic";
  if (provider !== "anthropic" && provider !== "openai") throw new FaradayError("BAD_REQUEST", "model provider: anthropic or openai");
  const modelKey = text(body, "modelKey", `${provider === "anthropic" ? "Anthropic" : "OpenAI"} API key`, true)!;
  const telegramToken = text(body, "telegramToken", "Telegram bot token", false);
  const discordToken = text(body, "discordToken", "Discord bot token", false);
  const favcrmKey = text(body, "favcrmKey", "FavCRM API key", false);
  return {
    app, org, region, memoryMb, provider, modelKey, whatsapp: body.whatsapp === true || body.whatsapp === "on",
    ...(telegramToken ? { telegramToken } : {}),
    ...(discordToken ? { discordToken } : {}),
    ...(favcrmKey ? { favcrmKey } : {}),
  };
}

/**
 * The openclaw.json a launch pushes. Channels read their tokens from the environment (Fly
 * secrets), so the file holds no secret; with no model named, the gateway uses the provider whose key it has.
 */
export function launchConfig(form: LaunchForm): Record<string, unknown> {
  const channels: Record<string, unknown> = {};
  if (form.telegramToken) channels.telegram = { enabled: true };
  if (form.discordToken) channels.discord = { enabled: true };
  if (form.whatsapp) channels.whatsapp = { enabled: true };
  return { agents: { list: [{ id: "main", default: true }] }, channels };
}

/** The environment a deploy runs with: the launcher's own, minus every credential, plus the form's. */
export function deployEnvironment(base: Readonly<Record<string, string | undefined>>, form?: LaunchForm): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...base };
  for (const name of CREDENTIAL_NAMES) delete env[name];
  if (!form) return env;
  env[form.provider === "anthropic" ? "ANTHROPIC_API_KEY" : "OPENAI_API_KEY"] = form.modelKey;
  if (form.telegramToken) env.TELEGRAM_BOT_TOKEN = form.telegramToken;
  if (form.discordToken) env.DISCORD_BOT_TOKEN = form.discordToken;
  if (form.favcrmKey) env.FAVCRM_API_KEY = form.favcrmKey;
  return env;
}

/** The fix for a gateway that refuses the launcher's token: the launcher has no .env to edit. */
export function launcherTokenHint(app: string): string {
  return `the app's OPENCLAW_GATEWAY_TOKEN secret no longer matches the token this launcher keeps for ${app} (was it changed with flyctl?). Press Update: it sets the launcher's token on the app again and redeploys`;
}

export interface DeployContext {
  /** The launcher's environment (FLYCTL, PATH, HOME, FARADAY_HOME …). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The Faraday package root: Dockerfile, deploy/fly.toml.template. */
  readonly packageRoot: string;
  /** `$FARADAY_HOME/launcher/apps`: one working directory (fly.toml, the config) per app. */
  readonly appsDir: string;
  readonly url: string;
}

/**
 * The options `faraday deploy fly --app A --region R --memory M --config launcher-config.json --url U`
 * passes to deployFly, run in the app's own working directory; `update` is `deploy update`
 * (redeploy, no config, no credentials but the stored gateway token).
 */
export function deployOptions(
  target: { app: string; region: string; memoryMb: number; org?: string },
  context: DeployContext,
  mode: { form: LaunchForm } | { update: true },
): DeployFlyOptions {
  const cwd = join(context.appsDir, target.app);
  return {
    app: target.app,
    ...(target.org ? { org: target.org } : {}),
    region: target.region,
    memoryMb: target.memoryMb,
    url: context.url,
    // An update re-sets the launcher's gateway token: one that was changed on Fly is put back.
    ...("form" in mode ? { configFile: join(cwd, LAUNCHER_CONFIG_FILE) } : { redeploy: true, resendSecrets: ["OPENCLAW_GATEWAY_TOKEN"] }),
    dryRun: false,
    force: false,
    cwd,
    packageRoot: context.packageRoot,
    env: deployEnvironment(context.env, "form" in mode ? mode.form : undefined),
    tokenMismatchHint: launcherTokenHint(target.app),
  };
}
