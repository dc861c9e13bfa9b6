import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { maskSecret, newWebhookSecret, validateConfig, type FaradayConfig } from "../../config/index.ts";
import { FaradayError } from "../../errors/index.ts";
import { writeFileAtomic } from "../../state/index.ts";
import { checkContainerConsistency } from "../container-check.ts";
import { readEnvFile } from "./env-file.ts";
import { readDeployRecord, writeDeployRecord } from "./deploy-store.ts";
import { createFlyctl, flyError, type FlyClient } from "./flyctl.ts";

export interface DeployFlyOptions {
  readonly app: string;
  readonly org?: string;
  readonly region?: string;
  readonly volumeSizeGb?: number;
  readonly memoryMb?: number;
  readonly configFile?: string;
  readonly envFile?: string;
  readonly url?: string;
  readonly dryRun?: boolean;
  readonly force?: boolean;
  readonly healthTimeoutMs?: number;
  /** `deploy update`: rebuild and redeploy even when nothing changed. */
  readonly redeploy?: boolean;
  /** Where fly.toml is written (the current directory). */
  readonly cwd: string;
  /** The Faraday package root: Dockerfile, deploy/fly.toml.template. */
  readonly packageRoot: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export type StepStatus = "started" | "done" | "unchanged" | "planned" | "failed";

/** One line of progress; `--json` prints these as they happen. Never carries a secret value. */
export interface DeployEvent {
  readonly event: "step";
  readonly step: string;
  readonly status: StepStatus;
  readonly detail?: string;
  readonly ms?: number;
  readonly error?: { readonly code: string; readonly message: string };
}

export interface DeployResult {
  readonly ok: boolean;
  readonly app: string;
  readonly url: string;
  readonly dashboard: string;
  /** The gateway token; the CLI masks it unless --show-token. */
  readonly gatewayToken: string | undefined;
  readonly ready?: unknown;
}

export const VOLUME_NAME = "faraday_data";
export const FLY_TOML_MARKER = "# Rendered by `faraday deploy fly`";

const sha256 = (value: string) => createHash("sha256").update(value).digest("hex");

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

/** Credentials passed along when present even if the config does not name them. */
const OPTIONAL_SECRETS = ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN", "FAVCRM_API_KEY", "OPENCLAW_GATEWAY_TOKEN"];

export function renderFlyToml(template: string, values: { app: string; region: string; memoryMb: number; volumeName: string }): string {
  const heapMb = Math.max(64, Math.round(values.memoryMb * 0.6));
  return `${FLY_TOML_MARKER} for ${values.app}; edit the template (deploy/fly.toml.template) instead.\n` + template
    .replaceAll("{{app}}", values.app)
    .replaceAll("{{region}}", values.region)
    .replaceAll("{{memoryMb}}", String(values.memoryMb))
    .replaceAll("{{heapMb}}", String(heapMb))
    .replaceAll("{{volumeName}}", values.volumeName);
}

async function json<T>(fly: FlyClient, args: string[], context: { command: string; app?: string; region?: string }): Promise<T> {
  const result = await fly.run(args);
  if (result.exitCode !== 0) throw flyError(result, context);
  try {
    return JSON.parse(result.stdout || "null") as T;
  } catch {
    throw new FaradayError("FLY_COMMAND_FAILED", `\`flyctl ${context.command}\` printed something that is not JSON; is flyctl up to date? (flyctl version)`);
  }
}

/**
 * `faraday deploy fly`: from nothing to a running gateway, one idempotent step at a time. A rerun
 * with the same input creates nothing; a run that failed resumes where it stopped (every step
 * first looks at what exists). Secrets only ever travel on flyctl's stdin.
 */
export async function deployFly(options: DeployFlyOptions, emit: (event: DeployEvent) => void): Promise<DeployResult> {
  // A rerun without --region/--memory (e.g. `deploy update`) keeps what the app was launched with:
  // defaulting to iad would render a fly.toml for iad and create a second volume there.
  const remembered = await readDeployRecord(options.env, options.app);
  const region = options.region ?? remembered?.region ?? "iad";
  const memoryMb = options.memoryMb ?? remembered?.memoryMb ?? 256;
  const volumeSizeGb = options.volumeSizeGb ?? 1;
  const url = (options.url ?? `https://${options.app}.fly.dev`).replace(/\/$/, "");
  const context = { app: options.app, region };
  let changed = false;
  /** Every secret value seen so far: scrubbed from any error text flyctl echoes back. */
  const secretValues: string[] = [];
  const scrub = (text: string) => secretValues.reduce((result, value) => (value.length >= 4 ? result.split(value).join(maskSecret(value)) : result), text);

  async function step<T>(name: string, run: () => Promise<{ status: "done" | "unchanged" | "planned"; detail?: string; value?: T }>): Promise<T | undefined> {
    const started = performance.now();
    emit({ event: "step", step: name, status: "started" });
    try {
      const outcome = await run();
      // Preflight and the checks after the deploy change nothing on Fly.
      if (outcome.status === "done" && name !== "preflight") changed = true;
      emit({ event: "step", step: name, status: outcome.status, ms: Math.round(performance.now() - started), ...(outcome.detail ? { detail: outcome.detail } : {}) });
      return outcome.value;
    } catch (error) {
      const original = error instanceof FaradayError ? error : new FaradayError("FLY_COMMAND_FAILED", (error as Error).message);
      const known = new FaradayError(original.code, scrub(original.message));
      emit({ event: "step", step: name, status: "failed", ms: Math.round(performance.now() - started), error: { code: known.code, message: known.message } });
      throw known;
    }
  }

  // 1. preflight
  const prepared = (await step("preflight", async () => {
    const fly = await createFlyctl(options.env);
    const whoami = await fly.run(["auth", "whoami"]);
    if (whoami.exitCode !== 0) throw flyError({ ...whoami, stderr: whoami.stderr || "not logged in" }, { command: "auth whoami" });
    const envFile = options.envFile ?? (existsSync(join(options.cwd, ".env")) ? join(options.cwd, ".env") : undefined);
    const fileValues = envFile ? await readEnvFile(resolve(options.cwd, envFile)) : {};
    const configFile = options.configFile ?? (existsSync(join(options.cwd, "openclaw.json")) ? join(options.cwd, "openclaw.json") : undefined);
    let raw: unknown;
    let config: FaradayConfig | undefined;
    let webhookSecret: string | undefined;
    if (configFile) {
      raw = JSON.parse(await readFile(resolve(options.cwd, configFile), "utf8"));
      const referenced = withWebhookSecretReference(raw);
      if (referenced) {
        // Kept on this computer so a rerun stages the same value (an unchanged secret redeploys nothing).
        webhookSecret = fileValues[WEBHOOK_SECRET_NAME] ?? options.env[WEBHOOK_SECRET_NAME] ?? remembered?.telegramWebhookSecret ?? newWebhookSecret();
        fileValues[WEBHOOK_SECRET_NAME] = webhookSecret;
        raw = referenced;
      }
      const values = { ...options.env, ...fileValues };
      const state = await validateConfig(raw, values, configFile);
      if (state.state !== "valid") {
        throw new FaradayError("CONFIG_INVALID", `${configFile} has problems:\n${state.problems.map((problem) => `  ${problem.path || "(file)"}: ${problem.message}`).join("\n")}`);
      }
      config = state.config;
    }
    const needed = secretsNeeded(config, raw);
    const secrets: Record<string, string> = {};
    const missing: string[] = [];
    for (const [name, why] of needed) {
      const value = fileValues[name] ?? options.env[name];
      if (value) secrets[name] = value;
      else missing.push(`${name} (${why})`);
    }
    if (missing.length) {
      throw new FaradayError("DEPLOY_SECRET_MISSING", `missing secrets: ${missing.join(", ")}. Put them in ${envFile ?? ".env"} (NAME=value lines) or the environment; they go to Fly through stdin, never the command line`);
    }
    for (const name of OPTIONAL_SECRETS) {
      const value = fileValues[name] ?? (name === "OPENCLAW_GATEWAY_TOKEN" ? undefined : options.env[name]);
      if (value && !secrets[name]) secrets[name] = value;
    }
    for (const [name, value] of Object.entries(fileValues)) secrets[name] ??= value;
    for (const [name, value] of Object.entries(secrets)) {
      // One NAME=VALUE line each on stdin: a line break inside a value would split it (and flyctl echoes bad lines).
      if (/[\r\n]/.test(value)) throw new FaradayError("DEPLOY_SECRET_MISSING", `the value of ${name} contains a line break; secrets must be one line`);
      secretValues.push(value);
    }
    const webhookNote = webhookSecret ? `; the Telegram webhook's secret is ${WEBHOOK_SECRET_NAME}` : "";
    return { status: "done", detail: `flyctl ${fly.binary}; ${configFile ? `config ${configFile}` : "no config (defaults)"}; ${Object.keys(secrets).length} secret(s)${webhookNote}`, value: { fly, secrets, raw, webhookSecret } };
  }))!;
  const { fly, secrets, webhookSecret } = prepared;

  // 2. app
  await step("app", async () => {
    const apps = await json<Array<{ Name?: string; name?: string }>>(fly, ["apps", "list", "--json"], { command: "apps list" });
    if (apps.some((entry) => (entry.Name ?? entry.name) === options.app)) return { status: "unchanged", detail: `${options.app} exists` };
    const args = ["apps", "create", options.app, "--org", options.org ?? "personal", "--json"];
    if (options.dryRun) return { status: "planned", detail: `flyctl ${args.join(" ")}` };
    const result = await fly.run(args);
    if (result.exitCode !== 0) throw flyError(result, { command: "apps create", ...context });
    return { status: "done", detail: `created ${options.app}` };
  });

  // 3. volume
  await step("volume", async () => {
    const existing = options.dryRun && changed ? [] : await json<Array<{ name?: string; region?: string; id?: string }>>(fly, ["volumes", "list", "-a", options.app, "--json"], { command: "volumes list", ...context }).catch((error) => {
      if (options.dryRun) return [];
      throw error;
    });
    const found = existing.find((volume) => volume.name === VOLUME_NAME && volume.region === region);
    if (found) return { status: "unchanged", detail: `${VOLUME_NAME} (${found.id}) in ${region}` };
    const args = ["volumes", "create", VOLUME_NAME, "-a", options.app, "-r", region, "-s", String(volumeSizeGb), "-y", "--json"];
    if (options.dryRun) return { status: "planned", detail: `flyctl ${args.join(" ")}` };
    const result = await fly.run(args);
    if (result.exitCode !== 0) throw flyError(result, { command: "volumes create", ...context });
    return { status: "done", detail: `created ${VOLUME_NAME} (${volumeSizeGb} GB) in ${region}` };
  });

  // 4. secrets — only changed ones, all at once on stdin, staged (one deploy later, not one per secret)
  const gatewayToken = await step<string>("secrets", async () => {
    const listed = options.dryRun ? await fly.run(["secrets", "list", "-a", options.app, "--json"]).then((result) => (result.exitCode === 0 ? JSON.parse(result.stdout || "[]") : []), () => [])
      : await json<Array<{ name?: string; Name?: string; digest?: string; Digest?: string }>>(fly, ["secrets", "list", "-a", options.app, "--json"], { command: "secrets list", ...context });
    const digests = new Map<string, string>((listed as Array<{ name?: string; Name?: string; digest?: string; Digest?: string }>).map((entry) => [entry.name ?? entry.Name ?? "", entry.digest ?? entry.Digest ?? ""]));
    const record = await readDeployRecord(options.env, options.app);
    let token = secrets.OPENCLAW_GATEWAY_TOKEN ?? record?.gatewayToken;
    let generated = false;
    if (!token) {
      token = randomBytes(32).toString("base64url");
      generated = true;
    }
    secretValues.push(token);
    const desired: Record<string, string> = { ...secrets, OPENCLAW_GATEWAY_TOKEN: token };
    const toImport = Object.entries(desired).filter(([name, value]) => digests.get(name) !== sha256(value));
    if (toImport.length === 0) return { status: "unchanged", detail: `${Object.keys(desired).length} secret(s) already set`, value: token };
    const names = toImport.map(([name]) => name).join(", ");
    if (options.dryRun) return { status: "planned", detail: `flyctl secrets import -a ${options.app} --stage  (stdin: ${names}, values hidden)`, value: token };
    const result = await fly.run(["secrets", "import", "-a", options.app, "--stage"], { stdin: toImport.map(([name, value]) => `${name}=${value}`).join("\n") + "\n" });
    if (result.exitCode !== 0) throw flyError(result, { command: "secrets import", ...context });
    if (generated || record?.gatewayToken !== token || record?.region !== region || record?.memoryMb !== memoryMb || (webhookSecret && record?.telegramWebhookSecret !== webhookSecret)) {
      const kept = webhookSecret ?? record?.telegramWebhookSecret;
      await writeDeployRecord(options.env, { app: options.app, gatewayToken: token, url, region, memoryMb, ...(kept ? { telegramWebhookSecret: kept } : {}) });
    }
    return { status: "done", detail: `staged ${names}${generated ? " (generated OPENCLAW_GATEWAY_TOKEN)" : ""}`, value: token };
  });

  // 5. fly.toml
  const flyTomlPath = join(options.cwd, "fly.toml");
  await step("fly.toml", async () => {
    const template = await readFile(join(options.packageRoot, "deploy", "fly.toml.template"), "utf8");
    const rendered = renderFlyToml(template, { app: options.app, region, memoryMb, volumeName: VOLUME_NAME });
    const dockerfile = await readFile(join(options.packageRoot, "Dockerfile"), "utf8");
    const problems = checkContainerConsistency({ dockerfile, flyToml: rendered.replace(/^#.*\n/, "") });
    if (problems.length) throw new FaradayError("FLY_COMMAND_FAILED", `the rendered fly.toml disagrees with the Dockerfile: ${problems.map((problem) => problem.message).join("; ")}`);
    const current = existsSync(flyTomlPath) ? await readFile(flyTomlPath, "utf8") : undefined;
    if (current === rendered) return { status: "unchanged", detail: flyTomlPath };
    if (current !== undefined && !current.startsWith(FLY_TOML_MARKER) && !options.force) {
      throw new FaradayError("DEPLOY_FLY_TOML_EXISTS", `${flyTomlPath} exists and was not written by faraday; pass --force to replace it, or run from another directory`);
    }
    if (options.dryRun) return { status: "planned", detail: `write ${flyTomlPath}` };
    await writeFileAtomic(flyTomlPath, rendered);
    return { status: "done", detail: `wrote ${flyTomlPath} (${memoryMb} MB, ${region})` };
  });

  // 6. deploy — skipped when nothing changed and a machine is already running
  await step("deploy", async () => {
    if (!changed && !options.dryRun && !options.redeploy) {
      const status = await fly.run(["status", "-a", options.app, "--json"]);
      const machines = status.exitCode === 0 ? (JSON.parse(status.stdout || "{}") as { Machines?: Array<{ state?: string }> }).Machines ?? [] : [];
      if (machines.some((machine) => machine.state === "started")) return { status: "unchanged", detail: "nothing changed; the machine is running" };
    }
    const args = ["deploy", options.packageRoot, "-a", options.app, "--config", flyTomlPath, "--dockerfile", join(options.packageRoot, "Dockerfile"), "--ha=false", "--strategy", "immediate", "--remote-only", "-y"];
    if (options.dryRun) return { status: "planned", detail: `flyctl ${args.join(" ")}` };
    const result = await fly.run(args, { cwd: options.cwd });
    if (result.exitCode !== 0) throw flyError(result, { command: "deploy", ...context });
    return { status: "done", detail: "deployed" };
  });

  if (options.dryRun) {
    emit({ event: "step", step: "health", status: "planned", detail: `poll ${url}/healthz` });
    emit({ event: "step", step: "config", status: "planned", detail: `PUT ${url}/api/config` });
    return { ok: true, app: options.app, url, dashboard: `${url}/`, gatewayToken };
  }

  // 7. health
  await step("health", async () => {
    const deadline = Date.now() + (options.healthTimeoutMs ?? 5 * 60_000);
    let last = "no answer";
    while (Date.now() < deadline) {
      try {
        const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) });
        if (response.ok) return { status: "unchanged", detail: `${url}/healthz 200` };
        last = `HTTP ${response.status}`;
      } catch (error) {
        last = (error as Error).message;
      }
      await new Promise((resolveWait) => setTimeout(resolveWait, 1_000));
    }
    const logs = await fly.run(["logs", "-a", options.app, "--no-tail"]).catch(() => ({ stdout: "", stderr: "", exitCode: 1 }));
    const tail = logs.stdout.trim().split("\n").slice(-20).join("\n");
    throw new FaradayError("FLY_HEALTH_TIMEOUT", `the gateway did not answer ${url}/healthz in time (${last}). Last log lines:\n${tail || "(none)"}\nFix what they show, then run this again (it resumes)`);
  });

  // 8. config
  await step("config", async () => pushConfig({ ...options, url, token: gatewayToken!, raw: prepared.raw, fly }));

  let ready: unknown;
  try {
    ready = await (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5_000) })).json();
  } catch {
    ready = undefined;
  }
  return { ok: true, app: options.app, url, dashboard: `${url}/`, gatewayToken, ready };
}

