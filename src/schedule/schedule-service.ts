import { randomBytes } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import type { FaradayConfig } from "../config/index.ts";
import { FaradayError } from "../errors/index.ts";
import type { Logger } from "../logging/index.ts";
import { checkTimeZone, isIsoInstant, nextOccurrence, parseDuration, parseSchedule, systemTimeZone, type ScheduleSpec } from "./occurrence.ts";
import type { Scheduler } from "./scheduler.ts";
import type { ScheduleClock } from "./schedule-clock.ts";
import type { DeliveryTarget, JobKind, JobOrigin, JobRun, ScheduledJob, ScheduleStore } from "./schedule-store.ts";

export const DEFAULT_CATCH_UP_MINUTES = 60;
/** Reminders one chat may have pending (a scheduled turn can create more; this bounds it). */
export const MAX_JOBS_PER_CHAT = 100;
const PAST_GRACE_MS = 60_000;

export const HEARTBEAT_INSTRUCTION =
  "[Heartbeat] This is a periodic check, not a message from anyone. Go through the checklist below, using read-only tools where it helps. " +
  "If nothing needs the owners' attention right now, reply with exactly HEARTBEAT_OK and nothing else. " +
  "Otherwise reply with the short message the owners should get.";

/** A job with what the Schedule page and `faraday cron list` show beside it. */
export interface JobView extends ScheduledJob {
  readonly lastRun: JobRun | null;
}

export interface CreateFromChatInput {
  readonly when: string;
  readonly message?: string;
  readonly instruction?: string;
  readonly repeat?: string;
  readonly timezone?: string;
}

export interface AddJobInput {
  readonly id?: string;
  readonly schedule: string;
  readonly timezone?: string;
  readonly agent?: string;
  readonly instruction?: string;
  readonly message?: string;
  readonly deliverTo: DeliveryTarget;
  readonly model?: string;
}

const newId = () => `r-${randomBytes(5).toString("hex")}`;

/**
 * Jobs, as people make them: reminders from a chat, jobs from the config (hot-applied), jobs
 * added over the API, the heartbeat. Every change re-arms the scheduler's one timer.
 */
export class ScheduleService {
  readonly #store: ScheduleStore;
  readonly #scheduler: Scheduler;
  readonly #clock: ScheduleClock;
  readonly #config: () => FaradayConfig | undefined;
  readonly #logger: Logger;

  constructor(deps: { store: ScheduleStore; scheduler: Scheduler; clock: ScheduleClock; config: () => FaradayConfig | undefined; logger: Logger }) {
    this.#store = deps.store;
    this.#scheduler = deps.scheduler;
    this.#clock = deps.clock;
    this.#config = deps.config;
    this.#logger = deps.logger;
  }

  timezone(): string {
    return this.#config()?.cron?.timezone ?? systemTimeZone();
  }

  catchUpMinutes(): number {
    return this.#config()?.cron?.catchUpMinutes ?? DEFAULT_CATCH_UP_MINUTES;
  }

