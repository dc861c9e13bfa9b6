import { inTransaction, type Database } from "../state/index.ts";
import type { InboundMessage } from "./channel-adapter.ts";

export type IngressStatus = "pending" | "answered" | "done" | "ignored";

export interface IngressRow {
  readonly id: number;
  readonly message: InboundMessage;
  readonly status: IngressStatus;
  readonly reply: string | null;
  readonly chunksSent: number;
  /**
   * A message the gateway started: the chunk being handed to the platform when the process
   * stopped (set before the send, cleared after it or on an error). Null otherwise.
   */
  readonly sendingChunk?: number | null;
}

/** The sender recorded on rows the gateway itself starts (never a platform user id). */
export const OUTBOUND_SENDER = "faraday:outbound";

type StoredRow = { id: number; message: string; status: IngressStatus; reply: string | null; chunks_sent: number; sending_chunk?: number | null };

const toRow = (row: StoredRow): IngressRow => ({ id: row.id, message: JSON.parse(row.message) as InboundMessage, status: row.status, reply: row.reply, chunksSent: row.chunks_sent, sendingChunk: row.sending_chunk ?? null });

/**
 * Inbound messages, stored before the platform is acknowledged and deduplicated by platform id.
 * A row moves pending → answered (reply stored) → done (every chunk sent); after a crash,
 * pending rows are answered once and answered rows finish sending from the first chunk not
 * recorded as sent (a chunk the platform took just before the crash, before its record, goes
 * out twice: at least once, never lost).
 */
export class IngressStore {
  readonly #statements;
  readonly #database: Database;

  constructor(database: Database) {
    this.#database = database;
    const prepare = (sql: string) => database.prepare(sql);
    this.#statements = {
      insert: prepare(`INSERT INTO ingress (channel, platform_id, chat, sender, message, received_at) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (channel, platform_id) DO NOTHING RETURNING id`),
      answered: prepare("UPDATE ingress SET status = 'answered', reply = ? WHERE id = ?"),
      chunk: prepare("UPDATE ingress SET chunks_sent = ?, sending_chunk = NULL WHERE id = ?"),
      sending: prepare("UPDATE ingress SET sending_chunk = ? WHERE id = ?"),
      finish: prepare("UPDATE ingress SET status = ?, finished_at = ? WHERE id = ?"),
      unfinished: prepare("SELECT * FROM ingress WHERE status IN ('pending', 'answered') ORDER BY id"),
      answeredIn: prepare("SELECT * FROM ingress WHERE status = 'answered' AND channel = ? ORDER BY id"),
      byId: prepare("SELECT * FROM ingress WHERE id = ?"),
      hasChat: prepare(`SELECT 1 AS found FROM ingress WHERE channel = ? AND chat = ? AND sender != '${OUTBOUND_SENDER}' LIMIT 1`),
      outbound: prepare(`INSERT INTO ingress (channel, platform_id, chat, sender, message, received_at, status, reply) VALUES (?, ?, ?, '${OUTBOUND_SENDER}', ?, ?, 'answered', ?)
        ON CONFLICT (channel, platform_id) DO NOTHING RETURNING id`),
      senderChats: prepare(`SELECT chat, MAX(id) AS latest, MAX(json_extract(message, '$.chatType') = 'dm') AS direct
        FROM ingress WHERE channel = ? AND sender = ? GROUP BY chat ORDER BY direct DESC, latest DESC`),
      counts: prepare("SELECT channel, status, COUNT(*) AS count FROM ingress GROUP BY channel, status"),
      prune: prepare("DELETE FROM ingress WHERE status IN ('done', 'ignored') AND received_at < ?"),
    };
  }

  /**
   * Store a message the gateway starts (a reminder, a scheduled job's answer) as an already
   * answered row, so the service sends it, retries it and resumes it after a restart exactly like
   * a reply. `key` deduplicates (a second store of the same occurrence stores nothing): undefined
   * then. The row never counts as the chat having written in.
   */
  addOutbound(channel: string, chat: string, text: string, key: string): IngressRow | undefined {
    const message: InboundMessage = { channel, account: "default", chat, chatType: "dm", sender: OUTBOUND_SENDER, text: "", platformId: key, addressedToBot: false };
    const row = this.#statements.outbound.get(channel, key, chat, JSON.stringify(message), new Date().toISOString(), text) as { id: number } | undefined;
    return row ? { id: row.id, message, status: "answered", reply: text, chunksSent: 0 } : undefined;
  }

  /** The chats a person wrote from on a channel: direct chats first, then most recent first. */
  chatsOf(channel: string, sender: string): string[] {
    return (this.#statements.senderChats.all(channel, sender) as Array<{ chat: string }>).map((row) => row.chat);
  }

  /** Store a message; undefined when it was seen before (a redelivery). */
  add(message: InboundMessage): IngressRow | undefined {
    // In a transaction: on a full disk an autocommit INSERT … RETURNING returns an id while the
    // commit fails, and the message would be acknowledged to the platform without being stored.
    const row = inTransaction(this.#database, () =>
      this.#statements.insert.get(message.channel, message.platformId, message.chat, message.sender, JSON.stringify(message), new Date().toISOString())) as { id: number } | undefined;
    return row ? { id: row.id, message, status: "pending", reply: null, chunksSent: 0 } : undefined;
  }

  answered(id: number, reply: string): void {
    this.#statements.answered.run(reply, id);
  }

  chunkSent(id: number, count: number): void {
    this.#statements.chunk.run(count, id);
  }

  /** Mark the chunk being handed to the platform (null: none), for messages the gateway starts. */
  sending(id: number, chunk: number | null): void {
    this.#statements.sending.run(chunk, id);
  }

  finish(id: number, status: "done" | "ignored"): void {
    this.#statements.finish.run(status, new Date().toISOString(), id);
  }

  /** Rows a previous run did not finish, oldest first. */
  unfinished(): IngressRow[] {
    return (this.#statements.unfinished.all() as StoredRow[]).map(toRow);
  }

  /** Replies stored for `channel` and not (fully) sent yet, oldest first. */
  answeredIn(channel: string): IngressRow[] {
    return (this.#statements.answeredIn.all(channel) as StoredRow[]).map(toRow);
  }

  get(id: number): IngressRow | undefined {
    const row = this.#statements.byId.get(id) as StoredRow | undefined;
    return row ? toRow(row) : undefined;
  }

  /**
   * Forget finished rows older than `days` (a busy group would otherwise grow the table forever).
   * Platforms never redeliver that late, so deduplication does not need them. The transcript keeps
   * what was said.
   */
  prune(days = 7): number {
    return Number(this.#statements.prune.run(new Date(Date.now() - days * 86_400_000).toISOString()).changes);
  }

  /** Did this chat ever write to us (within the 7 days ingress keeps)? */
  hasChat(channel: string, chat: string): boolean {
    return this.#statements.hasChat.get(channel, chat) !== undefined;
  }

  counts(): Array<{ channel: string; status: string; count: number }> {
    return this.#statements.counts.all() as Array<{ channel: string; status: string; count: number }>;
  }
}
