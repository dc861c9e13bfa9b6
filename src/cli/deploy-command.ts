import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline/promises";
import { fileURLToPath } from "node:url";
import { maskSecret, readEnvironment } from "../config/index.ts";
import { FaradayError } from "../errors/index.ts";
import type { DeployEvent } from "../deploy/index.ts";
import { writeFileAtomic } from "../state/index.ts";
import { printJson } from "./output.ts";

const PACKAGE_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const MARK: Record<string, string> = { done: "✓", unchanged: "✓", passed: "✓", planned: "·", failed: "✗" };

export interface DeployFlyFlags {
  app?: string;
  org?: string;
  region?: string;
  volumeSize?: string;
  memory?: string;
  config?: string;
  envFile?: string;
  url?: string;
  dryRun?: boolean;
  yes?: boolean;
  force?: boolean;
  json?: boolean;
  showToken?: boolean;
  healthTimeout?: string;
  redeploy?: boolean;
  /** `deploy update --all`: every app in the launcher's list. */
  all?: boolean;
}

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) throw new FaradayError("BAD_REQUEST", `${flag} "${value}" is not a positive whole number`);
  return number;
}

/** Prints each step as it starts and ends (or one JSON event per line); remembers whether a failure was shown. */
function stepPrinter(json: boolean | undefined, prefix = "") {
  const printer = {
    failureShown: false,
    emit(event: DeployEvent) {
      if (event.status === "failed") printer.failureShown = true;
      if (json) return void process.stdout.write(JSON.stringify(prefix ? { ...event, app: prefix } : event) + "\n");
      const label = prefix ? `${prefix}: ` : "";
      if (event.status === "started") return void process.stdout.write(`… ${label}${event.step}\n`);
      const time = event.ms !== undefined ? ` (${(event.ms / 1000).toFixed(1)} s)` : "";
      process.stdout.write(`${MARK[event.status] ?? "?"} ${label}${event.step}: ${event.status}${event.detail ? ` — ${event.detail}` : ""}${time}\n`);
      if (event.error) process.stdout.write(`  ${event.error.code}: ${event.error.message}\n`);
    },
  };
  return printer;
}

/** `faraday deploy fly` (and `deploy update`): prints each step; a failure is printed once, at its step. */
export async function runDeployFly(flags: DeployFlyFlags): Promise<number> {
  if (flags.all) return runDeployUpdateAll(flags);
  if (!flags.app) throw new FaradayError("BAD_REQUEST", "--app is required (or `deploy update --all` for every app in the launcher's list)");
  const { deployFly } = await import("../deploy/index.ts");
  const environment = readEnvironment();
  const printer = stepPrinter(flags.json);
  const volumeSizeGb = positiveInt(flags.volumeSize, "--volume-size");
  const memoryMb = positiveInt(flags.memory, "--memory");
  const healthSeconds = positiveInt(flags.healthTimeout, "--health-timeout");
  let result: Awaited<ReturnType<typeof deployFly>>;
  try {
    result = await deployFly({
      app: flags.app,
      ...(flags.org ? { org: flags.org } : {}),
      ...(flags.region ? { region: flags.region } : {}),
      ...(volumeSizeGb ? { volumeSizeGb } : {}),
      ...(memoryMb ? { memoryMb } : {}),
      ...(flags.config ? { configFile: flags.config } : {}),
      ...(flags.envFile ? { envFile: flags.envFile } : {}),
      ...(flags.url ? { url: flags.url } : {}),
      ...(healthSeconds ? { healthTimeoutMs: healthSeconds * 1000 } : {}),
      dryRun: flags.dryRun === true,
      redeploy: flags.redeploy === true,
      force: flags.force === true,
      cwd: process.cwd(),
      packageRoot: PACKAGE_ROOT,
      env: environment.variables,
    }, (event) => printer.emit(event));
  } catch (error) {
    if (!(error instanceof FaradayError)) throw error;
    if (flags.json) {
      // The stream stays one JSON object per line.
      process.stdout.write(JSON.stringify({ event: "result", ok: false, error: { code: error.code, message: error.message } }) + "\n");
      return error.exitCode;
    }
    if (printer.failureShown) return error.exitCode;
    throw error;
  }
  const token = result.gatewayToken ? (flags.showToken ? result.gatewayToken : maskSecret(result.gatewayToken)) : undefined;
  if (flags.json) {
    process.stdout.write(JSON.stringify({ event: "result", ok: result.ok, app: result.app, url: result.url, dashboard: result.dashboard, version: result.version ?? null, token, ready: result.ready ?? null }) + "\n");
  } else {
    const tokenLine = token ? `${token}${flags.showToken ? "" : " (--show-token shows it)"}` : "(generated on the first real run)";
    process.stdout.write(`\n${flags.dryRun ? "Plan only (--dry-run): nothing was changed." : `${result.app} is up: ${result.url}${result.version ? ` (version ${result.version})` : ""}`}\nDashboard: ${result.dashboard}\nGateway token: ${tokenLine}\n`);
  }
  return 0;
}

