import { randomBytes } from "node:crypto";
import type { Database } from "../../state/index.ts";
import type { ApproverContact } from "../tool-access.ts";
import { parseApprovalAnswer } from "./approval-answer.ts";

export type ApprovalStatus = "pending" | "approved" | "denied" | "expired";

export interface ApprovalRecord {
  readonly id: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly sessionId: string;
  readonly agentId: string;
  readonly channel: string;
  readonly chat: string;
  readonly requester: string;
  readonly tool: string;
  /** Masked arguments, as shown to the person. */
  readonly arguments: Record<string, unknown>;
  readonly reason: string;
  readonly status: ApprovalStatus;
  readonly decidedBy: string | null;
  readonly decidedAt: string | null;
  /**
   * For a customer's call: the owners asked (their DM chats). Only they (or the API) can decide
   * it; the requester's own yes is not an answer. Empty: the requester answers, as before roles.
   */
  readonly approvers: readonly ApproverContact[];
  /** The requester's display name, for the owner's prompt. */
  readonly requesterName: string | null;
}

/** What `ApprovalBroker.request` needs; `approvers` and `requesterName` only for a customer's call. */
export type ApprovalRequest = Omit<ApprovalRecord, "id" | "createdAt" | "expiresAt" | "status" | "decidedBy" | "decidedAt" | "approvers" | "requesterName">
  & { readonly approvers?: readonly ApproverContact[]; readonly requesterName?: string | null };

export interface ApprovalOutcome {
  readonly status: Exclude<ApprovalStatus, "pending">;
  readonly decidedBy: string | null;
}

interface Row {
  id: string; created_at: string; expires_at: string; session_id: string; agent_id: string; channel: string; chat: string;
  requester: string; tool: string; arguments: string; reason: string; status: ApprovalStatus; decided_by: string | null; decided_at: string | null;
  approvers: string | null; requester_name: string | null;
}

const toRecord = (row: Row): ApprovalRecord => ({
  id: row.id, createdAt: row.created_at, expiresAt: row.expires_at, sessionId: row.session_id, agentId: row.agent_id,
  channel: row.channel, chat: row.chat, requester: row.requester, tool: row.tool, arguments: JSON.parse(row.arguments),
  reason: row.reason, status: row.status, decidedBy: row.decided_by, decidedAt: row.decided_at,
  approvers: JSON.parse(row.approvers ?? "[]") as ApproverContact[], requesterName: row.requester_name ?? null,
});

/**
 * What a chat message did to the sender's pending approval: `decided` (a clear yes or no), or
 * `unclear` (the first message that is neither: the chat is asked again, once).
 */
export type ChatAnswer =
  | { readonly kind: "decided"; readonly record: ApprovalRecord }
  | { readonly kind: "unclear"; readonly record: ApprovalRecord };

/**
 * Pending tool calls waiting for a person's yes. A call resolves only through a reply from the
 * same person in the same session, or the API — never from model output — and expires on its own.
 */
export class ApprovalBroker {
  readonly #database: Database;
  readonly #waiters = new Map<string, { resolve: (outcome: ApprovalOutcome) => void; timer: NodeJS.Timeout }>();
  readonly #timeoutMs: () => number;
  /** Pending approvals whose requester was already asked again after an unclear reply. */
  readonly #askedAgain = new Set<string>();

  constructor(database: Database, timeoutMs: () => number = () => 10 * 60_000) {
    this.#database = database;
    this.#timeoutMs = timeoutMs;
    // Calls that were waiting when the previous process died cannot resume: their turn is gone.
    try {
      database.prepare("UPDATE approvals SET status = 'expired', decided_at = ? WHERE status = 'pending'").run(new Date().toISOString());
    } catch {
      // A full disk at start: they stay marked pending until a start with room; none has a waiter.
    }
  }

  /** Record a pending approval; `outcome` resolves on yes, no, or expiry. */
  request(input: ApprovalRequest): { record: ApprovalRecord; outcome: Promise<ApprovalOutcome> } {
    const id = randomBytes(6).toString("base64url");
    const now = Date.now();
    const timeout = this.#timeoutMs();
    this.#database.prepare(`INSERT INTO approvals (id, created_at, expires_at, session_id, agent_id, channel, chat, requester, tool, arguments, reason, approvers, requester_name)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
      id, new Date(now).toISOString(), new Date(now + timeout).toISOString(), input.sessionId, input.agentId, input.channel, input.chat,
      input.requester, input.tool, JSON.stringify(input.arguments), input.reason, JSON.stringify(input.approvers ?? []), input.requesterName ?? null,
    );
    const outcome = new Promise<ApprovalOutcome>((resolve) => {
      const timer = setTimeout(() => this.#expire(id), timeout);
      this.#waiters.set(id, { resolve, timer });
    });
    return { record: this.get(id)!, outcome };
  }

