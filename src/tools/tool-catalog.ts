import { maskSecrets, type FaradayConfig } from "../config/index.ts";
import type { ApprovalBroker } from "./approvals/approval-broker.ts";
import { approvalMinutes, approvalPrompt } from "./approvals/approval-prompt.ts";
import type { ToolAudit } from "./approvals/tool-audit.ts";
import { decideToolCall, type PolicyVerdict } from "./tool-policy.ts";
import { createFindToolsSource, FIND_TOOLS_NAME } from "./find-tools.ts";
import type { ToolIndex } from "./tool-index.ts";
import { capToolResult } from "./tool-result-cap.ts";
import type { ToolCallContext, ToolDecision, ToolDescriptor, ToolResult, ToolSource } from "./tool-source.ts";
import { WorkingSets, type WorkingSetSettings } from "./working-set.ts";

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
  /**
   * Tools at scale: with this, a catalog larger than `tools.workingSet.max` is cut per session
   * to a working set plus `find_tools` (searching `index`). Without it every tool is sent.
   */
  readonly workingSet?: { readonly index: ToolIndex; readonly settings: () => WorkingSetSettings | undefined };
}

/**
 * All tools the agent may call, across sources, behind one policy decision point: auto runs,
 * confirm waits for the person's yes, deny never reaches the server. A name the model invents, a
 * failing tool, a refusal — all become error results the model can read; every call is audited.
 */
export class ToolCatalog {
  readonly #options: ToolCatalogOptions;
  /** Per-session working sets (only with `options.workingSet`). */
  readonly workingSets: WorkingSets | undefined;
  readonly #finder: ToolSource | undefined;

  constructor(options: ToolCatalogOptions) {
    this.#options = options;
    if (options.workingSet) {
      const workingSets = new WorkingSets(options.workingSet.settings);
      this.workingSets = workingSets;
      this.#finder = createFindToolsSource({ index: options.workingSet.index, workingSets, sources: options.sources });
    }
  }

  #sources(): readonly ToolSource[] {
    const sources = this.#options.sources();
    return this.#finder ? [this.#finder, ...sources] : sources;
  }

  /** Every tool (with `find_tools` when working sets are on): for the API, the CLI, the policy. */
  list(): ToolDescriptor[] {
    return this.#sources().flatMap((source) => source.list());
  }

  /**
   * The tools one model call is given: everything when the catalog fits `tools.workingSet.max`
   * (or no working sets are configured), else the session's working set with `find_tools`.
   * Round 0 starts a new turn, which is when unused tools decay.
   */
  forModel(sessionId: string, round: number): ToolDescriptor[] {
    const catalog = this.#options.sources().flatMap((source) => source.list());
    if (!this.workingSets || !this.#finder) return catalog;
    if (round === 0) this.workingSets.beginTurn(sessionId);
    return this.workingSets.select(sessionId, catalog, this.#finder.list()[0]!);
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
    for (const source of this.#sources()) {
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
    // A tool the model may call stays in its working set (the working set limits what the model
    // is shown, not what it may call: the policy below decides that, per real tool).
    if (tool.name !== FIND_TOOLS_NAME && verdict.decision !== "deny") this.workingSets?.use(context.sessionId, [tool.name]);
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
