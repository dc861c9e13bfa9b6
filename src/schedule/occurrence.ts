import { Cron } from "croner";
import { FaradayError } from "../errors/index.ts";

/**
 * When a job runs: once at an instant, on a cron expression in a time zone (croner: DST-correct,
 * a 09:00 job runs once at 09:00 local on both change days), or every N minutes inside active
 * hours (the heartbeat).
 */
export type ScheduleSpec =
  | { readonly kind: "once"; readonly at: number }
  | { readonly kind: "cron"; readonly expression: string; readonly timezone: string }
  | { readonly kind: "every"; readonly everyMs: number; readonly activeHours?: string; readonly timezone: string };

const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/** The process's own zone, used when neither the job nor `cron.timezone` names one. */
export function systemTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** @throws FaradayError BAD_REQUEST for a zone Intl does not know. */
export function checkTimeZone(timezone: string): string {
  try {
    new Intl.DateTimeFormat("en", { timeZone: timezone });
  } catch {
    throw new FaradayError("BAD_REQUEST", `unknown time zone "${timezone}"; use an IANA name such as Europe/London or America/New_York`);
  }
  return timezone;
}

/** Is `text` an ISO 8601 time with a Z or ±hh:mm offset? */
export function isIsoInstant(text: string): boolean {
  return ISO_WITH_OFFSET.test(text.trim());
}

/** Parse "30m", "2h", "45s", "1d" into ms. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)\s*(s|m|h|d)$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as "s" | "m" | "h" | "d"];
  return Number(match[1]) * unit;
}

/**
 * Build a spec from what a person wrote: an ISO time with offset (once) or a cron expression.
 * @throws FaradayError BAD_REQUEST with what to write instead.
 */
export function parseSchedule(schedule: string, timezone: string): ScheduleSpec {
  const text = schedule.trim();
  if (isIsoInstant(text)) {
    const at = Date.parse(text);
    if (!Number.isFinite(at)) throw new FaradayError("BAD_REQUEST", `"${schedule}" is not a valid time; write e.g. 2026-12-05T17:00:00+01:00`);
    return { kind: "once", at };
  }
  if (/^\d{4}-\d{2}-\d{2}T/.test(text)) {
    throw new FaradayError("BAD_REQUEST", `"${schedule}" has no time zone offset; add one (2026-12-05T17:00:00+01:00 or …Z) so it means one instant`);
  }
  checkTimeZone(timezone);
  try {
    new Cron(text, { timezone });
  } catch (error) {
    throw new FaradayError("BAD_REQUEST", `"${schedule}" is neither an ISO time with offset nor a cron expression (${(error as Error).message}); e.g. "0 9 * * 1-5" for 09:00 on weekdays`);
  }
  return { kind: "cron", expression: text, timezone };
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Minutes since local midnight in `timezone` at `instant`. */
function localMinutes(instant: number, timezone: string): number {
  let formatter = formatters.get(timezone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-GB", { timeZone: timezone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    formatters.set(timezone, formatter);
  }
  const parts = formatter.formatToParts(instant);
  const hour = Number(parts.find((part) => part.type === "hour")?.value ?? 0);
  const minute = Number(parts.find((part) => part.type === "minute")?.value ?? 0);
  return hour * 60 + minute;
}

/** "08:00-22:00" → [480, 1320]; undefined when absent. @throws FaradayError BAD_REQUEST. */
export function parseActiveHours(text: string | undefined): [number, number] | undefined {
  if (!text) return undefined;
  const match = /^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$/.exec(text.trim());
  if (!match) throw new FaradayError("BAD_REQUEST", `activeHours "${text}" should look like 08:00-22:00`);
  const start = Number(match[1]) * 60 + Number(match[2]);
  const end = Number(match[3]) * 60 + Number(match[4]);
  return [start, end];
}

function insideHours(instant: number, hours: [number, number], timezone: string): boolean {
  const minutes = localMinutes(instant, timezone);
  const [start, end] = hours;
  return start <= end ? minutes >= start && minutes < end : minutes >= start || minutes < end;
}

/** The first occurrence strictly after `after`, or undefined when there is none. */
export function nextOccurrence(spec: ScheduleSpec, after: number): number | undefined {
  switch (spec.kind) {
    case "once":
      return spec.at > after ? spec.at : undefined;
    case "cron":
      return new Cron(spec.expression, { timezone: spec.timezone }).nextRun(new Date(after))?.getTime();
    case "every": {
      let candidate = after + spec.everyMs;
      const hours = parseActiveHours(spec.activeHours);
      if (!hours) return candidate;
      // Step minute by minute to the window's start (bounded: two days of minutes).
      for (let step = 0; step < 2 * 1440 && !insideHours(candidate, hours, spec.timezone); step++) {
        candidate = (Math.floor(candidate / 60_000) + 1) * 60_000;
      }
      return candidate;
    }
  }
}

/** The latest occurrence at or before `at`, at or after `from` (the one a catch-up runs). */
export function latestOccurrence(spec: ScheduleSpec, from: number, at: number): number {
  if (spec.kind !== "cron") return from;
  const previous = new Cron(spec.expression, { timezone: spec.timezone }).previousRuns(1, new Date(Math.floor(at / 1000) * 1000 + 1000))[0]?.getTime();
  return previous !== undefined && previous >= from ? previous : from;
}
