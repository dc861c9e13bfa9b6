import type { ChatMessage } from "./models/model-client.ts";
import type { StoredMessage } from "./sessions/session-store.ts";

/** A rough token estimate (4 characters a token) — enough to keep a window under budget. */
export function estimateTokens(message: ChatMessage | string): number {
  if (typeof message === "string") return Math.ceil(message.length / 4);
  const toolCalls = message.role === "assistant" && message.toolCalls ? JSON.stringify(message.toolCalls).length : 0;
  return Math.ceil((message.content.length + toolCalls) / 4) + 4;
}

/**
 * Where history may be cut: before a user message. Cutting there never separates a tool call
 * from its result (both sit between two user messages).
 */
export function cutPoints(messages: readonly StoredMessage[]): number[] {
  const points: number[] = [];
  messages.forEach((message, index) => {
    if (message.role === "user" && index > 0) points.push(index);
  });
  return points;
}

/**
 * Split history into what must be summarised and what stays verbatim so the kept part fits
 * `budget` tokens. The newest turn is always kept whole, even when it alone is over budget.
 */
export function planCompaction(messages: readonly StoredMessage[], budget: number, force = false): { older: StoredMessage[]; kept: StoredMessage[] } {
  const points = cutPoints(messages);
  if (force) {
    // The provider said the context is too long: keep only the newest turn verbatim.
    const cut = points.at(-1) ?? 0;
    return { older: messages.slice(0, cut), kept: messages.slice(cut) };
  }
  const total = messages.reduce((sum, message) => sum + estimateTokens(message), 0);
  if (total <= budget) return { older: [], kept: [...messages] };
  let cut = points.at(-1) ?? 0;
  for (const point of points) {
    const keptTokens = messages.slice(point).reduce((sum, message) => sum + estimateTokens(message), 0);
    if (keptTokens <= budget) {
      cut = point;
      break;
    }
  }
  return { older: messages.slice(0, cut), kept: messages.slice(cut) };
}

/** Render messages as plain text for the summarising model call. */
export function renderForSummary(messages: readonly StoredMessage[]): string {
  return messages
    .map((message) => {
      if (message.role === "tool") return `[tool result ${message.name}${message.isError ? " (error)" : ""}]: ${message.content.slice(0, 2000)}`;
      if (message.role === "assistant") {
        const calls = message.toolCalls?.map((call) => `[tool call ${call.name} ${JSON.stringify(call.arguments)}]`).join(" ") ?? "";
        return `assistant: ${message.content} ${calls}`.trim();
      }
      return `user: ${message.content}`;
    })
    .join("\n");
}
