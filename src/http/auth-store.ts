import { createHash, randomBytes } from "node:crypto";
import { inTransaction, type Database } from "../state/index.ts";

/** One-time sign-in links are valid this long. */
export const LOGIN_CODE_TTL_MS = 15 * 60_000;

/**
 * What dashboard sign-in keeps: one-time login codes (only their SHA-256) and revoked session
 * ids. A port, so `buildApp` runs in tests without a database.
 */
export interface AuthStore {
  /** A new one-time code; the store keeps only its hash. */
  createLoginCode(): { code: string; expiresAt: string };
  /** True once for a valid, unexpired code; it is gone afterwards. */
  consumeLoginCode(code: string): boolean;
  revokeSession(id: string, until: number): void;
  isSessionRevoked(id: string): boolean;
}

const hash = (value: string) => createHash("sha256").update(value).digest("hex");
const newCode = () => randomBytes(24).toString("base64url");

/** In memory: for tests and for an app built without a database. */
export function createMemoryAuthStore(now: () => number = Date.now): AuthStore {
  const codes = new Map<string, number>();
  const revoked = new Map<string, number>();
  return {
    createLoginCode() {
      const code = newCode();
      const expiresAt = now() + LOGIN_CODE_TTL_MS;
      codes.set(hash(code), expiresAt);
      return { code, expiresAt: new Date(expiresAt).toISOString() };
    },
    consumeLoginCode(code) {
      const key = hash(code);
      const expiresAt = codes.get(key);
      codes.delete(key);
      return expiresAt !== undefined && expiresAt > now();
    },
    revokeSession(id, until) {
      revoked.set(id, until);
    },
    isSessionRevoked(id) {
      const until = revoked.get(id);
      return until !== undefined && until > now();
    },
  };
}

/**
 * In the database's key-value `settings` table (no migration of its own): codes under
 * `dashboard.login-code.<sha256>`, revocations under `dashboard.revoked-session.<id>`, each with
 * its expiry as the value; expired rows are swept whenever a row is added.
 */
export function createSettingsAuthStore(database: Database, now: () => number = Date.now): AuthStore {
  const CODE = "dashboard.login-code.";
  const REVOKED = "dashboard.revoked-session.";
  const insert = database.prepare("INSERT OR REPLACE INTO settings (key, value, updated_at) VALUES (?, ?, ?)");
  const take = database.prepare("DELETE FROM settings WHERE key = ? RETURNING value");
  const select = database.prepare("SELECT value FROM settings WHERE key = ?");
  const sweep = database.prepare("DELETE FROM settings WHERE (key LIKE 'dashboard.login-code.%' OR key LIKE 'dashboard.revoked-session.%') AND CAST(value AS INTEGER) <= ?");
  const add = (key: string, until: number) => {
    sweep.run(now());
    insert.run(key, String(until), new Date(now()).toISOString());
  };
  return {
    createLoginCode() {
      const code = newCode();
      const expiresAt = now() + LOGIN_CODE_TTL_MS;
      add(CODE + hash(code), expiresAt);
      return { code, expiresAt: new Date(expiresAt).toISOString() };
    },
    consumeLoginCode(code) {
      // In a transaction: on a full disk an autocommit DELETE … RETURNING reports the row taken
      // while the commit failed, and the one-time code would work again.
      const row = inTransaction(database, () => take.get(CODE + hash(code))) as { value: string } | undefined;
      return row !== undefined && Number(row.value) > now();
    },
    revokeSession(id, until) {
      add(REVOKED + id, until);
    },
    isSessionRevoked(id) {
      const row = select.get(REVOKED + id) as { value: string } | undefined;
      return row !== undefined && Number(row.value) > now();
    },
  };
}