/**
 * `deploy update --all`: every app in the launcher's list (`$FARADAY_HOME/launcher.json`), one at
 * a time, each from its launcher directory, stopping at the first failure.
 */
async function runDeployUpdateAll(flags: DeployFlyFlags): Promise<number> {
  if (flags.app) throw new FaradayError("BAD_REQUEST", "pass either --app or --all, not both");
  const { deployFly } = await import("../deploy/index.ts");
  const { LauncherStore, faradayHome, deployOptions } = await import("../launcher/index.ts");
  const environment = readEnvironment();
  const home = faradayHome(environment.variables);
  const instances = await new LauncherStore(home).list();
  if (instances.length === 0) {
    if (flags.json) process.stdout.write(JSON.stringify({ event: "result", ok: true, updated: [] }) + "\n");
    else process.stdout.write(`No apps in the launcher's list (${join(home, "launcher.json")}): nothing to update.\n`);
    return 0;
  }
  const healthSeconds = positiveInt(flags.healthTimeout, "--health-timeout");
  const updated: string[] = [];
  for (const [index, instance] of instances.entries()) {
    if (!flags.json) process.stdout.write(`\n== ${instance.app} (${index + 1} of ${instances.length})\n`);
    const printer = stepPrinter(flags.json, instance.app);
    const options = deployOptions(instance, { env: environment.variables, packageRoot: PACKAGE_ROOT, appsDir: join(home, "launcher", "apps"), url: instance.url }, { update: true });
    try {
      await mkdir(options.cwd, { recursive: true, mode: 0o700 });
      await deployFly({ ...options, ...(healthSeconds ? { healthTimeoutMs: healthSeconds * 1000 } : {}) }, (event) => printer.emit(event));
      updated.push(instance.app);
    } catch (error) {
      if (!(error instanceof FaradayError)) throw error;
      const left = instances.slice(index + 1).map((entry) => entry.app);
      if (flags.json) {
        process.stdout.write(JSON.stringify({ event: "result", ok: false, app: instance.app, updated, skipped: left, error: { code: error.code, message: error.message } }) + "\n");
      } else {
        if (!printer.failureShown) process.stdout.write(`✗ ${instance.app}: ${error.code}: ${error.message}\n`);
        process.stdout.write(`\nStopped at ${instance.app}. Updated: ${updated.join(", ") || "none"}. Not tried: ${left.join(", ") || "none"}.\n`);
      }
      return error.exitCode;
    }
  }
  if (flags.json) process.stdout.write(JSON.stringify({ event: "result", ok: true, updated }) + "\n");
  else process.stdout.write(`\nUpdated ${updated.length} app(s): ${updated.join(", ")}\n`);
  return 0;
}

interface AppFlags { app: string; url?: string; json?: boolean; envFile?: string; config?: string; yes?: boolean; out?: string }

function target(flags: AppFlags) {
  return { app: flags.app, env: readEnvironment().variables, cwd: process.cwd(), ...(flags.url ? { url: flags.url } : {}), envFile: flags.envFile ?? ".env" };
}

