import type { Database } from "./database.ts";

/**
 * Secrets the gateway creates or is given (its token, bot tokens, API keys) live here — in the
 * 0600 database in the state dir, never in `openclaw.json`, never in logs.
 */
export interface SecretStore {
  get(name: string): string | undefined;
  set(name: string, value: string): void;
  delete(name: string): boolean;
  /** Names only; values are never listed. */
  names(): string[];
}

/** Well-known secret names. */
export const SECRET_NAMES = {
  gatewayToken: "gateway.token",
} as const;

export function createSecretStore(database: Database): SecretStore {
  const select = database.prepare("SELECT value FROM secrets WHERE name = ?");
  const upsert = database.prepare(
    "INSERT INTO secrets (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
  );
  const remove = database.prepare("DELETE FROM secrets WHERE name = ?");
  const list = database.prepare("SELECT name FROM secrets ORDER BY name");
  return {
    get(name) {
      const row = select.get(name) as { value: string } | undefined;
      return row?.value;
    },
    set(name, value) {
      upsert.run(name, value, new Date().toISOString());
    },
    delete(name) {
      return Number(remove.run(name).changes) > 0;
    },
    names() {
      return (list.all() as Array<{ name: string }>).map((row) => row.name);
    },
  };
}
