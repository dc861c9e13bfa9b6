import { randomBytes } from "node:crypto";
import { open, rename, unlink, copyFile, chmod } from "node:fs/promises";
import { dirname, basename, join } from "node:path";

export interface AtomicWriteOptions {
  /** File mode of the result, e.g. 0o600 for secrets. Default 0o644. */
  mode?: number;
}

/**
 * Write a file so that a reader (or a crash) sees either the old content or the new, never a
 * mix: write a temp file beside it, fsync, rename over, fsync the directory.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const mode = options.mode ?? 0o644;
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const handle = await open(temporary, "wx", mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temporary).catch(() => {});
    throw error;
  }
  await handle.close();
  try {
    await chmod(temporary, mode);
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => {});
    throw error;
  }
  await syncDirectory(dirname(path));
}

/** Copy `path` to `backupPath` atomically, if `path` exists. Returns whether it copied. */
let backupCount = 0;

export async function backupFile(path: string, backupPath: string): Promise<boolean> {
  // Unique per call: two copies in flight never share (and steal) a temporary file.
  const temporary = `${backupPath}.${process.pid}.${++backupCount}.tmp`;
  try {
    await copyFile(path, temporary);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
  await rename(temporary, backupPath);
  return true;
}

async function syncDirectory(directory: string): Promise<void> {
  let handle;
  try {
    handle = await open(directory, "r");
    await handle.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic there.
  } finally {
    await handle?.close();
  }
}