export async function runDeployStatus(flags: AppFlags): Promise<number> {
  const { deployStatus } = await import("../deploy/index.ts");
  const status = await deployStatus(target(flags));
  if (flags.json) printJson(status);
  else {
    process.stdout.write(`${status.app} — ${status.url} — ${status.healthy ? "healthy" : "NOT healthy"}\n`);
    const deployed = status.version ?? `unknown (${status.versionProblem ?? "no answer"})`;
    process.stdout.write(`  version: deployed ${deployed}, local ${status.localVersion}${status.updateAvailable ? ` — update available: faraday deploy update --app ${status.app}` : ""}\n`);
    for (const machine of status.machines) process.stdout.write(`  machine ${machine.id} [${machine.processGroup ?? "?"}]: ${machine.state} in ${machine.region} (${machine.image ?? "?"})\n`);
    for (const volume of status.volumes) process.stdout.write(`  volume ${volume.name} (${volume.id}): ${volume.sizeGb} GB in ${volume.region}\n`);
    const snapshot = status.latestSnapshot;
    process.stdout.write(`  latest snapshot: ${snapshot ? `${snapshot.id} (${snapshot.status ?? "?"}, ${snapshot.createdAt ?? "?"})` : "none"}\n`);
  }
  return status.healthy ? 0 : 1;
}

export async function runDeployLogs(flags: AppFlags): Promise<number> {
  const { deployLogs } = await import("../deploy/index.ts");
  process.stdout.write(await deployLogs(target(flags)));
  return 0;
}

export async function runDeployUnlock(flags: AppFlags): Promise<number> {
  const { deployUnlock } = await import("../deploy/index.ts");
  const result = await deployUnlock(target(flags));
  if (flags.json) printJson(result);
  else {
    process.stdout.write(`machine ${result.machine}\n`);
    process.stdout.write(`lock: ${result.lock ? `${result.lock.status} — ${result.lock.detail}` : "not checked (the machine was not running)"}\n`);
    process.stdout.write(result.removedDeadLock ? "removed the lock of a dead gateway\n" : "no lock removed (a live gateway's lock is never touched)\n");
    if (result.restartedMachine) process.stdout.write(`restarted machine ${result.restartedMachine} (the gateway was not healthy)\n`);
  }
  return 0;
}

export async function runDeployConfig(direction: string, flags: AppFlags): Promise<number> {
  const { deployConfigPush, deployConfigPull } = await import("../deploy/index.ts");
  if (direction === "push") {
    const result = await deployConfigPush({ ...target(flags), ...(flags.config ? { configFile: flags.config } : {}) });
    if (flags.json) printJson(result);
    else process.stdout.write(`${result.status}: ${result.detail}\n`);
    return 0;
  }
  if (direction === "pull") {
    const config = await deployConfigPull(target(flags));
    const text = JSON.stringify(config, null, 2) + "\n";
    if (flags.out === "-") {
      process.stdout.write(text);
      return 0;
    }
    const path = resolve(process.cwd(), flags.out ?? "openclaw.json");
    await writeFileAtomic(path, text, { mode: 0o600 });
    if (flags.json) printJson({ ok: true, file: path });
    else process.stdout.write(`wrote ${path} (the config of ${flags.app}; \`-o -\` prints it instead)\n`);
    return 0;
  }
  throw new FaradayError("BAD_REQUEST", `unknown direction "${direction}": use \`deploy config push\` or \`deploy config pull\``);
}

export async function runDeployDestroy(flags: AppFlags): Promise<number> {
  const { deployDestroy, checkFlyAppName } = await import("../deploy/index.ts");
  checkFlyAppName(flags.app);
  if (!flags.yes) {
    const terminal = createInterface({ input: process.stdin, output: process.stdout });
    const typed = await terminal.question(`This destroys ${flags.app}, its volume and all its data. Type the app name to confirm: `).catch(() => "");
    terminal.close();
    if (typed.trim() !== flags.app) throw new FaradayError("BAD_REQUEST", "the typed name did not match; nothing was destroyed");
  }
  await deployDestroy(target(flags));
  process.stdout.write(`destroyed ${flags.app} (and forgot its gateway token on this computer)\n`);
  return 0;
}
