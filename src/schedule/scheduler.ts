import type { Logger } from "../logging/index.ts";
import type { ToolNotice } from "../tools/index.ts";
import { latestOccurrence, nextOccurrence } from "./occurrence.ts";
import type { OwnerChat, OwnerDirectory } from "./owner-directory.ts";
import { MAX_TIMER_MS, type ScheduleClock } from "./schedule-clock.ts";
import type { JobRun, RunStatus, RunTrigger, ScheduledJob, ScheduleStore } from "./schedule-store.ts";

/** The reply that means "nothing to report": a heartbeat answering it sends nothing. */
export const HEARTBEAT_SENTINEL = "HEARTBEAT_OK";

/** Jobs claimed per pass; a bigger backlog is worked through in further passes at once. */
const BATCH = 500;
/** Sent to the model with a scheduled instruction, so it knows nobody is waiting in the chat. */
const INSTRUCTION_PREFIX = "[Scheduled task";

/** A turn of the agent for a scheduled job (the runtime behind a port). */
export interface ScheduledTurn {
  readonly agentId?: string;
  readonly channel: string;
  readonly chat: string;
  readonly sender: string;
  readonly text: string;
  readonly model?: string;
  readonly sessionKey?: string;
  readonly freshSession?: boolean;
  readonly readOnlyTools?: boolean;
  /** Always true: the text is an instruction, never an answer to a pending approval. */
  readonly scheduled: true;
  readonly onNotice?: (notice: ToolNotice) => void;
}

export interface ScheduledTurnResult {
  readonly reply: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly errorCode?: string;
}

/**
 * Messages the gateway starts: `store` runs inside the claim's transaction (stored, or not
 * claimed at all), `send` after it commits. `mayStart` says whether the gateway may write
 * first to a chat (undefined) or why not.
 */
export interface Outbox {
  store(channel: string, chat: string, text: string, key: string): unknown;
  send(stored: unknown): void;
  mayStart(channel: string, chat: string, job: ScheduledJob): string | undefined;
  notify(channel: string, chat: string, notice: ToolNotice): void;
}

export interface SchedulerDeps {
  readonly store: ScheduleStore;
  readonly clock: ScheduleClock;
  readonly outbox: Outbox;
  readonly owners: OwnerDirectory;
  readonly turn: (input: ScheduledTurn) => Promise<ScheduledTurnResult>;
  readonly heartbeatChecklist: (agentId: string) => Promise<string>;
  readonly catchUpMinutes: () => number;
  readonly logger: Logger;
}

interface Target {
  readonly channel: string;
  readonly chat: string;
}

/** A fixed message's result: stored for sending (it goes out with the channel's retries). */
const queuedFor = (targets: readonly Target[]) => `queued for ${targets.map((target) => `${target.channel}:${target.chat}`).join(", ")}`;

/**
 * The scheduler: one timer, set for the earliest next run of any job. When it fires, every due
 * job is claimed in the database (see `ScheduleStore.claim`) before anything runs; a fixed
 * reminder is stored for sending in that same transaction. An occurrence missed while the gateway
 * was down runs once when it is at most `cron.catchUpMinutes` late, else it is recorded as missed.
 * Instruction runs a kill interrupted are recorded and never run again: at most once.
 */
