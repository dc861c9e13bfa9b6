import { randomUUID } from "node:crypto";
import type { Database } from "../../state/index.ts";
import type { ChatMessage, ModelUsage, ToolCall } from "../models/model-client.ts";

export interface SessionRecord {
  readonly id: string;
  readonly key: string;
  readonly agentId: string;
  readonly channel: string;
  readonly chat: string;
  readonly active: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly messageCount: number;
  readonly summary: string | null;
  /** Messages with seq ≤ this are covered by `summary` and left out of the window. */
  readonly summaryThrough: number;
  readonly usage: { inputTokens: number; outputTokens: number; cacheReadTokens: number; turns: number };
  readonly lastModel: string | null;
}

export type StoredMessage = ChatMessage & { readonly seq: number; readonly createdAt: string };

interface SessionRow {
  id: string; key: string; agent_id: string; channel: string; chat: string; active: number;
  created_at: string; updated_at: string; message_count: number; summary: string | null;
  summary_through: number; input_tokens: number; output_tokens: number; cache_read_tokens: number;
  turns: number; last_model: string | null;
}

interface MessageRow {
  seq: number; role: string; content: string; tool_calls: string | null; tool_call_id: string | null;
  tool_name: string | null; is_error: number; created_at: string;
}

function toSession(row: SessionRow): SessionRecord {
  return {
    id: row.id, key: row.key, agentId: row.agent_id, channel: row.channel, chat: row.chat,
    active: row.active === 1, createdAt: row.created_at, updatedAt: row.updated_at,
    messageCount: row.message_count, summary: row.summary, summaryThrough: row.summary_through,
    usage: { inputTokens: row.input_tokens, outputTokens: row.output_tokens, cacheReadTokens: row.cache_read_tokens, turns: row.turns },
    lastModel: row.last_model,
  };
}

function toMessage(row: MessageRow): StoredMessage {
  const base = { seq: row.seq, createdAt: row.created_at };
  if (row.role === "tool") {
    return { ...base, role: "tool", toolCallId: row.tool_call_id ?? "", name: row.tool_name ?? "", content: row.content, isError: row.is_error === 1 };
  }
  if (row.role === "assistant") {
    const toolCalls = row.tool_calls ? (JSON.parse(row.tool_calls) as ToolCall[]) : undefined;
    return { ...base, role: "assistant", content: row.content, ...(toolCalls?.length ? { toolCalls } : {}) };
  }
  return { ...base, role: "user", content: row.content };
}

/**
 * Sessions and their transcripts in SQLite. Every message is written as it happens; appending
 * costs the same at 100,000 messages as at none (primary-key insert, counter on the session row).
 */
export class SessionStore {
  readonly #database: Database;
  readonly #statements;
  /** Full-text rows not yet indexed: indexed in batches, off the turn's path (search flushes first). */
  #ftsQueue: Array<[string, string, number]> = [];
  #ftsTimer: NodeJS.Timeout | undefined;

