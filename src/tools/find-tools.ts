import type { ToolIndex } from "./tool-index.ts";
import type { ToolCallContext, ToolDescriptor, ToolResult, ToolSource } from "./tool-source.ts";
import type { WorkingSets } from "./working-set.ts";

/** The gateway's own tool that searches the whole catalog. */
export const FIND_TOOLS_NAME = "find_tools";
const DEFAULT_RESULTS = 5;
const MAX_RESULTS = 10;

export interface FindToolsDeps {
  readonly index: ToolIndex;
  readonly workingSets: WorkingSets;
  /** The real sources (MCP servers, memory), not this one. */
  readonly sources: () => readonly ToolSource[];
}

/** The model-facing definition; the description says how many tools there are to find. */
export function findToolsDescriptor(catalogSize: number): ToolDescriptor {
  return {
    name: FIND_TOOLS_NAME,
    description:
      `Search all ${catalogSize} connected tools (for example bookings, customers, invoices, payments, staff, campaigns, reports, settings) ` +
      "by what you want to do, in a few words. Only some tools are loaded; the tools found become callable from your next step. " +
      "Search again with other words if the right tool is not among them.",
    inputSchema: {
      type: "object",
      properties: {
        query: { type: "string", description: "What you want to do, e.g. \"cancel a booking\" or \"refund a payment\"" },
        limit: { type: "integer", minimum: 1, maximum: MAX_RESULTS, default: DEFAULT_RESULTS },
      },
      required: ["query"],
      additionalProperties: false,
    },
    annotations: { readOnlyHint: true },
  };
}

/**
 * `find_tools` as a source: FTS5 over every connected server's tools (re-indexed when a server
 * re-lists), and the hits join the calling session's working set for its following model calls.
 * It only changes what the model is shown; calling a found tool goes through the policy like any
 * other call.
 */
export function createFindToolsSource(deps: FindToolsDeps): ToolSource {
  const catalogSize = () => deps.sources().reduce((total, source) => total + source.list().length, 0);
  return {
    name: "gateway",
    trusted: true,
    list: () => [findToolsDescriptor(catalogSize())],
    async call(name: string, args: Record<string, unknown>, context: ToolCallContext): Promise<ToolResult> {
      if (name !== FIND_TOOLS_NAME) return { content: `Unknown gateway tool ${name}.`, isError: true };
      if (typeof args.query !== "string" || args.query.trim() === "") {
        return { content: "find_tools needs a `query`: what you want to do, in a few words.", isError: true };
      }
      const limit = typeof args.limit === "number" ? Math.min(Math.max(1, Math.floor(args.limit)), MAX_RESULTS) : DEFAULT_RESULTS;
      const sources = deps.sources();
      const listed = sources.map((source) => ({ name: source.name, tools: source.list() }));
      deps.index.sync(listed);
      const available = new Map(listed.flatMap((source) => source.tools.map((tool) => [tool.name, tool] as const)));
      const hits = deps.index.search(args.query, limit * 2).filter((hit) => available.has(hit.name)).slice(0, limit);
      if (hits.length === 0) {
        return { content: JSON.stringify({ found: [], note: `No tool matches "${args.query}". Try other words (what the tool does, e.g. "list invoices").` }) };
      }
      deps.workingSets.use(context.sessionId, hits.map((hit) => hit.name));
      return {
        content: JSON.stringify({
          found: hits.map((hit) => ({ name: hit.name, description: hit.description })),
          note: "These tools are now loaded: call them directly from your next step.",
        }),
      };
    },
  };
}
