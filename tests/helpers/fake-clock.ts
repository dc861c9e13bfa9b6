/**
 * A clock moved by hand: `now()` is whatever the test set, and timers fire only when
 * `advance()` passes their time (in time order). Implements the scheduler's `ScheduleClock`.
 */
export class FakeClock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, { at: number; run: () => void }>();

  constructor(start: number | string) {
    this.#now = typeof start === "string" ? Date.parse(start) : start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(run: () => void, ms: number): unknown {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), run });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Timers waiting to fire, with their delays from now. */
  pending(): number[] {
    return [...this.#timers.values()].map((timer) => timer.at - this.#now);
  }

  /** Move time to `target` (ISO or ms), firing every timer due on the way, in order (bounded). */
  advanceTo(target: number | string): void {
    const end = typeof target === "string" ? Date.parse(target) : target;
    for (let fired = 0; fired < 100_000; fired++) {
      const next = [...this.#timers.entries()].filter(([, timer]) => timer.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!next) break;
      this.#timers.delete(next[0]);
      this.#now = Math.max(this.#now, next[1].at);
      next[1].run();
    }
    this.#now = Math.max(this.#now, end);
  }

  advance(ms: number): void {
    this.advanceTo(this.#now + ms);
  }
}
