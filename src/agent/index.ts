export { agentExtension } from "./agent-extension.ts";
export { AgentRuntime } from "./agent-runtime.ts";
export type { InboundChat, TurnResult } from "./agent-runtime.ts";
export { SessionStore } from "./sessions/session-store.ts";
export type { SessionRecord, StoredMessage } from "./sessions/session-store.ts";
