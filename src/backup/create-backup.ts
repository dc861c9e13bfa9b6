import { createHash, randomBytes } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { chmod, mkdtemp, open, readdir, readFile, rename, rm, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { pipeline, Readable } from "node:stream";
import { createGzip } from "node:zlib";
import { maskSecrets } from "../config/index.ts";
import { FaradayError } from "../errors/index.ts";
import type { Database } from "../state/index.ts";
import {
  CONFIG_NAME,
  DATABASE_NAME,
  isBackupPath,
  MANIFEST_NAME,
  SECRET_TABLES,
  type BackupFile,
  type BackupManifest,
} from "./backup-manifest.ts";
import { TAR_END, tarHeader, tarPadding } from "./tar.ts";

export interface CreateBackupOptions {
  readonly stateDir: string;
  /** Faraday's version, recorded in the manifest. */
  readonly version: string;
  /** False leaves the secret store and the WhatsApp link out and masks secrets in openclaw.json. */
  readonly withSecrets: boolean;
  /**
   * The gateway's own open connection. Without one (the CLI), a second connection is opened on
   * the database file; a running gateway keeps writing meanwhile (WAL), the copy is still one
   * consistent moment.
   */
  readonly database?: Database;
}

/** A backup ready to stream: the database copy is taken, the small files are read. */
export interface PreparedBackup {
  readonly manifest: BackupManifest;
  /** Things left out, for the person (e.g. an unparseable openclaw.json without secrets). */
  readonly warnings: readonly string[];
  /** The archive, a gzip'd tar; call once. */
  stream(): Readable;
  /** Remove the database copy. Call when the stream is done (or abandoned). */
  dispose(): Promise<void>;
}

/** Temporary directories a backup makes in the state dir; a crash may leave one (removed at start). */
export const BACKUP_TEMP_PREFIX = ".backup-";

interface Entry {
  readonly path: string;
  readonly size: number;
  readonly data?: Buffer;
  readonly file?: string;
}

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * Copy the database with SQLite's online backup (`sqlite3_backup_*`, node:sqlite's `backup()`)
 * in one step, so the copy is a single consistent moment even while another process writes.
 * Without secrets, the secret tables are emptied and the file vacuumed (deleted rows would
 * otherwise stay readable in free pages).
 */
