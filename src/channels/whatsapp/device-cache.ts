import type { Database } from "../../state/index.ts";

/** After this long a contact's device list is re-read in the background (the cached one stays in use). */
export const DEVICE_LIST_REFRESH_MS = 24 * 60 * 60_000;

export interface DeviceCacheOptions {
  readonly account?: string;
  /** How old a device list may get before it is re-read. Default {@link DEVICE_LIST_REFRESH_MS}. */
  readonly ttlMs?: number;
  /** Milliseconds since the epoch; tests move it instead of waiting. */
  readonly now?: () => number;
}

/**
 * Baileys' `userDevicesCache` (its `CacheStore`: get/set/del/flushAll), kept in SQLite.
 *
 * Why it exists: on every 1:1 send Baileys asks this cache for the contact's devices; on a miss
 * it runs a device query with the LID protocol and then `assertSessions(lids, true)` — forced —
 * which fetches a new pre-key bundle and replaces the working Signal session
 * (`Socket/messages-send.js`, `getUSyncDevices`; upstream `src/Socket/messages-send.ts`). Its
 * default cache is in memory with a 5-minute TTL, so every restart and every 5-minute pause
 * rebuilt the session of a contact we already talk to, each time consuming one of their
 * one-time pre-keys. Kept here, a known contact's reply stays a `msg` on the existing session.
 *
 * Freshness: Baileys itself applies WhatsApp's device notifications (add / remove / update) to
 * this store (`handleDevicesNotification` in `Socket/messages-recv.js`), and they are queued while
 * we are offline. On top of that, a list older than `ttlMs` is still returned (so expiry never
 * forces a new session) and `onStale` is told, so the transport re-reads it with a devices-only
 * query that does not rebuild sessions.
 */
export class WhatsAppDeviceCache {
  readonly #database: Database;
  readonly #account: string;
  readonly #ttlMs: number;
  readonly #now: () => number;
  /** Told (once per refresh) when a list older than the TTL was read. */
  onStale: ((user: string, devices: unknown[]) => void) | undefined;

  constructor(database: Database, options: DeviceCacheOptions = {}) {
    this.#database = database;
    this.#account = options.account ?? "default";
    this.#ttlMs = options.ttlMs ?? DEVICE_LIST_REFRESH_MS;
    this.#now = options.now ?? Date.now;
  }

  // Baileys asks with whatever its jid decoding gave, undefined included (a group participant
  // without a server part): a miss, as in its own NodeCache.
  get<T>(user: string): T | undefined {
    if (typeof user !== "string") return undefined;
    const row = this.#database
      .prepare("SELECT data, fetched_at FROM whatsapp_devices WHERE account = ? AND user = ?")
      .get(this.#account, user) as { data: string; fetched_at: number } | undefined;
    if (!row) return undefined;
    let devices: unknown;
    try {
      devices = JSON.parse(row.data);
    } catch {
      this.del(user);
      return undefined;
    }
    if (!Array.isArray(devices) || devices.length === 0) return undefined;
    if (this.#now() - row.fetched_at > this.#ttlMs) this.onStale?.(user, devices);
    return devices as T;
  }

  set<T>(user: string, devices: T): void {
    if (typeof user !== "string") return;
    this.#database
      .prepare("INSERT OR REPLACE INTO whatsapp_devices (account, user, data, fetched_at) VALUES (?, ?, ?, ?)")
      .run(this.#account, user, JSON.stringify(devices), this.#now());
  }

  del(user: string): void {
    if (typeof user !== "string") return;
    this.#database.prepare("DELETE FROM whatsapp_devices WHERE account = ? AND user = ?").run(this.#account, user);
  }

  flushAll(): void {
    this.#database.prepare("DELETE FROM whatsapp_devices WHERE account = ?").run(this.#account);
  }

  /** When the list of `user` was last written (ms), for status and tests. */
  fetchedAt(user: string): number | undefined {
    const row = this.#database.prepare("SELECT fetched_at FROM whatsapp_devices WHERE account = ? AND user = ?").get(this.#account, user) as { fetched_at: number } | undefined;
    return row?.fetched_at;
  }
}
