import type { Database } from "../../state/index.ts";

export interface ToolCallAuditEntry {
  readonly sessionId: string;
  readonly agentId: string;
  readonly server: string;
  readonly tool: string;
  /** Already masked. */
  readonly arguments: Record<string, unknown>;
  readonly decision: string;
  readonly policyReason: string;
  readonly approvedBy: string | null;
  readonly durationMs: number;
  /** ok | error | denied | declined | expired | timeout */
  readonly outcome: string;
  readonly detail?: string;
}

/** Every tool call, whatever happened to it: time, session, server, tool, masked arguments, decision, approver, duration, outcome. */
export class ToolAudit {
  readonly #insert;
  readonly #list;

  constructor(database: Database) {
    this.#insert = database.prepare(`INSERT INTO tool_calls (at, session_id, agent_id, server, tool, arguments, decision, policy_reason, approved_by, duration_ms, outcome, detail)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.#list = database.prepare("SELECT * FROM tool_calls WHERE id < ? ORDER BY id DESC LIMIT ?");
  }

  record(entry: ToolCallAuditEntry): void {
    this.#insert.run(new Date().toISOString(), entry.sessionId, entry.agentId, entry.server, entry.tool, JSON.stringify(entry.arguments),
      entry.decision, entry.policyReason, entry.approvedBy, Math.round(entry.durationMs), entry.outcome, entry.detail?.slice(0, 500) ?? null);
  }

  list(limit = 100, beforeId = Number.MAX_SAFE_INTEGER): Array<Record<string, unknown>> {
    return (this.#list.all(beforeId, limit) as Array<Record<string, unknown> & { arguments: string }>).map((row) => ({
      id: row.id, at: row.at, sessionId: row.session_id, agentId: row.agent_id, server: row.server, tool: row.tool,
      arguments: JSON.parse(row.arguments), decision: row.decision, policyReason: row.policy_reason, approvedBy: row.approved_by,
      durationMs: row.duration_ms, outcome: row.outcome, detail: row.detail,
    }));
  }
}
