import { inTransaction, type Database } from "../../state/index.ts";

/** The JSON codec Baileys uses for its Buffers (`BufferJSON` from baileys). */
export interface BufferCodec {
  replacer(key: string, value: unknown): unknown;
  reviver(key: string, value: unknown): unknown;
}

/** Enough to read `me` without loading Baileys (Buffers stay as their JSON form). */
const PLAIN_JSON: BufferCodec = { replacer: (_key, value) => value, reviver: (_key, value) => value };

/** What a Baileys auth state needs from us, without importing Baileys' types here. */
export interface StoredAuthState<Creds> {
  readonly creds: Creds;
  readonly keys: {
    get(type: string, ids: string[]): Promise<Record<string, unknown>>;
    set(data: Record<string, Record<string, unknown | null | undefined>>): Promise<void>;
  };
}

export interface AuthStoreOptions<Creds> {
  readonly codec: BufferCodec;
  /** Fresh creds for an account that was never linked (Baileys' `initAuthCreds`). */
  readonly initCreds: () => Creds;
  /** Baileys wants app-state-sync keys back as protobuf objects. */
  readonly reviveKey?: (type: string, value: unknown) => unknown;
  /** Told when the current creds were unreadable and the backup was used. */
  readonly onRecovered?: (detail: string) => void;
}

/**
 * WhatsApp's auth state (creds and signal keys) in the gateway's SQLite database instead of
 * Baileys' multi-file store, whose non-atomic writes cost users a new QR scan after a crash.
 *
 * - Every key write is one transaction (all of a `keys.set` batch or none of it).
 * - Creds are saved on every `creds.update`; the previous readable creds are kept as a backup
 *   in the same transaction, and used when the current ones cannot be read.
 */
export class WhatsAppAuthStore {
  readonly #database: Database;
  readonly #account: string;

  constructor(database: Database, account = "default") {
    this.#database = database;
    this.#account = account;
  }

  /** True when stored creds finished linking (they carry the account's `me` id). */
  isLinked(): boolean {
    return this.linkedAs() !== undefined;
  }

  /** The linked account's WhatsApp id (`15550001111:1@s.whatsapp.net`), when linked. */
  linkedAs(): string | undefined {
    const creds = this.#readCreds(PLAIN_JSON).creds as { me?: { id?: string } } | undefined;
    return creds?.me?.id || undefined;
  }

  #readCreds(codec: BufferCodec): { creds?: unknown; recovered?: string } {
    const rows = this.#database
      .prepare("SELECT slot, data FROM whatsapp_creds WHERE account = ? ORDER BY slot = 'current' DESC")
      .all(this.#account) as Array<{ slot: string; data: string }>;
    let problem: string | undefined;
    for (const row of rows) {
      try {
        const creds = JSON.parse(row.data, codec.reviver as (key: string, value: unknown) => unknown) as Record<string, unknown>;
        if (!creds || typeof creds !== "object" || !creds.noiseKey || !creds.signedIdentityKey) throw new Error("incomplete creds");
        return problem ? { creds, recovered: problem } : { creds };
      } catch (error) {
        problem = `the ${row.slot} WhatsApp creds were unreadable (${(error as Error).message})`;
      }
    }
    return {};
  }

  /** Load (or create) the auth state for Baileys, and the function that saves creds. */
  load<Creds extends object>(options: AuthStoreOptions<Creds>): { state: StoredAuthState<Creds>; saveCreds: () => void } {
    const read = this.#readCreds(options.codec);
    if (read.recovered) options.onRecovered?.(`${read.recovered}; restored the backup`);
    const creds = (read.creds as Creds | undefined) ?? options.initCreds();
    const encode = (value: unknown) => JSON.stringify(value, options.codec.replacer as (key: string, value: unknown) => unknown);
    const decode = (text: string) => JSON.parse(text, options.codec.reviver as (key: string, value: unknown) => unknown) as unknown;
    const account = this.#account;
    const database = this.#database;
    const getKey = database.prepare("SELECT data FROM whatsapp_keys WHERE account = ? AND type = ? AND id = ?");
    const putKey = database.prepare("INSERT OR REPLACE INTO whatsapp_keys (account, type, id, data) VALUES (?, ?, ?, ?)");
    const deleteKey = database.prepare("DELETE FROM whatsapp_keys WHERE account = ? AND type = ? AND id = ?");

    const saveCreds = () => {
      const now = new Date().toISOString();
      this.#transaction(() => {
        // The backup is the last creds that were readable; a half-written current row can never
        // replace it (SQLite commits the whole transaction or nothing).
        const current = database.prepare("SELECT data FROM whatsapp_creds WHERE account = ? AND slot = 'current'").get(account) as { data: string } | undefined;
        if (current && this.#parses(current.data, decode)) {
          database.prepare("INSERT OR REPLACE INTO whatsapp_creds (account, slot, data, updated_at) VALUES (?, 'backup', ?, ?)").run(account, current.data, now);
        }
        database.prepare("INSERT OR REPLACE INTO whatsapp_creds (account, slot, data, updated_at) VALUES (?, 'current', ?, ?)").run(account, encode(creds), now);
      });
    };

    const state: StoredAuthState<Creds> = {
      creds,
      keys: {
        async get(type, ids) {
          const result: Record<string, unknown> = {};
          for (const id of ids) {
            const row = getKey.get(account, type, id) as { data: string } | undefined;
            if (!row) continue;
            const value = decode(row.data);
            result[id] = options.reviveKey ? options.reviveKey(type, value) : value;
          }
          return result;
        },
        set: async (data) => {
          this.#transaction(() => {
            for (const [type, entries] of Object.entries(data)) {
              for (const [id, value] of Object.entries(entries ?? {})) {
                if (value === null || value === undefined) deleteKey.run(account, type, id);
                else putKey.run(account, type, id, encode(value));
              }
            }
          });
        },
      },
    };
    return { state, saveCreds };
  }

  #parses(text: string, decode: (text: string) => unknown): boolean {
    try {
      const value = decode(text) as Record<string, unknown> | null;
      return Boolean(value && value.noiseKey && value.signedIdentityKey);
    } catch {
      return false;
    }
  }

  /** Forget the account (logged out, or unlinked by the owner): a new link starts from nothing. */
  wipe(): void {
    this.#transaction(() => {
      this.#database.prepare("DELETE FROM whatsapp_creds WHERE account = ?").run(this.#account);
      this.#database.prepare("DELETE FROM whatsapp_keys WHERE account = ?").run(this.#account);
      // What belonged to the old link: contacts' device lists and messages kept for retries.
      this.#database.prepare("DELETE FROM whatsapp_devices WHERE account = ?").run(this.#account);
      this.#database.prepare("DELETE FROM whatsapp_sent WHERE account = ?").run(this.#account);
    });
  }

  /** Rows stored, for status and tests. */
  counts(): { creds: number; keys: number } {
    const creds = (this.#database.prepare("SELECT COUNT(*) AS n FROM whatsapp_creds WHERE account = ?").get(this.#account) as { n: number }).n;
    const keys = (this.#database.prepare("SELECT COUNT(*) AS n FROM whatsapp_keys WHERE account = ?").get(this.#account) as { n: number }).n;
    return { creds, keys };
  }

  #transaction(work: () => void): void {
    // inTransaction rolls back only when SQLite has not already (after SQLITE_FULL it has, and a
    // second ROLLBACK threw "no transaction is active" over the real error).
    inTransaction(this.#database, work);
  }
}