  get(id: string): ApprovalRecord | undefined {
    const row = this.#database.prepare("SELECT * FROM approvals WHERE id = ?").get(id) as Row | undefined;
    return row ? toRecord(row) : undefined;
  }

  pending(sessionId?: string): ApprovalRecord[] {
    const rows = sessionId
      ? this.#database.prepare("SELECT * FROM approvals WHERE status = 'pending' AND session_id = ? ORDER BY created_at").all(sessionId)
      : this.#database.prepare("SELECT * FROM approvals WHERE status = 'pending' ORDER BY created_at").all();
    return (rows as unknown as Row[]).map(toRecord);
  }

  /** Decide through the API or dashboard. Returns the record, or undefined when not pending. */
  decide(id: string, approve: boolean, by: string): ApprovalRecord | undefined {
    const record = this.get(id);
    if (!record || record.status !== "pending") return undefined;
    return this.#settle(id, approve ? "approved" : "denied", by);
  }

  /**
   * A chat message that may answer a pending approval of this sender in this session (the
   * latest one). Only a whole-message yes/no word decides it (see `parseApprovalAnswer`); the
   * first message that is neither comes back `unclear` so the chat can ask again, and later
   * ones are not answers (undefined), like a message when nothing is pending.
   */
  answerFromChat(sessionId: string, sender: string, text: string): ChatAnswer | undefined {
    if (this.#waiters.size === 0) return undefined; // nothing is waiting in this process
    // A call asked to the owners is not the requester's to answer (a customer's YES does nothing).
    const latest = this.pending(sessionId).filter((record) => record.requester === sender && record.approvers.length === 0).at(-1);
    if (!latest) return undefined;
    return this.#answer(latest, sender, text);
  }

  /** May this person (channel + platform id) decide this approval? */
  mayDecide(record: ApprovalRecord, channel: string, sender: string): boolean {
    if (record.approvers.length > 0) return record.approvers.some((approver) => approver.channel === channel && approver.sender === sender);
    return record.requester === sender && record.channel === channel;
  }

  /**
   * A message from an owner in their DM that answers the latest customer's call asked to them:
   * only a clear yes or no (see `parseApprovalAnswer`) decides it. Anything else is not an answer
   * (undefined) and reaches the owner's own assistant as usual — the owner may be busy with it.
   */
  answerAsApprover(channel: string, sender: string, chat: string, text: string): ApprovalRecord | undefined {
    if (this.#waiters.size === 0) return undefined;
    const latest = this.pending().filter((record) => record.approvers.some((approver) => approver.channel === channel && approver.sender === sender && approver.chat === chat)).at(-1);
    const answer = parseApprovalAnswer(text);
    if (!latest || answer === undefined) return undefined;
    return this.#settle(latest.id, answer === "yes" ? "approved" : "denied", `user:${channel}:${sender}`);
  }

  #answer(latest: ApprovalRecord, sender: string, text: string): ChatAnswer | undefined {
    const answer = parseApprovalAnswer(text);
    if (answer === undefined) {
      if (this.#askedAgain.has(latest.id)) return undefined;
      this.#askedAgain.add(latest.id);
      return { kind: "unclear", record: latest };
    }
    const record = this.#settle(latest.id, answer === "yes" ? "approved" : "denied", `user:${sender}`);
    return record ? { kind: "decided", record } : undefined;
  }

  #settle(id: string, status: Exclude<ApprovalStatus, "pending">, by: string | null): ApprovalRecord | undefined {
    const changed = this.#database.prepare("UPDATE approvals SET status = ?, decided_by = ?, decided_at = ? WHERE id = ? AND status = 'pending'")
      .run(status, by, new Date().toISOString(), id);
    this.#askedAgain.delete(id);
    const waiter = this.#waiters.get(id);
    if (waiter) {
      clearTimeout(waiter.timer);
      this.#waiters.delete(id);
      if (Number(changed.changes) > 0) waiter.resolve({ status, decidedBy: by });
    }
    return this.get(id);
  }

  /** Expire everything still waiting (shutdown). */
  expireAll(): void {
    for (const id of [...this.#waiters.keys()]) this.#expire(id);
  }

  /**
   * Expire one call (its timer, or shutdown). Never throws: when the expiry cannot be written
   * (a full disk) the waiting turn still ends as expired — the tool does not run.
   */
  #expire(id: string): void {
    try {
      this.#settle(id, "expired", null);
    } catch {
      const waiter = this.#waiters.get(id);
      if (!waiter) return;
      clearTimeout(waiter.timer);
      this.#waiters.delete(id);
      waiter.resolve({ status: "expired", decidedBy: null });
    }
  }
}