/**
 * Push openclaw.json through the gateway's authenticated PUT /api/config; if the endpoint cannot
 * be reached, write it over `ssh console` (atomically, owned by the gateway's user). When the
 * gateway refuses it with CONFIG_COMMAND_FORBIDDEN (it adds or changes an MCP server's command),
 * write it the same way and restart the machine: Fly credentials, not the gateway token, are what
 * may put a new program on the volume.
 */
export async function pushConfig(input: { app: string; url: string; token: string; raw: unknown; fly: FlyClient }): Promise<{ status: "done" | "unchanged"; detail: string }> {
  if (input.raw === undefined) return { status: "unchanged", detail: "no openclaw.json to push" };
  let response: Response | undefined;
  try {
    response = await fetch(`${input.url}/api/config`, {
      method: "PUT",
      headers: { authorization: `Bearer ${input.token}`, "content-type": "application/json" },
      body: JSON.stringify(input.raw),
      signal: AbortSignal.timeout(15_000),
    });
  } catch {
    response = undefined;
  }
  let commandForbidden = false;
  if (response) {
    const body = (await response.json().catch(() => ({}))) as { changed?: boolean; error?: { code?: string; message?: string; problems?: Array<{ path: string; message: string }> } };
    if (response.ok) return { status: body.changed ? "done" : "unchanged", detail: body.changed ? "config applied through PUT /api/config" : "config unchanged" };
    // The gateway refuses new programs to run over HTTP; whoever holds the Fly credentials writes the file itself.
    commandForbidden = response.status === 403 && body.error?.code === "CONFIG_COMMAND_FORBIDDEN";
    if (response.status !== 404 && !commandForbidden) {
      const problems = body.error?.problems?.map((problem) => `${problem.path}: ${problem.message}`).join("; ");
      throw new FaradayError("DEPLOY_CONFIG_PUSH_FAILED", `the gateway refused the config (HTTP ${response.status} ${body.error?.code ?? ""}): ${problems ?? body.error?.message ?? ""}${response.status === 401 ? ". The token does not match the app's OPENCLAW_GATEWAY_TOKEN secret: put the right one in .env" : ""}`);
    }
  }
  // Fallback: ssh console runs without a shell, so the shell is explicit; the file comes on stdin.
  const script = "umask 077 && cat > /data/openclaw.json.tmp && chown node:node /data/openclaw.json.tmp 2>/dev/null; mv /data/openclaw.json.tmp /data/openclaw.json";
  const result = await input.fly.run(["ssh", "console", "-a", input.app, "-C", `sh -c '${script}'`], { stdin: JSON.stringify(input.raw, null, 2) + "\n" });
  if (result.exitCode !== 0) throw flyError(result, { command: "ssh console", app: input.app });
  if (!commandForbidden) return { status: "done", detail: "config written over ssh console (the API was unreachable); the gateway reads it on restart" };
  const machines = await input.fly.run(["machines", "list", "-a", input.app, "--json"]);
  if (machines.exitCode !== 0) throw flyError(machines, { command: "machines list", app: input.app });
  const machine = (JSON.parse(machines.stdout || "[]") as Array<{ id?: string }>)[0]?.id;
  if (!machine) return { status: "done", detail: "config written over ssh console (it adds an MCP command, which the API refuses); the gateway reads it when it starts" };
  const restart = await input.fly.run(["machine", "restart", machine, "-a", input.app]);
  if (restart.exitCode !== 0) throw flyError(restart, { command: "machine restart", app: input.app });
  return { status: "done", detail: `config written over ssh console (it adds an MCP command, which the API refuses) and machine ${machine} restarted to read it` };
}

export { maskSecret };
