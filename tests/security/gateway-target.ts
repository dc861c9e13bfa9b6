/**
 * A gateway to attack: the real composition (`startGateway` with the CLI's extensions, so every
 * route the product registers is there), in this process so the test can ask fastify for its
 * routes, listening for real on 127.0.0.1 (or 0.0.0.0 for a LAN bind).
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { GATEWAY_EXTENSIONS } from "../../src/cli/gateway-command.ts";
import { readEnvironment } from "../../src/config/index.ts";
import { startGateway, type RunningGateway } from "../../src/gateway/index.ts";
import { createLogger } from "../../src/logging/index.ts";
import { rawRequest } from "./attack-helpers.ts";

export const GATEWAY_TOKEN = "security-test-gateway-token-5b1f0c9e7d";

export interface AttackTarget {
  readonly gateway: RunningGateway;
  readonly port: number;
  readonly stateDir: string;
  /** A signed-in dashboard cookie (`faraday_session=…`), from POST /auth/login with the token. */
  signIn(): Promise<string>;
}

export async function startAttackTarget(
  t: TestContext,
  options: { config?: Record<string, unknown>; env?: Record<string, string>; bind?: string } = {},
): Promise<AttackTarget> {
  const root = await mkdtemp(join(tmpdir(), "faraday-attack-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  const stateDir = join(root, "state");
  await mkdir(stateDir, { recursive: true });
  if (options.config) await writeFile(join(stateDir, "openclaw.json"), JSON.stringify(options.config, null, 2));
  const environment = readEnvironment({
    OPENCLAW_GATEWAY_TOKEN: GATEWAY_TOKEN,
    // Nothing may leave the machine: built-in FavCRM and the model point at a closed loopback port.
    FAVCRM_MCP_URL: "http://127.0.0.1:9/mcp",
    ANTHROPIC_API_KEY: "fake-anthropic-key-for-security-tests",
    ANTHROPIC_BASE_URL: "http://127.0.0.1:9",
    PATH: process.env.PATH,
    HOME: root,
    ...options.env,
  });
  const gateway = await startGateway({
    flags: { port: 0, stateDir, allowUnconfigured: true, ...(options.bind ? { bind: options.bind } : {}) },
    environment,
    version: "0.0.0-security-test",
    logger: createLogger({ level: "silent" }),
    extensions: GATEWAY_EXTENSIONS,
  });
  t.after(() => gateway.close("test finished"));
  const port = gateway.port;
  return {
    gateway,
    port,
    stateDir,
    async signIn() {
      const login = await rawRequest(port, "POST", "/auth/login", { "content-type": "application/json", origin: `http://127.0.0.1:${port}` }, JSON.stringify({ token: GATEWAY_TOKEN }));
      const setCookie = String(login.headers["set-cookie"] ?? "");
      const match = /faraday_session=[^;]+/.exec(setCookie);
      if (login.status !== 200 || !match) throw new Error(`sign-in failed: ${login.status} ${login.text}`);
      return match[0];
    },
  };
}
