/**
 * One lane per session: work in a lane runs strictly in order, lanes side by side. Nothing
 * queued is dropped; `drain()` waits for everything in flight. (How many calls go to a model at
 * once is `ModelSlots`' business, per provider.)
 */
export class SessionLanes {
  readonly #tails = new Map<string, Promise<unknown>>();
  #closed = false;

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
}
