import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { FaradayError } from "../../errors/index.ts";
import { faradayVersion } from "../../version.ts";
import { pickAppMachine, type FlyMachine } from "./app-machine.ts";
import { checkFlyAppName } from "./app-name.ts";
import { readDeployRecord, removeDeployRecord } from "./deploy-store.ts";
import { readEnvFile } from "./env-file.ts";
import { createFlyctl, flyError, type FlyClient } from "./flyctl.ts";
import { isNewerVersion, readDeployedVersion } from "./gateway-version.ts";
import { pushConfig, VOLUME_NAME } from "./deploy-fly.ts";

export interface AppTarget {
  readonly app: string;
  readonly url?: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly envFile?: string;
  /** What to do when the gateway refuses the token (the CLI: fix .env; the launcher says its own). */
  readonly tokenMismatchHint?: string;
}

const appUrl = (target: AppTarget) => (target.url ?? `https://${target.app}.fly.dev`).replace(/\/$/, "");

/**
 * The doctor inside the machine, by absolute path (ssh console sets no working directory) and as
 * the gateway's user (ssh console runs as root; a root-owned file on /data would lock the gateway
 * out). The paths are the Dockerfile's: node:24-slim's node, WORKDIR /app, util-linux setpriv.
 */
export const REMOTE_DOCTOR_COMMAND = "/usr/bin/setpriv --reuid=node --regid=node --init-groups /usr/local/bin/node /app/dist/index.js doctor --fix --json --state-dir /data";

async function healthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/** The gateway token for an app: .env / environment first, else the one this computer generated. */
export async function tokenFor(target: AppTarget): Promise<string> {
  const fileValues = target.envFile ? await readEnvFile(resolve(target.cwd, target.envFile)).catch(() => ({} as Record<string, string>)) : {};
  const token = fileValues.OPENCLAW_GATEWAY_TOKEN || target.env.OPENCLAW_GATEWAY_TOKEN || (await readDeployRecord(target.env, target.app))?.gatewayToken;
  if (!token) throw new FaradayError("AUTH_REQUIRED", `no gateway token for ${target.app}: set OPENCLAW_GATEWAY_TOKEN (the app's secret) in .env or the environment`);
  return token;
}

async function machinesOf(fly: FlyClient, app: string): Promise<FlyMachine[]> {
  const result = await fly.run(["machines", "list", "-a", app, "--json"]);
  if (result.exitCode !== 0) throw flyError(result, { command: "machines list", app });
  return (JSON.parse(result.stdout || "[]") as FlyMachine[] | null) ?? [];
}

interface Snapshot {
  readonly id?: string;
  readonly status?: string;
  readonly created_at?: string;
  readonly size?: number;
}

/** `deploy status`: machines, health, deployed and local version, volume and its latest snapshot. */
export async function deployStatus(target: AppTarget) {
  checkFlyAppName(target.app);
  const fly = await createFlyctl(target.env);
  const machines = await machinesOf(fly, target.app);
  const volumesResult = await fly.run(["volumes", "list", "-a", target.app, "--json"]);
  const volumes = volumesResult.exitCode === 0 ? (JSON.parse(volumesResult.stdout || "[]") as Array<{ id?: string; name?: string; region?: string; size_gb?: number }>) : [];
  const volume = volumes.find((entry) => entry.name === VOLUME_NAME);
  let latestSnapshot: Snapshot | null = null;
  if (volume?.id) {
    const snapshots = await fly.run(["volumes", "snapshots", "list", volume.id, "-a", target.app, "--json"]);
    // flyctl sorts them oldest first (internal/command/volumes/snapshots/list.go).
    if (snapshots.exitCode === 0) latestSnapshot = (JSON.parse(snapshots.stdout || "[]") as Snapshot[] | null)?.at(-1) ?? null;
  }
  const url = appUrl(target);
  const token = await tokenFor(target).catch(() => undefined);
  const deployed = await readDeployedVersion(url, token);
  const local = faradayVersion();
  return {
    app: target.app,
    url,
    healthy: await healthy(url),
    version: deployed.version ?? null,
    localVersion: local,
    updateAvailable: deployed.version !== undefined && isNewerVersion(local, deployed.version),
    ...(deployed.version === undefined ? { versionProblem: deployed.problem } : {}),
    machines: machines.map((machine) => ({ id: machine.id, state: machine.state, region: machine.region, processGroup: machine.config?.metadata?.fly_process_group ?? null, image: machine.config?.image })),
    volumes: volumes.map((entry) => ({ id: entry.id, name: entry.name, region: entry.region, sizeGb: entry.size_gb })),
    latestSnapshot: latestSnapshot ? { id: latestSnapshot.id || "(pending)", status: latestSnapshot.status ?? null, createdAt: latestSnapshot.created_at ?? null, sizeBytes: latestSnapshot.size ?? null } : null,
  };
}

