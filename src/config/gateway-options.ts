import { isIP } from "node:net";
import { resolve } from "node:path";
import { FaradayError } from "../errors/index.ts";
import type { Environment } from "./environment.ts";
import type { FaradayConfig } from "./schema.ts";

/** Flags of `faraday gateway` as the CLI parsed them (all optional). */
export interface GatewayFlags {
  port?: string | number;
  bind?: string;
  stateDir?: string;
  allowUnconfigured?: boolean;
}

export const DEFAULT_PORT = 3000;
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

/** Where the state lives: `--state-dir` > `OPENCLAW_STATE_DIR` > `./data`. */
export function resolveStateDir(flag: string | undefined, environment: Environment, cwd = process.cwd()): string {
  return resolve(cwd, flag ?? environment.stateDir ?? "data");
}

/** The listen host for a `--bind` value: `loopback` 127.0.0.1, `lan` 0.0.0.0, else an IP address. */
export function resolveBindHost(bind: string | undefined): { host: string; loopback: boolean } {
  const value = (bind ?? "loopback").trim();
  if (value === "loopback" || value === "localhost") return { host: "127.0.0.1", loopback: true };
  if (value === "lan") return { host: "0.0.0.0", loopback: false };
  if (isIP(value) === 0) {
    throw new FaradayError("BIND_INVALID", `--bind "${value}" is not loopback, lan or an IP address; use --bind loopback (default), --bind lan, or an address such as 10.0.0.5`);
  }
  return { host: value, loopback: value === "::1" || value.startsWith("127.") };
}

/** `--port` > `OPENCLAW_GATEWAY_PORT` > `gateway.port` > 3000. */
export function resolvePort(flag: string | number | undefined, environment: Environment, config: FaradayConfig | undefined): number {
  const candidates: Array<[string, string | number | undefined]> = [
    ["--port", flag],
    ["OPENCLAW_GATEWAY_PORT", environment.gatewayPort],
    ["gateway.port", config?.gateway?.port],
  ];
  for (const [source, value] of candidates) {
    if (value === undefined) continue;
    const port = typeof value === "number" ? value : Number(value);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new FaradayError("PORT_INVALID", `${source} "${value}" is not a port number (0–65535; 0 picks a free port)`);
    }
    return port;
  }
  return DEFAULT_PORT;
}

/**
 * `gateway.port` from a config that failed validation elsewhere, when the port itself is a valid
 * port number and no problem is about it: setup mode still listens where the file says (a
 * container's published port, a Fly internal_port), so the fix can be made through the API.
 */
export function setupModePort(raw: unknown, problems: ReadonlyArray<{ path: string }>): number | undefined {
  const port = (raw as { gateway?: { port?: unknown } } | null | undefined)?.gateway?.port;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) return undefined;
  if (problems.some((problem) => problem.path === "gateway.port" || problem.path === "gateway" || problem.path === "")) return undefined;
  return port;
}

/** Where the gateway token comes from, for status and doctor. */
export type TokenSource = "env" | "config" | "state";

/** The token named by `OPENCLAW_GATEWAY_TOKEN` or `gateway.auth.token`, if any. */
export function configuredToken(environment: Environment, config: FaradayConfig | undefined): { token: string; source: TokenSource } | undefined {
  if (environment.gatewayToken) return { token: environment.gatewayToken, source: "env" };
  const fromConfig = config?.gateway?.auth?.token;
  if (fromConfig) return { token: fromConfig, source: "config" };
  return undefined;
}

/**
 * Whether the failure limiter counts Fly's `Fly-Client-IP` header instead of the socket address:
 * `OPENCLAW_GATEWAY_TRUST_PROXY` (true/false; the deploy template sets it) > `gateway.trustProxy`
 * > false. Only Fly's proxy sets that header; `X-Forwarded-For` is never trusted.
 */
export function resolveTrustProxy(environment: Environment, config: FaradayConfig | undefined): boolean {
  const value = environment.trustProxy?.trim().toLowerCase();
  if (value === "true" || value === "1" || value === "fly") return true;
  if (value === "false" || value === "0") return false;
  return config?.gateway?.trustProxy === true;
}
