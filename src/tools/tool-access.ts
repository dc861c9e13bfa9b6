import { matchesGlob } from "./tool-naming.ts";

/** The verified person whose message started the turn (never what the model says about them). */
export interface VerifiedSender {
  readonly id: string;
  readonly channel: string;
  readonly name?: string;
  /** Known on WhatsApp (the sender's number) and where the person shared it (Telegram contact). */
  readonly phone?: string;
  readonly role: "owner" | "customer";
}

/** Where a customer's confirm-level call is asked: an owner's DM chat on some channel. */
export interface ApproverContact {
  readonly channel: string;
  readonly sender: string;
  readonly chat: string;
}

/**
 * What one turn may do with tools: the agent's allowlist (`agents.list[].tools`), its pinned
 * arguments (`toolArgs`), and — for a customer — who answers its approvals.
 */
export interface ToolAccess {
  readonly sender: VerifiedSender;
  readonly allow?: readonly string[];
  readonly deny?: readonly string[];
  /** Tool name (or glob) → dotted argument path → template such as `{sender.phone}`. */
  readonly pins?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Owners a customer's approval is asked to; empty: customers cannot run confirm-level tools. */
  readonly approvers?: readonly ApproverContact[];
}

/** Does the agent's allowlist let this tool reach the model and run? */
export function toolAllowed(access: ToolAccess | undefined, name: string): boolean {
  if (!access) return true;
  if (access.deny?.some((pattern) => matchesGlob(pattern, name))) return false;
  if (access.allow === undefined) return true;
  return access.allow.some((pattern) => matchesGlob(pattern, name));
}

const TEMPLATE = /\{sender\.(id|name|phone|channel)\}/g;

/**
 * Overwrite the pinned arguments of a call with values from the verified sender. Returns the new
 * arguments (a copy), or a refusal sentence when a pin's value is unknown for this sender — the
 * call must then not run unpinned.
 */
export function pinArguments(access: ToolAccess | undefined, name: string, args: Record<string, unknown>): { args: Record<string, unknown> } | { refusal: string; missing: string } {
  if (!access?.pins) return { args };
  const pins = Object.entries(access.pins).filter(([pattern]) => pattern === name || matchesGlob(pattern, name)).flatMap(([, paths]) => Object.entries(paths));
  if (pins.length === 0) return { args };
  const pinned = structuredClone(args);
  for (const [path, template] of pins) {
    const unknown: string[] = [];
    const value = template.replace(TEMPLATE, (_whole, field: "id" | "name" | "phone" | "channel") => {
      const known = access.sender[field];
      if (known === undefined || known === "") unknown.push(field);
      return known ?? "";
    });
    const missing = unknown[0];
    if (missing) {
      return {
        missing,
        refusal: missing === "phone"
          ? `${name} needs the customer's phone number, and ${access.sender.channel} did not give it. ${access.sender.channel === "telegram" ? "They have been sent a button to share it; ask them to tap it, then" : "Ask them to"} try again.`
          : `${name} needs your ${missing}, which this channel did not give me, so I cannot run it for you.`,
      };
    }
    setPath(pinned, path, value);
  }
  return { args: pinned };
}

/** Set `a.b.c` in an object, creating (or replacing non-object) intermediate objects. */
function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split(".").filter(Boolean);
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== "object" || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  const last = keys.at(-1);
  if (last !== undefined) node[last] = value;
}
