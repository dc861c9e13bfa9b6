import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { maskSecret } from "../../config/index.ts";
import { FaradayError } from "../../errors/index.ts";
import { writeFileAtomic } from "../../state/index.ts";
import { faradayVersion } from "../../version.ts";
import { checkContainerConsistency } from "../container-check.ts";
import { pickAppMachine, type FlyMachine } from "./app-machine.ts";
import { checkFlyAppName } from "./app-name.ts";
import { readDeployRecord, writeDeployRecord, type DeployRecord } from "./deploy-store.ts";
import { createFlyctl, flyError, type FlyClient } from "./flyctl.ts";
import { readDeployedVersion } from "./gateway-version.ts";
import { machineSize } from "./machine-size.ts";
import { readDeployInput } from "./read-deploy-input.ts";
import { checkSecretValue, secretHash } from "./secret-value.ts";

export { secretsNeeded, WEBHOOK_SECRET_NAME, withWebhookSecretReference } from "./read-deploy-input.ts";
import { WEBHOOK_SECRET_NAME } from "./read-deploy-input.ts";

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
  /** `deploy update`: snapshot the volume, then rebuild and redeploy even when nothing changed. */
  readonly redeploy?: boolean;
  /** Where fly.toml is written (the current directory; the launcher: its directory for the app). */
  readonly cwd: string;
  /** The Faraday package root: Dockerfile (the build context), deploy/fly.toml.template. */
  readonly packageRoot: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** What to do when the gateway refuses the token (the CLI: fix .env; the launcher says its own). */
  readonly tokenMismatchHint?: string;
  /**
   * Secrets set again even when this computer set the same value last time (the launcher's
   * update re-sets its gateway token, so a token changed on Fly by other means is put back).
   */
  readonly resendSecrets?: readonly string[];
}

/** `passed`: a check (preflight, health, version) that found nothing wrong; it changes nothing. */
export type StepStatus = "started" | "done" | "unchanged" | "passed" | "planned" | "failed";

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
  /** The gateway token; the CLI masks it unless --show-token. Undefined on a dry run that would generate one. */
  readonly gatewayToken: string | undefined;
  /** The version answering /api/status after the run. */
  readonly version?: string;
  readonly ready?: unknown;
}

export const VOLUME_NAME = "faraday_data";
export const FLY_TOML_MARKER = "# Rendered by `faraday deploy fly`";
const DEFAULT_TOKEN_HINT = "put the app's OPENCLAW_GATEWAY_TOKEN in .env (or the environment)";

