import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat, type FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { FaradayError } from "../errors/index.ts";
import { checkIntegrity, MIGRATIONS, writeFileAtomic } from "../state/index.ts";
import {
  CONFIG_NAME,
  DATABASE_NAME,
  MANIFEST_NAME,
  RESTORED_NAMES,
  validateManifest,
  type BackupFile,
  type BackupManifest,
} from "./backup-manifest.ts";
import { BACKUP_TEMP_PREFIX } from "./create-backup.ts";
import { readTar } from "./tar.ts";

/**
 * A restore, on the state dir's own filesystem (so every move is a rename):
 *
 *   .restore/staging/       the backup, extracted and checked (size, SHA-256, SQLite integrity)
 *   .restore/staging/.ready written last: from here on the restore is committed
 *   .restore/previous/      the old state, moved aside
 *   .restore/.old-out       written once every old file is aside
 *
 * Killed before `.ready`: the old state was never touched, and the next start (or restore)
 * discards the staging directory. Killed after it: the next start finishes the moves. Either way
 * the state dir is all old or all restored, never a mix.
 */
export const RESTORE_DIR = ".restore";
const READY = ".ready";
const OLD_OUT = ".old-out";
const DONE_PREFIX = ".restore-done-";

/** Default bound on a backup's uncompressed size. */
export const DEFAULT_MAX_RESTORE_BYTES = 8 * 1024 ** 3;

export interface StageOptions {
  /** Refuse archives whose files add up to more than this (uncompressed). */
  readonly maxBytes?: number;
  /** Extra check of the backup's parsed `openclaw.json` (the HTTP route's policy); throw to refuse. */
  readonly checkConfig?: (config: unknown) => void;
}

const restorePaths = (stateDir: string) => {
  const root = join(stateDir, RESTORE_DIR);
  return { root, staging: join(root, "staging"), ready: join(root, "staging", READY), previous: join(root, "previous"), oldOut: join(root, OLD_OUT) };
};

async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, "r").catch(() => undefined);
  await handle?.sync().catch(() => {});
  await handle?.close();
}

/** Move a directory out of the way with one rename, then delete it (a crash mid-delete leaves only a `.restore-done-*`). */
async function retire(directory: string, stateDir: string): Promise<void> {
  const aside = join(stateDir, `${DONE_PREFIX}${randomBytes(4).toString("hex")}`);
  await rename(directory, aside);
  await syncDirectory(stateDir);
  await rm(aside, { recursive: true, force: true });
}

function unreadable(error: unknown): FaradayError {
  if (error instanceof FaradayError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "Z_DATA_ERROR" || code === "Z_BUF_ERROR" || code === "ERR_STREAM_PREMATURE_CLOSE") {
    return new FaradayError("BACKUP_INVALID", "the file is not a complete gzip'd Faraday backup (damaged or cut off); make or download it again", { cause: error });
  }
  return new FaradayError("BACKUP_INVALID", `cannot read the backup: ${(error as Error).message}`, { cause: error });
}

/**
 * Extract and check a backup into `.restore/staging/`, then mark it ready. The live state is not
 * touched: {@link recoverRestore} (run at the gateway's next start, or by `backup restore` at
 * once) swaps it in.
 * @throws FaradayError BACKUP_INVALID (damaged, truncated, not Faraday's, a checksum mismatch, a
 * database newer than this Faraday), BACKUP_TOO_LARGE, or whatever `checkConfig` throws.
 */
export async function stageRestore(stateDir: string, source: Readable, options: StageOptions = {}): Promise<BackupManifest> {
  const paths = restorePaths(stateDir);
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_RESTORE_BYTES;
  // Listeners go on before the first await: a source that fails early (an upload over its bound)
  // must fail this restore, not crash the process with an unhandled 'error'.
  const gunzip = createGunzip();
  gunzip.on("error", () => {}); // surfaced by the iteration in readTar
  source.on("error", (error) => gunzip.destroy(error));
  if (existsSync(paths.root)) await retire(paths.root, stateDir);
  await mkdir(paths.staging, { recursive: true, mode: 0o700 });
  let manifest: BackupManifest | undefined;
  let expected = new Map<string, BackupFile>();
  const seen = new Set<string>();
  let total = 0;
  let current: { file: BackupFile | undefined; handle?: FileHandle; hash: ReturnType<typeof createHash>; manifestChunks?: Buffer[] } | undefined;
  try {
    await readTar(source.pipe(gunzip), {
      async start(header) {
        if (!manifest) {
          if (header.name !== MANIFEST_NAME || header.size > 1024 * 1024) {
            throw new FaradayError("BACKUP_INVALID", "this is not a Faraday backup (it does not start with its manifest.json); make one with `faraday backup create`");
          }
          current = { file: undefined, hash: createHash("sha256"), manifestChunks: [] };
          return;
        }
        const file = expected.get(header.name);
        if (!file || seen.has(header.name) || file.size !== header.size) {
          throw new FaradayError("BACKUP_INVALID", `the archive holds ${JSON.stringify(header.name)}, which its manifest does not list (or lists with another size)`);
        }
        seen.add(header.name);
        const target = join(paths.staging, ...header.name.split("/"));
        await mkdir(dirname(target), { recursive: true, mode: 0o700 });
        current = { file, handle: await open(target, "wx", 0o600), hash: createHash("sha256") };
      },
      async data(chunk) {
        if (current?.manifestChunks) {
          current.manifestChunks.push(Buffer.from(chunk));
          return;
        }
        total += chunk.length;
        if (total > maxBytes) {
          throw new FaradayError("BACKUP_TOO_LARGE", `the backup is larger than ${Math.round(maxBytes / 1024 ** 2)} MiB uncompressed, the most this gateway restores`);
        }
        current!.hash.update(chunk);
        await current!.handle!.write(chunk);
      },
      async end() {
        const entry = current!;
        current = undefined;
        if (entry.manifestChunks) {
          let parsed: unknown;
          try {
            parsed = JSON.parse(Buffer.concat(entry.manifestChunks).toString("utf8"));
          } catch {
            throw new FaradayError("BACKUP_INVALID", "the backup's manifest.json is not JSON");
          }
          manifest = validateManifest(parsed);
          expected = new Map(manifest.files.map((file) => [file.path, file]));
          return;
        }
        await entry.handle!.sync();
        await entry.handle!.close();
        if (entry.hash.digest("hex") !== entry.file!.sha256) {
          throw new FaradayError("BACKUP_INVALID", `${entry.file!.path} in the backup does not match its checksum: the archive is damaged`);
        }
      },
    });
    if (!manifest) throw new FaradayError("BACKUP_INVALID", "the archive is empty");
    const missing = manifest.files.filter((file) => !seen.has(file.path)).map((file) => file.path);
    if (missing.length) throw new FaradayError("BACKUP_INVALID", `the backup is missing ${missing.join(", ")} (its manifest lists them)`);
    await checkDatabase(join(paths.staging, DATABASE_NAME));
    if (expected.has(CONFIG_NAME)) {
      let config: unknown;
      try {
        config = JSON.parse(await readFile(join(paths.staging, CONFIG_NAME), "utf8"));
      } catch {
        throw new FaradayError("BACKUP_INVALID", `the backup's ${CONFIG_NAME} is not JSON`);
      }
      options.checkConfig?.(config);
    }
    await syncDirectory(paths.staging);
    await writeFileAtomic(paths.ready, JSON.stringify(manifest, null, 2) + "\n", { mode: 0o600 });
    return manifest;
  } catch (error) {
    source.destroy();
    await current?.handle?.close().catch(() => {});
    await rm(paths.root, { recursive: true, force: true }).catch(() => {});
    throw unreadable(error);
  }
}

