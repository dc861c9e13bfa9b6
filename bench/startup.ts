import { spawn, execFileSync } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { formatMiB, formatMs, summarize, type BenchContext, type BenchModule, type BenchResult, type BenchRow } from "./bench-module.ts";
import { freePort, probeHealth, readProcessMemory, spawnGateway, stopGateway, trackChild, waitForHealthy, withTimeout, type GatewayProcess } from "./gateway-process.ts";

const RUNS = 5;
const IDLE_AFTER_MS = 10_000;
const HEALTHY_TIMEOUT_MS = 10_000;
const POLL_INTERVAL_MS = 5;
const LOCK_HELD_EXIT_CODE = 3;
const NPM_START_RUNS = 3;
const NPM_START_TIMEOUT_MS = 30_000;

/**
 * Start-up figures of the built gateway, each gateway on its own free loopback port with a
 * fresh state dir under os.tmpdir(), started with --allow-unconfigured:
 * launch -> first /healthz 200; resident memory 10 s after start; kill -9 then restart on
 * the same state dir -> /healthz 200 (the stale-lock path); plus two correctness checks met
 * on the way: SIGTERM exits 0, and a second gateway on a held state dir exits 3 (LOCK_HELD).
 * Two first-start figures: a fresh state dir with an empty V8 compile cache (the first boot on a
 * new Fly volume, where the image keeps the cache, or the first start of a fresh clone), and
 * `npm start` in a fresh copy of the repository (no dist/) up to the first /healthz 200.
 */
export const startupBench: BenchModule = {
  name: "startup",
  description: "launch -> /healthz, idle RSS after 10 s, kill -9 -> restart -> /healthz",
  async run(context: BenchContext): Promise<BenchResult> {
    const scratch = await mkdtemp(join(tmpdir(), "faraday-bench-startup-"));
    try {
      const launch = await measureLaunch(context, scratch);
      const launchMcp = await measureLaunchWithUnreachableMcp(context, scratch);
      const firstStart = await measureFirstStart(context, scratch);
      const npmStart = await measureNpmStart(context, scratch);
      const idle = await measureIdleMemory(context, scratch);
      const restart = await measureKillRestart(context, scratch);
      const rows = rowsFor(launch, idle, restart);
      rows.splice(1, 0, {
        figure: `  same, with MCP servers configured and unreachable (median of ${launchMcp.runs})`,
        ours: `${formatMs(launchMcp.healthyMs.median)} (min ${formatMs(launchMcp.healthyMs.min)}, max ${formatMs(launchMcp.healthyMs.max)})`,
        anchor: "",
        target: "<= 300 ms",
        met: launchMcp.healthyMs.median <= 300,
      }, {
        figure: `  first start: fresh state dir and an empty compile cache (median of ${firstStart.runs})`,
        ours: `${formatMs(firstStart.healthyMs.median)} (min ${formatMs(firstStart.healthyMs.min)}, max ${formatMs(firstStart.healthyMs.max)})`,
        anchor: "",
        target: "<= 250 ms",
        met: firstStart.healthyMs.median <= 250,
      }, {
        figure: `  \`npm start\` in a fresh clone (no dist/, empty compile cache) -> /healthz 200 (median of ${npmStart.runs})`,
        ours: `${formatMs(npmStart.healthyMs.median)} (min ${formatMs(npmStart.healthyMs.min)}, max ${formatMs(npmStart.healthyMs.max)})`,
        anchor: "",
        target: "<= 10 s",
        met: npmStart.healthyMs.median <= 10_000,
      });
      return { rows, data: { launch, launchMcp, firstStart, npmStart, idle, restart } };
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  },
};

interface ShutdownRecord {
  status: number | string;
  elapsedMs: number;
  forced: boolean;
  /** Whether stdout had shown "gateway listening" when SIGTERM was sent. */
  listeningLogSeen: boolean;
}

/**
 * The same launch with MCP servers configured and unreachable (FavCRM with a key, an HTTP server
 * on a closed loopback port, a stdio server whose command does not exist): connecting happens
 * after listen, so this must match the plain launch.
 */
async function measureLaunchWithUnreachableMcp(context: BenchContext, scratch: string) {
  const healthyMs: number[] = [];
  for (let run = 1; run <= RUNS; run += 1) {
    const stateDir = await mkdtemp(join(scratch, `launch-mcp-${run}-`));
    await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({
      mcp: { servers: { crm: { url: "http://127.0.0.1:9/mcp" }, tools: { command: "/nonexistent/mcp-server" } } },
    }));
    const gateway = spawnGateway(context.entry, { port: await freePort(), stateDir, cwd: scratch, env: { FAVCRM_API_KEY: "fav_mcp_bench_not_a_real_key_0000" } });
    try {
      const healthy = await waitForHealthy(gateway, { timeoutMs: HEALTHY_TIMEOUT_MS, intervalMs: POLL_INTERVAL_MS });
      healthyMs.push(healthy.elapsedMs);
      context.log(`launch with unreachable MCP servers, run ${run}: /healthz 200 after ${formatMs(healthy.elapsedMs)}`);
    } finally {
      await stopGateway(gateway, "SIGTERM");
    }
  }
  return { runs: RUNS, healthyMs: summarize(healthyMs) };
}

