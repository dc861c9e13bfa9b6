/**
 * One lane per session: work in a lane runs strictly in order, lanes side by side. Model calls
 * take one of `maxConcurrent` slots (`withSlot`), so at most that many sessions are calling the
 * model at once, while a turn that stores its messages, runs a tool or waits for a person's
 * YES holds none: four pending approvals must not stop every other chat. Nothing queued is
 * dropped; `drain()` waits for everything in flight.
 */
export class SessionLanes {
  readonly #tails = new Map<string, Promise<unknown>>();
  readonly #waiting: Array<() => void> = [];
  #running = 0;
  #maxConcurrent: number;
  #closed = false;

  constructor(maxConcurrent: number) {
    this.#maxConcurrent = Math.max(1, maxConcurrent);
  }

  set maxConcurrent(value: number) {
    this.#maxConcurrent = Math.max(1, value);
    while (this.#running < this.#maxConcurrent && this.#waiting.length > 0) {
      this.#running++;
      this.#waiting.shift()!();
    }
  }

  get pending(): number {
    return this.#tails.size;
  }

  /** Queue `work` on the lane `key`; resolves with its result once it has run. */
  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error("the agent is stopping; message not accepted"));
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(() => work());
    const tail = result.catch(() => {});
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** Stop taking new work and wait for queued work to finish. */
  async drain(): Promise<void> {
    this.#closed = true;
    while (this.#tails.size > 0) await Promise.all([...this.#tails.values()]);
  }

  /** Run `work` (a model call) in one of the `maxConcurrent` slots, waiting for one in arrival order. */
  async withSlot<T>(work: () => Promise<T>): Promise<T> {
    if (this.#running < this.#maxConcurrent) this.#running++;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve)); // the slot is handed over
    try {
      return await work();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}
