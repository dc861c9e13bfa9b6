export { ToolCatalog } from "./tool-catalog.ts";
export type { ExecutedToolCall, ToolCatalogOptions } from "./tool-catalog.ts";
export { decideToolCall, FAVCRM_DIRECT_SENDS } from "./tool-policy.ts";
export type { PolicyVerdict, ToolOrigin } from "./tool-policy.ts";
export { modelToolName, matchesGlob } from "./tool-naming.ts";
export { ApprovalBroker } from "./approvals/approval-broker.ts";
export type { ApprovalRecord, ApprovalOutcome, ApprovalStatus } from "./approvals/approval-broker.ts";
export { ToolAudit } from "./approvals/tool-audit.ts";
export type { ToolSource, ToolDescriptor, ToolAnnotations, ToolCallContext, ToolResult, ToolDecision, ToolNotice } from "./tool-source.ts";
