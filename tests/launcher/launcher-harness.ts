/**
 * The launcher as users run it (`node dist/index.js launcher --port 0`, a child process) with
 * the fake flyctl on PATH, and a loopback HTTP server standing in for every instance's
 * https://APP.fly.dev (answers /healthz, takes PUT /api/config, serves a page at /).
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { installFakeFlyctl, type FakeFlyctl } from "../fakes/fake-flyctl.ts";
import { faradayVersion } from "../../src/version.ts";
import { runCli, type GatewayProcess } from "../helpers/gateway-process.ts";

export const SECRETS = {
  modelKey: "fake-anthropic-launcher-key-for-tests",
  telegramToken: "123456:launcher-telegram-token-9d8c7b6a",
  discordToken: "launcher-discord-token-MTIzNDU2Nzg5.abc",
  favcrmKey: "favcrm-launcher-key-5e4d3c2b1a",
} as const;

export interface InstanceServer {
  readonly url: string;
  /** Every request: method, path, authorization header, body. */
  readonly requests: Array<{ method: string; path: string; authorization: string | undefined; body: string }>;
  healthy: boolean;
  /** What /api/status says: this package's version unless set. */
  version: string;
  /** Answer `old` on /api/status until the fake flyctl records its next deploy (the new machine), then this package's version. */
  oldVersionUntilNextDeploy(fly: FakeFlyctl, old: string): void;
  /** Answer 401 to a bearer token other than the app's OPENCLAW_GATEWAY_TOKEN as the fake flyctl last deployed it. */
  refuseTokensUnlessFlyHas(fly: FakeFlyctl, app: string): void;
}

async function body(request: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of request) text += chunk;
  return text;
}

/** A stand-in for a deployed gateway on 127.0.0.1:0. */
export async function startInstanceServer(t: TestContext): Promise<InstanceServer> {
  const requests: InstanceServer["requests"] = [];
  const state: { healthy: boolean; version: string; untilDeploy?: { fly: FakeFlyctl; deploys: number }; tokenFrom?: { fly: FakeFlyctl; app: string } } = { healthy: true, version: faradayVersion() };
  /** The token the running machine has: the secret's value as of the last deploy (staged values are not live yet). */
  const deployedToken = (fly: FakeFlyctl, app: string) => {
    const secret = fly.state().apps[app]?.secrets.OPENCLAW_GATEWAY_TOKEN;
    return secret && !secret.staged ? secret.value : undefined;
  };
  let lastConfig: string | undefined;
  const server = createServer(async (request, response) => {
    const path = (request.url ?? "/").split("?")[0]!;
    requests.push({ method: request.method ?? "GET", path, authorization: request.headers.authorization, body: await body(request) });
    if (state.tokenFrom && path.startsWith("/api/") && request.headers.authorization !== `Bearer ${deployedToken(state.tokenFrom.fly, state.tokenFrom.app)}`) {
      response.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: "AUTH_INVALID", message: "invalid token" } }));
      return;
    }
    if (path === "/healthz") {
      response.writeHead(state.healthy ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify({ ok: state.healthy }));
    } else if (path === "/api/status") {
      if (state.untilDeploy && state.untilDeploy.fly.state().deploys.length > state.untilDeploy.deploys) {
        state.version = faradayVersion();
        delete state.untilDeploy;
      }
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ version: state.version }));
    } else if (path === "/readyz") {
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ready: true }));
    } else if (path === "/api/config" && request.method === "PUT") {
      // Like the gateway: `changed` only when the config differs from the one it has.
      const changed = requests.at(-1)!.body !== lastConfig;
      lastConfig = requests.at(-1)!.body;
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ changed }));
    } else if (path === "/") {
      response.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>Instance dashboard</title><h1>Instance dashboard</h1>");
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolveListen) => server.listen(0, "127.0.0.1", resolveListen));
  t.after(() => new Promise<void>((resolveClose) => {
    server.closeAllConnections();
    server.close(() => resolveClose());
  }));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    get healthy() {
      return state.healthy;
    },
    set healthy(value: boolean) {
      state.healthy = value;
    },
    get version() {
      return state.version;
    },
    set version(value: string) {
      state.version = value;
    },
    refuseTokensUnlessFlyHas(fly, app) {
      state.tokenFrom = { fly, app };
    },
    oldVersionUntilNextDeploy(fly, old) {
      state.version = old;
      state.untilDeploy = { fly, deploys: fly.state().deploys.length };
    },
  };
}