export class Scheduler {
  readonly #deps: SchedulerDeps;
  #timer: unknown;
  #armedFor: number | undefined;
  #running = false;
  #stopping = false;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(deps: SchedulerDeps) {
    this.#deps = deps;
  }

  /** Record runs a previous process left in progress, then arm the timer (catch-up happens in the first pass). */
  start(): void {
    this.#stopping = false;
    const interrupted = this.#deps.store.markInterrupted(this.#deps.clock.now());
    if (interrupted) this.#deps.logger.warn({ runs: interrupted }, "scheduled runs were interrupted by the last stop; they are not run again");
    this.#deps.store.pruneRuns(this.#deps.clock.now());
    this.#running = true;
    this.arm();
  }

  /** Stop the timer and wait for the runs in flight (their answers are stored for sending). */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#running = false;
    this.#clear();
    await Promise.allSettled([...this.#inFlight]);
  }

  /** Set the one timer for the earliest due job (call after any change to the jobs). */
  arm(): void {
    if (!this.#running) return;
    const earliest = this.#deps.store.earliest();
    if (earliest === undefined) {
      this.#clear();
      return;
    }
    if (this.#timer !== undefined && this.#armedFor === earliest) return;
    this.#clear();
    const delay = Math.min(Math.max(0, earliest - this.#deps.clock.now()), MAX_TIMER_MS);
    this.#armedFor = earliest;
    this.#timer = this.#deps.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#armedFor = undefined;
      this.#pass();
    }, delay);
  }

  #clear(): void {
    if (this.#timer !== undefined) this.#deps.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = undefined;
  }

  /** Claim and start every job due now; then re-arm. */
  #pass(): void {
    if (!this.#running) return;
    for (let round = 0; round < 1_000; round++) {
      const now = this.#deps.clock.now();
      const due = this.#deps.store.due(now, BATCH);
      // One transaction per batch; what is sent or run starts only once it has committed.
      const after: Array<() => void> = [];
      this.#deps.store.batch(() => {
        for (const job of due) {
          try {
            const start = this.#fire(job, now);
            if (start) after.push(start);
          } catch (error) {
            this.#deps.logger.error({ err: error, jobId: job.id }, "a scheduled job could not be claimed");
          }
        }
      });
      for (const start of after) start();
      if (due.length < BATCH) break;
    }
    this.arm();
  }

  /** Claim one due job; returns what to start once the claim has committed. */
  #fire(job: ScheduledJob, now: number): (() => void) | undefined {
    const due = job.nextRun!;
    const scheduledAt = latestOccurrence(job.spec, due, now);
    const next = nextOccurrence(job.spec, Math.max(now, scheduledAt)) ?? null;
    const lateMs = now - scheduledAt;
    const catchUpMs = this.#deps.catchUpMinutes() * 60_000;
    const trigger: RunTrigger = lateMs > 60_000 ? "catch-up" : "due";
    const { store, clock } = this.#deps;
    if (lateMs > catchUpMs) {
      const claimed = store.claim({
        job, due, next, scheduledAt, trigger, status: "missed", now: clock.now(),
        result: `missed: due at ${new Date(scheduledAt).toISOString()}, ${Math.round(lateMs / 60_000)} minutes late (cron.catchUpMinutes is ${this.#deps.catchUpMinutes()})`,
      });
      if (claimed) this.#deps.logger.warn({ jobId: job.id, scheduledAt: new Date(scheduledAt).toISOString() }, "scheduled occurrence missed while the gateway was down");
      return undefined;
    }
    if (job.kind === "message") return this.#deliverFixed(job, { due, next, scheduledAt, trigger });
    if (!store.claim({ job, due, next, scheduledAt, trigger, status: "running", now: clock.now() })) return undefined;
    return () => this.#track(this.#runTurn(job, scheduledAt));
  }

  /** A fixed reminder: claimed and stored for sending in one transaction, then sent. */
  #deliverFixed(job: ScheduledJob, claim: { due: number; next: number | null; scheduledAt: number; trigger: RunTrigger }): (() => void) | undefined {
    const { store, clock, outbox } = this.#deps;
    const { targets, refused } = this.#targets(job);
    const stored: unknown[] = [];
    const status: RunStatus = targets.length ? "done" : "refused";
    const result = targets.length ? queuedFor(targets) : refused;
    const claimed = store.claim({ job, ...claim, status, result, now: clock.now() }, () => {
      for (const target of targets) {
        const row = outbox.store(target.channel, target.chat, job.text, `schedule:${job.id}:${claim.scheduledAt}`);
        if (row !== undefined) stored.push(row);
      }
    });
    if (!claimed) return undefined;
    return () => {
      for (const row of stored) outbox.send(row);
    };
  }

  /** Where a job's output may go, after the who-may-be-messaged-first rule. */
  #targets(job: ScheduledJob): { targets: Target[]; refused: string } {
    if (job.deliverTo === "owners") {
      const owners = this.#deps.owners.owners();
      return { targets: owners, refused: "no owners to deliver to: set channels.<name>.owners in the config" };
    }
    const target = job.deliverTo;
    const reason = this.#deps.outbox.mayStart(target.channel, target.chat, job);
    return reason ? { targets: [], refused: reason } : { targets: [target], refused: "" };
  }

  #track(run: Promise<void>): void {
    this.#inFlight.add(run);
    void run.finally(() => this.#inFlight.delete(run));
  }

  /** Who a scheduled turn runs as: the chat that made it, else an owner (who answers approvals). */
  #turnChat(job: ScheduledJob): { channel: string; chat: string; sender: string } {
    if (job.origin) return job.origin;
    const owners = this.#deps.owners.owners();
    const target = job.deliverTo === "owners" ? undefined : job.deliverTo;
    const owner: OwnerChat | undefined = owners.find((candidate) => candidate.channel === target?.channel) ?? owners[0];
    if (owner) return { channel: owner.channel, chat: owner.chat, sender: owner.owner };
    if (target) return { channel: target.channel, chat: target.chat, sender: "faraday:schedule" };
    return { channel: "schedule", chat: job.id, sender: "faraday:schedule" };
  }

  async #runTurn(job: ScheduledJob, scheduledAt: number): Promise<void> {
    const { store, clock, outbox, logger } = this.#deps;
    try {
      let result: ScheduledTurnResult;
      let silent = false;
      if (job.kind === "heartbeat") {
        const agentId = job.agentId ?? "main";
        const checklist = (await this.#deps.heartbeatChecklist(agentId)).trim();
        if (!checklist) {
          store.finishRun(job.id, scheduledAt, { status: "silent", result: "HEARTBEAT.md is empty: nothing to check" }, clock.now());
          return;
        }
        result = await this.#deps.turn({
          agentId, channel: "heartbeat", chat: agentId, sender: "faraday:heartbeat", scheduled: true, sessionKey: `${agentId}:heartbeat`, freshSession: true, readOnlyTools: true,
          ...(job.model ? { model: job.model } : {}),
          text: `${job.text}\n\n## HEARTBEAT.md\n${checklist}`,
        });
        silent = result.errorCode === undefined && result.reply.trim().startsWith(HEARTBEAT_SENTINEL);
      } else {
        const as = this.#turnChat(job);
        result = await this.#deps.turn({
          ...(job.agentId ? { agentId: job.agentId } : {}),
          ...as,
          scheduled: true,
          ...(job.model ? { model: job.model } : {}),
          text: `${INSTRUCTION_PREFIX} ${job.id}, scheduled for ${new Date(scheduledAt).toISOString()}; nobody is waiting in this chat — your answer is delivered as a message] ${job.text}`,
          onNotice: (notice) => outbox.notify(as.channel, as.chat, notice),
        });
      }
      const tokens = { inputTokens: result.inputTokens, outputTokens: result.outputTokens };
      if (silent) {
        store.finishRun(job.id, scheduledAt, { status: "silent", result: HEARTBEAT_SENTINEL, ...tokens }, clock.now());
        return;
      }
      const reply = result.reply.trim() || "(no reply)";
      const { targets, refused } = this.#targets(job);
      const stored: unknown[] = [];
      store.finishRun(job.id, scheduledAt, {
        status: result.errorCode ? "failed" : targets.length ? "done" : "refused",
        result: targets.length ? reply : `${refused}. The answer was: ${reply}`,
        ...tokens,
      }, clock.now(), () => {
        for (const target of targets) {
          const row = outbox.store(target.channel, target.chat, reply, `schedule:${job.id}:${scheduledAt}`);
          if (row !== undefined) stored.push(row);
        }
      });
      if (!this.#stopping) for (const row of stored) outbox.send(row);
    } catch (error) {
      logger.error({ err: error, jobId: job.id }, "a scheduled run failed");
      store.finishRun(job.id, scheduledAt, { status: "failed", result: (error as Error).message }, clock.now());
    }
  }

  /**
   * Run a job now, outside its schedule (its next run does not move). Resolves with the run once
   * it has finished (a fixed reminder: once stored for sending).
   */
  async runNow(job: ScheduledJob): Promise<JobRun | undefined> {
    const { store, clock } = this.#deps;
    let at = clock.now();
    while (store.run(job.id, at)) at++;
    if (job.kind === "message") {
      const { targets, refused } = this.#targets(job);
      const stored: unknown[] = [];
      if (!store.claimManual(job, at, clock.now())) return undefined;
      store.finishRun(job.id, at, { status: targets.length ? "done" : "refused", result: targets.length ? queuedFor(targets) : refused }, clock.now(), () => {
        for (const target of targets) {
          const row = this.#deps.outbox.store(target.channel, target.chat, job.text, `schedule:${job.id}:${at}`);
          if (row !== undefined) stored.push(row);
        }
      });
      for (const row of stored) this.#deps.outbox.send(row);
      return store.run(job.id, at);
    }
    if (!store.claimManual(job, at, clock.now())) return undefined;
    const run = this.#runTurn(job, at);
    this.#track(run);
    await run;
    return store.run(job.id, at);
  }
}
