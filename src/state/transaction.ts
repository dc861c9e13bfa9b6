import type { Database } from "./database.ts";

/**
 * Run `work` in one write transaction (`BEGIN IMMEDIATE` … `COMMIT`); on failure roll back (unless
 * SQLite already did, as after SQLITE_FULL) and rethrow. Inside an open transaction it just runs.
 *
 * Required for a statement read with `get()` that writes (`INSERT … RETURNING`): in autocommit
 * mode node:sqlite (Node 24.22) returns the row even when the commit fails on a full disk — it
 * steps once and drops the error of `sqlite3_reset`, which SQLite says to check for exactly this
 * case (https://sqlite.org/c3ref/reset.html) — so the caller believes a row was stored that was
 * not. An explicit COMMIT throws instead.
 */
export function inTransaction<T>(database: Database, work: () => T): T {
  if (database.isTransaction) return work();
  database.exec("BEGIN IMMEDIATE");
  try {
    const result = work();
    database.exec("COMMIT");
    return result;
  } catch (error) {
    if (database.isOpen && database.isTransaction) database.exec("ROLLBACK");
    throw error;
  }
}