export interface LauncherUnderTest {
  readonly process: GatewayProcess;
  readonly fly: FakeFlyctl;
  readonly home: string;
  readonly instance: InstanceServer;
  /** http://127.0.0.1:PORT */
  readonly base: string;
  readonly port: number;
  /** The printed address with #t=TOKEN. */
  readonly signInUrl: string;
  readonly token: string;
}

/** Start `faraday launcher --port 0` with the fake flyctl and every instance pointed at a loopback server. */
export async function startLauncher(t: TestContext, options: { healthTimeoutSeconds?: number; orgs?: string[] } = {}): Promise<LauncherUnderTest> {
  const home = await mkdtemp(join(tmpdir(), "faraday-launcher-"));
  t.after(() => rm(home, { recursive: true, force: true }));
  const fly = installFakeFlyctl(options.orgs ? { orgs: options.orgs } : {});
  t.after(() => fly.cleanup());
  const instance = await startInstanceServer(t);
  const child = runCli(t, ["launcher", "--port", "0"], {
    ...fly.env,
    HOME: home,
    FARADAY_HOME: join(home, ".faraday"),
    FARADAY_LAUNCHER_INSTANCE_URL: instance.url,
    FARADAY_LAUNCHER_HEALTH_TIMEOUT: String(options.healthTimeoutSeconds ?? 10),
  }, { cwd: home });
  const signInUrl = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`the launcher printed no address in 15 s:\n${child.stdout()}\n${child.stderr()}`)), 15_000);
    const look = () => {
      const match = /Faraday launcher: (http:\/\/127\.0\.0\.1:\d+\/#t=[A-Za-z0-9_-]+)/.exec(child.stdout());
      if (match) {
        clearTimeout(timer);
        child.child.stdout!.off("data", look);
        resolveUrl(match[1]!);
      }
    };
    child.child.stdout!.on("data", look);
    void child.exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`the launcher exited (${code}):\n${child.stdout()}\n${child.stderr()}`));
    });
  });
  const parsed = new URL(signInUrl);
  return { process: child, fly, home, instance, base: parsed.origin, port: Number(parsed.port), signInUrl, token: parsed.hash.slice("#t=".length) };
}

/** Sign in like the page does; returns the Cookie header value. */
export async function signIn(launcher: LauncherUnderTest): Promise<string> {
  const response = await fetch(`${launcher.base}/api/session`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: launcher.base },
    body: JSON.stringify({ token: launcher.token }),
  });
  if (response.status !== 200) throw new Error(`sign-in failed: ${response.status} ${await response.text()}`);
  const cookie = response.headers.get("set-cookie")!;
  return cookie.split(";")[0]!;
}

/** A JSON call to the launcher's API as its own page makes it. */
export async function call(launcher: LauncherUnderTest, cookie: string, path: string, body?: unknown) {
  const response = await fetch(`${launcher.base}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { cookie, origin: launcher.base, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, text, json: text ? JSON.parse(text) : undefined };
}

export interface SseEvent {
  readonly event: string;
  readonly data: any;
}

/** Read a run's server-sent events to the end (bounded). Returns the raw text too, for secret scans. */
export async function readEvents(launcher: LauncherUnderTest, cookie: string, jobId: string, timeoutMs = 60_000): Promise<{ raw: string; events: SseEvent[] }> {
  const response = await fetch(`${launcher.base}/api/jobs/${jobId}/events`, { headers: { cookie }, signal: AbortSignal.timeout(timeoutMs) });
  if (response.status !== 200) throw new Error(`events: HTTP ${response.status} ${await response.text()}`);
  const raw = await response.text();
  const events = raw.split("\n\n").filter((block) => block.includes("data: ")).map((block) => {
    const lines = block.split("\n");
    return { event: lines.find((line) => line.startsWith("event: "))!.slice(7), data: JSON.parse(lines.find((line) => line.startsWith("data: "))!.slice(6)) };
  });
  return { raw, events };
}

export const LAUNCH_FORM = {
  app: "faraday-launch-test",
  org: "personal",
  region: "ams",
  memoryMb: 512,
  provider: "anthropic",
  modelKey: SECRETS.modelKey,
  telegramToken: SECRETS.telegramToken,
  discordToken: SECRETS.discordToken,
  whatsapp: true,
  favcrmKey: SECRETS.favcrmKey,
};
