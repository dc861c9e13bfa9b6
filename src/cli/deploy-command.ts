import { createInterface } from "node:readline/promises";
import { fileURLToPath } from "node:url";
import { maskSecret, readEnvironment } from "../config/index.ts";
import { FaradayError } from "../errors/index.ts";
import type { DeployEvent } from "../deploy/index.ts";
import { printJson } from "./output.ts";

const PACKAGE_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MARK: Record<string, string> = { done: "✓", unchanged: "✓", planned: "·", failed: "✗" };

export interface DeployFlyFlags {
  app: string;
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
}

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) throw new FaradayError("BAD_REQUEST", `${flag} "${value}" is not a positive whole number`);
  return number;
}

/** `faraday deploy fly`: prints each step as it starts and ends (or one JSON event per line). */
export async function runDeployFly(flags: DeployFlyFlags): Promise<number> {
  const { deployFly } = await import("../deploy/index.ts");
  const environment = readEnvironment();
  const emit = (event: DeployEvent) => {
    if (flags.json) return process.stdout.write(JSON.stringify(event) + "\n");
    if (event.status === "started") return process.stdout.write(`… ${event.step}\n`);
    const time = event.ms !== undefined ? ` (${(event.ms / 1000).toFixed(1)} s)` : "";
    process.stdout.write(`${MARK[event.status] ?? "?"} ${event.step}: ${event.status}${event.detail ? ` — ${event.detail}` : ""}${time}\n`);
    if (event.error) process.stdout.write(`  ${event.error.code}: ${event.error.message}\n`);
    return true;
  };
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
  }, emit);
  } catch (error) {
    // The failed step was already printed; with --json the stream stays one JSON object per line.
    if (!flags.json || !(error instanceof FaradayError)) throw error;
    process.stdout.write(JSON.stringify({ event: "result", ok: false, error: { code: error.code, message: error.message } }) + "\n");
    return error.exitCode;
  }
  const token = result.gatewayToken ? (flags.showToken ? result.gatewayToken : maskSecret(result.gatewayToken)) : undefined;
  if (flags.json) {
    process.stdout.write(JSON.stringify({ event: "result", ok: result.ok, app: result.app, url: result.url, dashboard: result.dashboard, token, ready: result.ready ?? null }) + "\n");
  } else {
    process.stdout.write(`\n${flags.dryRun ? "Plan only (--dry-run): nothing was changed." : `${result.app} is up: ${result.url}`}\nDashboard: ${result.dashboard}\nGateway token: ${token ?? "(none)"}${flags.showToken ? "" : " (--show-token shows it)"}\n`);
  }
  return 0;
}

interface AppFlags { app: string; url?: string; json?: boolean; envFile?: string; config?: string; yes?: boolean }

function target(flags: AppFlags) {
  return { app: flags.app, env: readEnvironment().variables, cwd: process.cwd(), ...(flags.url ? { url: flags.url } : {}), envFile: flags.envFile ?? ".env" };
}

export async function runDeployStatus(flags: AppFlags): Promise<number> {
  const { deployStatus } = await import("../deploy/index.ts");
  const status = await deployStatus(target(flags));
  if (flags.json) printJson(status);
  else {
    process.stdout.write(`${status.app} — ${status.url} — ${status.healthy ? "healthy" : "NOT healthy"}${status.version ? ` — version ${status.version}` : ""}\n`);
    for (const machine of status.machines) process.stdout.write(`  machine ${machine.id}: ${machine.state} in ${machine.region} (${machine.image ?? "?"})\n`);
    for (const volume of status.volumes) process.stdout.write(`  volume ${volume.name} (${volume.id}): ${volume.sizeGb} GB in ${volume.region}\n`);
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
    process.stdout.write(`lock: ${result.lock ? `${result.lock.status} — ${result.lock.detail}` : "no lock check in the report"}\n`);
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
    printJson(await deployConfigPull(target(flags)));
    return 0;
  }
  throw new FaradayError("BAD_REQUEST", `unknown direction "${direction}": use \`deploy config push\` or \`deploy config pull\``);
}

export async function runDeployDestroy(flags: AppFlags): Promise<number> {
  const { deployDestroy } = await import("../deploy/index.ts");
  if (!flags.yes) {
    const terminal = createInterface({ input: process.stdin, output: process.stdout });
    const typed = await terminal.question(`This destroys ${flags.app}, its volume and all its data. Type the app name to confirm: `).catch(() => "");
    terminal.close();
    if (typed.trim() !== flags.app) throw new FaradayError("BAD_REQUEST", "the typed name did not match; nothing was destroyed");
  }
  await deployDestroy(target(flags));
  process.stdout.write(`destroyed ${flags.app}\n`);
  return 0;
}
