import { mkdir, access, constants, stat, chmod } from "node:fs/promises";
import { join } from "node:path";
import { FaradayError } from "../errors/index.ts";

/** Paths inside a state directory. One place names them all. */
export function statePaths(stateDir: string) {
  return {
    stateDir,
    config: join(stateDir, "openclaw.json"),
    configLastGood: join(stateDir, "openclaw.json.last-good"),
    database: join(stateDir, "faraday.sqlite"),
    agents: join(stateDir, "agents"),
    locks: join(stateDir, "locks"),
  } as const;
}

export type StatePaths = ReturnType<typeof statePaths>;

/**
 * Create the state directory (0700) if it is missing and check that we can write to it.
 * @throws FaradayError STATE_DIR_UNWRITABLE with the path and the likely fix.
 */
export async function ensureStateDir(stateDir: string): Promise<StatePaths> {
  const paths = statePaths(stateDir);
  try {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    const info = await stat(stateDir);
    if (!info.isDirectory()) throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" });
    // A fresh volume is root-owned 0755; tighten it when it is ours.
    if ((info.mode & 0o077) !== 0 && typeof process.getuid === "function" && info.uid === process.getuid()) {
      await chmod(stateDir, 0o700).catch(() => {});
    }
    await access(stateDir, constants.W_OK | constants.R_OK | constants.X_OK);
    await mkdir(paths.locks, { recursive: true, mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "unknown";
    throw new FaradayError(
      "STATE_DIR_UNWRITABLE",
      `state directory ${stateDir} is not usable (${code}). Point --state-dir or OPENCLAW_STATE_DIR at a writable directory` +
        (code === "EACCES" ? `, or give this user ownership of it (chown)` : ""),
      { cause: error },
    );
  }
  return paths;
}