  constructor(database: Database) {
    this.#database = database;
    const prepare = (sql: string) => database.prepare(sql);
    this.#statements = {
      byId: prepare("SELECT * FROM sessions WHERE id = ?"),
      activeByKey: prepare("SELECT * FROM sessions WHERE key = ? AND active = 1"),
      insertSession: prepare(`INSERT INTO sessions (id, key, agent_id, channel, chat, active, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, 1, ?, ?)`),
      deactivate: prepare("UPDATE sessions SET active = 0, updated_at = ? WHERE key = ? AND active = 1"),
      bumpCount: prepare("UPDATE sessions SET message_count = message_count + 1, updated_at = ? WHERE id = ? RETURNING message_count"),
      insertMessage: prepare(`INSERT INTO messages (session_id, seq, role, content, tool_calls, tool_call_id, tool_name, is_error, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      insertFts: prepare("INSERT INTO messages_fts (content, session_id, seq) VALUES (?, ?, ?)"),
      messagesAfter: prepare("SELECT * FROM messages WHERE session_id = ? AND seq > ? ORDER BY seq"),
      messagesPage: prepare("SELECT * FROM messages WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?"),
      lastMessage: prepare("SELECT * FROM messages WHERE session_id = ? ORDER BY seq DESC LIMIT 1"),
      setSummary: prepare("UPDATE sessions SET summary = ?, summary_through = ?, updated_at = ? WHERE id = ?"),
      addUsage: prepare(`UPDATE sessions SET input_tokens = input_tokens + ?, output_tokens = output_tokens + ?,
        cache_read_tokens = cache_read_tokens + ?, turns = turns + 1, last_model = ?, updated_at = ? WHERE id = ?`),
      addDaily: prepare(`INSERT INTO usage_daily (day, input_tokens, output_tokens, cache_read_tokens, turns) VALUES (?, ?, ?, ?, 1)
        ON CONFLICT(day) DO UPDATE SET input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens, cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
        turns = turns + 1`),
      daily: prepare("SELECT * FROM usage_daily WHERE day = ?"),
      list: prepare("SELECT * FROM sessions ORDER BY updated_at DESC LIMIT ? OFFSET ?"),
      search: prepare(`SELECT session_id, seq, snippet(messages_fts, 0, '[', ']', '…', 12) AS snippet
        FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rank LIMIT ?`),
    };
  }

  get(id: string): SessionRecord | undefined {
    const row = this.#statements.byId.get(id) as SessionRow | undefined;
    return row ? toSession(row) : undefined;
  }

  /** The active session for a key, created when there is none. */
  activeFor(input: { key: string; agentId: string; channel: string; chat: string }): SessionRecord {
    const row = this.#statements.activeByKey.get(input.key) as SessionRow | undefined;
    if (row) return toSession(row);
    return this.create(input);
  }

  create(input: { key: string; agentId: string; channel: string; chat: string; id?: string }): SessionRecord {
    const now = new Date().toISOString();
    const id = input.id ?? randomUUID();
    this.#statements.insertSession.run(id, input.key, input.agentId, input.channel, input.chat, now, now);
    return this.get(id)!;
  }

  /** `/new`: retire the active session of a key (its transcript stays on disk) and open a fresh one. */
  reset(session: SessionRecord): SessionRecord {
    this.#statements.deactivate.run(new Date().toISOString(), session.key);
    return this.create({ key: session.key, agentId: session.agentId, channel: session.channel, chat: session.chat });
  }

  /** Append one message in a transaction; returns its sequence number. */
  append(sessionId: string, message: ChatMessage): number {
    const now = new Date().toISOString();
    this.#database.exec("BEGIN IMMEDIATE");
    try {
      const { message_count: seq } = this.#statements.bumpCount.get(now, sessionId) as { message_count: number };
      this.#statements.insertMessage.run(
        sessionId, seq, message.role, message.content,
        message.role === "assistant" && message.toolCalls?.length ? JSON.stringify(message.toolCalls) : null,
        message.role === "tool" ? message.toolCallId : null,
        message.role === "tool" ? message.name : null,
        message.role === "tool" && message.isError ? 1 : 0,
        now,
      );
      this.#database.exec("COMMIT");
      if (message.content.trim() !== "" && message.role !== "tool") this.#queueFts(message.content, sessionId, seq);
      return seq;
    } catch (error) {
      this.#database.exec("ROLLBACK");
      throw error;
    }
  }

  #queueFts(content: string, sessionId: string, seq: number): void {
    this.#ftsQueue.push([content, sessionId, seq]);
    if (this.#ftsQueue.length >= 500) this.flushSearchIndex();
    else if (!this.#ftsTimer) {
      this.#ftsTimer = setTimeout(() => this.flushSearchIndex(), 200);
      this.#ftsTimer.unref();
    }
  }

  /**
   * Index queued messages for full-text search in one transaction. The transcript itself is
   * written synchronously; only the search index lags, by at most 200 ms.
   */
  flushSearchIndex(): void {
    clearTimeout(this.#ftsTimer);
    this.#ftsTimer = undefined;
    if (this.#ftsQueue.length === 0 || !this.#database.isOpen) return;
    const batch = this.#ftsQueue;
    this.#ftsQueue = [];
    this.#database.exec("BEGIN IMMEDIATE");
    try {
      for (const [content, sessionId, seq] of batch) this.#statements.insertFts.run(content, sessionId, seq);
      this.#database.exec("COMMIT");
    } catch (error) {
      this.#database.exec("ROLLBACK");
      throw error;
    }
  }

  /** Messages not yet covered by the summary, oldest first. */
  messagesAfter(sessionId: string, seq: number): StoredMessage[] {
    return (this.#statements.messagesAfter.all(sessionId, seq) as unknown as MessageRow[]).map(toMessage);
  }

  lastMessage(sessionId: string): StoredMessage | undefined {
    const row = this.#statements.lastMessage.get(sessionId) as unknown as MessageRow | undefined;
    return row ? toMessage(row) : undefined;
  }

  page(sessionId: string, afterSeq: number, limit: number): StoredMessage[] {
    return (this.#statements.messagesPage.all(sessionId, afterSeq, limit) as unknown as MessageRow[]).map(toMessage);
  }

  setSummary(sessionId: string, summary: string, through: number): void {
    this.#statements.setSummary.run(summary, through, new Date().toISOString(), sessionId);
  }

  recordUsage(sessionId: string, usage: ModelUsage, model: string): void {
    const now = new Date().toISOString();
    this.#database.exec("BEGIN IMMEDIATE");
    try {
      this.#statements.addUsage.run(usage.inputTokens, usage.outputTokens, usage.cacheReadTokens, model, now, sessionId);
      this.#statements.addDaily.run(now.slice(0, 10), usage.inputTokens, usage.outputTokens, usage.cacheReadTokens);
      this.#database.exec("COMMIT");
    } catch (error) {
      this.#database.exec("ROLLBACK");
      throw error;
    }
  }

  usageToday(): { inputTokens: number; outputTokens: number; cacheReadTokens: number; turns: number } {
    const row = this.#statements.daily.get(new Date().toISOString().slice(0, 10)) as
      | { input_tokens: number; output_tokens: number; cache_read_tokens: number; turns: number } | undefined;
    return { inputTokens: row?.input_tokens ?? 0, outputTokens: row?.output_tokens ?? 0, cacheReadTokens: row?.cache_read_tokens ?? 0, turns: row?.turns ?? 0 };
  }

  list(limit = 50, offset = 0): SessionRecord[] {
    return (this.#statements.list.all(limit, offset) as unknown as SessionRow[]).map(toSession);
  }

  /** Full-text search over past transcripts (FTS5). */
  search(query: string, limit = 10): Array<{ sessionId: string; seq: number; snippet: string }> {
    const terms = query.match(/[\p{L}\p{N}_]+/gu) ?? [];
    if (terms.length === 0) return [];
    this.flushSearchIndex();
    const match = terms.map((term) => `"${term}"`).join(" OR ");
    return (this.#statements.search.all(match, limit) as Array<{ session_id: string; seq: number; snippet: string }>)
      .map((row) => ({ sessionId: row.session_id, seq: row.seq, snippet: row.snippet }));
  }
}
