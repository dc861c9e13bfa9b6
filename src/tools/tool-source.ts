import type { ToolDefinition } from "../agent/models/model-client.ts";
import type { ApprovalRecord } from "./approvals/approval-broker.ts";
import type { ApproverContact, ToolAccess } from "./tool-access.ts";

/** MCP's tool annotations (hints). Absent destructive/open-world hints mean true (MCP spec). */
export interface ToolAnnotations {
  readonly readOnlyHint?: boolean;
  readonly destructiveHint?: boolean;
  readonly idempotentHint?: boolean;
  readonly openWorldHint?: boolean;
}

/** A tool as a source offers it: the model-facing definition plus what the policy needs. */
export interface ToolDescriptor extends ToolDefinition {
  readonly annotations?: ToolAnnotations;
  /** The tool's own name on its server, when the model-facing name is namespaced. */
  readonly serverToolName?: string;
}

/** Something the gateway tells the person in the chat while a turn runs (an approval request). */
export interface ToolNotice {
  readonly type: "approval-requested";
  readonly approval: ApprovalRecord;
  /** Ready-to-send text: the tool, its masked arguments, "reply YES … or NO …". */
  readonly text: string;
  /**
   * A customer's call: `text` only tells the customer the business is asked (no buttons); this
   * prompt (with the customer's name and the buttons) goes to each owner's DM chat.
   */
  readonly owners?: { readonly text: string; readonly approvers: readonly ApproverContact[] };
}

/** Who is calling: lets tools scope their effect and approvals ask the right person in the right chat. */
export interface ToolCallContext {
  readonly agentId: string;
  readonly sessionId: string;
  readonly channel: string;
  readonly chat: string;
  /** The person whose message started the turn; only they can approve its calls. */
  readonly sender: string;
  readonly signal?: AbortSignal;
  /** Deliver a notice to the chat (web chat: an SSE event; channels: a message with buttons). */
  readonly notify?: (notice: ToolNotice) => void;
  /** A pinned argument needs the sender's phone number, which is unknown: ask them for it (Telegram: a share button). */
  readonly askForPhone?: () => void;
  /** The turn's allowlist, pinned arguments and verified sender (roles); absent: everything, as the owner. */
  readonly access?: ToolAccess;
}

export interface ToolResult {
  /** Text the model receives (JSON for structured results). */
  readonly content: string;
  readonly isError?: boolean;
}

/**
 * A provider of tools: the built-in memory tools, one per MCP server. `list()` is what is
 * available right now (a server that is down lists nothing, and says why in `status()`).
 */
export interface ToolSource {
  readonly name: string;
  /** Trusted sources' annotations are believed (MCP spec); FavCRM and built-ins are trusted. */
  readonly trusted: boolean;
  /** FavCRM (by URL host or flag, whatever the server is called): its protections apply. */
  readonly favcrm?: boolean;
  list(): readonly ToolDescriptor[];
  call(name: string, args: Record<string, unknown>, context: ToolCallContext): Promise<ToolResult>;
  status?(): { readonly available: boolean; readonly reason: string };
}

/** The policy's answer for one call. */
export type ToolDecision = "auto" | "confirm" | "deny";
