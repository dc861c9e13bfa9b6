export { McpManager } from "./mcp-manager.ts";
export type { McpServerStatus, McpManagerDeps } from "./mcp-manager.ts";
export { McpConnection, resultText } from "./mcp-connection.ts";
export { resolveServerSpecs, FAVCRM_SECRET, FAVCRM_DEFAULT_URL } from "./server-specs.ts";
export type { McpServerSpec } from "./server-specs.ts";
