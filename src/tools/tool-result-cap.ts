/** The most of one tool result the model receives and the transcript stores, in characters, note included. */
export const MAX_TOOL_RESULT_CHARS = 100_000;

/**
 * A tool result cut to at most `limit` characters, ending with a note that says it was cut,
 * so one huge result (a 20 MB export) fills neither the model's context nor the database. The
 * cut never splits a surrogate pair. Results within the limit come back unchanged.
 */
export function capToolResult(content: string, limit = MAX_TOOL_RESULT_CHARS): string {
  if (content.length <= limit) return content;
  const note = `\n\n[Cut by the gateway: the tool returned ${content.length.toLocaleString("en")} characters; this is the start of it. Ask the tool for less (a filter, a date range, a page).]`;
  let end = Math.max(0, limit - note.length);
  const last = content.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${content.slice(0, end)}${note}`;
}
