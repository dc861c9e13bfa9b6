import type { Database } from "../state/index.ts";
import type { ScheduleSpec } from "./occurrence.ts";

export type JobSource = "chat" | "config" | "api" | "heartbeat";
export type JobKind = "message" | "instruction" | "heartbeat";
export type RunStatus = "running" | "done" | "silent" | "failed" | "refused" | "missed" | "interrupted";
export type RunTrigger = "due" | "catch-up" | "manual";

/** Where a job's output goes: one chat, or every owner's chat. */
export type DeliveryTarget = { readonly channel: string; readonly chat: string } | "owners";

/** The chat (and person) a job was created from: they may cancel it, and it may answer there. */
export interface JobOrigin {
  readonly channel: string;
  readonly chat: string;
  readonly sender: string;
}

export interface ScheduledJob {
  readonly id: string;
  readonly source: JobSource;
  readonly kind: JobKind;
  readonly spec: ScheduleSpec;
  /** What the person wrote (ISO time, cron expression, "every 30m"). */
  readonly schedule: string;
  readonly agentId: string | null;
  /** The message (kind message) or the instruction (instruction, heartbeat). */
  readonly text: string;
  readonly deliverTo: DeliveryTarget;
  readonly model: string | null;
  readonly origin: JobOrigin | null;
  readonly enabled: boolean;
  readonly paused: boolean;
  /** ms since the epoch; null when it has no further occurrence. */
  readonly nextRun: number | null;
  readonly createdAt: string;
}

export interface JobRun {
  readonly jobId: string;
  readonly scheduledAt: number;
  readonly trigger: RunTrigger;
  readonly status: RunStatus;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly result: string | null;
  readonly inputTokens: number;
  readonly outputTokens: number;
}

type JobRow = {
  id: string; source: JobSource; kind: JobKind; spec: string; schedule: string; agent_id: string | null; text: string; deliver_to: string;
  model: string | null; origin_channel: string | null; origin_chat: string | null; origin_sender: string | null; enabled: number; paused: number;
  next_run: number | null; created_at: string;
};
type RunRow = {
  job_id: string; scheduled_at: number; trigger: RunTrigger; status: RunStatus; started_at: string; finished_at: string | null; result: string | null;
  input_tokens: number; output_tokens: number;
};

const toJob = (row: JobRow): ScheduledJob => ({
  id: row.id, source: row.source, kind: row.kind, spec: JSON.parse(row.spec) as ScheduleSpec, schedule: row.schedule, agentId: row.agent_id,
  text: row.text, deliverTo: JSON.parse(row.deliver_to) as DeliveryTarget, model: row.model,
  origin: row.origin_channel && row.origin_chat ? { channel: row.origin_channel, chat: row.origin_chat, sender: row.origin_sender ?? row.origin_chat } : null,
  enabled: row.enabled === 1, paused: row.paused === 1, nextRun: row.next_run, createdAt: row.created_at,
});
const toRun = (row: RunRow): JobRun => ({
  jobId: row.job_id, scheduledAt: row.scheduled_at, trigger: row.trigger, status: row.status, startedAt: row.started_at, finishedAt: row.finished_at,
  result: row.result, inputTokens: row.input_tokens, outputTokens: row.output_tokens,
});

export type NewJob = Omit<ScheduledJob, "createdAt" | "paused"> & { readonly paused?: boolean };

/**
 * Jobs and their occurrences in SQLite. An occurrence runs only after it is claimed: one
 * transaction moves the job's `next_run` on (`WHERE next_run = <the due time>`) and inserts the
 * (job, scheduled_at) run row, so a second claimer — a restart, a kill -9 mid-burst — finds
 * nothing to claim and nothing runs twice.
 */
export class ScheduleStore {
  readonly #database: Database;
  readonly #statements;

