import { randomBytes } from "node:crypto";
import { readFile, rename, rm, stat, unlink, mkdir } from "node:fs/promises";
import { join } from "node:path";
import lockfile from "proper-lockfile";
import { FaradayError } from "../errors/index.ts";
import { writeFileAtomic } from "./atomic-write.ts";
import { isDiskFull } from "./storage-errors.ts";
import { currentProcessIdentity, judgeLiveness, type ProcessIdentity, type Liveness } from "./process-identity.ts";

/** The record a lock holder writes beside its lock: enough to prove it dead later. */
export interface LockOwner extends ProcessIdentity {
  readonly startedAt: string;
  readonly version: string;
  /** Set once the gateway listens; lets the CLI on this machine find it. */
  readonly url?: string;
}

export interface StateLockOptions {
  version: string;
  /** A lock not refreshed for this long is stale (default 10 s). */
  staleMs?: number;
  /** How often the holder refreshes the lock (default staleMs / 2). */
  updateMs?: number;
  /** How long to wait for a lock that is being taken right now (default 1.5 s). */
  settleMs?: number;
  /** Called when our lock was lost (refresh failed or someone took it). */
  onCompromised?: (error: Error) => void;
}

export interface StateLock {
  readonly owner: LockOwner;
  /** The dead owner whose lock we took over at start, if any (for the log). */
  readonly reclaimedFrom: { readonly owner: LockOwner | null; readonly reason: string } | null;
  /** Record where the gateway listens (the CLI reads it). */
  setUrl(url: string): Promise<void>;
  release(): Promise<void>;
}

export type LockInspection =
  | { readonly state: "free" }
  | { readonly state: "held"; readonly owner: LockOwner | null; readonly reason: string }
  | { readonly state: "dead"; readonly owner: LockOwner | null; readonly reason: string };

/** Where the lock directory and its owner record live inside a state directory. */
export function lockPaths(stateDir: string) {
  const directory = join(stateDir, "locks");
  const target = join(directory, "gateway");
  return { directory, target, lockDir: `${target}.lock`, owner: join(directory, "owner.json") };
}

async function readOwner(path: string): Promise<LockOwner | null> {
  try {
    const parsed = JSON.parse(await readFile(path, "utf8")) as LockOwner;
    return typeof parsed.pid === "number" && typeof parsed.hostname === "string" ? parsed : null;
  } catch {
    return null;
  }
}

function sameOwner(a: LockOwner, b: LockOwner): boolean {
  return a.pid === b.pid && a.hostname === b.hostname && a.bootId === b.bootId &&
    a.processStartTime === b.processStartTime && a.startedAt === b.startedAt;
}

async function lockAgeMs(lockDir: string): Promise<number | null> {
  try {
    return Date.now() - (await stat(lockDir)).mtimeMs;
  } catch {
    return null;
  }
}

/** Decide, without touching anything, whether the state lock is free, live or dead. */
export async function inspectStateLock(stateDir: string, staleMs = 10_000): Promise<LockInspection> {
  const paths = lockPaths(stateDir);
  const age = await lockAgeMs(paths.lockDir);
  if (age === null) return { state: "free" };
  const owner = await readOwner(paths.owner);
  if (!owner) {
    return age > staleMs
      ? { state: "dead", owner: null, reason: `lock without an owner record, not refreshed for ${Math.round(age / 1000)} s` }
      : { state: "held", owner: null, reason: "lock is being taken right now (no owner record yet)" };
  }
  const liveness: Liveness = judgeLiveness(owner);
  if (liveness.alive) return { state: "held", owner, reason: liveness.reason };
  if (liveness.provable) return { state: "dead", owner, reason: liveness.reason };
  return age > staleMs
    ? { state: "dead", owner, reason: `${liveness.reason}; not refreshed for ${Math.round(age / 1000)} s` }
    : { state: "held", owner, reason: `${liveness.reason}; refreshed ${Math.round(age / 1000)} s ago` };
}

/**
 * Remove a lock whose owner is dead. Safe against two reclaimers: the owner record is claimed
 * by an atomic rename, so only one of them proceeds, and it re-checks that the record it
 * claimed is the one it judged dead. Returns whether it removed the lock.
 */
