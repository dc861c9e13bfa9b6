/**
 * How the gateway runs as deployed, read from the repository's Dockerfile and fly.toml: the
 * environment the container gives the process (the runtime stage's ENV, fly.toml [env] on top),
 * NODE_OPTIONS and FARADAY_NODE_FLAGS included, so a bench gateway gets its V8 settings the way
 * the deployed one does (a NODE_OPTIONS word Node refuses fails here as it would on Fly).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";

/** Where the deployed environment keeps state; such paths point into the run's own state dir. */
const DEPLOYED_STATE_DIR = "/data";

export interface DeployedSettings {
  /** The container's environment minus OPENCLAW_STATE_DIR (a bench passes --state-dir). */
  env: Record<string, string>;
  /** "NODE_OPTIONS=… FARADAY_NODE_FLAGS=…", for labels. */
  describe: string;
}

export async function deployedSettings(root: string): Promise<DeployedSettings> {
  const { parse } = await import("smol-toml");
  const { parseDockerfile } = await import("../src/deploy/dockerfile.ts");
  const fly = parse(await readFile(join(root, "fly.toml"), "utf8")) as { env?: Record<string, unknown> };
  const runtime = parseDockerfile(await readFile(join(root, "Dockerfile"), "utf8")).stages.at(-1);
  const env: Record<string, string> = Object.fromEntries(runtime?.env ?? []);
  for (const [key, value] of Object.entries(fly.env ?? {})) env[key] = String(value);
  delete env.OPENCLAW_STATE_DIR;
  const describe = ["NODE_OPTIONS", "FARADAY_NODE_FLAGS"].filter((key) => env[key]).map((key) => `${key}=${env[key]}`).join(" ");
  return { env, describe };
}

/** `extraEnv` with values under the deployed state dir moved under this run's `stateDir`. */
export function stateDirPaths(extraEnv: Record<string, string>, stateDir: string): Record<string, string> {
  return Object.fromEntries(Object.entries(extraEnv).map(([key, value]) => [
    key,
    value === DEPLOYED_STATE_DIR || value.startsWith(`${DEPLOYED_STATE_DIR}/`) ? join(stateDir, value.slice(DEPLOYED_STATE_DIR.length)) : value,
  ]));
}
