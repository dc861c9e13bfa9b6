import { EventEmitter } from "node:events";
import { statfs } from "node:fs/promises";
import type { Database } from "./database.ts";
import { isDatabaseDamaged, isDiskFull } from "./storage-errors.ts";

/** What a chat is told when nothing can be saved: one sentence, no internals. */
export const DISK_FULL_REPLY = "I can't answer right now because the gateway's disk is full and nothing new can be saved; the operator needs to grow its volume, so please try again later.";

/** What the gateway can say about its storage. */
export type StorageCondition =
  | { readonly state: "ok" }
  | { readonly state: "disk_full"; readonly since: string; readonly what: string }
  | { readonly state: "damaged"; readonly since: string; readonly what: string; readonly message: string };

/** The timer functions the probe uses; tests pass node:test's mock timers or their own. */
export interface ProbeTimers {
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface StorageHealthOptions {
  /** One small real write (and, where it can, a free-space check); throws while it cannot be made. */
  probe: () => void | Promise<void>;
  /** How often to try the probe while the disk is full (default 5 s). */
  probeIntervalMs?: number;
  timers?: ProbeTimers;
}

const DEFAULT_TIMERS: ProbeTimers = {
  setInterval: (callback, ms) => {
    const handle = setInterval(callback, ms);
    handle.unref();
    return handle;
  },
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

/**
 * Where every failed write is reported (a turn, the search index, a timer). A full disk
 * (`ENOSPC`, `SQLITE_FULL`) turns the condition to `disk_full` and starts a probe that makes a
 * small write every few seconds; the first that succeeds turns it back to `ok` and emits
 * `recovered`, so writing resumes by itself once the volume has room. Damaged database pages
 * turn it to `damaged`, which only a restart with a repaired file clears.
 */
export class StorageHealth extends EventEmitter<{ changed: [StorageCondition]; recovered: [] }> {
  readonly #options: StorageHealthOptions;
  readonly #timers: ProbeTimers;
  #condition: StorageCondition = { state: "ok" };
  #probeTimer: unknown;
  #probing = false;

  constructor(options: StorageHealthOptions) {
    super();
    this.#options = options;
    this.#timers = options.timers ?? DEFAULT_TIMERS;
  }

  get condition(): StorageCondition {
    return this.#condition;
  }

  get diskFull(): boolean {
    return this.#condition.state === "disk_full";
  }

  /**
   * Classify a failed write. Returns `disk_full` or `damaged` when it is one of those (the
   * condition changes; the caller says one sentence to its user), `other` otherwise.
   */
  report(error: unknown, what: string): "disk_full" | "damaged" | "other" {
    if (isDatabaseDamaged(error)) {
      if (this.#condition.state !== "damaged") {
        this.#set({ state: "damaged", since: new Date().toISOString(), what, message: (error as Error).message });
      }
      return "damaged";
    }
    if (!isDiskFull(error)) return "other";
    if (this.#condition.state === "ok") {
      this.#set({ state: "disk_full", since: new Date().toISOString(), what });
      this.#probeTimer = this.#timers.setInterval(() => void this.probe(), this.#options.probeIntervalMs ?? 5_000);
    }
    return "disk_full";
  }

  /** Try the probe write now; true when the disk had room (the condition is then `ok`). */
  async probe(): Promise<boolean> {
    if (this.#condition.state !== "disk_full" || this.#probing) return this.#condition.state === "ok";
    this.#probing = true;
    try {
      await this.#options.probe();
    } catch {
      return false;
    } finally {
      this.#probing = false;
    }
    this.#stopProbe();
    this.#set({ state: "ok" });
    this.emit("recovered");
    return true;
  }

  /** Stop probing (at shutdown). */
  close(): void {
    this.#stopProbe();
  }

  #stopProbe(): void {
    if (this.#probeTimer === undefined) return;
    this.#timers.clearInterval(this.#probeTimer);
    this.#probeTimer = undefined;
  }

  #set(condition: StorageCondition): void {
    this.#condition = condition;
    this.emit("changed", condition);
  }
}

/** Free space below this counts as full, whatever a small write manages (it may reuse WAL space). */
const MIN_FREE_BYTES = 1024 * 1024;

/**
 * The gateway's probe: the state directory's file system has at least 1 MiB free, and a small
 * write to the database (the `settings` row `storage.probe`) commits.
 */
export function databaseWriteProbe(database: Database, stateDir: string): () => Promise<void> {
  return async () => {
    const stats = await statfs(stateDir);
    if (stats.bavail * stats.bsize < MIN_FREE_BYTES) throw Object.assign(new Error("the disk is still full"), { code: "ENOSPC" });
    database.exec("BEGIN IMMEDIATE");
    try {
      const now = new Date().toISOString();
      database.prepare(`INSERT INTO settings (key, value, updated_at) VALUES ('storage.probe', ?, ?)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`).run(now, now);
      database.exec("COMMIT");
    } catch (error) {
      if (database.isTransaction) database.exec("ROLLBACK");
      throw error;
    }
  };
}
