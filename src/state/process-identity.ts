import { readFileSync } from "node:fs";
import { hostname } from "node:os";

/**
 * Who a process is, in a way that survives pid reuse: in a container the gateway is pid 1 on
 * every boot, so pid alone keeps a dead owner "alive" forever (OpenClaw #1572, elizaOS #11222).
 * The pair (boot id, process start time) names one process on one host exactly.
 */
export interface ProcessIdentity {
  readonly pid: number;
  readonly hostname: string;
  /** `/proc/sys/kernel/random/boot_id`; null where there is no /proc. */
  readonly bootId: string | null;
  /** Field 22 of `/proc/PID/stat` (clock ticks since boot); null where there is no /proc. */
  readonly processStartTime: string | null;
}

let cachedBootId: string | null | undefined;

export function currentBootId(): string | null {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || null;
    } catch {
      cachedBootId = null;
    }
  }
  return cachedBootId;
}

/** Start time of a running process, or null when it does not exist or /proc is absent. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses: fields resume after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

export function currentProcessIdentity(): ProcessIdentity {
  return {
    pid: process.pid,
    hostname: hostname(),
    bootId: currentBootId(),
    processStartTime: processStartTime(process.pid),
  };
}

/** Whether a pid exists on this host (EPERM means it exists but is someone else's). */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export type Liveness =
  | { readonly alive: true; readonly reason: string }
  | { readonly alive: false; readonly provable: boolean; readonly reason: string };

/**
 * Judge whether the process an identity describes is still running. `provable: false` means we
 * cannot tell from here (another host): only the lock's staleness can decide then.
 */
export function judgeLiveness(owner: ProcessIdentity, self: ProcessIdentity = currentProcessIdentity()): Liveness {
  if (owner.hostname !== self.hostname) {
    return { alive: false, provable: false, reason: `owner is on another host (${owner.hostname})` };
  }
  if (owner.bootId && self.bootId && owner.bootId !== self.bootId) {
    return { alive: false, provable: true, reason: "the host has rebooted since the owner started" };
  }
  if (!pidExists(owner.pid)) {
    return { alive: false, provable: true, reason: `pid ${owner.pid} is not running` };
  }
  if (owner.processStartTime && self.processStartTime !== null) {
    const now = processStartTime(owner.pid);
    if (now !== null && now !== owner.processStartTime) {
      return { alive: false, provable: true, reason: `pid ${owner.pid} now belongs to another process (pid reused)` };
    }
  }
  return { alive: true, reason: `pid ${owner.pid} is running` };
}