export async function deployLogs(target: AppTarget): Promise<string> {
  checkFlyAppName(target.app);
  const fly = await createFlyctl(target.env);
  const result = await fly.run(["logs", "-a", target.app, "--no-tail"]);
  if (result.exitCode !== 0) throw flyError(result, { command: "logs", app: target.app });
  return result.stdout;
}

/**
 * The remote repair: `doctor --fix --json` inside the gateway's machine removes only a dead
 * owner's lock; if the gateway is not healthy afterwards, restart that machine. A live gateway's
 * lock stays. The machine is the `app` process group's started one — never simply the first
 * that `machines list` returns (stopped machines and `fly console` machines are listed too).
 */
export async function deployUnlock(target: AppTarget) {
  checkFlyAppName(target.app);
  const fly = await createFlyctl(target.env);
  const machine = pickAppMachine(await machinesOf(fly, target.app));
  if (!machine?.id) throw new FaradayError("FLY_COMMAND_FAILED", `${target.app} has no gateway machine (process group "app"): deploy it first (faraday deploy fly --app ${target.app})`);
  let lock: { name: string; status: string; detail: string; fixed?: boolean } | null = null;
  if (machine.state === "started") {
    const doctor = await fly.run(["ssh", "console", "-a", target.app, "--machine", machine.id, "-C", REMOTE_DOCTOR_COMMAND]);
    if (doctor.exitCode !== 0 && !doctor.stdout.trim().startsWith("{")) throw flyError(doctor, { command: "ssh console", app: target.app });
    let report: { healthy?: boolean; checks?: Array<{ name: string; status: string; detail: string; fixed?: boolean }> };
    try {
      report = JSON.parse(doctor.stdout.slice(doctor.stdout.indexOf("{")));
    } catch {
      throw new FaradayError("FLY_COMMAND_FAILED", `doctor inside the machine did not answer JSON: ${doctor.stdout.slice(0, 200)}`);
    }
    lock = report.checks?.find((check) => check.name === "lock") ?? null;
  }
  let restarted: string | null = null;
  if (!(await healthy(appUrl(target)))) {
    // A stopped machine is started: the gateway checks its own lock at boot.
    const args = machine.state === "started" ? ["machine", "restart", machine.id, "-a", target.app] : ["machine", "start", machine.id, "-a", target.app];
    const restart = await fly.run(args);
    if (restart.exitCode !== 0) throw flyError(restart, { command: `machine ${args[1]}`, app: target.app });
    restarted = machine.id;
  }
  return { app: target.app, machine: machine.id, lock, removedDeadLock: lock?.fixed === true, restartedMachine: restarted };
}

export async function deployConfigPush(target: AppTarget & { configFile?: string }) {
  checkFlyAppName(target.app);
  const fly = await createFlyctl(target.env);
  const path = resolve(target.cwd, target.configFile ?? "openclaw.json");
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new FaradayError("CONFIG_MISSING", `${path}: no such file; pass --config FILE`);
    throw new FaradayError("CONFIG_INVALID", `${path} is not valid JSON (${(error as Error).message})`);
  }
  return pushConfig({ app: target.app, url: appUrl(target), token: await tokenFor(target), raw, fly, ...(target.tokenMismatchHint ? { tokenMismatchHint: target.tokenMismatchHint } : {}) });
}

export async function deployConfigPull(target: AppTarget): Promise<unknown> {
  checkFlyAppName(target.app);
  const response = await fetch(`${appUrl(target)}/api/config`, { headers: { authorization: `Bearer ${await tokenFor(target)}` }, signal: AbortSignal.timeout(15_000) });
  if (!response.ok) throw new FaradayError("GATEWAY_UNREACHABLE", `GET ${appUrl(target)}/api/config answered HTTP ${response.status}`);
  return ((await response.json()) as { config: unknown }).config;
}

/** Destroy the app on Fly, then forget it here (its deploy record holds the gateway token). */
export async function deployDestroy(target: AppTarget, fly?: FlyClient): Promise<void> {
  checkFlyAppName(target.app);
  const client = fly ?? (await createFlyctl(target.env));
  const result = await client.run(["apps", "destroy", target.app, "-y"]);
  if (result.exitCode !== 0) throw flyError(result, { command: "apps destroy", app: target.app });
  await removeDeployRecord(target.env, target.app);
}
