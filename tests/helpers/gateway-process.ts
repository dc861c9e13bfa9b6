/**
 * Runs the BUILT gateway (`node dist/index.js …`) as a real child process, the way Fly and
 * users run it, and collects what it prints. Every process is killed when its test ends.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { TestContext } from "node:test";

export const REPO_ROOT = resolve(import.meta.dirname, "../..");
export const ENTRY = join(REPO_ROOT, "dist/index.js");

/** Environment for children: ours minus anything that would change the gateway's behaviour. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(OPENCLAW_|FARADAY_|ANTHROPIC_|OPENAI_|TELEGRAM_|DISCORD_|FAVCRM_|LOG_LEVEL)/.test(key)) continue;
    env[key] = value;
  }
  // Built-in FavCRM would reach api.favcrm.io on a first turn: point it at a closed loopback port.
  env.FAVCRM_MCP_URL = "http://127.0.0.1:9/mcp";
  for (const [key, value] of Object.entries(extra)) if (value !== undefined) env[key] = value;
  return env;
}

export async function tempStateDir(t: TestContext): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), "faraday-test-"));
  t.after(() => rm(directory, { recursive: true, force: true }));
  return join(directory, "state");
}

export interface GatewayProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** Parsed JSON log lines from stdout. */
  logs(): Array<Record<string, unknown>>;
  /** Resolves with the exit code (or the signal name). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the URL from the "gateway listening" line; rejects if it exits first. */
  readonly listening: Promise<string>;
  kill(signal?: NodeJS.Signals): void;
}

/** Start `node dist/index.js ARGS` with a clean environment. */
export function runCli(t: TestContext, args: string[], env: Record<string, string | undefined> = {}, options: { cwd?: string } = {}): GatewayProcess {
  const child = spawn(process.execPath, [ENTRY, ...args], {
    env: cleanEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
    cwd: options.cwd ?? REPO_ROOT,
  });
  let out = "";
  let err = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) =>
    child.once("exit", (code, signal) => resolveExit({ code, signal })),
  );
  const listening = new Promise<string>((resolveUrl, reject) => {
    const onData = () => {
      const match = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"gateway listening"/.exec(out);
      if (match) {
        child.stdout!.off("data", onData);
        resolveUrl(match[1]!);
      }
    };
    child.stdout!.on("data", onData);
    void exited.then(({ code, signal }) => reject(new Error(`gateway exited (${code ?? signal}) before listening:\n${out}\n${err}`)));
  });
  listening.catch(() => {});
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
  });
  return {
    child,
    pid: child.pid!,
    stdout: () => out,
    stderr: () => err,
    logs: () =>
      out.split("\n").flatMap((line) => {
        try {
          return line.startsWith("{") ? [JSON.parse(line) as Record<string, unknown>] : [];
        } catch {
          return [];
        }
      }),
    exited,
    listening,
    kill: (signal = "SIGTERM") => void child.kill(signal),
  };
}

/** Start a gateway on a free loopback port and wait until it listens. */
export async function startGateway(
  t: TestContext,
  stateDir: string,
  options: { args?: string[]; env?: Record<string, string | undefined>; allowUnconfigured?: boolean } = {},
): Promise<GatewayProcess & { url: string }> {
  const args = ["gateway", "--port", "0", "--state-dir", stateDir];
  if (options.allowUnconfigured ?? true) args.push("--allow-unconfigured");
  const gateway = runCli(t, [...args, ...(options.args ?? [])], options.env);
  const url = await gateway.listening;
  return Object.assign(gateway, { url });
}

/** Run a CLI command to completion. */
export async function runToExit(t: TestContext, args: string[], env: Record<string, string | undefined> = {}, options: { cwd?: string } = {}) {
  const run = runCli(t, args, env, options);
  const { code } = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/**
 * fetch JSON from the gateway with an optional bearer token; `headers` are sent as given
 * (fetch adds no Origin or Sec-Fetch-* of its own from Node).
 */
export async function api(url: string, path: string, init: { token?: string; method?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${url}${path}`, {
    method: init.method ?? "GET",
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, json, text };
}
