/** SQLite's primary result codes we act on (https://sqlite.org/rescode.html). */
const SQLITE_CORRUPT = 11;
const SQLITE_FULL = 13;
const SQLITE_NOTADB = 26;
/** Extended code: the WAL index (-shm) could not be grown (what reopening a database on a full disk meets). */
const SQLITE_IOERR_SHMSIZE = 4874;

function* causes(error: unknown): Generator<Record<string, unknown>> {
  let current = error;
  for (let depth = 0; depth < 5 && current !== null && typeof current === "object"; depth++) {
    yield current as Record<string, unknown>;
    current = (current as { cause?: unknown }).cause;
  }
}

function sqliteCode(error: Record<string, unknown>): number | undefined {
  return error.code === "ERR_SQLITE_ERROR" && typeof error.errcode === "number" ? error.errcode : undefined;
}

/**
 * True when `error` (or its cause) means the disk is full: `ENOSPC`/`EDQUOT` from the file
 * system, `SQLITE_FULL`, or the SQLite I/O errors a full disk causes (the `-shm` file cannot be
 * grown when a database is reopened on a full disk: `SQLITE_IOERR_SHMSIZE`, "disk I/O error").
 */
export function isDiskFull(error: unknown): boolean {
  for (const entry of causes(error)) {
    if (entry.code === "ENOSPC" || entry.code === "EDQUOT") return true;
    const code = sqliteCode(entry);
    if (code !== undefined && ((code & 0xff) === SQLITE_FULL || code === SQLITE_IOERR_SHMSIZE)) return true;
  }
  return false;
}

/** True when SQLite says the database file is damaged (`SQLITE_CORRUPT`, `SQLITE_NOTADB`). */
export function isDatabaseDamaged(error: unknown): boolean {
  for (const entry of causes(error)) {
    const code = sqliteCode(entry);
    if (code !== undefined && ((code & 0xff) === SQLITE_CORRUPT || (code & 0xff) === SQLITE_NOTADB)) return true;
  }
  return false;
}