/**
 * A fresh state dir whose V8 compile cache is empty too: what the first boot on a new Fly volume
 * sees (the image keeps the cache on the volume), and the first start of a fresh clone. The
 * plain launch above reuses the cache earlier runs filled.
 */
async function measureFirstStart(context: BenchContext, scratch: string) {
  const healthyMs: number[] = [];
  for (let run = 1; run <= RUNS; run += 1) {
    const stateDir = await mkdtemp(join(scratch, `first-${run}-`));
    const compileCache = await mkdtemp(join(scratch, `compile-cache-${run}-`));
    const gateway = spawnGateway(context.entry, { port: await freePort(), stateDir, cwd: scratch, env: { FARADAY_COMPILE_CACHE: compileCache } });
    try {
      const healthy = await waitForHealthy(gateway, { timeoutMs: HEALTHY_TIMEOUT_MS, intervalMs: POLL_INTERVAL_MS });
      healthyMs.push(healthy.elapsedMs);
      context.log(`first start (fresh state dir, empty compile cache), run ${run}: /healthz 200 after ${formatMs(healthy.elapsedMs)}`);
    } finally {
      await stopGateway(gateway, "SIGTERM");
    }
  }
  return { runs: RUNS, healthyMs: summarize(healthyMs) };
}

/**
 * `npm start` in a copy of the repository's tracked files (no dist/, no build cache), with the
 * repository's node_modules linked in (the install is measured by the install bench), a fresh
 * state dir and an empty compile cache: from the command to the first /healthz 200.
 */