export function renderFlyToml(template: string, values: { app: string; region: string; memoryMb: number; volumeName: string }): string {
  const { cpus } = machineSize(values.memoryMb);
  const heapMb = Math.max(64, Math.round(values.memoryMb * 0.6));
  return `${FLY_TOML_MARKER} for ${values.app}; edit the template (deploy/fly.toml.template) instead.\n` + template
    .replaceAll("{{app}}", values.app)
    .replaceAll("{{region}}", values.region)
    .replaceAll("{{memoryMb}}", String(values.memoryMb))
    .replaceAll("{{cpus}}", String(cpus))
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
 * with the same input changes nothing on Fly (every step first looks at what exists, secrets are
 * compared with the hashes in the local deploy record); a run that failed resumes where it
 * stopped. Secrets only ever travel on flyctl's stdin, one `secrets set NAME=- --stage` each.
 */
export async function deployFly(options: DeployFlyOptions, emit: (event: DeployEvent) => void): Promise<DeployResult> {
  // A rerun without --region/--memory (e.g. `deploy update`) keeps what the app was launched with:
  // defaulting to iad would render a fly.toml for iad and create a second volume there.
  let record: DeployRecord | undefined = await readDeployRecord(options.env, options.app);
  const region = options.region ?? record?.region ?? "iad";
  const memoryMb = options.memoryMb ?? record?.memoryMb ?? 256;
  const volumeSizeGb = options.volumeSizeGb ?? 1;
  const url = (options.url ?? `https://${options.app}.fly.dev`).replace(/\/$/, "");
  const context = { app: options.app, region };
  const localVersion = faradayVersion();
  let changed = false;
  /** Every secret value seen so far: scrubbed from any error text flyctl echoes back. */
  const secretValues: string[] = [];
  const scrub = (text: string) => secretValues.reduce((result, value) => (value.length >= 4 ? result.split(value).join(maskSecret(value)) : result), text);
  const remember = async (change: Partial<DeployRecord>) => {
    record = { ...record, app: options.app, url, region, memoryMb, ...change };
    await writeDeployRecord(options.env, record);
  };

  async function step<T>(name: string, run: () => Promise<{ status: "done" | "unchanged" | "passed" | "planned"; detail?: string; value?: T }>): Promise<T | undefined> {
    const started = performance.now();
    emit({ event: "step", step: name, status: "started" });
    try {
      const outcome = await run();
      if (outcome.status === "done") changed = true;
      emit({ event: "step", step: name, status: outcome.status, ms: Math.round(performance.now() - started), ...(outcome.detail ? { detail: outcome.detail } : {}) });
      return outcome.value;
    } catch (error) {
      const original = error instanceof FaradayError ? error : new FaradayError("FLY_COMMAND_FAILED", (error as Error).message);
      const known = new FaradayError(original.code, scrub(original.message));
      emit({ event: "step", step: name, status: "failed", ms: Math.round(performance.now() - started), error: { code: known.code, message: known.message } });
      throw known;
    }
  }

  // 1. preflight: nothing on Fly changes here
  const prepared = (await step("preflight", async () => {
    checkFlyAppName(options.app);
    machineSize(memoryMb);
    const fly = await createFlyctl(options.env);
    const whoami = await fly.run(["auth", "whoami"]);
    if (whoami.exitCode !== 0) throw flyError({ ...whoami, stderr: whoami.stderr || "not logged in" }, { command: "auth whoami" });
    const input = await readDeployInput({ cwd: options.cwd, env: options.env, ...(options.envFile ? { envFile: options.envFile } : {}), ...(options.configFile ? { configFile: options.configFile } : {}), ...(record?.telegramWebhookSecret ? { rememberedWebhookSecret: record.telegramWebhookSecret } : {}) });
    secretValues.push(...Object.values(input.secrets));
    const webhookNote = input.webhookSecret ? `; the Telegram webhook's secret is ${WEBHOOK_SECRET_NAME}` : "";
    return { status: "passed", detail: `flyctl ${fly.binary}; ${input.configFile ? `config ${input.configFile}` : "no config (defaults)"}; ${Object.keys(input.secrets).length} secret(s)${webhookNote}`, value: { fly, ...input } };
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
    return { status: "done", detail: `created ${options.app} in ${options.org ?? "personal"}` };
  });

  // 3. volume
  const volumeId = await step<string>("volume", async () => {
    const existing = options.dryRun && changed ? [] : await json<Array<{ name?: string; region?: string; id?: string }>>(fly, ["volumes", "list", "-a", options.app, "--json"], { command: "volumes list", ...context }).catch((error) => {
      if (options.dryRun) return [];
      throw error;
    });
    const found = existing.find((volume) => volume.name === VOLUME_NAME && volume.region === region);
    if (found) return { status: "unchanged", detail: `${VOLUME_NAME} (${found.id}) in ${region}`, ...(found.id ? { value: found.id } : {}) };
    const args = ["volumes", "create", VOLUME_NAME, "-a", options.app, "-r", region, "-s", String(volumeSizeGb), "-y", "--json"];
    if (options.dryRun) return { status: "planned", detail: `flyctl ${args.join(" ")}` };
    const created = await json<{ id?: string }>(fly, args, { command: "volumes create", ...context });
    return { status: "done", detail: `created ${VOLUME_NAME} (${volumeSizeGb} GB) in ${region}`, ...(created?.id ? { value: created.id } : {}) };
  });

  // 3b. snapshot (update only): a point to go back to before the new image touches the volume
  if (options.redeploy) {
    await step("snapshot", async () => {
      if (!volumeId) return { status: "unchanged", detail: "no volume yet: nothing to snapshot" };
      const args = ["volumes", "snapshots", "create", volumeId, "-a", options.app];
      if (options.dryRun) return { status: "planned", detail: `flyctl ${args.join(" ")}` };
      const result = await fly.run(args);
      if (result.exitCode !== 0) throw flyError(result, { command: "volumes snapshots create", ...context });
      return { status: "done", detail: `snapshot of ${volumeId} scheduled (flyctl volumes snapshots list ${volumeId} -a ${options.app})` };
    });
  }

  // 4. secrets — each changed one on its own `secrets set NAME=- --stage`, the value on stdin
  const gatewayToken = await step<string>("secrets", async () => {
    const listed = await json<Array<{ name?: string; Name?: string }>>(fly, ["secrets", "list", "-a", options.app, "--json"], { command: "secrets list", ...context }).catch((error) => {
      if (options.dryRun) return [];
      throw error;
    });
    const onFly = new Set((listed ?? []).map((entry) => entry.name ?? entry.Name ?? ""));
    let token = secrets.OPENCLAW_GATEWAY_TOKEN ?? record?.gatewayToken;
    const generate = !token;
    if (generate && !options.dryRun) token = randomBytes(32).toString("base64url");
    if (token) {
      checkSecretValue("OPENCLAW_GATEWAY_TOKEN", token);
      secretValues.push(token);
    }
    const desired: Record<string, string> = { ...secrets, ...(token ? { OPENCLAW_GATEWAY_TOKEN: token } : {}) };
    const hashes = record?.secretHashes ?? {};
    // Fly's digests are not a contract: a secret is unchanged when Fly has the name and this
    // computer set exactly this value last time.
    const toSet = Object.entries(desired).filter(([name, value]) => !onFly.has(name) || hashes[name] !== secretHash(value) || options.resendSecrets?.includes(name));
    if (generate && options.dryRun) {
      return { status: "planned", detail: `flyctl secrets set NAME=- --stage -a ${options.app} for ${[...toSet.map(([name]) => name), "OPENCLAW_GATEWAY_TOKEN (generated on the real run)"].join(", ")}; values on stdin` };
    }
    if (toSet.length === 0) return { status: "unchanged", detail: `${Object.keys(desired).length} secret(s) already set`, value: token };
    const names = toSet.map(([name]) => name).join(", ");
    if (options.dryRun) return { status: "planned", detail: `flyctl secrets set NAME=- --stage -a ${options.app} for ${names}; values on stdin`, value: token };
    if (generate || record?.gatewayToken !== token) await remember({ gatewayToken: token! });
    // Kept on this computer so a rerun stages the same value (an unchanged secret redeploys nothing).
    if (webhookSecret && record?.telegramWebhookSecret !== webhookSecret) await remember({ telegramWebhookSecret: webhookSecret });
    for (const [name, value] of toSet) {
      const result = await fly.run(["secrets", "set", `${name}=-`, "-a", options.app, "--stage"], { stdin: value });
      if (result.exitCode !== 0) throw flyError(result, { command: `secrets set ${name}=-`, ...context });
      await remember({ secretHashes: { ...record?.secretHashes, [name]: secretHash(value) } });
    }
    return { status: "done", detail: `staged ${names}${generate ? " (generated OPENCLAW_GATEWAY_TOKEN)" : ""}`, value: token };
  });
  if (!options.dryRun && (record?.region !== region || record?.memoryMb !== memoryMb || record?.url !== url)) await remember({});

  // 5. fly.toml — no [build] section: the Dockerfile goes by absolute path on the command line
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
    return { status: "done", detail: `wrote ${flyTomlPath} (${memoryMb} MB, ${machineSize(memoryMb).cpus} shared CPU, ${region})` };
  });

  // 6. deploy — skipped when nothing changed, the gateway's machine runs and answers this version
  await step("deploy", async () => {
    if (!changed && !options.dryRun && !options.redeploy) {
      const machines = await json<FlyMachine[]>(fly, ["machines", "list", "-a", options.app, "--json"], { command: "machines list", ...context });
      if (pickAppMachine(machines ?? [])?.state === "started") {
        const deployed = await readDeployedVersion(url, gatewayToken);
        if (deployed.version === undefined || deployed.version === localVersion) {
          return { status: "unchanged", detail: `nothing changed; the machine is running${deployed.version ? ` version ${deployed.version}` : ""}` };
        }
      }
    }
    // WORKING_DIRECTORY = the package (the build context); fly.toml and the Dockerfile by absolute path.
    const args = ["deploy", options.packageRoot, "-a", options.app, "--config", flyTomlPath, "--dockerfile", join(options.packageRoot, "Dockerfile"), "--ha=false", "--strategy", "immediate", "--remote-only", "-y"];
    if (options.dryRun) return { status: "planned", detail: `flyctl ${args.join(" ")}` };
    const result = await fly.run(args, { cwd: options.cwd });
    if (result.exitCode !== 0) throw flyError(result, { command: "deploy", ...context });
    return { status: "done", detail: `deployed version ${localVersion}` };
  });

  if (options.dryRun) {
    for (const [name, detail] of [["health", `poll ${url}/healthz`], ["version", `GET ${url}/api/status answers ${localVersion}`], ["config", `PUT ${url}/api/config`]] as const) {
      emit({ event: "step", step: name, status: "planned", detail });
    }
    return { ok: true, app: options.app, url, dashboard: `${url}/`, gatewayToken };
  }

  // 7. health (a check)
  await step("health", async () => {
    const deadline = Date.now() + (options.healthTimeoutMs ?? 5 * 60_000);
    let last = "no answer";
    while (Date.now() < deadline) {
      try {
        const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) });
        await response.body?.cancel();
        if (response.ok) return { status: "passed", detail: `${url}/healthz 200` };
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

  // 8. version (a check): the gateway answering is the one just built
  const version = await step<string>("version", async () => {
    const deployed = await readDeployedVersion(url, gatewayToken);
    if (deployed.version === undefined && /HTTP 401\b/.test(deployed.problem)) {
      throw new FaradayError("AUTH_INVALID", `the gateway refused the token (${deployed.problem}): it does not match the app's OPENCLAW_GATEWAY_TOKEN secret; ${options.tokenMismatchHint ?? DEFAULT_TOKEN_HINT}`);
    }
    if (deployed.version === undefined) throw new FaradayError("GATEWAY_UNREACHABLE", `could not read the deployed version: ${deployed.problem}`);
    if (deployed.version !== localVersion) {
      throw new FaradayError("DEPLOY_VERSION_MISMATCH", `${url} answers version ${deployed.version}, but this deploy built ${localVersion}: the old machine may still be serving. Check \`flyctl status -a ${options.app}\`, then run \`faraday deploy update --app ${options.app}\` again`);
    }
    return { status: "passed", detail: `${url}/api/status answers ${deployed.version}`, value: deployed.version };
  });

  // 9. config
  await step("config", async () => pushConfig({ app: options.app, url, token: gatewayToken!, raw: prepared.raw, fly, tokenMismatchHint: options.tokenMismatchHint ?? DEFAULT_TOKEN_HINT }));

  let ready: unknown;
  try {
    ready = await (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5_000) })).json();
  } catch {
    ready = undefined;
  }
  return { ok: true, app: options.app, url, dashboard: `${url}/`, gatewayToken, ...(version ? { version } : {}), ready };
}

/**
 * Push openclaw.json through the gateway's authenticated PUT /api/config; if the endpoint cannot
 * be reached, write it over `ssh console` (atomically, owned by the gateway's user). When the
 * gateway refuses it with CONFIG_COMMAND_FORBIDDEN (it adds or changes an MCP server's command),
 * write it the same way and restart the machine: Fly credentials, not the gateway token, are what
 * may put a new program on the volume.
 */
export async function pushConfig(input: { app: string; url: string; token: string; raw: unknown; fly: FlyClient; tokenMismatchHint?: string }): Promise<{ status: "done" | "unchanged"; detail: string }> {
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
      throw new FaradayError("DEPLOY_CONFIG_PUSH_FAILED", `the gateway refused the config (HTTP ${response.status} ${body.error?.code ?? ""}): ${problems ?? body.error?.message ?? ""}${response.status === 401 ? `. The token does not match the app's OPENCLAW_GATEWAY_TOKEN secret: ${input.tokenMismatchHint ?? DEFAULT_TOKEN_HINT}` : ""}`);
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