async function checkDatabase(path: string): Promise<void> {
  const { DatabaseSync } = await import("node:sqlite");
  let database;
  try {
    database = new DatabaseSync(path, { readOnly: true });
    const integrity = checkIntegrity(database);
    if (!integrity.ok) throw new FaradayError("BACKUP_INVALID", `the backup's database is damaged: ${integrity.detail}`);
    const row = database.prepare("SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations").get() as { version: number };
    const newest = MIGRATIONS.reduce((max, migration) => Math.max(max, migration.version), 0);
    if (Number(row.version) > newest) {
      throw new FaradayError("BACKUP_INVALID", `the backup's database is at schema version ${row.version}, newer than this Faraday knows (${newest}); restore it with a newer Faraday`);
    }
  } catch (error) {
    if (error instanceof FaradayError) throw error;
    throw new FaradayError("BACKUP_INVALID", `the backup's database cannot be opened: ${(error as Error).message}`, { cause: error });
  } finally {
    database?.close();
  }
}

export type RestoreRecovery =
  | { readonly outcome: "none" }
  | { readonly outcome: "discarded" }
  | { readonly outcome: "applied"; readonly manifest: BackupManifest | null };

/** Whether a restore is staged and committed (the gateway applies it at its next start). */
export function restorePending(stateDir: string): boolean {
  return existsSync(restorePaths(stateDir).ready);
}

/**
 * Run with the state lock held, before the database is opened (gateway start-up, `backup
 * restore`): finish a committed restore, discard an uncommitted one, and remove what a crash
 * left of earlier backups and restores.
 */
export async function recoverRestore(stateDir: string, now = Date.now()): Promise<RestoreRecovery> {
  for (const entry of await readdir(stateDir).catch(() => [] as string[])) {
    if (entry.startsWith(DONE_PREFIX)) await rm(join(stateDir, entry), { recursive: true, force: true });
    else if (entry.startsWith(BACKUP_TEMP_PREFIX)) {
      // A backup being taken right now by `faraday backup create` is young; one a crash left is not.
      const age = now - (await stat(join(stateDir, entry)).then((info) => info.mtimeMs, () => now));
      if (age > 10 * 60_000) await rm(join(stateDir, entry), { recursive: true, force: true });
    }
  }
  const paths = restorePaths(stateDir);
  if (!existsSync(paths.root)) return { outcome: "none" };
  if (!existsSync(paths.ready)) {
    await retire(paths.root, stateDir);
    return { outcome: "discarded" };
  }
  let manifest: BackupManifest | null = null;
  try {
    manifest = validateManifest(JSON.parse(await readFile(paths.ready, "utf8")));
  } catch {
    manifest = null;
  }
  if (!existsSync(paths.oldOut)) {
    await mkdir(paths.previous, { recursive: true, mode: 0o700 });
    for (const name of RESTORED_NAMES) {
      const live = join(stateDir, name);
      if (!existsSync(live)) continue;
      const aside = join(paths.previous, name);
      await rm(aside, { recursive: true, force: true });
      await rename(live, aside);
    }
    await syncDirectory(stateDir);
    await writeFileAtomic(paths.oldOut, "", { mode: 0o600 });
  }
  for (const name of await readdir(paths.staging)) {
    if (!(RESTORED_NAMES as readonly string[]).includes(name)) continue;
    await rename(join(paths.staging, name), join(stateDir, name));
  }
  await syncDirectory(stateDir);
  await retire(paths.root, stateDir);
  return { outcome: "applied", manifest };
}
