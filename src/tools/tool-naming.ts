import { createHash } from "node:crypto";

const VALID = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * The name a model sees for an MCP tool: `<server>__<tool>`, sanitised to
 * `^[a-zA-Z0-9_-]{1,64}$` (what Anthropic and OpenAI accept). Too long → truncated with a short
 * hash so two long names never collide. Callers keep the reverse map.
 */
export function modelToolName(server: string, tool: string): string {
  const raw = `${server}__${tool}`;
  const cleaned = raw.replace(/[^a-zA-Z0-9_-]/g, "_");
  if (cleaned === raw && VALID.test(cleaned)) return cleaned;
  if (cleaned.length <= 64) return cleaned;
  const hash = createHash("sha256").update(raw).digest("hex").slice(0, 8);
  return `${cleaned.slice(0, 55)}_${hash}`;
}

/** `favcrm__cancel_*` style globs (`*` any run, `?` one character) against a tool name. */
export function matchesGlob(pattern: string, name: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${source}$`).test(name);
}
