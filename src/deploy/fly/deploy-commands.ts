import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { FaradayError } from "../../errors/index.ts";
import { readDeployRecord } from "./deploy-store.ts";
import { readEnvFile } from "./env-file.ts";
import { createFlyctl, flyError, type FlyClient } from "./flyctl.ts";
import { pushConfig } from "./deploy-fly.ts";

export interface AppTarget {
  readonly app: string;
  readonly url?: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly envFile?: string;
}

const appUrl = (target: AppTarget) => (target.url ?? `https://${target.app}.fly.dev`).replace(/\/$/, "");

async function healthy(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) })).ok;
  } catch {
    return false;
  }
}

/** The gateway token for an app: .env / environment first, else the one this computer generated. */
export async function tokenFor(target: AppTarget): Promise<string> {
  const fileValues = target.envFile ? await readEnvFile(resolve(target.cwd, target.envFile)).catch(() => ({} as Record<string, string>)) : {};
  const token = fileValues.OPENCLAW_GATEWAY_TOKEN ?? target.env.OPENCLAW_GATEWAY_TOKEN ?? (await readDeployRecord(target.env, target.app))?.gatewayToken;
  if (!token) throw new FaradayError("AUTH_REQUIRED", `no gateway token for ${target.app}: set OPENCLAW_GATEWAY_TOKEN (the app's secret) in .env or the environment`);
  return token;
}

/** `deploy status`: machine state, health, version, volume, region. */
export async function deployStatus(target: AppTarget) {
  const fly = await createFlyctl(target.env);
  const status = await fly.run(["status", "-a", target.app, "--json"]);
  if (status.exitCode !== 0) throw flyError(status, { command: "status", app: target.app });
  const parsed = JSON.parse(status.stdout || "{}") as { Machines?: Array<{ id?: string; state?: string; region?: string; config?: { image?: string } }> };
  const volumes = await fly.run(["volumes", "list", "-a", target.app, "--json"]);
  const url = appUrl(target);
  let version: string | undefined;
  try {
    version = ((await (await fetch(`${url}/api/status`, { headers: { authorization: `Bearer ${await tokenFor(target)}` }, signal: AbortSignal.timeout(5_000) })).json()) as { version?: string }).version;
  } catch {
    version = undefined;
  }
  return {
    app: target.app,
    url,
    healthy: await healthy(url),
    version,
    machines: (parsed.Machines ?? []).map((machine) => ({ id: machine.id, state: machine.state, region: machine.region, image: machine.config?.image })),
    volumes: volumes.exitCode === 0 ? (JSON.parse(volumes.stdout || "[]") as Array<{ id?: string; name?: string; region?: string; size_gb?: number }>).map((volume) => ({ id: volume.id, name: volume.name, region: volume.region, sizeGb: volume.size_gb })) : [],
  };
}

export async function deployLogs(target: AppTarget): Promise<string> {
  const fly = await createFlyctl(target.env);
  const result = await fly.run(["logs", "-a", target.app, "--no-tail"]);
  if (result.exitCode !== 0) throw flyError(result, { command: "logs", app: target.app });
  return result.stdout;
}

/**
 * The remote repair: `doctor --fix --json` inside the machine removes only a dead owner's lock;
 * if the gateway is not healthy afterwards, restart the machine. A live gateway's lock stays.
 */
export async function deployUnlock(target: AppTarget) {
  const fly = await createFlyctl(target.env);
  const doctor = await fly.run(["ssh", "console", "-a", target.app, "-C", "node dist/index.js doctor --fix --json"]);
  if (doctor.exitCode !== 0 && !doctor.stdout.trim().startsWith("{")) throw flyError(doctor, { command: "ssh console", app: target.app });
  let report: { healthy?: boolean; checks?: Array<{ name: string; status: string; detail: string; fixed?: boolean }> };
  try {
    report = JSON.parse(doctor.stdout.slice(doctor.stdout.indexOf("{")));
  } catch {
    throw new FaradayError("FLY_COMMAND_FAILED", `doctor inside the machine did not answer JSON: ${doctor.stdout.slice(0, 200)}`);
  }
  const lock = report.checks?.find((check) => check.name === "lock");
  const url = appUrl(target);
  let restarted: string | undefined;
  if (!(await healthy(url))) {
    const machines = await fly.run(["machines", "list", "-a", target.app, "--json"]);
    const first = machines.exitCode === 0 ? (JSON.parse(machines.stdout || "[]") as Array<{ id?: string }>)[0] : undefined;
    if (first?.id) {
      const restart = await fly.run(["machine", "restart", first.id, "-a", target.app]);
      if (restart.exitCode !== 0) throw flyError(restart, { command: "machine restart", app: target.app });
      restarted = first.id;
    }
  }
  return { app: target.app, lock: lock ?? null, removedDeadLock: lock?.fixed === true, restartedMachine: restarted ?? null };
}

export async function deployConfigPush(target: AppTarget & { configFile?: string }) {
  const fly = await createFlyctl(target.env);
  const raw = JSON.parse(await readFile(resolve(target.cwd, target.configFile ?? "openclaw.json"), "utf8"));
  return pushConfig({ app: target.app, url: appUrl(target), token: await tokenFor(target), raw, fly });
}

export async function deployConfigPull(target: AppTarget): Promise<unknown> {
  const response = await fetch(`${appUrl(target)}/api/config`, { headers: { authorization: `Bearer ${await tokenFor(target)}` }, signal: AbortSignal.timeout(15_000) });
  if (!response.ok) throw new FaradayError("GATEWAY_UNREACHABLE", `GET ${appUrl(target)}/api/config answered HTTP ${response.status}`);
  return ((await response.json()) as { config: unknown }).config;
}

export async function deployDestroy(target: AppTarget, fly?: FlyClient): Promise<void> {
  const client = fly ?? (await createFlyctl(target.env));
  const result = await client.run(["apps", "destroy", target.app, "-y"]);
  if (result.exitCode !== 0) throw flyError(result, { command: "apps destroy", app: target.app });
}
