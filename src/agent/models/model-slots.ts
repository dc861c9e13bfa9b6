/**
 * Model-call slots, counted per provider: at most `limit(provider)` calls to one provider at
 * once, waiting in arrival order. A provider that hangs fills only its own slots — a different
 * agent on a working provider is never queued behind it.
 */
export class ModelSlots {
  readonly #limit: (provider: string) => number;
  readonly #running = new Map<string, number>();
  readonly #waiting = new Map<string, Array<() => void>>();

  /** `limit` is read each time a slot is taken, so a config change applies to the next call. */
  constructor(limit: (provider: string) => number) {
    this.#limit = limit;
  }

  /** Calls to `provider` running right now. */
  running(provider: string): number {
    return this.#running.get(provider) ?? 0;
  }

  /** Calls to `provider` waiting for a slot. */
  waiting(provider: string): number {
    return this.#waiting.get(provider)?.length ?? 0;
  }

  /** Run `work` (one model call) in one of `provider`'s slots. */
  async run<T>(provider: string, work: () => Promise<T>): Promise<T> {
    if (this.running(provider) < this.#max(provider) && this.waiting(provider) === 0) this.#running.set(provider, this.running(provider) + 1);
    else await new Promise<void>((resolve) => this.#queue(provider).push(resolve)); // counted when handed out
    try {
      return await work();
    } finally {
      const left = this.running(provider) - 1;
      if (left > 0) this.#running.set(provider, left);
      else this.#running.delete(provider);
      this.#pump(provider);
    }
  }

  /** Re-read the limits (config changed): hand out the slots a raised limit freed. */
  refresh(): void {
    for (const provider of [...this.#waiting.keys()]) this.#pump(provider);
  }

  #pump(provider: string): void {
    const queue = this.#waiting.get(provider);
    while (queue && queue.length > 0 && this.running(provider) < this.#max(provider)) {
      this.#running.set(provider, this.running(provider) + 1);
      queue.shift()!();
    }
    if (queue?.length === 0) this.#waiting.delete(provider);
  }

  #max(provider: string): number {
    return Math.max(1, this.#limit(provider));
  }

  #queue(provider: string): Array<() => void> {
    let queue = this.#waiting.get(provider);
    if (!queue) this.#waiting.set(provider, (queue = []));
    return queue;
  }
}
