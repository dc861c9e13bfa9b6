import { maskSecrets, type FaradayConfig } from "../config/index.ts";
import type { ApprovalBroker } from "./approvals/approval-broker.ts";
import { approvalMinutes, approvalPrompt, customerWaitingText, ownerApprovalPrompt } from "./approvals/approval-prompt.ts";
import type { ToolAudit } from "./approvals/tool-audit.ts";
import { pinArguments, toolAllowed, type ToolAccess } from "./tool-access.ts";
import { modelToolName } from "./tool-naming.ts";
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

  /**
   * Every tool (with `find_tools` when working sets are on): for the API, the CLI, the policy —
   * or those a turn's allowlist (`agents.list[].tools`) lets the model see.
   */
  list(access?: ToolAccess): ToolDescriptor[] {
    const tools = this.#sources().flatMap((source) => source.list());
    return access ? tools.filter((tool) => toolAllowed(access, tool.name)) : tools;
  }

  /**
   * The tools one model call is given: everything when the catalog fits `tools.workingSet.max`
   * (or no working sets are configured), else the session's working set with `find_tools`.
   * Round 0 starts a new turn, which is when unused tools decay.
   */
  forModel(sessionId: string, round: number, access?: ToolAccess): ToolDescriptor[] {
    const all = this.#options.sources().flatMap((source) => source.list());
    // A customer agent's allowlist applies before the working set: what it may not call is never offered.
    const catalog = access ? all.filter((tool) => toolAllowed(access, tool.name)) : all;
    if (!this.workingSets || !this.#finder) return catalog;
    // An allowlist without find_tools is the agent's whole working set (never past a provider's 128).
    if (access && !toolAllowed(access, FIND_TOOLS_NAME)) return catalog.slice(0, 128);
    if (round === 0) this.workingSets.beginTurn(sessionId);
    return this.workingSets.select(sessionId, catalog, this.#finder.list()[0]!);
  }

  /**
   * The allowlist and the pinned arguments, on the tool called and — through a proxy such as
   * FavCRM's `execute_tool` — on its target. Returns the arguments to judge and run, or a refusal.
   */
  #applyAccess(name: string, args: Record<string, unknown>, access: ToolAccess | undefined): { args: Record<string, unknown> } | { refusal: string; missing?: string } {
    if (!access) return { args };
    const notAvailable = (tool: string) => ({ refusal: `${tool} is not available in this chat.` });
    if (!toolAllowed(access, name)) return notAvailable(name);
    const own = pinArguments(access, name, args);
    if ("refusal" in own) return own;
    for (const source of this.#options.sources()) {
      const tool = source.list().find((candidate) => candidate.name === name);
      if (!tool) continue;
      if ((tool.serverToolName ?? tool.name) !== "execute_tool") return own;
      const target = typeof own.args.toolName === "string" ? own.args.toolName : typeof own.args.tool === "string" ? own.args.tool : undefined;
      if (target === undefined) return own;
      const targetName = modelToolName(source.name, target);
      if (!toolAllowed(access, targetName)) return notAvailable(targetName);
      const key = own.args.arguments !== undefined || own.args.args === undefined ? "arguments" : "args";
      const inner = pinArguments(access, targetName, (own.args[key] ?? {}) as Record<string, unknown>);
      if ("refusal" in inner) return inner;
      return { args: { ...own.args, [key]: inner.args } };
    }
    return own;
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
  async execute(name: string, requestedArgs: Record<string, unknown>, context: ToolCallContext, preApprovedBy?: string): Promise<ExecutedToolCall> {
    // Allowlist and pins first: the policy judges, and the server receives, the pinned arguments.
    const accessed = this.#applyAccess(name, requestedArgs, context.access);
    if ("refusal" in accessed) {
      if (accessed.missing === "phone") context.askForPhone?.();
      return { name, arguments: requestedArgs, decision: "deny", isError: true, result: accessed.refusal };
    }
    const args = accessed.args;
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
        // A customer never approves: the owners are asked in their own chats, or nobody can.
        const customer = context.access?.sender.role === "customer";
        const approvers = customer ? context.access?.approvers ?? [] : [];
        if (customer && approvers.length === 0) {
          audit("declined", null, 0, "a customer's call and no owner to ask");
          return {
            name, arguments: args, decision: "confirm", isError: true,
            result: `${name} needs the business to confirm it, and no owner is set up to confirm requests from this chat, so it cannot be done here. Tell the customer to contact the business directly; do not retry.`,
          };
        }
        const { record, outcome } = this.#options.approvals.request({
          sessionId: context.sessionId, agentId: context.agentId, channel: context.channel, chat: context.chat,
          requester: context.sender, tool: name, arguments: masked, reason: verdict.reason,
          ...(customer ? { approvers, requesterName: context.access?.sender.name ?? null } : {}),
        });
        const minutes = approvalMinutes(record);
        context.notify?.(customer
          ? { type: "approval-requested", approval: record, text: customerWaitingText(record), owners: { text: ownerApprovalPrompt(record), approvers } }
          : { type: "approval-requested", approval: record, text: approvalPrompt(record) });
        const decided = await outcome;
        const who = customer ? "the business" : "the user";
        if (decided.status !== "approved") {
          audit(decided.status === "expired" ? "expired" : "declined", decided.decidedBy, 0);
          return {
            name, arguments: args, decision: "confirm", isError: true,
            result: decided.status === "expired"
              ? `Declined by ${who}: nobody approved ${name} within ${minutes} minutes. Do not retry unless the user asks.`
              : `Declined by ${who}: they said no to ${name}. Do not retry unless the user asks.`,
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