async function measureNpmStart(context: BenchContext, scratch: string) {
  const clone = join(scratch, "clone");
  const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: context.root, encoding: "utf8" })
    .split("\0")
    .filter((file) => file !== "" && !file.startsWith("dist/"));
  for (const file of files) {
    await mkdir(dirname(join(clone, file)), { recursive: true });
    await cp(join(context.root, file), join(clone, file), { force: true }).catch(() => {}); // a deleted, unstaged file
  }
  await symlink(join(context.root, "node_modules"), join(clone, "node_modules"), "dir");
  const healthyMs: number[] = [];
  for (let run = 1; run <= NPM_START_RUNS; run += 1) {
    const port = await freePort();
    const environment: NodeJS.ProcessEnv = { PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ""}`, HOME: process.env.HOME ?? scratch };
    Object.assign(environment, {
      OPENCLAW_GATEWAY_PORT: String(port),
      OPENCLAW_STATE_DIR: await mkdtemp(join(scratch, `npm-start-state-${run}-`)),
      FARADAY_COMPILE_CACHE: await mkdtemp(join(scratch, `npm-start-cache-${run}-`)),
      FAVCRM_MCP_URL: "http://127.0.0.1:9/mcp",
      npm_config_update_notifier: "false",
    });
    const started = performance.now();
    // Its own process group: npm, the shell and the launcher all end with it.
    const child = spawn("npm", ["start"], { cwd: clone, env: environment, stdio: ["ignore", "ignore", "pipe"], detached: true });
    trackChild(child);
    let output = "";
    child.stderr.on("data", (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-4096);
    });
    let exited = false;
    child.once("exit", () => {
      exited = true;
    });
    try {
      let elapsed: number | undefined;
      for (let attempt = 0; attempt < NPM_START_TIMEOUT_MS / 20 && !exited; attempt += 1) {
        if ((await probeHealth(port, 1000))?.status === 200) {
          elapsed = performance.now() - started;
          break;
        }
        await sleep(20);
      }
      if (elapsed === undefined) throw new Error(`npm start did not answer /healthz within ${NPM_START_TIMEOUT_MS / 1000} s\n${output}`);
      healthyMs.push(elapsed);
      context.log(`npm start in a fresh clone, run ${run}: /healthz 200 after ${formatMs(elapsed)}`);
    } finally {
      if (!exited && child.pid !== undefined) process.kill(-child.pid, "SIGTERM");
      await withTimeout(new Promise((resolve) => (exited ? resolve(undefined) : child.once("exit", resolve))), 10_000);
    }
  }
  return { runs: NPM_START_RUNS, healthyMs: summarize(healthyMs) };
}

async function measureLaunch(context: BenchContext, scratch: string) {
  const healthyMs: number[] = [];
  const listeningLogMs: number[] = [];
  const shutdowns: ShutdownRecord[] = [];
  let firstBody = "";
  for (let run = 1; run <= RUNS; run += 1) {
    const gateway = await startFresh(context, scratch, `launch-${run}-`);
    try {
      const healthy = await waitForHealthy(gateway, { timeoutMs: HEALTHY_TIMEOUT_MS, intervalMs: POLL_INTERVAL_MS });
      healthyMs.push(healthy.elapsedMs);
      if (gateway.listeningAt !== undefined) listeningLogMs.push(gateway.listeningAt - gateway.spawnedAt);
      if (run === 1) firstBody = healthy.body;
      context.log(`launch run ${run}: /healthz 200 after ${formatMs(healthy.elapsedMs)}`);
    } finally {
      const listeningLogSeen = gateway.listeningAt !== undefined;
      shutdowns.push({ ...(await stopGateway(gateway, "SIGTERM")), listeningLogSeen });
    }
  }
  return {
    runs: RUNS,
    pollIntervalMs: POLL_INTERVAL_MS,
    healthyMs: summarize(healthyMs),
    listeningLogMs: listeningLogMs.length > 0 ? summarize(listeningLogMs) : undefined,
    healthzBody: firstBody,
    healthzBodyOk: isOkBody(firstBody),
    sigterm: shutdowns,
  };
}

async function measureIdleMemory(context: BenchContext, scratch: string) {
  const gateway = await startFresh(context, scratch, "idle-");
  try {
    const healthy = await waitForHealthy(gateway, { timeoutMs: HEALTHY_TIMEOUT_MS, intervalMs: POLL_INTERVAL_MS });
    // No requests while idling: the figure is what a quiet gateway holds.
    await sleep(Math.max(0, gateway.spawnedAt + IDLE_AFTER_MS - performance.now()));
    if (gateway.exitStatus !== undefined) throw new Error(`gateway exited with ${gateway.exitStatus} while idling\n${gateway.outputTail()}`);
    const main = await readProcessMemory(gateway.pid);
    const helpers = await childProcesses(gateway.pid);
    const helperMemory = await Promise.all(helpers.map((pid) => readProcessMemory(pid).catch(() => ({ rssBytes: 0, peakRssBytes: 0 }))));
    context.log(`idle: VmRSS ${formatMiB(main.rssBytes)} at ${IDLE_AFTER_MS / 1000} s (${helpers.length} child processes)`);
    return {
      afterMs: IDLE_AFTER_MS,
      healthyMs: healthy.elapsedMs,
      rssBytes: main.rssBytes,
      peakRssBytes: main.peakRssBytes,
      childProcesses: helpers.length,
      childRssBytes: helperMemory.reduce((total, memory) => total + memory.rssBytes, 0),
    };
  } finally {
    await stopGateway(gateway, "SIGTERM");
  }
}

async function measureKillRestart(context: BenchContext, scratch: string) {
  const restartMs: number[] = [];
  const stateDirEntries: string[][] = [];
  let lockHeld: { exitStatus: number | string | undefined; elapsedMs: number; output: string } | undefined;
  for (let run = 1; run <= RUNS; run += 1) {
    const first = await startFresh(context, scratch, `restart-${run}-`);
    try {
      await waitForHealthy(first, { timeoutMs: HEALTHY_TIMEOUT_MS, intervalMs: POLL_INTERVAL_MS });
      stateDirEntries.push(await listTree(first.stateDir, 2));
      first.child.kill("SIGKILL");
      if ((await withTimeout(first.exited, 5_000)) === undefined) throw new Error(`gateway ${first.pid} survived SIGKILL for 5 s`);
    } finally {
      await stopGateway(first, "SIGKILL", 5_000);
    }

    // Same state dir, same port: what a container restart does.
    const second = spawnGateway(context.entry, { port: first.port, stateDir: first.stateDir, cwd: scratch });
    try {
      const healthy = await waitForHealthy(second, { timeoutMs: HEALTHY_TIMEOUT_MS, intervalMs: POLL_INTERVAL_MS });
      restartMs.push(healthy.elapsedMs);
      context.log(`restart run ${run}: kill -9, restart, /healthz 200 after ${formatMs(healthy.elapsedMs)}`);
      if (run === RUNS) lockHeld = await startSecondGateway(context, second, scratch);
    } finally {
      await stopGateway(second, "SIGTERM");
    }
  }
  return { runs: RUNS, restartMs: summarize(restartMs), stateDirAfterFirstStart: stateDirEntries[0], lockHeld };
}

/** A second gateway on a state dir a live gateway holds must exit with LOCK_HELD, not serve. */
async function startSecondGateway(context: BenchContext, holder: GatewayProcess, scratch: string) {
  const intruder = spawnGateway(context.entry, { port: await freePort(), stateDir: holder.stateDir, cwd: scratch });
  try {
    const status = await withTimeout(intruder.exited, HEALTHY_TIMEOUT_MS);
    context.log(`second gateway on a held state dir: exit ${String(status ?? "none (still running)")}`);
    return { exitStatus: status, elapsedMs: performance.now() - intruder.spawnedAt, output: intruder.outputTail().slice(-1000) };
  } finally {
    await stopGateway(intruder, "SIGKILL", 5_000);
  }
}

async function startFresh(context: BenchContext, scratch: string, prefix: string): Promise<GatewayProcess> {
  const stateDir = await mkdtemp(join(scratch, prefix));
  return spawnGateway(context.entry, { port: await freePort(), stateDir, cwd: scratch });
}

/** Pids whose parent is `pid` (helper processes a gateway might spawn). */
async function childProcesses(pid: number): Promise<number[]> {
  const children: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const status = await readFile(`/proc/${entry}/status`, "utf8").catch(() => "");
    if (new RegExp(`^PPid:\\s+${pid}$`, "m").test(status)) children.push(Number(entry));
  }
  return children;
}

/** Relative paths under `directory`, `depth` levels deep; what the gateway left in its state dir. */
async function listTree(directory: string, depth: number, prefix = ""): Promise<string[]> {
  if (depth <= 0) return [];
  const entries = await readdir(join(directory, prefix), { withFileTypes: true }).catch(() => []);
  const paths: string[] = [];
  for (const entry of entries.slice(0, 200)) {
    const path = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    paths.push(entry.isDirectory() ? `${path}/` : path);
    if (entry.isDirectory()) paths.push(...(await listTree(directory, depth - 1, path)));
  }
  return paths;
}

function isOkBody(body: string): boolean {
  try {
    return (JSON.parse(body) as { ok?: unknown }).ok === true;
  } catch {
    return false;
  }
}

function rowsFor(
  launch: Awaited<ReturnType<typeof measureLaunch>>,
  idle: Awaited<ReturnType<typeof measureIdleMemory>>,
  restart: Awaited<ReturnType<typeof measureKillRestart>>,
): BenchRow[] {
  const spread = (figures: { median: number; min: number; max: number }): string =>
    `${formatMs(figures.median)} (min ${formatMs(figures.min)}, max ${formatMs(figures.max)})`;
  const helpers = idle.childProcesses > 0 ? ` + ${idle.childProcesses} children ${formatMiB(idle.childRssBytes)}` : "";
  const sigtermStatuses = launch.sigterm.map((shutdown) => shutdown.status);
  const sigtermOk = launch.sigterm.every((shutdown) => shutdown.status === 0 && !shutdown.forced);
  const lockStatus = restart.lockHeld?.exitStatus;
  return [
    { figure: `launch -> /healthz 200 (median of ${launch.runs})`, ours: spread(launch.healthyMs), anchor: "6.7 s", target: "<= 300 ms", met: launch.healthyMs.median <= 300 },
    { figure: "idle RSS 10 s after start", ours: `${formatMiB(idle.rssBytes)}${helpers}`, anchor: "~799 MiB", target: "<= 90 MiB", met: idle.rssBytes + idle.childRssBytes <= 90 * 1024 * 1024 },
    { figure: `kill -9 -> restart -> /healthz 200 (median of ${restart.runs})`, ours: spread(restart.restartMs), anchor: "5.8 s", target: "<= 500 ms", met: restart.restartMs.median <= 500 },
    {
      figure: "SIGTERM -> exit code",
      ours: `${[...new Set(sigtermStatuses)].join(", ")} (median ${formatMs(summarize(launch.sigterm.map((shutdown) => shutdown.elapsedMs)).median)})`,
      anchor: "",
      target: "0",
      met: sigtermOk,
    },
    {
      figure: "second gateway on a held state dir",
      ours: lockStatus === undefined ? "did not exit in 10 s" : `exit ${lockStatus}`,
      anchor: "",
      target: `exit ${LOCK_HELD_EXIT_CODE} (LOCK_HELD)`,
      met: lockStatus === LOCK_HELD_EXIT_CODE,
    },
  ];
}
