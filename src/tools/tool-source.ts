import type { ToolDefinition } from "../agent/models/model-client.ts";

/** MCP's tool annotations (hints; trusted only from trusted servers). */
export interface ToolAnnotations {
  readonly readOnlyHint?: boolean;
  readonly destructiveHint?: boolean;
  readonly idempotentHint?: boolean;
  readonly openWorldHint?: boolean;
}

/** A tool as a source offers it: the model-facing definition plus what the policy needs. */
export interface ToolDescriptor extends ToolDefinition {
  readonly annotations?: ToolAnnotations;
}

/** Who is calling: lets tools scope their effect (memory per agent) and policies ask in the right chat. */
export interface ToolCallContext {
  readonly agentId: string;
  readonly sessionId: string;
  readonly channel: string;
  readonly chat: string;
  readonly signal?: AbortSignal;
}

export interface ToolResult {
  /** Text the model receives (JSON for structured results). */
  readonly content: string;
  readonly isError?: boolean;
}

/**
 * A provider of tools: built-in memory tools now, one per MCP server later. `list()` is what is
 * available right now (a server that is down lists nothing).
 */
export interface ToolSource {
  readonly name: string;
  list(): readonly ToolDescriptor[];
  call(name: string, args: Record<string, unknown>, context: ToolCallContext): Promise<ToolResult>;
}

/** The policy decision point every call passes. This issue knows only `auto`; the MCP issue adds the rest. */
export type ToolDecision = "auto" | "confirm" | "deny";

export interface ToolPolicy {
  decide(tool: ToolDescriptor, source: ToolSource, args: Record<string, unknown>): ToolDecision;
}

export const AUTO_POLICY: ToolPolicy = { decide: () => "auto" };
