import { readdir, unlink } from "node:fs/promises";
import { join } from "node:path";

/**
 * `writeFileAtomic`'s temporaries (`.NAME.PID.HEX8.tmp`), `backupFile`'s for the last-good copy
 * (`openclaw.json.last-good.PID.N.tmp`) and a lock reclaimer's claimed owner record
 * (`owner.json.reclaim-PID-HEX8`).
 */
const TEMPORARY = /^(?:(?:\..+\.\d+\.[0-9a-f]{8}|openclaw\.json\.last-good\.\d+\.\d+)\.tmp|owner\.json\.reclaim-\d+-[0-9a-f]{8})$/;

/**
 * Remove the temporary files a killed writer left in the state directory (`kill -9` during
 * `PUT /api/config` leaves `.openclaw.json.PID.HEX.tmp`): in the directory itself, `locks/` and
 * each `agents/<id>/`. Only call it while holding the state lock: then no live writer owns any
 * of them. Returns the paths removed; never throws (a file it cannot remove is left).
 */
export async function removeStaleTemporaries(stateDir: string): Promise<string[]> {
  const directories = [stateDir, join(stateDir, "locks")];
  const agents = join(stateDir, "agents");
  for (const entry of await readdir(agents, { withFileTypes: true }).catch(() => [])) {
    if (entry.isDirectory()) directories.push(join(agents, entry.name));
  }
  const removed: string[] = [];
  for (const directory of directories) {
    for (const entry of await readdir(directory, { withFileTypes: true }).catch(() => [])) {
      if (!entry.isFile() || !TEMPORARY.test(entry.name)) continue;
      const path = join(directory, entry.name);
      try {
        await unlink(path);
        removed.push(path);
      } catch {
        // Gone already, or not ours to remove: leave it.
      }
    }
  }
  return removed;
}
