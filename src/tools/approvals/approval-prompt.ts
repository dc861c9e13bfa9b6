import type { ApprovalRecord } from "./approval-broker.ts";

/**
 * The text that asks a person to approve a call: tool, why it needs approval, its (already
 * masked) arguments, how to answer. `again` starts it with why it is asked a second time.
 */
export function approvalPrompt(record: ApprovalRecord, options: { again?: boolean } = {}): string {
  const entries = Object.entries(record.arguments);
  const args = entries.length === 0
    ? "  (no arguments)"
    : entries.map(([key, value]) => `  ${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`).join("\n");
  const lead = options.again
    ? `I did not take that as an answer. Still waiting: ${record.tool} (${record.reason})`
    : `Approval needed: ${record.tool} (${record.reason})`;
  if (options.again) {
    return `${lead}\n${args}\nReply with just YES to go ahead or NO to cancel.`;
  }
  return `${lead}\n${args}\nReply YES to go ahead or NO to cancel (expires in ${approvalMinutes(record)} min).`;
}

/**
 * What an owner is asked when a customer's turn needs a yes: who, on which channel, the tool,
 * why, the (masked) arguments.
 */
export function ownerApprovalPrompt(record: ApprovalRecord): string {
  const who = `${record.requesterName ?? record.requester} (${record.channel} ${record.requester})`;
  const entries = Object.entries(record.arguments);
  const args = entries.length === 0
    ? "  (no arguments)"
    : entries.map(([key, value]) => `  ${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`).join("\n");
  const lead = `Customer ${who} wants ${record.tool} (${record.reason})`;
  return `${lead}\n${args}\nReply YES to go ahead or NO to refuse (expires in ${approvalMinutes(record)} min).`;
}

/** What the customer is told while an owner is asked. */
export function customerWaitingText(record: ApprovalRecord): string {
  return `Waiting for the business to confirm ${record.tool} — I'll carry on as soon as they answer.`;
}

/** How long the approval waits, in whole minutes. */
export function approvalMinutes(record: ApprovalRecord): number {
  return Math.round((Date.parse(record.expiresAt) - Date.parse(record.createdAt)) / 60_000);
}
