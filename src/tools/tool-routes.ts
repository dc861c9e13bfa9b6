import type { FastifyInstance } from "fastify";
import { sendError } from "../http/index.ts";
import type { ApprovalBroker, ApprovalRecord } from "./approvals/approval-broker.ts";
import type { ToolAudit } from "./approvals/tool-audit.ts";
import type { McpManager } from "./mcp/mcp-manager.ts";
import { modelToolName } from "./tool-naming.ts";
import type { ToolCatalog } from "./tool-catalog.ts";

export interface ToolRoutesDeps {
  readonly tools: ToolCatalog;
  readonly approvals: ApprovalBroker;
  readonly audit: ToolAudit;
  readonly mcp: McpManager;
  /**
   * After an approval is decided: the answer of the turn it resumes, when no stream is waiting
   * for that turn (a JSON chat client got the question and left). Merged into the response.
   */
  readonly resumed?: (approval: ApprovalRecord) => Promise<Record<string, unknown> | undefined>;
}

const CLI_CONTEXT = { agentId: "cli", sessionId: "cli", channel: "cli", chat: "cli", sender: "cli" } as const;

/** Approvals, the audit log, and MCP servers/tools/calls for the CLI and dashboard. */
export function toolRoutes(deps: ToolRoutesDeps) {
  return (app: FastifyInstance) => {
    app.get("/api/approvals", async () => ({ approvals: deps.approvals.pending() }));

    app.post("/api/approvals/:id", async (request, reply) => {
      const { id } = request.params as { id: string };
      const decision = (request.body as { decision?: unknown } | undefined)?.decision;
      if (decision !== "approve" && decision !== "deny") {
        return sendError(reply, 400, "BAD_REQUEST", 'send {"decision": "approve"} or {"decision": "deny"}');
      }
      const record = deps.approvals.decide(id, decision === "approve", "api");
      if (!record) return sendError(reply, 404, "APPROVAL_NOT_FOUND", `no pending approval ${id} (it may have been decided or expired)`);
      const turn = await deps.resumed?.(record);
      return { ...(turn ?? {}), approval: record };
    });

    app.get("/api/tool-calls", async (request) => {
      const query = request.query as { limit?: string; before?: string };
      const limit = Math.min(Math.max(Number(query.limit) || 100, 1), 1000);
      return { toolCalls: deps.audit.list(limit, Number(query.before) || Number.MAX_SAFE_INTEGER) };
    });

    app.get("/api/mcp/servers", async () => {
      await deps.mcp.connectAll();
      return { servers: deps.mcp.statuses() };
    });

    app.get("/api/mcp/tools", async (request, reply) => {
      const { server } = request.query as { server?: string };
      await deps.mcp.connectAll();
      const statuses = deps.mcp.statuses().filter((status) => !server || status.name === server);
      if (server && statuses.length === 0) return sendError(reply, 404, "MCP_SERVER_UNKNOWN", `no MCP server "${server}"; \`faraday mcp list\` shows them`);
      const tools = statuses.flatMap((status) =>
        (deps.mcp.connection(status.name)?.lastListedTools() ?? []).map((tool) => {
          const judged = deps.tools.judge(tool.name, {});
          return {
            server: status.name,
            name: tool.name,
            serverToolName: tool.serverToolName,
            description: tool.description,
            annotations: tool.annotations ?? {},
            inputSchema: tool.inputSchema,
            policy: judged ? { decision: judged.verdict.decision, reason: judged.verdict.reason } : { decision: "unavailable", reason: status.reason },
          };
        }));
      return { tools };
    });

    app.post("/api/mcp/call", async (request, reply) => {
      const body = request.body as { server?: unknown; tool?: unknown; arguments?: unknown; yes?: unknown } | undefined;
      if (!body || typeof body.server !== "string" || typeof body.tool !== "string") {
        return sendError(reply, 400, "BAD_REQUEST", 'send {"server": "favcrm", "tool": "list_services", "arguments": {}}');
      }
      const args = (body.arguments ?? {}) as Record<string, unknown>;
      if (typeof args !== "object" || Array.isArray(args)) return sendError(reply, 400, "BAD_REQUEST", "arguments must be a JSON object");
      const connection = deps.mcp.connection(body.server);
      if (!connection) return sendError(reply, 404, "MCP_SERVER_UNKNOWN", `no MCP server "${body.server}"; \`faraday mcp list\` shows them`);
      await connection.connect();
      const name = connection.lastListedTools().find((tool) => tool.serverToolName === body.tool)?.name ?? modelToolName(body.server, body.tool);
      const judged = deps.tools.judge(name, args);
      if (!judged) {
        return connection.status.state === "connected"
          ? sendError(reply, 404, "TOOL_NOT_FOUND", `${body.server} has no tool "${body.tool}"; \`faraday mcp tools ${body.server}\` lists them`)
          : sendError(reply, 503, "MCP_SERVER_UNAVAILABLE", `${body.server} is unavailable: ${connection.status.reason}`);
      }
      if (judged.verdict.decision === "deny") {
        await deps.tools.execute(name, args, CLI_CONTEXT); // audited as denied; never reaches the server
        return sendError(reply, 403, "TOOL_DENIED", judged.verdict.message ?? `the tool policy denies ${name}`);
      }
      if (judged.verdict.decision === "confirm" && body.yes !== true) {
        return sendError(reply, 409, "TOOL_NEEDS_CONFIRMATION", `${name} needs confirmation (${judged.verdict.reason}); run it again with --yes`);
      }
      const executed = await deps.tools.execute(name, args, CLI_CONTEXT, body.yes === true ? "cli --yes" : undefined);
      return { tool: name, decision: executed.decision, isError: executed.isError, result: executed.result };
    });
  };
}
