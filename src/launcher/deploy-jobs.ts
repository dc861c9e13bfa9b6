import { randomUUID } from "node:crypto";
import type { DeployEvent, DeployResult } from "../deploy/index.ts";
import { FaradayError } from "../errors/index.ts";

/** The last event of a job: how it ended. Carries no token (the dashboard link is asked for separately). */
export type JobResult =
  | { readonly event: "result"; readonly ok: true; readonly app: string; readonly url: string }
  | { readonly event: "result"; readonly ok: false; readonly app: string; readonly error: { readonly code: string; readonly message: string } };

export type JobEvent = DeployEvent | JobResult;

export interface Job {
  readonly id: string;
  readonly app: string;
  readonly action: "launch" | "update";
  readonly events: JobEvent[];
  done: boolean;
}

type Listener = (event: JobEvent) => void;

/**
 * Deploy runs (launch, update) the page watches: each keeps every event so a page that connects
 * late (or reconnects) sees the whole run. One run per app at a time.
 */
export class DeployJobs {
  readonly #jobs = new Map<string, Job>();
  readonly #listeners = new Map<string, Set<Listener>>();

  get(id: string): Job | undefined {
    return this.#jobs.get(id);
  }

  running(app: string): Job | undefined {
    return [...this.#jobs.values()].find((job) => job.app === app && !job.done);
  }

  /**
   * Start `run` (which calls deployFly with `emit`) as a job.
   * @throws FaradayError BAD_REQUEST when a run for the app is still going.
   */
  start(app: string, action: Job["action"], run: (emit: (event: DeployEvent) => void) => Promise<DeployResult>, finished: (job: Job, result: JobResult) => Promise<void>): Job {
    const busy = this.running(app);
    if (busy) throw new FaradayError("BAD_REQUEST", `a ${busy.action} of ${app} is still running; wait for it to finish`);
    const job: Job = { id: randomUUID(), app, action, events: [], done: false };
    this.#jobs.set(job.id, job);
    // Keep the last runs only: each is a few dozen small events.
    for (const old of [...this.#jobs.values()].slice(0, -50)) if (old.done) this.#jobs.delete(old.id);
    const push = (event: JobEvent) => {
      job.events.push(event);
      for (const listener of this.#listeners.get(job.id) ?? []) listener(event);
    };
    void (async () => {
      let result: JobResult;
      try {
        const deployed = await run(push);
        result = { event: "result", ok: true, app, url: deployed.url };
      } catch (error) {
        const known = error instanceof FaradayError ? error : new FaradayError("INTERNAL", `unexpected error: ${(error as Error)?.message ?? String(error)}`);
        result = { event: "result", ok: false, app, error: { code: known.code, message: known.message } };
      }
      await finished(job, result).catch(() => {});
      job.done = true;
      push(result);
      this.#listeners.delete(job.id);
    })();
    return job;
  }

  /** Every event so far, then each new one; returns the unsubscribe function. */
  subscribe(id: string, listener: Listener): () => void {
    const job = this.#jobs.get(id);
    if (!job) return () => {};
    for (const event of job.events) listener(event);
    if (job.done) return () => {};
    const set = this.#listeners.get(id) ?? new Set();
    set.add(listener);
    this.#listeners.set(id, set);
    return () => set.delete(listener);
  }
}
