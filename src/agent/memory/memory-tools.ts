import type { ToolCallContext, ToolDescriptor, ToolResult, ToolSource } from "../../tools/index.ts";
import type { SessionStore } from "../sessions/session-store.ts";
import type { AgentFiles } from "./agent-files.ts";

const TOOLS: readonly ToolDescriptor[] = [
  {
    name: "memory_read",
    description: "Read your long-term memory file (MEMORY.md) in full.",
    inputSchema: { type: "object", properties: {}, additionalProperties: false },
    annotations: { readOnlyHint: true },
  },
  {
    name: "memory_write",
    description:
      "Save something to long-term memory (MEMORY.md). mode 'append' adds text (under `section` if given); " +
      "mode 'replace' replaces that `## section` whole (or the whole file when no section is given).",
    inputSchema: {
      type: "object",
      properties: {
        content: { type: "string", description: "Markdown text to save" },
        mode: { type: "string", enum: ["append", "replace"], default: "append" },
        section: { type: "string", description: "Section heading, without ##" },
      },
      required: ["content"],
      additionalProperties: false,
    },
    annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
  },
  {
    name: "memory_search",
    description: "Full-text search over long-term memory and past conversation transcripts.",
    inputSchema: {
      type: "object",
      properties: { query: { type: "string" }, limit: { type: "integer", minimum: 1, maximum: 50, default: 10 } },
      required: ["query"],
      additionalProperties: false,
    },
    annotations: { readOnlyHint: true },
  },
];

/** The built-in memory tools, scoped to the calling agent's folder. */
export function createMemoryTools(files: AgentFiles, sessions: SessionStore): ToolSource {
  return {
    name: "memory",
    trusted: true,
    list: () => TOOLS,
    async call(name: string, args: Record<string, unknown>, context: ToolCallContext): Promise<ToolResult> {
      switch (name) {
        case "memory_read": {
          const memory = await files.readMemory(context.agentId);
          return { content: memory.trim() === "" ? "(memory is empty)" : memory };
        }
        case "memory_write": {
          if (typeof args.content !== "string" || args.content.trim() === "") {
            return { content: "memory_write needs a non-empty `content` string.", isError: true };
          }
          const mode = args.mode === "replace" ? "replace" : "append";
          const section = typeof args.section === "string" && args.section.trim() ? args.section : undefined;
          const updated = await files.writeMemory(context.agentId, { content: args.content, mode, ...(section ? { section } : {}) });
          return { content: `Saved. MEMORY.md is now ${updated.length} characters.` };
        }
        case "memory_search": {
          if (typeof args.query !== "string" || args.query.trim() === "") {
            return { content: "memory_search needs a `query` string.", isError: true };
          }
          const limit = typeof args.limit === "number" ? Math.min(Math.max(1, Math.floor(args.limit)), 50) : 10;
          const terms = (args.query.toLowerCase().match(/[\p{L}\p{N}_]+/gu) ?? []);
          const memoryHits = (await files.readMemory(context.agentId))
            .split("\n")
            .filter((line) => terms.some((term) => line.toLowerCase().includes(term)))
            .slice(0, limit)
            .map((line) => ({ source: "memory", text: line.trim() }));
          const transcriptHits = sessions.search(args.query, limit).map((hit) => ({ source: "transcript", sessionId: hit.sessionId, seq: hit.seq, text: hit.snippet }));
          return { content: JSON.stringify({ results: [...memoryHits, ...transcriptHits] }) };
        }
        default:
          return { content: `Unknown memory tool ${name}.`, isError: true };
      }
    },
  };
}
