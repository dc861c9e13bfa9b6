import type { Database } from "../../state/index.ts";

/** How long a sent message can still be re-sent on a retry receipt. */
export const SENT_MESSAGE_RETENTION_MS = 7 * 24 * 60 * 60_000;

export interface SentMessageStoreOptions {
  readonly account?: string;
  readonly retentionMs?: number;
  /** Milliseconds since the epoch; tests move it instead of waiting. */
  readonly now?: () => number;
}

/**
 * What the gateway sent on WhatsApp, by message id, for Baileys' `getMessage`.
 *
 * When a recipient's phone cannot decrypt a message it sends a retry receipt; Baileys answers it
 * from an in-memory cache (5 minutes, 512 entries, keyed by the exact destination jid) and then
 * from `getMessage(key)` (`sendMessagesAgain` in `Socket/messages-recv.js`). Returning nothing
 * there means "message not available" and the customer never gets the reply. Kept here for
 * `retentionMs` (7 days), so a retry after a restart, after 5 minutes, or under the other jid form
 * (LID instead of phone number) is answered. Only the message content is kept, as WhatsApp needs
 * it; the transcript holds the same text already.
 */
export class WhatsAppSentMessageStore {
  readonly #database: Database;
  readonly #account: string;
  readonly #retentionMs: number;
  readonly #now: () => number;

  constructor(database: Database, options: SentMessageStoreOptions = {}) {
    this.#database = database;
    this.#account = options.account ?? "default";
    this.#retentionMs = options.retentionMs ?? SENT_MESSAGE_RETENTION_MS;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Keep `message` (protobuf bytes) sent as `id` to `jid`; `altJid` is the same chat's other form
   * (LID for a phone-number jid and back) when known. Prunes what is past the retention window.
   */
  put(id: string, jid: string, altJid: string | undefined, message: Uint8Array): void {
    const now = this.#now();
    this.#database
      .prepare("INSERT OR REPLACE INTO whatsapp_sent (account, id, jid, alt_jid, message, sent_at) VALUES (?, ?, ?, ?, ?, ?)")
      .run(this.#account, id, jid, altJid ?? null, message, now);
    this.prune();
  }

  /**
   * The message sent as `id`, when one of `jids` is where it went (either form); undefined when
   * unknown, expired, or asked for by another chat (a retry receipt re-sends to whoever asks).
   */
  get(id: string, jids: readonly string[]): Uint8Array | undefined {
    const row = this.#database
      .prepare("SELECT jid, alt_jid, message, sent_at FROM whatsapp_sent WHERE account = ? AND id = ?")
      .get(this.#account, id) as { jid: string; alt_jid: string | null; message: Uint8Array; sent_at: number } | undefined;
    if (!row || this.#now() - row.sent_at > this.#retentionMs) return undefined;
    const destinations = [row.jid, row.alt_jid].filter((jid): jid is string => Boolean(jid));
    return jids.some((jid) => destinations.includes(jid)) ? row.message : undefined;
  }

  /** Drop what is past the retention window. */
  prune(): number {
    const result = this.#database.prepare("DELETE FROM whatsapp_sent WHERE account = ? AND sent_at < ?").run(this.#account, this.#now() - this.#retentionMs);
    return Number(result.changes);
  }

  count(): number {
    return (this.#database.prepare("SELECT COUNT(*) AS n FROM whatsapp_sent WHERE account = ?").get(this.#account) as { n: number }).n;
  }
}
