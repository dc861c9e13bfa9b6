import { randomUUID } from "node:crypto";
import type { DeployEvent, DeployResult } from "../deploy/index.ts";
import { FaradayError } from "../errors/index.ts";

type JobError = { readonly code: string; readonly message: string };

/** The last event of a job: how it ended. Carries no token (the dashboard link is asked for separately). */
export type JobResult =
  | { readonly event: "result"; readonly ok: true; readonly app: string; readonly url: string }
  | { readonly event: "result"; readonly ok: false; readonly app: string; readonly error: JobError };

/** The last event of an "Update all": which apps were updated, and where it stopped. */
export type BatchResult =
  | { readonly event: "result"; readonly batch: true; readonly ok: true; readonly updated: readonly string[] }
  | { readonly event: "result"; readonly batch: true; readonly ok: false; readonly app: string; readonly updated: readonly string[]; readonly skipped: readonly string[]; readonly error: JobError };

/** In an "Update all": the next app starts (its steps follow, tagged with `app`). */
export interface BatchAppEvent {
  readonly event: "app";
  readonly app: string;
  readonly index: number;
  readonly total: number;
}

export type JobEvent = DeployEvent | (DeployEvent & { readonly app: string }) | BatchAppEvent | JobResult | BatchResult;

export interface Job {
  readonly id: string;
  /** The app, or "*" for an "Update all". */
  readonly app: string;
  readonly action: "launch" | "update" | "update-all";
  /** The apps an "Update all" covers (busy until it ends); [app] otherwise. */
  readonly apps: readonly string[];
  readonly events: JobEvent[];
  done: boolean;
}

type Listener = (event: JobEvent) => void;

const known = (error: unknown) => (error instanceof FaradayError ? error : new FaradayError("INTERNAL", `unexpected error: ${(error as Error)?.message ?? String(error)}`));

/**
 * Deploy runs (launch, update, update all) the page watches: each keeps every event so a page that
 * connects late (or reconnects) sees the whole run. One run per app at a time.
 */
export class DeployJobs {
  readonly #jobs = new Map<string, Job>();
  readonly #listeners = new Map<string, Set<Listener>>();

  get(id: string): Job | undefined {
    return this.#jobs.get(id);
  }

  running(app: string): Job | undefined {
    return [...this.#jobs.values()].find((job) => job.apps.includes(app) && !job.done);
  }

  #create(app: string, action: Job["action"], apps: readonly string[]): { job: Job; push: (event: JobEvent) => void; end: (result: JobEvent) => void } {
    for (const name of apps) {
      const busy = this.running(name);
      if (busy) throw new FaradayError("BAD_REQUEST", `a ${busy.action} of ${name} is still running; wait for it to finish`);
    }
    const job: Job = { id: randomUUID(), app, action, apps: [...apps], events: [], done: false };
    this.#jobs.set(job.id, job);
    // Keep the last runs only: each is a few dozen small events.
    for (const old of [...this.#jobs.values()].slice(0, -50)) if (old.done) this.#jobs.delete(old.id);
    const push = (event: JobEvent) => {
      job.events.push(event);
      for (const listener of this.#listeners.get(job.id) ?? []) listener(event);
    };
    const end = (result: JobEvent) => {
      job.done = true;
      push(result);
      this.#listeners.delete(job.id);
    };
    return { job, push, end };
  }

  /**
   * Start `run` (which calls deployFly with `emit`) as a job.
   * @throws FaradayError BAD_REQUEST when a run for the app is still going.
   */
  start(app: string, action: "launch" | "update", run: (emit: (event: DeployEvent) => void) => Promise<DeployResult>, finished: (job: Job, result: JobResult) => Promise<void>): Job {
    const { job, push, end } = this.#create(app, action, [app]);
    void (async () => {
      let result: JobResult;
      try {
        const deployed = await run(push);
        result = { event: "result", ok: true, app, url: deployed.url };
      } catch (error) {
        const failure = known(error);
        result = { event: "result", ok: false, app, error: { code: failure.code, message: failure.message } };
      }
      await finished(job, result).catch(() => {});
      end(result);
    })();
    return job;
  }

  /**
   * "Update all": `run` for each app in turn, one at a time, stopping at the first failure.
   * `finished` is called after each app (to record its last run).
   * @throws FaradayError BAD_REQUEST when a run for any of the apps is still going.
   */
  startBatch(apps: readonly string[], run: (app: string, emit: (event: DeployEvent) => void) => Promise<DeployResult>, finished: (job: Job, result: JobResult) => Promise<void>): Job {
    const { job, push, end } = this.#create("*", "update-all", apps);
    void (async () => {
      const updated: string[] = [];
      for (const [index, app] of apps.entries()) {
        push({ event: "app", app, index, total: apps.length });
        let result: JobResult;
        try {
          const deployed = await run(app, (event) => push({ ...event, app }));
          result = { event: "result", ok: true, app, url: deployed.url };
        } catch (error) {
          const failure = known(error);
          result = { event: "result", ok: false, app, error: { code: failure.code, message: failure.message } };
        }
        await finished({ ...job, app, action: "update" }, result).catch(() => {});
        if (!result.ok) {
          end({ event: "result", batch: true, ok: false, app, updated, skipped: apps.slice(index + 1), error: result.error });
          return;
        }
        updated.push(app);
      }
      end({ event: "result", batch: true, ok: true, updated });
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
