import { createReadStream } from "node:fs";
import { access } from "node:fs/promises";
import { FaradayError, isFaradayError } from "../errors/index.ts";
import { acquireStateLock, ensureStateDir } from "../state/index.ts";
import type { BackupManifest } from "./backup-manifest.ts";
import { recoverRestore, stageRestore } from "./restore-backup.ts";

/**
 * `faraday backup restore FILE`: take the state lock (so no gateway runs on the directory
 * meanwhile), check and stage the backup, then swap it in. A restore killed midway leaves the
 * old state (before the backup was fully checked) or is finished by the next start (after).
 * @throws FaradayError LOCK_HELD while a gateway runs on the state dir; BACKUP_INVALID.
 */
export async function restoreBackupFile(options: { stateDir: string; file: string; version: string }): Promise<BackupManifest> {
  try {
    await access(options.file);
  } catch {
    throw new FaradayError("BACKUP_INVALID", `cannot read ${options.file}: no such file (or no permission)`);
  }
  await ensureStateDir(options.stateDir);
  let lock;
  try {
    lock = await acquireStateLock(options.stateDir, { version: options.version });
  } catch (error) {
    if (!isFaradayError(error, "LOCK_HELD")) throw error;
    throw new FaradayError(
      "LOCK_HELD",
      `${error.message} A restore replaces the database under a running gateway, so it needs the gateway stopped: stop it, then run \`faraday backup restore\` again. ` +
        "(For a gateway you cannot stop by hand, `faraday deploy restore` uploads the backup and the gateway applies it at its next start.)",
      { ...(error.details ? { details: error.details } : {}) },
    );
  }
  try {
    await recoverRestore(options.stateDir);
    const manifest = await stageRestore(options.stateDir, createReadStream(options.file));
    await recoverRestore(options.stateDir);
    return manifest;
  } finally {
    await lock.release();
  }
}
