import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { request } from "node:http";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** A gateway child process started by a bench. */
export interface GatewayProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  stateDir: string;
  /** performance.now() just before spawn. */
  spawnedAt: number;
  /** performance.now() when stdout showed "gateway listening"; undefined until then. */
  listeningAt: number | undefined;
  /** Resolves with the exit code (or the signal name) once the process is gone. */
  exited: Promise<number | string>;
  exitStatus: number | string | undefined;
  /** The last few KiB of stdout+stderr, for error messages. */
  outputTail(): string;
}

const OUTPUT_TAIL_BYTES = 8 * 1024;
/** Every gateway any bench started, so a crash or Ctrl-C in the runner still ends them. */
const running = new Set<GatewayProcess>();
/** Other children (npm) a bench started, for the same reason. */
const helpers = new Set<ChildProcess>();

/** Registers a non-gateway child so killAllChildren() ends it too; it is forgotten once it exits. */
export function trackChild(child: ChildProcess): void {
  helpers.add(child);
  child.once("exit", () => helpers.delete(child));
}

/** A free loopback port: listen on 127.0.0.1:0, read the port the kernel chose, close. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("could not read the free port");
  return address.port;
}

/**
 * Spawns `node dist/index.js gateway --allow-unconfigured --port PORT --state-dir DIR` directly
 * (not through npm, so the pid is the gateway's), with OPENCLAW_* variables removed from the
 * environment so the flags alone decide. stdout and stderr are always drained: a full pipe
 * would stall the gateway and the measurement with it.
 */
export function spawnGateway(
  entry: string,
  options: { port: number; stateDir: string; cwd: string; env?: Record<string, string>; nodeArgs?: readonly string[] },
): GatewayProcess {
  // Nothing of ours that changes the gateway's behaviour leaks in; `env` adds what a bench wants.
  // FAVCRM_MCP_URL: the built-in FavCRM must never reach the internet from a bench.
  const environment: NodeJS.ProcessEnv = { NODE_ENV: "production", FAVCRM_MCP_URL: "http://127.0.0.1:9/mcp" };
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(OPENCLAW_|FARADAY_|ANTHROPIC_|OPENAI_|TELEGRAM_|DISCORD_|FAVCRM_|LOG_LEVEL$|NODE_OPTIONS$|NODE_ENV$)/.test(key)) continue;
    environment[key] = value;
  }
  Object.assign(environment, options.env);
  const spawnedAt = performance.now();
  const args = [...(options.nodeArgs ?? []), entry, "gateway", "--allow-unconfigured", "--port", String(options.port), "--state-dir", options.stateDir];
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: environment,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid === undefined) throw new Error(`could not spawn ${process.execPath} ${entry}`);

  let tail = "";
  const handle: GatewayProcess = {
    child,
    pid: child.pid,
    port: options.port,
    stateDir: options.stateDir,
    spawnedAt,
    listeningAt: undefined,
    exitStatus: undefined,
    exited: new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        handle.exitStatus = code ?? signal ?? "unknown";
        running.delete(handle);
        resolve(handle.exitStatus);
      });
    }),
    outputTail: () => tail,
  };
  const collect = (chunk: Buffer): void => {
    const text = chunk.toString("utf8");
    if (handle.listeningAt === undefined && text.includes('"gateway listening"')) handle.listeningAt = performance.now();
    tail = (tail + text).slice(-OUTPUT_TAIL_BYTES);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  running.add(handle);
  return handle;
}

/** One GET /healthz; resolves with the status and body, or undefined when nothing answered. */
export function probeHealth(port: number, timeoutMs = 1000): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    // agent: false — a fresh connection per probe, as a restarted client would make.
    const outgoing = request({ host: "127.0.0.1", port, path: "/healthz", method: "GET", agent: false, timeout: timeoutMs }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        body += chunk;
      });
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
      response.on("error", () => resolve(undefined));
    });
    outgoing.on("error", () => resolve(undefined));
    outgoing.on("timeout", () => {
      outgoing.destroy();
      resolve(undefined);
    });
    outgoing.end();
  });
}

/**
 * Polls GET /healthz every `intervalMs` until it answers 200 and returns the milliseconds
 * since spawn. Throws, with the gateway's last output, when the process exits first or
 * `timeoutMs` passes.
 */
export async function waitForHealthy(gateway: GatewayProcess, options: { timeoutMs?: number; intervalMs?: number } = {}): Promise<{ elapsedMs: number; body: string }> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 5;
  const deadline = gateway.spawnedAt + timeoutMs;
  // Bounded twice: by the deadline, and by a count in case the clock misbehaves.
  const maxAttempts = Math.ceil(timeoutMs / intervalMs) + 1;
  for (let attempt = 0; attempt < maxAttempts && performance.now() < deadline; attempt += 1) {
    if (gateway.exitStatus !== undefined) {
      throw new Error(`gateway exited with ${gateway.exitStatus} before /healthz answered 200\n${gateway.outputTail()}`);
    }
    const answer = await probeHealth(gateway.port, Math.max(50, Math.min(1000, deadline - performance.now())));
    if (answer?.status === 200) return { elapsedMs: performance.now() - gateway.spawnedAt, body: answer.body };
    await sleep(intervalMs);
  }
  throw new Error(`gateway did not answer /healthz 200 within ${timeoutMs} ms (port ${gateway.port})\n${gateway.outputTail()}`);
}

/**
 * Sends `signal` and waits up to `timeoutMs` for the exit; SIGKILLs it if it is still there.
 * Returns the exit status and how long the exit took. Safe to call on an exited process.
 */
export async function stopGateway(gateway: GatewayProcess, signal: NodeJS.Signals = "SIGTERM", timeoutMs = 10_000): Promise<{ status: number | string; elapsedMs: number; forced: boolean }> {
  const started = performance.now();
  if (gateway.exitStatus !== undefined) return { status: gateway.exitStatus, elapsedMs: 0, forced: false };
  gateway.child.kill(signal);
  const outcome = await withTimeout(gateway.exited, timeoutMs);
  if (outcome !== undefined) return { status: outcome, elapsedMs: performance.now() - started, forced: false };
  gateway.child.kill("SIGKILL");
  const status = (await withTimeout(gateway.exited, 5_000)) ?? "unkillable";
  return { status, elapsedMs: performance.now() - started, forced: true };
}

/** The promise's value, or undefined after `timeoutMs`; the timer is cleared either way. */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** SIGKILLs every gateway and helper child still running; for finally blocks and the runner's exit path. */
export function killAllChildren(): void {
  for (const gateway of running) {
    if (gateway.exitStatus === undefined) gateway.child.kill("SIGKILL");
  }
  for (const child of helpers) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}

/** VmRSS and VmHWM from /proc/PID/status, in bytes. */
export async function readProcessMemory(pid: number): Promise<{ rssBytes: number; peakRssBytes: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kilobytes = (field: string): number => {
    const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(status);
    if (match === null) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(match[1]) * 1024;
  };
  return { rssBytes: kilobytes("VmRSS"), peakRssBytes: kilobytes("VmHWM") };
}
