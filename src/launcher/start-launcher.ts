import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";
import { FaradayError } from "../errors/index.ts";
import { loadAssets } from "./launcher-assets.ts";
import { buildLauncherApp } from "./launcher-app.ts";
import { faradayHome, LauncherStore } from "./launcher-store.ts";

const PACKAGE_ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const DEFAULT_LAUNCHER_PORT = 3100;
const LOOPBACK = new Set(["127.0.0.1", "localhost", "loopback"]);

export interface StartLauncherOptions {
  /** Default 3100; 0 picks a free one. */
  readonly port?: number;
  /** Only loopback is accepted: the launcher spends money and holds keys. */
  readonly bind?: string;
  /** The launcher's environment (from config's readEnvironment). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /**
   * Where each app's gateway answers: `https://APP.fly.dev` by default. A template with `{app}`
   * (or a plain base URL) points instances elsewhere, e.g. a loopback server in tests.
   */
  readonly instanceUrlTemplate?: string;
  readonly deployHealthTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

export interface RunningLauncher {
  readonly app: FastifyInstance;
  readonly port: number;
  /** The address to open: `http://127.0.0.1:PORT/#t=TOKEN` (the fragment never reaches a server log). */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serve the launcher on 127.0.0.1.
 * @throws FaradayError BIND_INVALID for any other address, PORT_INVALID, PORT_IN_USE.
 */
export async function startLauncher(options: StartLauncherOptions): Promise<RunningLauncher> {
  if (options.bind !== undefined && !LOOPBACK.has(options.bind)) {
    throw new FaradayError("BIND_INVALID", `the launcher listens on 127.0.0.1 only (it can spend money on Fly and holds your keys); "${options.bind}" refused. Reach it from another machine through an SSH tunnel: ssh -L 3100:127.0.0.1:3100 HOST`);
  }
  const requested = options.port ?? DEFAULT_LAUNCHER_PORT;
  if (!Number.isInteger(requested) || requested < 0 || requested > 65535) throw new FaradayError("PORT_INVALID", `--port "${requested}" is not a port number (0–65535)`);
  const home = faradayHome(options.env);
  const template = options.instanceUrlTemplate ?? "https://{app}.fly.dev";
  let port = requested;
  const launchToken = randomBytes(24).toString("base64url");
  const app = await buildLauncherApp({
    launchToken,
    port: () => port,
    store: new LauncherStore(home),
    assets: await loadAssets(),
    env: options.env,
    packageRoot: PACKAGE_ROOT,
    appsDir: join(home, "launcher", "apps"),
    instanceUrl: (name) => (template.includes("{app}") ? template.replaceAll("{app}", name) : template).replace(/\/$/, ""),
    ...(options.log ? { log: options.log } : {}),
    ...(options.deployHealthTimeoutMs ? { deployHealthTimeoutMs: options.deployHealthTimeoutMs } : {}),
  });
  try {
    await app.listen({ host: "127.0.0.1", port: requested });
  } catch (error) {
    if ((error as { code?: string }).code === "EADDRINUSE") throw new FaradayError("PORT_IN_USE", `port ${requested} is in use (another launcher?); pick another with --port, or 0 for a free one`);
    throw error;
  }
  port = (app.server.address() as AddressInfo).port;
  return { app, port, url: `http://127.0.0.1:${port}/#t=${launchToken}`, close: () => app.close() };
}
