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

/** A message as `toMessage` would read it back from disk. */
function storedCopy(message: ChatMessage, seq: number, createdAt: string): StoredMessage {
  const base = { seq, createdAt };
  if (message.role === "tool") {
    return { ...base, role: "tool", toolCallId: message.toolCallId, name: message.name, content: message.content, isError: message.isError === true };
  }
  if (message.role === "assistant") {
    // Through JSON, as stored: the cached copy shares nothing with the caller's objects.
    const toolCalls = message.toolCalls?.length ? (JSON.parse(JSON.stringify(message.toolCalls)) as ToolCall[]) : undefined;
    return { ...base, role: "assistant", content: message.content, ...(toolCalls ? { toolCalls } : {}) };
  }
  return { ...base, role: "user", content: message.content };
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

/** Sessions whose row is kept in memory (LRU). */
const CACHED_SESSIONS = 1_024;
/**
 * Transcript tails kept in memory, bounded by their total characters and count. A tail read
 * from disk is kept only while there is room (entries unused for WINDOW_IDLE_MS make room):
 * with more busy sessions than fit, a fixed set stays cached instead of every read evicting
 * the next session to be read (what LRU does under round-robin), which would only churn.
 */
const CACHED_WINDOW_CHARS = 1_500_000;
const CACHED_WINDOWS = 1_024;
const WINDOW_IDLE_MS = 60_000;

/** The messages of one session after `fromSeq`, exactly as on disk, oldest first. */
interface CachedWindow {
  fromSeq: number;
  messages: StoredMessage[];
  chars: number;
  /** performance.now() of the last read or append. */
  usedAt: number;
}

/** A write waiting for the group commit: `write` runs in the transaction and returns what to do once committed. */
interface PendingWrite {
  sessionId: string;
  write: (now: string) => () => void;
  resolve: (seq: number) => void;
  reject: (error: unknown) => void;
}

function charsOf(message: StoredMessage): number {
  return message.content.length + (message.role === "assistant" && message.toolCalls ? 64 * message.toolCalls.length : 0) + 64;
}

/**
 * Sessions and their transcripts in SQLite. Every message is written as it happens; appending
 * costs the same at 100,000 messages as at none (primary-key insert, counter on the session row).
 *
 * This store is the only writer of `sessions` and `messages` (the gateway holds the state lock;
 * the CLI opens the database read-only), so it keeps what a turn re-reads in memory: recent
 * session rows and the tail of recent transcripts, updated by its own writes. Both caches are
 * bounded (rows: LRU; tails: by size, admitted only while there is room); a miss reads SQLite.
 */
export class SessionStore {
  readonly #database: Database;
  readonly #statements;
  readonly #records = new Map<string, SessionRecord>();
  readonly #windows = new Map<string, CachedWindow>();
  #windowChars = 0;
  /** Writes waiting for the next group commit (appendDurable / appendReplyDurable). */
  #batch: PendingWrite[] = [];
  readonly #batchSessions = new Set<string>();
  #batchScheduled = false;
  /** Full-text rows not yet indexed: indexed in batches, off the turn's path (search flushes first). */
  #ftsQueue: Array<[string, string, number]> = [];
  #ftsTimer: NodeJS.Timeout | undefined;
  /** Where a write that failed off any caller's path (the search index) is reported. */
  readonly #onBackgroundError: (error: unknown) => void;

  constructor(database: Database, options: { onBackgroundError?: (error: unknown) => void } = {}) {
    this.#database = database;
    this.#onBackgroundError = options.onBackgroundError ?? (() => {});
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
    if (this.#batchSessions.has(id)) this.commitPending();
    const cached = this.#records.get(id);
    if (cached) {
      this.#records.delete(id);
      this.#records.set(id, cached);
      return cached;
    }
    const row = this.#statements.byId.get(id) as SessionRow | undefined;
    return row ? this.#remember(toSession(row)) : undefined;
  }

  #remember(record: SessionRecord): SessionRecord {
    this.#records.delete(record.id);
    this.#records.set(record.id, record);
    if (this.#records.size > CACHED_SESSIONS) this.#records.delete(this.#records.keys().next().value!);
    return record;
  }

  /** Replace a cached session row after a write (no-op when it is not cached). */
  #update(id: string, change: (record: SessionRecord) => SessionRecord): void {
    const cached = this.#records.get(id);
    if (cached) this.#records.set(id, change(cached));
  }

  /** The active session for a key, created when there is none. */
  activeFor(input: { key: string; agentId: string; channel: string; chat: string }): SessionRecord {
    const row = this.#statements.activeByKey.get(input.key) as SessionRow | undefined;
    if (row) return this.get(row.id) ?? this.#remember(toSession(row));
    return this.create(input);
  }

  create(input: { key: string; agentId: string; channel: string; chat: string; id?: string }): SessionRecord {
    this.commitPending();
    const now = new Date().toISOString();
    const id = input.id ?? randomUUID();
    this.#statements.insertSession.run(id, input.key, input.agentId, input.channel, input.chat, now, now);
    // A new session has no messages: its (empty) transcript tail is known without a read.
    this.#admitWindow(id, { fromSeq: 0, messages: [], chars: 0, usedAt: performance.now() });
    return this.get(id)!;
  }

  /** `/new`: retire the active session of a key (its transcript stays on disk) and open a fresh one. */
  reset(session: SessionRecord): SessionRecord {
    this.commitPending();
    const now = new Date().toISOString();
    this.#statements.deactivate.run(now, session.key);
    for (const [id, record] of this.#records) {
      if (record.key === session.key && record.active) this.#records.set(id, { ...record, active: false, updatedAt: now });
    }
    return this.create({ key: session.key, agentId: session.agentId, channel: session.channel, chat: session.chat });
  }

  /** Append one message in a transaction; returns its sequence number. */
  append(sessionId: string, message: ChatMessage): number {
    this.commitPending();
    const now = new Date().toISOString();
    const seq = this.#writeSession(sessionId, () => this.#insert(sessionId, message, now));
    this.#appended(sessionId, message, seq, now);
    return seq;
  }

  /** One write transaction for one session; on failure its cached view is dropped. */
  #writeSession<T>(sessionId: string, work: () => T): T {
    this.#database.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      this.#database.exec("COMMIT");
      return result;
    } catch (error) {
      this.#rollback();
      this.#forget(sessionId);
      throw error;
    }
  }

  /**
   * Roll back the open transaction, if there is one: after SQLITE_FULL (a full disk) SQLite has
   * already rolled it back, and a second ROLLBACK would throw over the real error.
   */
  #rollback(): void {
    if (this.#database.isOpen && this.#database.isTransaction) this.#database.exec("ROLLBACK");
  }

  /**
   * A model reply: its token usage (session and daily totals) and the assistant message, in one
   * transaction. Returns the message's sequence number.
   */
  appendReply(sessionId: string, usage: ModelUsage, model: string, message: ChatMessage): number {
    this.commitPending();
    const now = new Date().toISOString();
    const seq = this.#writeSession(sessionId, () => {
      this.#addUsage(sessionId, usage, model, now);
      return this.#insert(sessionId, message, now);
    });
    this.#usageAdded(sessionId, usage, model, now);
    this.#appended(sessionId, message, seq, now);
    return seq;
  }

  /**
   * `append`, group-committed: resolves with the sequence number once the message is on disk.
   * Appends from every session made in one turn of the event loop share one transaction
   * (committed from setImmediate), so under load a commit costs a fraction of a turn. A caller
   * that awaits this knows the message is durable, as after `append`.
   */
  appendDurable(sessionId: string, message: ChatMessage): Promise<number> {
    return this.#enqueue(sessionId, (now) => {
      const seq = this.#insert(sessionId, message, now);
      return () => this.#appended(sessionId, message, seq, now);
    });
  }

  /** `appendReply`, group-committed like `appendDurable`. */
  appendReplyDurable(sessionId: string, usage: ModelUsage, model: string, message: ChatMessage): Promise<number> {
    return this.#enqueue(sessionId, (now) => {
      this.#addUsage(sessionId, usage, model, now);
      const seq = this.#insert(sessionId, message, now);
      return () => {
        this.#usageAdded(sessionId, usage, model, now);
        this.#appended(sessionId, message, seq, now);
      };
    });
  }

  /** `write` runs inside the group transaction (its #insert sets the seq) and returns what to do once committed. */
  #enqueue(sessionId: string, write: (now: string) => () => void): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.#batch.push({ sessionId, write, resolve, reject });
      this.#batchSessions.add(sessionId);
      if (!this.#batchScheduled) {
        this.#batchScheduled = true;
        setImmediate(() => this.commitPending());
      }
    });
  }

  /** Commit the writes waiting for the group commit now (no-op when there are none). */
  commitPending(): void {
    this.#batchScheduled = false;
    if (this.#batch.length === 0) return;
    const batch = this.#batch;
    this.#batch = [];
    this.#batchSessions.clear();
    if (!this.#database.isOpen) {
      const error = new Error("the database is closed; the message was not written");
      for (const entry of batch) entry.reject(error);
      return;
    }
    // One transaction for the whole batch; if it fails, each write alone, so that one bad
    // write (or a full disk) fails only the callers it concerns. Runs from setImmediate: it
    // never throws, every caller's promise settles.
    const now = new Date().toISOString();
    if (batch.length > 1 && this.#commitGroup(batch, now, false)) return;
    if (batch.length === 1) this.#commitGroup(batch, now, true);
    else for (const entry of batch) this.#commitGroup([entry], now, true);
  }

  /** One transaction for `entries`; true when committed (and their callers resolved). */
  #commitGroup(entries: readonly PendingWrite[], now: string, rejectOnFailure: boolean): boolean {
    const after: Array<() => void> = [];
    const seqs: number[] = [];
    let began = false;
    try {
      this.#database.exec("BEGIN IMMEDIATE");
      began = true;
      for (const entry of entries) {
        after.push(entry.write(now));
        seqs.push(this.#lastInsertedSeq);
      }
      this.#database.exec("COMMIT");
    } catch (error) {
      if (began) {
        try {
          this.#database.exec("ROLLBACK");
        } catch {
          // SQLite already rolled back (or the connection is gone); nothing was written either way.
        }
      }
      for (const entry of entries) {
        this.#forget(entry.sessionId);
        if (rejectOnFailure) entry.reject(error);
      }
      return false;
    }
    for (const [index, entry] of entries.entries()) {
      try {
        after[index]!();
        entry.resolve(seqs[index]!);
      } catch (error) {
        entry.reject(error);
      }
    }
    return true;
  }

  #lastInsertedSeq = 0;

  #insert(sessionId: string, message: ChatMessage, now: string): number {
    const { message_count: seq } = this.#statements.bumpCount.get(now, sessionId) as { message_count: number };
    this.#statements.insertMessage.run(
      sessionId, seq, message.role, message.content,
      message.role === "assistant" && message.toolCalls?.length ? JSON.stringify(message.toolCalls) : null,
      message.role === "tool" ? message.toolCallId : null,
      message.role === "tool" ? message.name : null,
      message.role === "tool" && message.isError ? 1 : 0,
      now,
    );
    this.#lastInsertedSeq = seq;
    return seq;
  }

  /** After a committed append: the cached row and transcript tail follow, and search is queued. */
  #appended(sessionId: string, message: ChatMessage, seq: number, now: string): void {
    this.#update(sessionId, (record) => ({ ...record, messageCount: seq, updatedAt: now }));
    const window = this.#windows.get(sessionId);
    if (window) {
      const last = window.messages.at(-1)?.seq ?? window.fromSeq;
      if (last !== seq - 1) this.#dropWindow(sessionId);
      else {
        const stored = storedCopy(message, seq, now);
        window.messages.push(stored);
        window.usedAt = performance.now();
        this.#windows.delete(sessionId);
        this.#windows.set(sessionId, window);
        const chars = charsOf(stored);
        window.chars += chars;
        this.#windowChars += chars;
        this.#trimWindows();
      }
    }
    if (message.content.trim() !== "" && message.role !== "tool") this.#queueFts(message.content, sessionId, seq);
  }

  /** Drop everything cached about a session (after a failed write, to re-read the truth). */
  #forget(sessionId: string): void {
    this.#records.delete(sessionId);
    this.#dropWindow(sessionId);
  }

  #dropWindow(sessionId: string): void {
    const window = this.#windows.get(sessionId);
    if (!window) return;
    this.#windowChars -= window.chars;
    this.#windows.delete(sessionId);
  }

  /** Cache a tail if there is room (after dropping tails unused for WINDOW_IDLE_MS). */
  #admitWindow(sessionId: string, window: CachedWindow): void {
    this.#dropWindow(sessionId);
    const idleBefore = window.usedAt - WINDOW_IDLE_MS;
    for (const [id, cached] of this.#windows) {
      if (cached.usedAt >= idleBefore) break;
      this.#dropWindow(id);
    }
    if (this.#windows.size >= CACHED_WINDOWS || this.#windowChars + window.chars > CACHED_WINDOW_CHARS) return;
    this.#windows.set(sessionId, window);
    this.#windowChars += window.chars;
  }

  #trimWindows(): void {
    while ((this.#windowChars > CACHED_WINDOW_CHARS || this.#windows.size > CACHED_WINDOWS) && this.#windows.size > 0) {
      this.#dropWindow(this.#windows.keys().next().value!);
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
   * written synchronously; only the search index lags, by at most 200 ms. Never throws (it runs
   * from a timer): a failed batch (a full disk) goes back to the front of the queue, in order,
   * for the next flush, and is reported to `onBackgroundError`. Returns whether the queue is empty.
   */
  flushSearchIndex(): boolean {
    try {
      this.commitPending();
    } catch (error) {
      this.#onBackgroundError(error);
    }
    clearTimeout(this.#ftsTimer);
    this.#ftsTimer = undefined;
    if (this.#ftsQueue.length === 0 || !this.#database.isOpen) return this.#ftsQueue.length === 0;
    const batch = this.#ftsQueue;
    this.#ftsQueue = [];
    try {
      this.#database.exec("BEGIN IMMEDIATE");
      for (const [content, sessionId, seq] of batch) this.#statements.insertFts.run(content, sessionId, seq);
      this.#database.exec("COMMIT");
      return true;
    } catch (error) {
      try {
        this.#rollback();
      } catch {
        // The connection is unusable; the batch stays queued either way.
      }
      this.#ftsQueue = batch.concat(this.#ftsQueue);
      this.#onBackgroundError(error);
      return false;
    }
  }

  /** Messages not yet covered by the summary, oldest first. */
  messagesAfter(sessionId: string, seq: number): StoredMessage[] {
    if (this.#batchSessions.has(sessionId)) this.commitPending();
    const window = this.#windows.get(sessionId);
    if (window && seq >= window.fromSeq) {
      // Most recently used last: the idle sweep in #admitWindow walks from the front.
      this.#windows.delete(sessionId);
      this.#windows.set(sessionId, window);
      window.usedAt = performance.now();
      const { messages } = window;
      let start = 0;
      while (start < messages.length && messages[start]!.seq <= seq) start++;
      return messages.slice(start);
    }
    const messages = (this.#statements.messagesAfter.all(sessionId, seq) as unknown as MessageRow[]).map(toMessage);
    const chars = messages.reduce((sum, message) => sum + charsOf(message), 0);
    if (chars <= CACHED_WINDOW_CHARS / 4) this.#admitWindow(sessionId, { fromSeq: seq, messages: messages.slice(), chars, usedAt: performance.now() });
    else this.#dropWindow(sessionId);
    return messages;
  }

  lastMessage(sessionId: string): StoredMessage | undefined {
    if (this.#batchSessions.has(sessionId)) this.commitPending();
    const window = this.#windows.get(sessionId);
    const record = this.#records.get(sessionId);
    // The cached tail is complete up to the session's count: its last message is the last one.
    if (window && record && window.messages.length > 0 && window.messages.at(-1)!.seq === record.messageCount) return window.messages.at(-1);
    const row = this.#statements.lastMessage.get(sessionId) as unknown as MessageRow | undefined;
    return row ? toMessage(row) : undefined;
  }

  page(sessionId: string, afterSeq: number, limit: number): StoredMessage[] {
    if (this.#batchSessions.has(sessionId)) this.commitPending();
    return (this.#statements.messagesPage.all(sessionId, afterSeq, limit) as unknown as MessageRow[]).map(toMessage);
  }

  setSummary(sessionId: string, summary: string, through: number): void {
    this.commitPending();
    const now = new Date().toISOString();
    try {
      this.#statements.setSummary.run(summary, through, now, sessionId);
    } catch (error) {
      this.#forget(sessionId);
      throw error;
    }
    this.#update(sessionId, (record) => ({ ...record, summary, summaryThrough: through, updatedAt: now }));
    const window = this.#windows.get(sessionId);
    if (window && through > window.fromSeq) {
      const kept = window.messages.filter((message) => message.seq > through);
      const chars = kept.reduce((sum, message) => sum + charsOf(message), 0);
      this.#windowChars += chars - window.chars;
      window.messages = kept;
      window.chars = chars;
      window.fromSeq = through;
    }
  }

  recordUsage(sessionId: string, usage: ModelUsage, model: string): void {
    this.commitPending();
    const now = new Date().toISOString();
    this.#database.exec("BEGIN IMMEDIATE");
    try {
      this.#addUsage(sessionId, usage, model, now);
      this.#database.exec("COMMIT");
    } catch (error) {
      this.#rollback();
      this.#forget(sessionId);
      throw error;
    }
    this.#usageAdded(sessionId, usage, model, now);
  }

  #addUsage(sessionId: string, usage: ModelUsage, model: string, now: string): void {
    this.#statements.addUsage.run(usage.inputTokens, usage.outputTokens, usage.cacheReadTokens, model, now, sessionId);
    this.#statements.addDaily.run(now.slice(0, 10), usage.inputTokens, usage.outputTokens, usage.cacheReadTokens);
  }

  #usageAdded(sessionId: string, usage: ModelUsage, model: string, now: string): void {
    this.#update(sessionId, (record) => ({
      ...record,
      updatedAt: now,
      lastModel: model,
      usage: {
        inputTokens: record.usage.inputTokens + usage.inputTokens,
        outputTokens: record.usage.outputTokens + usage.outputTokens,
        cacheReadTokens: record.usage.cacheReadTokens + usage.cacheReadTokens,
        turns: record.usage.turns + 1,
      },
    }));
  }

  usageToday(): { inputTokens: number; outputTokens: number; cacheReadTokens: number; turns: number } {
    const row = this.#statements.daily.get(new Date().toISOString().slice(0, 10)) as
      | { input_tokens: number; output_tokens: number; cache_read_tokens: number; turns: number } | undefined;
    return { inputTokens: row?.input_tokens ?? 0, outputTokens: row?.output_tokens ?? 0, cacheReadTokens: row?.cache_read_tokens ?? 0, turns: row?.turns ?? 0 };
  }

  list(limit = 50, offset = 0): SessionRecord[] {
    this.commitPending();
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

  /**
   * The model a session was switched to with `/model` (a `provider/model` ref), or undefined.
   * Kept in the key-value `settings` table under `session-model:<id>` (no migration of its own).
   */
  modelChoice(sessionId: string): string | undefined {
    // Read on every turn: the statement is prepared once.
    this.#modelChoiceQuery ??= this.#database.prepare("SELECT value FROM settings WHERE key = ?");
    const row = this.#modelChoiceQuery.get(`session-model:${sessionId}`) as { value: string } | undefined;
    return row?.value;
  }

  #modelChoiceQuery: ReturnType<Database["prepare"]> | undefined;

  /** Set (or, with null, clear) the session's `/model` choice. */
  setModelChoice(sessionId: string, ref: string | null): void {
    const key = `session-model:${sessionId}`;
    if (ref === null) this.#database.prepare("DELETE FROM settings WHERE key = ?").run(key);
    else this.#database.prepare("INSERT OR REPLACE INTO settings (key, value, updated_at) VALUES (?, ?, ?)").run(key, ref, new Date().toISOString());
  }
}