export async function removeDeadLock(stateDir: string, judged: LockOwner | null): Promise<boolean> {
  const paths = lockPaths(stateDir);
  if (judged === null) {
    // No owner record: only a stale lock directory reaches here (inspectStateLock decided).
    await rm(paths.lockDir, { recursive: true, force: true });
    return true;
  }
  const claimed = `${paths.owner}.reclaim-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await rename(paths.owner, claimed);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
  const record = await readOwner(claimed);
  if (!record || !sameOwner(record, judged)) {
    // Someone took the lock between our judgement and our claim: put their record back.
    await rename(claimed, paths.owner).catch(() => {});
    return false;
  }
  await rm(paths.lockDir, { recursive: true, force: true });
  await unlink(claimed).catch(() => {});
  return true;
}

function describeHolder(owner: LockOwner | null): string {
  if (!owner) return "another process (no owner record yet)";
  const since = owner.startedAt ? ` since ${owner.startedAt}` : "";
  return `pid ${owner.pid} on host ${owner.hostname}${since} (version ${owner.version})`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Take the single-writer lock on a state directory and keep it fresh.
 * A lock whose owner is provably dead on this host is reclaimed at once; one whose owner we
 * cannot judge (another host) is taken only when stale.
 * @throws FaradayError LOCK_HELD naming the holder when a live gateway owns the directory.
 */
export async function acquireStateLock(stateDir: string, options: StateLockOptions): Promise<StateLock> {
  const paths = lockPaths(stateDir);
  const staleMs = Math.max(options.staleMs ?? 10_000, 2_000);
  const updateMs = Math.min(options.updateMs ?? staleMs / 2, staleMs / 2);
  const settleDeadline = Date.now() + (options.settleMs ?? 1_500);
  await mkdir(paths.directory, { recursive: true, mode: 0o700 });
  let reclaimedFrom: StateLock["reclaimedFrom"] = null;

  for (let attempt = 0; attempt < 50; attempt++) {
    let releaseLock: () => Promise<void>;
    try {
      releaseLock = await lockfile.lock(paths.target, {
        realpath: false,
        lockfilePath: paths.lockDir,
        stale: staleMs,
        update: updateMs,
        retries: 0,
        onCompromised: (error) => options.onCompromised?.(error),
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ELOCKED") {
        throw new FaradayError("STATE_DIR_UNWRITABLE", `cannot create the lock in ${paths.directory}: ${(error as Error).message}`, { cause: error });
      }
      const inspection = await inspectStateLock(stateDir, staleMs);
      if (inspection.state === "free") continue;
      if (inspection.state === "dead") {
        if (await removeDeadLock(stateDir, inspection.owner)) {
          reclaimedFrom = { owner: inspection.owner, reason: inspection.reason };
        }
        continue;
      }
      if (inspection.owner === null && Date.now() < settleDeadline) {
        await sleep(100);
        continue;
      }
      throw new FaradayError(
        "LOCK_HELD",
        `state directory ${stateDir} is in use by ${describeHolder(inspection.owner)}. ` +
          `Stop that gateway first, or point --state-dir / OPENCLAW_STATE_DIR elsewhere. ` +
          `If it is dead, \`faraday doctor --fix\` removes its lock.`,
        { details: { owner: inspection.owner, reason: inspection.reason } },
      );
    }
    let owner: LockOwner = {
      ...currentProcessIdentity(),
      startedAt: new Date().toISOString(),
      version: options.version,
    };
    try {
      await writeFileAtomic(paths.owner, JSON.stringify(owner, null, 2) + "\n", { mode: 0o600 });
    } catch (error) {
      // On a full disk the gateway still starts (in setup mode) rather than crash-loop: the lock
      // directory itself is held and kept fresh, and a fresh lock without an owner record is
      // "held" to everyone else. The record is written by setUrl once there is space.
      if (!isDiskFull(error)) throw error;
    }
    let released = false;
    return {
      get owner() {
        return owner;
      },
      reclaimedFrom,
      async setUrl(url: string) {
        owner = { ...owner, url };
        await writeFileAtomic(paths.owner, JSON.stringify(owner, null, 2) + "\n", { mode: 0o600 });
      },
      async release() {
        if (released) return;
        released = true;
        const current = await readOwner(paths.owner);
        if (current && sameOwner(current, owner)) await unlink(paths.owner).catch(() => {});
        await releaseLock().catch(() => {});
      },
    };
  }
  throw new FaradayError("LOCK_HELD", `could not take the lock on ${stateDir} after repeated attempts; another process keeps contending for it`);
}

/** Read the owner record (for the CLI: where is the local gateway listening?). */
export async function readLockOwner(stateDir: string): Promise<LockOwner | null> {
  return readOwner(lockPaths(stateDir).owner);
}
