/**
 * The time source of the scheduler: wall-clock now and the one timer it keeps. Injectable so
 * tests move time by hand (a fake clock) instead of waiting.
 */
export interface ScheduleClock {
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** setTimeout fires at once for delays above 2^31-1 ms (~24.8 days): longer waits re-arm. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export const realScheduleClock: ScheduleClock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => setTimeout(run, Math.min(Math.max(0, ms), MAX_TIMER_MS)).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
