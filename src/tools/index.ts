export { ToolCatalog } from "./tool-catalog.ts";
export type { ExecutedToolCall } from "./tool-catalog.ts";
export { AUTO_POLICY } from "./tool-source.ts";
export type { ToolSource, ToolDescriptor, ToolAnnotations, ToolCallContext, ToolResult, ToolDecision, ToolPolicy } from "./tool-source.ts";