  /** The spec and first run for what a person wrote; `repeat` (a cron expression) makes it recur from `when` on. */
  #plan(when: string, repeat: string | undefined, timezone: string): { spec: ScheduleSpec; nextRun: number; schedule: string } {
    const now = this.#clock.now();
    const zone = checkTimeZone(timezone);
    if (repeat) {
      const spec = parseSchedule(repeat, zone);
      if (spec.kind !== "cron") throw new FaradayError("BAD_REQUEST", `repeat must be a cron expression such as "0 9 * * *", not a time`);
      const from = isIsoInstant(when) ? Math.max(Date.parse(when) - 1, now) : now;
      const nextRun = nextOccurrence(spec, from);
      if (nextRun === undefined) throw new FaradayError("BAD_REQUEST", `"${repeat}" never runs after ${new Date(from).toISOString()}`);
      return { spec, nextRun, schedule: repeat };
    }
    const spec = parseSchedule(when, zone);
    if (spec.kind === "once") {
      if (spec.at < now - PAST_GRACE_MS) throw new FaradayError("BAD_REQUEST", `${when} has already passed (it is ${new Date(now).toISOString()} now); give a time in the future`);
      return { spec, nextRun: Math.max(spec.at, now), schedule: when };
    }
    const nextRun = nextOccurrence(spec, now);
    if (nextRun === undefined) throw new FaradayError("BAD_REQUEST", `"${when}" never runs again`);
    return { spec, nextRun, schedule: when };
  }

  /** schedule_create: a reminder or instruction delivered back to the chat it was made in. */
  createFromChat(origin: JobOrigin & { agentId: string }, input: CreateFromChatInput): ScheduledJob {
    if (!["telegram", "discord", "whatsapp"].includes(origin.channel)) {
      throw new FaradayError("BAD_REQUEST", `reminders are delivered on Telegram, Discord or WhatsApp; this chat (${origin.channel}) cannot receive a message later`);
    }
    const hasMessage = typeof input.message === "string" && input.message.trim() !== "";
    const hasInstruction = typeof input.instruction === "string" && input.instruction.trim() !== "";
    if (hasMessage === hasInstruction) throw new FaradayError("BAD_REQUEST", "give exactly one of message (sent as written) or instruction (run as a task, its answer sent)");
    if (this.#store.countByOrigin(origin.channel, origin.chat) >= MAX_JOBS_PER_CHAT) {
      throw new FaradayError("BAD_REQUEST", `this chat already has ${MAX_JOBS_PER_CHAT} scheduled reminders; cancel some first`);
    }
    const plan = this.#plan(input.when, input.repeat, input.timezone ?? this.timezone());
    const job = {
      id: newId(), source: "chat" as const, kind: (hasMessage ? "message" : "instruction") as JobKind, spec: plan.spec, schedule: plan.schedule,
      agentId: origin.agentId, text: (hasMessage ? input.message! : input.instruction!).trim(),
      deliverTo: { channel: origin.channel, chat: origin.chat }, model: null,
      origin: { channel: origin.channel, chat: origin.chat, sender: origin.sender }, enabled: true, nextRun: plan.nextRun,
    };
    this.#store.put(job, this.#clock.now());
    this.#scheduler.arm();
    return this.#store.get(job.id)!;
  }

  listForChat(channel: string, chat: string): ScheduledJob[] {
    return this.#store.byOrigin(channel, chat);
  }

  /** schedule_cancel: only a job made in the same chat. */
  cancelForChat(channel: string, chat: string, id: string): boolean {
    const job = this.#store.get(id);
    if (!job || job.origin?.channel !== channel || job.origin.chat !== chat) return false;
    this.#store.remove(id);
    this.#scheduler.arm();
    return true;
  }

  list(): JobView[] {
    return this.#store.list().map((job) => ({ ...job, lastRun: this.#store.lastRun(job.id) ?? null }));
  }

  get(id: string): JobView | undefined {
    const job = this.#store.get(id);
    return job ? { ...job, lastRun: this.#store.lastRun(job.id) ?? null } : undefined;
  }

  runs(id: string): JobRun[] {
    return this.#store.runs(id);
  }

  /** A job added over the API or `faraday cron add` (lives in the database). */
  add(input: AddJobInput): ScheduledJob {
    const id = input.id ?? newId();
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(id)) throw new FaradayError("BAD_REQUEST", `job id "${id}": letters, digits, ., - or _ (max 64)`);
    if (this.#store.get(id)) throw new FaradayError("BAD_REQUEST", `a job "${id}" exists already; remove it first or pick another id`);
    const hasMessage = typeof input.message === "string" && input.message.trim() !== "";
    const hasInstruction = typeof input.instruction === "string" && input.instruction.trim() !== "";
    if (hasMessage === hasInstruction) throw new FaradayError("BAD_REQUEST", "give exactly one of message (sent as written) or instruction (run by the agent, its answer sent)");
    const deliverTo = normaliseTarget(input.deliverTo);
    const plan = this.#plan(input.schedule, undefined, input.timezone ?? this.timezone());
    this.#store.put({
      id, source: "api", kind: hasMessage ? "message" : "instruction", spec: plan.spec, schedule: plan.schedule, agentId: input.agent ?? null,
      text: (hasMessage ? input.message! : input.instruction!).trim(), deliverTo, model: input.model ?? null, origin: null, enabled: true, nextRun: plan.nextRun,
    }, this.#clock.now());
    this.#scheduler.arm();
    return this.#store.get(id)!;
  }

  /** @throws FaradayError NOT_FOUND, or BAD_REQUEST for a job the config defines. */
  remove(id: string): void {
    const job = this.#require(id);
    if (job.source === "config") throw new FaradayError("BAD_REQUEST", `job "${id}" comes from cron.jobs in openclaw.json; remove it there (or set enabled: false)`);
    if (job.source === "heartbeat") throw new FaradayError("BAD_REQUEST", `the heartbeat comes from agents.defaults.heartbeat in openclaw.json; remove it there, or pause it`);
    this.#store.remove(id);
    this.#scheduler.arm();
  }

  setPaused(id: string, paused: boolean): JobView {
    this.#require(id);
    this.#store.setPaused(id, paused, this.#clock.now());
    this.#scheduler.arm();
    return this.get(id)!;
  }

  async runNow(id: string): Promise<JobRun | undefined> {
    return this.#scheduler.runNow(this.#require(id));
  }

  #require(id: string): ScheduledJob {
    const job = this.#store.get(id);
    if (!job) throw new FaradayError("NOT_FOUND", `no scheduled job "${id}"; \`faraday cron list\` shows them`);
    return job;
  }

  /**
   * Bring the config's jobs and heartbeat into the database: new ones added, changed ones
   * rescheduled from now, removed ones dropped; an unchanged job keeps its next run.
   */
  syncConfig(): void {
    const config = this.#config();
    const now = this.#clock.now();
    const zone = this.timezone();
    const wanted = new Map<string, Omit<ScheduledJob, "createdAt" | "paused" | "nextRun">>();
    for (const entry of config?.cron?.jobs ?? []) {
      try {
        const spec = parseSchedule(entry.schedule, entry.timezone ?? zone);
        wanted.set(entry.id, {
          id: entry.id, source: "config", kind: "instruction", spec, schedule: entry.schedule, agentId: entry.agent ?? null, text: entry.instruction,
          deliverTo: normaliseTarget(entry.deliverTo), model: entry.model ?? null, origin: null, enabled: entry.enabled ?? true,
        });
      } catch (error) {
        this.#logger.error({ err: error, jobId: entry.id }, "cron job skipped");
      }
    }
    const heartbeat = config?.agents?.defaults?.heartbeat;
    if (heartbeat) {
      const everyMs = parseDuration(heartbeat.every) ?? 30 * 60_000;
      const agents = config?.agents?.list?.length ? config.agents.list.map((agent) => agent.id) : ["main"];
      for (const agentId of agents) {
        wanted.set(`heartbeat:${agentId}`, {
          id: `heartbeat:${agentId}`, source: "heartbeat", kind: "heartbeat",
          spec: { kind: "every", everyMs, timezone: zone, ...(heartbeat.activeHours ? { activeHours: heartbeat.activeHours } : {}) },
          schedule: `every ${heartbeat.every}${heartbeat.activeHours ? ` ${heartbeat.activeHours}` : ""}`, agentId, text: HEARTBEAT_INSTRUCTION,
          deliverTo: "owners", model: heartbeat.model ?? null, origin: null, enabled: true,
        });
      }
    }
    for (const existing of [...this.#store.bySource("config"), ...this.#store.bySource("heartbeat")]) {
      if (!wanted.has(existing.id)) this.#store.remove(existing.id);
    }
    for (const job of wanted.values()) {
      const existing = this.#store.get(job.id);
      if (existing && existing.source !== job.source) {
        this.#logger.error({ jobId: job.id }, `cron job "${job.id}" clashes with a job added over the API or from a chat; rename one of them`);
        continue;
      }
      const same = existing && isDeepStrictEqual(existing.spec, job.spec) && existing.nextRun !== null;
      const nextRun = same ? existing.nextRun : nextOccurrence(job.spec, now) ?? null;
      if (existing && same && isDeepStrictEqual({ ...existing, createdAt: undefined, paused: undefined, nextRun: undefined }, { ...job, createdAt: undefined, paused: undefined, nextRun: undefined })) continue;
      this.#store.put({ ...job, nextRun, paused: existing?.paused ?? false }, now);
    }
    this.#scheduler.arm();
  }
}

function normaliseTarget(target: DeliveryTarget | { channel: string; chat: string | number }): DeliveryTarget {
  if (target === "owners") return "owners";
  if (!target || typeof target !== "object" || typeof target.channel !== "string" || (typeof target.chat !== "string" && typeof target.chat !== "number")) {
    throw new FaradayError("BAD_REQUEST", 'deliverTo is "owners" or {"channel": "telegram", "chat": "123"}');
  }
  if (!["telegram", "discord", "whatsapp"].includes(target.channel)) throw new FaradayError("BAD_REQUEST", `deliverTo.channel must be telegram, discord or whatsapp, not ${target.channel}`);
  return { channel: target.channel, chat: String(target.chat) };
}
