import { chmodSync, existsSync } from "node:fs";
import type { DatabaseSync as DatabaseSyncType } from "node:sqlite";
import { FaradayError } from "../errors/index.ts";
import { MIGRATIONS, type Migration } from "./migrations.ts";
import { isDatabaseDamaged } from "./storage-errors.ts";

export type Database = DatabaseSyncType;

export interface OpenDatabaseOptions {
  readOnly?: boolean;
  migrations?: readonly Migration[];
}

/**
 * Open the gateway's SQLite database (WAL, 0600) and bring its schema up to date.
 * node:sqlite is built into Node 24: no native addon to compile, nothing to download.
 * @throws FaradayError DATABASE_FAILED when the file cannot be opened or migrated.
 */
export async function openDatabase(path: string, options: OpenDatabaseOptions = {}): Promise<Database> {
  const { DatabaseSync } = await import("node:sqlite");
  let database: Database | undefined;
  try {
    const created = !existsSync(path);
    database = new DatabaseSync(path, { readOnly: options.readOnly ?? false, timeout: 5_000 });
    if (!options.readOnly) {
      if (created) chmodSync(path, 0o600);
      // cache_size: a bounded 1 MiB page cache (SQLite's default is 2 MiB per connection); the
      // transcript tails a turn re-reads are cached by the session store, and a miss is a pread
      // from the OS page cache.
      database.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -1024;");
      migrate(database, options.migrations ?? MIGRATIONS);
    }
  } catch (error) {
    // A failed open (a full disk, damaged pages) must not leave the file open behind it.
    try {
      database?.close();
    } catch {
      // not open
    }
    if (error instanceof FaradayError) throw error;
    if (isDatabaseDamaged(error)) throw databaseDamaged(path, error);
    throw new FaradayError(
      "DATABASE_FAILED",
      `cannot open the database ${path}: ${(error as Error).message}. Check the state directory's permissions and free space; \`faraday doctor\` checks integrity`,
      { cause: error },
    );
  }
  return database;
}

/**
 * The error for a database file with damaged pages, naming the file and the ways out. The
 * gateway stops with it (exit 5) rather than serve from a file that loses writes.
 */
export function databaseDamaged(path: string, error: unknown): FaradayError {
  return new FaradayError(
    "DATABASE_FAILED",
    `the database ${path} is damaged (${(error as Error).message}). Stop the gateway and restore the file from a backup ` +
      `(on Fly: a volume snapshot, \`fly volumes snapshots list <volume-id>\`), or move it aside together with its -wal and -shm files ` +
      `(\`mv ${path} ${path}.damaged\`) so the gateway starts with an empty one: transcripts, pairings and the WhatsApp link start over; ` +
      `\`sqlite3 ${path}.damaged .recover\` can save most of the rest`,
    { cause: error },
  );
}

/** Apply every migration newer than the database's version, each in its own transaction. */
export function migrate(database: Database, migrations: readonly Migration[]): number {
  database.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  const row = database.prepare("SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations").get() as { version: number };
  const newest = migrations.reduce((max, migration) => Math.max(max, migration.version), 0);
  if (row.version > newest) {
    throw new FaradayError(
      "DATABASE_FAILED",
      `the database is at schema version ${row.version}, newer than this Faraday knows (${newest}); upgrade Faraday rather than downgrading it`,
    );
  }
  let applied = 0;
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    if (migration.version <= row.version) continue;
    database.exec("BEGIN IMMEDIATE");
    try {
      database.exec(migration.sql);
      database.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)")
        .run(migration.version, migration.name, new Date().toISOString());
      database.exec("COMMIT");
      applied++;
    } catch (error) {
      if (database.isTransaction) database.exec("ROLLBACK"); // after SQLITE_FULL SQLite already did
      throw new FaradayError("DATABASE_FAILED", `migration ${migration.version} (${migration.name}) failed: ${(error as Error).message}`, { cause: error });
    }
  }
  return applied;
}

/** `PRAGMA quick_check`: "ok" or the problems SQLite found. */
export function checkIntegrity(database: Database): { ok: boolean; detail: string } {
  const rows = database.prepare("PRAGMA quick_check").all() as Array<Record<string, string>>;
  const messages = rows.map((entry) => Object.values(entry)[0] ?? "");
  const ok = messages.length === 1 && messages[0] === "ok";
  return { ok, detail: ok ? "ok" : messages.slice(0, 5).join("; ") };
}
