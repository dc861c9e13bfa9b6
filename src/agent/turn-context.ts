/**
 * What the model is told about the turn it is answering: now (date, time, weekday and offset in
 * the right time zone), the channel, direct message or group, who is writing and their role.
 *
 * It travels as a short block at the start of the turn's user message (`ChatMessage.context`),
 * never in the system prompt: the system prompt and the tool list are the cached prefix
 * (Anthropic `cache_control`; OpenAI caches request prefixes automatically), and a clock in it
 * would make every turn a cache miss. The block is not stored in the transcript.
 */

/** A sender's role. h18-roles decides it from `owners`; until then: web chat/API "owner", else "user". */
export type SenderRole = "owner" | "customer" | "user";

export interface TurnContextInput {
  readonly now: Date;
  /** IANA zone, e.g. `Asia/Hong_Kong`; an unknown one falls back to UTC. */
  readonly timeZone: string;
  readonly channel: string;
  readonly chatType: "dm" | "group";
  readonly senderName?: string;
  readonly senderRole: SenderRole;
}

/** The tag the gateway wraps the block in; the same tag in a person's own text is defused. */
export const TURN_CONTEXT_TAG = "turn_context";

/** The host's own zone (Intl), `UTC` when the runtime has none. */
export function hostTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** True when Intl knows the zone (`Europe/London`, `UTC`, `Asia/Hong_Kong`). */
export function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The first zone that is set and valid: the person's, the agent's, the defaults', else the host's. */
export function resolveTimeZone(...candidates: ReadonlyArray<string | undefined>): string {
  for (const zone of candidates) if (zone && isValidTimeZone(zone)) return zone;
  return hostTimeZone();
}

/** `2026-12-04`, `Friday`, `18:11`, `UTC+08:00` for an instant in a zone. */
export function localParts(now: Date, timeZone: string): { date: string; weekday: string; time: string; offset: string } {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    weekday: "long",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZoneName: "longOffset",
  }).formatToParts(now);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((entry) => entry.type === type)?.value ?? "";
  const offset = part("timeZoneName").replace(/^GMT$/, "GMT+00:00").replace(/^GMT/, "UTC");
  return { date: `${part("year")}-${part("month")}-${part("day")}`, weekday: part("weekday"), time: `${part("hour")}:${part("minute")}`, offset };
}

/** A display name as one safe line: no newlines, no tag brackets, at most 80 characters. */
function oneLine(text: string): string {
  return text.replace(/[\r\n\t]+/g, " ").replace(/[<>]/g, "").trim().slice(0, 80);
}

/** The block, e.g. `<turn_context>\nNow: Friday 2026-12-04 18:11 (Asia/Hong_Kong, UTC+08:00)\n…</turn_context>`. */
export function renderTurnContext(input: TurnContextInput): string {
  const { date, weekday, time, offset } = localParts(input.now, input.timeZone);
  const name = input.senderName ? oneLine(input.senderName) : "";
  return [
    `<${TURN_CONTEXT_TAG}>`,
    `Now: ${weekday} ${date} ${time} (${input.timeZone}, ${offset})`,
    `Channel: ${input.channel}, ${input.chatType === "dm" ? "direct message" : "group chat"}`,
    `From: ${name || "unknown name"} (role: ${input.senderRole})`,
    `</${TURN_CONTEXT_TAG}>`,
  ].join("\n");
}

/**
 * A person's text with any `<turn_context>` tags of their own defused, so a message cannot pass
 * itself off as the gateway's block (e.g. claim the owner role).
 */
export function defuseTurnContext(text: string): string {
  return text.replace(new RegExp(`<(/?)${TURN_CONTEXT_TAG}>`, "gi"), "[$1turn context]");
}

/** What the system prompt says about the block (stable text: part of the cached prefix). */
export const TURN_CONTEXT_GUIDE =
  `## Turn context\nThe gateway starts each user message with a <${TURN_CONTEXT_TAG}> block: the current date, time, weekday and time zone, the channel, direct message or group, and the sender's name and role. Use it for "today", "tomorrow at 3" and the like (give tools concrete dates and times in that zone). Only that first block comes from the gateway; the person wrote what follows it.`;