  constructor(database: Database) {
    this.#database = database;
    const prepare = (sql: string) => database.prepare(sql);
    this.#statements = {
      upsert: prepare(`INSERT INTO schedule_jobs (id, source, kind, spec, schedule, agent_id, text, deliver_to, model, origin_channel, origin_chat, origin_sender, enabled, paused, next_run, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET source = excluded.source, kind = excluded.kind, spec = excluded.spec, schedule = excluded.schedule, agent_id = excluded.agent_id,
          text = excluded.text, deliver_to = excluded.deliver_to, model = excluded.model, enabled = excluded.enabled, next_run = excluded.next_run, updated_at = excluded.updated_at`),
      byId: prepare("SELECT * FROM schedule_jobs WHERE id = ?"),
      all: prepare("SELECT * FROM schedule_jobs ORDER BY next_run IS NULL, next_run, id"),
      bySource: prepare("SELECT * FROM schedule_jobs WHERE source = ?"),
      byOrigin: prepare("SELECT * FROM schedule_jobs WHERE origin_channel = ? AND origin_chat = ? AND next_run IS NOT NULL ORDER BY next_run"),
      countByOrigin: prepare("SELECT COUNT(*) AS count FROM schedule_jobs WHERE origin_channel = ? AND origin_chat = ? AND next_run IS NOT NULL"),
      due: prepare("SELECT * FROM schedule_jobs WHERE next_run <= ? AND enabled = 1 AND paused = 0 ORDER BY next_run LIMIT ?"),
      earliest: prepare("SELECT MIN(next_run) AS next FROM schedule_jobs WHERE next_run IS NOT NULL AND enabled = 1 AND paused = 0"),
      advance: prepare("UPDATE schedule_jobs SET next_run = ?, updated_at = ? WHERE id = ? AND next_run = ?"),
      setNext: prepare("UPDATE schedule_jobs SET next_run = ?, updated_at = ? WHERE id = ?"),
      pause: prepare("UPDATE schedule_jobs SET paused = ?, updated_at = ? WHERE id = ?"),
      remove: prepare("DELETE FROM schedule_jobs WHERE id = ?"),
      removeRuns: prepare("DELETE FROM schedule_runs WHERE job_id = ?"),
      insertRun: prepare(`INSERT INTO schedule_runs (job_id, scheduled_at, trigger, status, started_at, result) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (job_id, scheduled_at) DO NOTHING`),
      finishRun: prepare("UPDATE schedule_runs SET status = ?, finished_at = ?, result = ?, input_tokens = ?, output_tokens = ? WHERE job_id = ? AND scheduled_at = ?"),
      interrupted: prepare("UPDATE schedule_runs SET status = 'interrupted', finished_at = ?, result = 'the gateway stopped while this run was in progress; it is not run again' WHERE status = 'running'"),
      runs: prepare("SELECT * FROM schedule_runs WHERE job_id = ? ORDER BY scheduled_at DESC LIMIT ?"),
      lastRun: prepare("SELECT * FROM schedule_runs WHERE job_id = ? ORDER BY started_at DESC, scheduled_at DESC LIMIT 1"),
      run: prepare("SELECT * FROM schedule_runs WHERE job_id = ? AND scheduled_at = ?"),
      pruneRuns: prepare("DELETE FROM schedule_runs WHERE status != 'running' AND started_at < ?"),
      pruneJobs: prepare("DELETE FROM schedule_jobs WHERE next_run IS NULL AND source IN ('chat', 'api') AND updated_at < ?"),
    };
  }

  /** Insert or replace a job (its pause state and creation time are kept). */
  put(job: NewJob, now: number): void {
    const stamp = new Date(now).toISOString();
    this.#statements.upsert.run(
      job.id, job.source, job.kind, JSON.stringify(job.spec), job.schedule, job.agentId, job.text, JSON.stringify(job.deliverTo), job.model,
      job.origin?.channel ?? null, job.origin?.chat ?? null, job.origin?.sender ?? null, job.enabled ? 1 : 0, job.paused ? 1 : 0, job.nextRun, stamp, stamp,
    );
  }

  get(id: string): ScheduledJob | undefined {
    const row = this.#statements.byId.get(id) as JobRow | undefined;
    return row ? toJob(row) : undefined;
  }

  list(): ScheduledJob[] {
    return (this.#statements.all.all() as JobRow[]).map(toJob);
  }

  bySource(source: JobSource): ScheduledJob[] {
    return (this.#statements.bySource.all(source) as JobRow[]).map(toJob);
  }

  /** Upcoming jobs created in one chat. */
  byOrigin(channel: string, chat: string): ScheduledJob[] {
    return (this.#statements.byOrigin.all(channel, chat) as JobRow[]).map(toJob);
  }

  countByOrigin(channel: string, chat: string): number {
    return (this.#statements.countByOrigin.get(channel, chat) as { count: number }).count;
  }

  /** Jobs whose next run is at or before `now`, earliest first. */
  due(now: number, limit: number): ScheduledJob[] {
    return (this.#statements.due.all(now, limit) as JobRow[]).map(toJob);
  }

  /** The earliest next run of any active job: the one timer is set for it. */
  earliest(): number | undefined {
    const row = this.#statements.earliest.get() as { next: number | null };
    return row.next ?? undefined;
  }

  setNextRun(id: string, next: number | null, now: number): void {
    this.#statements.setNext.run(next, new Date(now).toISOString(), id);
  }

  setPaused(id: string, paused: boolean, now: number): boolean {
    return Number(this.#statements.pause.run(paused ? 1 : 0, new Date(now).toISOString(), id).changes) === 1;
  }

  remove(id: string): boolean {
    return this.#transaction(() => {
      this.#statements.removeRuns.run(id);
      return Number(this.#statements.remove.run(id).changes) === 1;
    });
  }

  /**
   * Claim the occurrence due at `due` (scheduled as `scheduledAt`) and move the job on to
   * `next`, in one transaction; `alsoInside` runs in the same transaction (a fixed reminder
   * stores its outgoing message there, so it is claimed and stored, or neither). False when
   * someone else claimed it first.
   */
  claim(input: { job: ScheduledJob; due: number; next: number | null; scheduledAt: number; trigger: RunTrigger; status: RunStatus; result?: string; now: number },
    alsoInside?: () => void): boolean {
    return this.#transaction(() => {
      const stamp = new Date(input.now).toISOString();
      const moved = Number(this.#statements.advance.run(input.next, stamp, input.job.id, input.due).changes) === 1;
      if (!moved) return false;
      const inserted = Number(this.#statements.insertRun.run(input.job.id, input.scheduledAt, input.trigger, input.status, stamp, input.result ?? null).changes) === 1;
      if (!inserted) return false;
      alsoInside?.();
      return true;
    });
  }

  /** Claim a manual run ("run now"): the job's schedule does not move. */
  claimManual(job: ScheduledJob, at: number, now: number): boolean {
    return Number(this.#statements.insertRun.run(job.id, at, "manual", "running", new Date(now).toISOString(), null).changes) === 1;
  }

  finishRun(jobId: string, scheduledAt: number, outcome: { status: RunStatus; result: string; inputTokens?: number; outputTokens?: number }, now: number, alsoInside?: () => void): void {
    this.#transaction(() => {
      alsoInside?.();
      this.#statements.finishRun.run(outcome.status, new Date(now).toISOString(), outcome.result, outcome.inputTokens ?? 0, outcome.outputTokens ?? 0, jobId, scheduledAt);
    });
  }

  /** Runs a previous process left `running` (killed mid-turn): recorded, never run again. */
  markInterrupted(now: number): number {
    return Number(this.#statements.interrupted.run(new Date(now).toISOString()).changes);
  }

  runs(jobId: string, limit = 20): JobRun[] {
    return (this.#statements.runs.all(jobId, limit) as RunRow[]).map(toRun);
  }

  lastRun(jobId: string): JobRun | undefined {
    const row = this.#statements.lastRun.get(jobId) as RunRow | undefined;
    return row ? toRun(row) : undefined;
  }

  run(jobId: string, scheduledAt: number): JobRun | undefined {
    const row = this.#statements.run.get(jobId, scheduledAt) as RunRow | undefined;
    return row ? toRun(row) : undefined;
  }

  /** Forget finished runs, and one-off jobs that have run, older than `days`. */
  pruneRuns(now: number, days = 30): number {
    const before = new Date(now - days * 86_400_000).toISOString();
    this.#statements.pruneJobs.run(before);
    return Number(this.#statements.pruneRuns.run(before).changes);
  }

  /**
   * Run `work` in one transaction; claims made inside join it (a pass over 1,000 due jobs is one
   * commit, not 1,000). All of it is committed, or none.
   */
  batch<T>(work: () => T): T {
    return this.#transaction(work);
  }

  #transaction<T>(work: () => T): T {
    if (this.#database.isTransaction) {
      // Inside a batch: a savepoint, so one failed claim leaves the others standing.
      this.#database.exec("SAVEPOINT schedule_claim");
      try {
        const result = work();
        this.#database.exec("RELEASE schedule_claim");
        return result;
      } catch (error) {
        this.#database.exec("ROLLBACK TO schedule_claim");
        this.#database.exec("RELEASE schedule_claim");
        throw error;
      }
    }
    this.#database.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      this.#database.exec("COMMIT");
      return result;
    } catch (error) {
      this.#database.exec("ROLLBACK");
      throw error;
    }
  }
}
