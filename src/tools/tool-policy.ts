import type { FaradayConfig } from "../config/index.ts";
import { matchesGlob, modelToolName } from "./tool-naming.ts";
import type { ToolDecision, ToolDescriptor } from "./tool-source.ts";

/** What the policy needs to know about where a tool comes from. */
export interface ToolOrigin {
  /** Server name (`favcrm`, `memory`, …). */
  readonly server: string;
  readonly trusted: boolean;
  /** The server is FavCRM whatever its name (URL host or `favcrm: true`); `favcrm` itself always is. */
  readonly favcrm?: boolean;
  /** The tool's name on its server (before namespacing). */
  readonly toolName: string;
  /** Other tools of the same server, for judging `execute_tool` by its target. */
  readonly sibling?: (toolName: string) => ToolDescriptor | undefined;
}

export interface PolicyVerdict {
  readonly decision: ToolDecision;
  readonly reason: string;
  /** For deny: what the model is told instead of a result. */
  readonly message?: string;
}

/** FavCRM's rule: customer-facing sends go through `request_send_approval`, never directly. */
export const FAVCRM_DIRECT_SENDS = new Set(["send_message", "send_whatsapp_message", "send_campaign", "send_test_campaign"]);

/**
 * Decide auto / confirm / deny for one call, before anything is sent to the server. Annotation
 * defaults follow the MCP spec (absent destructiveHint and openWorldHint mean true).
 */
export function decideToolCall(
  tool: ToolDescriptor,
  origin: ToolOrigin,
  args: Record<string, unknown>,
  rules: NonNullable<FaradayConfig["tools"]>["policy"] = [],
): PolicyVerdict {
  const rule = rules.find((candidate) => matchesGlob(candidate.match, tool.name));
  if (rule) return { decision: rule.decision, reason: `tools.policy rule "${rule.match}"`, ...(rule.decision === "deny" ? { message: `Calling ${tool.name} is not allowed by this gateway's tools.policy.` } : {}) };

  if ((origin.favcrm === true || origin.server === "favcrm") && FAVCRM_DIRECT_SENDS.has(origin.toolName)) {
    return {
      decision: "deny",
      reason: "FavCRM direct customer send",
      message: `${origin.toolName} is not allowed: customer-facing messages must go through ${modelToolName(origin.server, "request_send_approval")}, which asks the business to approve the send.`,
    };
  }

  if (origin.toolName === "execute_tool" && origin.sibling) {
    const target = typeof args.toolName === "string" ? args.toolName : typeof args.tool === "string" ? args.tool : undefined;
    const targetTool = target ? origin.sibling(target) : undefined;
    if (!target || !targetTool) return { decision: "confirm", reason: `execute_tool with unknown target ${target ?? "(none)"}` };
    const targetArgs = (args.arguments ?? args.args ?? {}) as Record<string, unknown>;
    const verdict = decideToolCall(targetTool, { ...origin, toolName: target }, targetArgs, rules);
    return { ...verdict, reason: `execute_tool → ${target}: ${verdict.reason}` };
  }

  const annotations = tool.annotations ?? {};
  if (annotations.readOnlyHint === true) return { decision: "auto", reason: "read-only" };
  const destructive = annotations.destructiveHint ?? true;
  const openWorld = annotations.openWorldHint ?? true;
  if (destructive || openWorld) return { decision: "confirm", reason: destructive ? "destructive" : "open-world" };
  if (origin.trusted) return { decision: "auto", reason: "trusted server, not destructive, not open-world" };
  return { decision: "confirm", reason: "untrusted server and not read-only" };
}
