import { maskSecrets, type FaradayConfig } from "../config/index.ts";
import type { ApprovalBroker } from "./approvals/approval-broker.ts";
import { approvalMinutes, approvalPrompt } from "./approvals/approval-prompt.ts";
import type { ToolAudit } from "./approvals/tool-audit.ts";
import { decideToolCall, type PolicyVerdict } from "./tool-policy.ts";
import { capToolResult } from "./tool-result-cap.ts";
import type { ToolCallContext, ToolDecision, ToolDescriptor, ToolResult, ToolSource } from "./tool-source.ts";

type PolicyRules = NonNullable<FaradayConfig["tools"]>["policy"];

export interface ExecutedToolCall {
  readonly name: string;
  readonly arguments: Record<string, unknown>;
  readonly result: string;
  readonly isError: boolean;
  readonly decision: ToolDecision;
}

export interface ToolCatalogOptions {
  /** Sources, asked each time (MCP servers come and go with config). */
  readonly sources: () => readonly ToolSource[];
  readonly rules?: () => PolicyRules;
  readonly approvals?: ApprovalBroker;
  readonly audit?: ToolAudit;
  readonly approvalTimeoutMs?: () => number;
}

/**
 * All tools the agent may call, across sources, behind one policy decision point: auto runs,
 * confirm waits for the person's yes, deny never reaches the server. A name the model invents, a
 * failing tool, a refusal — all become error results the model can read; every call is audited.
 */
export class ToolCatalog {
  readonly #options: ToolCatalogOptions;

  constructor(options: ToolCatalogOptions) {
    this.#options = options;
  }

  list(): ToolDescriptor[] {
    return this.#options.sources().flatMap((source) => source.list());
  }

  /** Sources that are down right now, for the system prompt ("the model is told"). */
  unavailable(): Array<{ name: string; reason: string }> {
    return this.#options.sources().flatMap((source) => {
      const status = source.status?.();
      return status && !status.available ? [{ name: source.name, reason: status.reason }] : [];
    });
  }

  /** Find a tool and judge a call to it without running it (for the CLI and API). */
  judge(name: string, args: Record<string, unknown>): { source: ToolSource; tool: ToolDescriptor; verdict: PolicyVerdict } | undefined {
    for (const source of this.#options.sources()) {
      const tools = source.list();
      const tool = tools.find((candidate) => candidate.name === name);
      if (!tool) continue;
      const verdict = decideToolCall(
        tool,
        {
          server: source.name,
          trusted: source.trusted,
          favcrm: source.favcrm === true,
          toolName: tool.serverToolName ?? tool.name,
          sibling: (toolName) => tools.find((candidate) => (candidate.serverToolName ?? candidate.name) === toolName),
        },
        args,
        this.#options.rules?.() ?? [],
      );
      return { source, tool, verdict };
    }
    return undefined;
  }

  /**
   * Run one call through the policy. `preApprovedBy` (the CLI's --yes) stands in for the
   * in-chat yes of a confirm-level call; it never overrides deny.
   */
  async execute(name: string, args: Record<string, unknown>, context: ToolCallContext, preApprovedBy?: string): Promise<ExecutedToolCall> {
    const judged = this.judge(name, args);
    if (!judged) return { name, arguments: args, decision: "deny", isError: true, result: `There is no tool named ${name} (it may be on a server that is unavailable right now).` };
    const { source, tool, verdict } = judged;
    const masked = maskSecrets(args) as Record<string, unknown>;
    const audit = (outcome: string, approvedBy: string | null, durationMs: number, detail?: string) =>
      this.#options.audit?.record({
        sessionId: context.sessionId, agentId: context.agentId, server: source.name, tool: tool.serverToolName ?? tool.name,
        arguments: masked, decision: verdict.decision, policyReason: verdict.reason, approvedBy, durationMs, outcome,
        ...(detail ? { detail } : {}),
      });

    if (verdict.decision === "deny") {
      audit("denied", null, 0, verdict.reason);
      return { name, arguments: args, decision: "deny", isError: true, result: verdict.message ?? `Calling ${name} is not allowed.` };
    }

    let approvedBy: string | null = null;
    if (verdict.decision === "confirm") {
      if (preApprovedBy) {
        approvedBy = preApprovedBy;
      } else if (!this.#options.approvals) {
        audit("declined", null, 0, "no way to ask for approval");
        return { name, arguments: args, decision: "confirm", isError: true, result: `${name} needs the user's approval, and this channel cannot ask for it.` };
      } else {
        const { record, outcome } = this.#options.approvals.request({
          sessionId: context.sessionId, agentId: context.agentId, channel: context.channel, chat: context.chat,
          requester: context.sender, tool: name, arguments: masked, reason: verdict.reason,
        });
        const minutes = approvalMinutes(record);
        context.notify?.({ type: "approval-requested", approval: record, text: approvalPrompt(record) });
        const decided = await outcome;
        if (decided.status !== "approved") {
          audit(decided.status === "expired" ? "expired" : "declined", decided.decidedBy, 0);
          return {
            name, arguments: args, decision: "confirm", isError: true,
            result: decided.status === "expired"
              ? `Declined by the user: nobody approved ${name} within ${minutes} minutes. Do not retry unless the user asks.`
              : `Declined by the user: they said no to ${name}. Do not retry unless the user asks.`,
          };
        }
        approvedBy = decided.decidedBy;
      }
    }

    const started = performance.now();
    let result: ToolResult;
    try {
      result = await source.call(name, args, context);
    } catch (error) {
      result = { content: `Tool ${name} failed: ${(error as Error).message}`, isError: true };
    }
    const outcome = result.isError ? (/timed out/i.test(result.content) ? "timeout" : "error") : "ok";
    audit(outcome, approvedBy, performance.now() - started, result.isError ? result.content : undefined);
    // What the model, the transcript and the API get: never more than the cap.
    return { name, arguments: args, decision: verdict.decision, result: capToolResult(result.content), isError: result.isError ?? false };
  }
}