async function copyDatabase(options: CreateBackupOptions, target: string): Promise<number> {
  const sqlite = await import("node:sqlite");
  const source = join(options.stateDir, DATABASE_NAME);
  let connection = options.database;
  if (!connection) {
    if (!existsSync(source)) {
      throw new FaradayError("BACKUP_INVALID", `no database at ${source}: nothing to back up. Check --state-dir (or OPENCLAW_STATE_DIR)`);
    }
    connection = new sqlite.DatabaseSync(source, { timeout: 5_000 });
  }
  try {
    await sqlite.backup(connection, target, { rate: 2_147_483_647 });
  } finally {
    if (connection !== options.database) connection.close();
  }
  await chmod(target, 0o600);
  const copy = new sqlite.DatabaseSync(target, { timeout: 5_000 });
  try {
    copy.exec("PRAGMA journal_mode = DELETE");
    if (!options.withSecrets) {
      copy.exec("PRAGMA secure_delete = ON");
      const tables = new Set((copy.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((row) => row.name));
      for (const table of SECRET_TABLES) if (tables.has(table)) copy.exec(`DELETE FROM ${table}`);
      copy.exec("VACUUM");
    }
    const row = copy.prepare("SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations").get() as { version: number } | undefined;
    return Number(row?.version ?? 0);
  } finally {
    copy.close();
  }
}

async function agentFiles(stateDir: string): Promise<Entry[]> {
  const root = join(stateDir, "agents");
  const entries: Entry[] = [];
  let agents;
  try {
    agents = await readdir(root, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return entries;
    throw error;
  }
  for (const agent of agents.filter((entry) => entry.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const files = await readdir(join(root, agent.name), { withFileTypes: true });
    for (const file of files.filter((entry) => entry.isFile()).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = `agents/${agent.name}/${file.name}`;
      if (!isBackupPath(path)) continue;
      const data = await readFile(join(root, agent.name, file.name));
      entries.push({ path, size: data.length, data });
    }
  }
  return entries;
}

async function configEntry(stateDir: string, withSecrets: boolean, warnings: string[]): Promise<Entry | undefined> {
  let data: Buffer;
  try {
    data = await readFile(join(stateDir, CONFIG_NAME));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  if (!withSecrets) {
    try {
      data = Buffer.from(JSON.stringify(maskSecrets(JSON.parse(data.toString("utf8"))), null, 2) + "\n");
    } catch {
      warnings.push(`${CONFIG_NAME} is not valid JSON, so its secrets cannot be masked: it was left out`);
      return undefined;
    }
  }
  return { path: CONFIG_NAME, size: data.length, data };
}

/**
 * Take a backup of a state dir: the database (online backup), `openclaw.json` and the agents'
 * files (`agents/<id>/*.md`), described by a manifest with each file's size and SHA-256.
 * @throws FaradayError BACKUP_INVALID when there is no database to back up.
 */
export async function prepareBackup(options: CreateBackupOptions): Promise<PreparedBackup> {
  const temporary = await mkdtemp(join(options.stateDir, BACKUP_TEMP_PREFIX));
  const dispose = () => rm(temporary, { recursive: true, force: true });
  try {
    const takenAt = new Date();
    const databaseCopy = join(temporary, DATABASE_NAME);
    const schemaVersion = await copyDatabase(options, databaseCopy);
    const warnings: string[] = [];
    const databaseEntry: Entry = { path: DATABASE_NAME, size: (await stat(databaseCopy)).size, file: databaseCopy };
    const config = await configEntry(options.stateDir, options.withSecrets, warnings);
    const entries: Entry[] = [databaseEntry, ...(config ? [config] : []), ...(await agentFiles(options.stateDir))];
    const files: BackupFile[] = [];
    for (const entry of entries) {
      files.push({ path: entry.path, size: entry.size, sha256: entry.data ? sha256(entry.data) : await fileSha256(entry.file!) });
    }
    const manifest: BackupManifest = {
      format: "faraday-backup",
      formatVersion: 1,
      faradayVersion: options.version,
      createdAt: takenAt.toISOString(),
      withSecrets: options.withSecrets,
      schemaVersion,
      files,
    };
    const manifestData = Buffer.from(JSON.stringify(manifest, null, 2) + "\n");
    const mtime = new Date(manifest.createdAt);
    async function* archive(): AsyncGenerator<Buffer> {
      yield tarHeader({ name: MANIFEST_NAME, size: manifestData.length, mode: 0o600, mtime });
      yield manifestData;
      yield tarPadding(manifestData.length);
      for (const entry of entries) {
        yield tarHeader({ name: entry.path, size: entry.size, mode: 0o600, mtime });
        if (entry.data) yield entry.data;
        else for await (const chunk of createReadStream(entry.file!)) yield chunk as Buffer;
        yield tarPadding(entry.size);
      }
      yield TAR_END;
    }
    let streamed = false;
    return {
      manifest,
      warnings,
      stream() {
        if (streamed) throw new Error("a prepared backup streams once");
        streamed = true;
        // pipeline destroys the gzip stream with the error, so the reader sees a failure, never a short archive.
        return pipeline(Readable.from(archive()), createGzip(), () => {});
      },
      dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/**
 * Write a prepared backup to `path`, atomically and 0600 (it holds the secret store): a
 * temporary file beside it, fsync, rename.
 */
export async function writeBackupFile(prepared: PreparedBackup, path: string): Promise<number> {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString("hex")}.tmp`);
  const handle = await open(temporary, "wx", 0o600);
  try {
    let size = 0;
    for await (const chunk of prepared.stream() as AsyncIterable<Buffer>) {
      await handle.write(chunk);
      size += chunk.length;
    }
    await handle.sync();
    await handle.close();
    await chmod(temporary, 0o600);
    await rename(temporary, path);
    return size;
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(temporary).catch(() => {});
    throw error;
  }
}
