import type { Database } from "../../state/index.ts";

/** Indexed like SessionStore indexes a message: not tool results, not empty. */
const indexable = (role: string, content: string) => role !== "tool" && content.trim() !== "";

/**
 * Put back the full-text index rows a killed process never wrote. The session store indexes
 * committed messages in batches a moment later (in order), so after a `kill -9` only messages
 * stored at or after the last indexed one can be missing: this reads the sessions updated
 * since then (an index on `updated_at`) and their newest messages, not the whole transcript
 * table. An empty index with messages (a database from before search) is indexed whole.
 * Returns how many rows it added.
 */
export function repairSearchIndex(database: Database): number {
  const last = database.prepare("SELECT rowid, session_id, seq FROM messages_fts ORDER BY rowid DESC LIMIT 1").get() as
    | { rowid: number; session_id: string; seq: number } | undefined;
  database.exec("BEGIN IMMEDIATE");
  try {
    let added = 0;
    if (!last) {
      added = Number(database.prepare(`INSERT INTO messages_fts (content, session_id, seq)
        SELECT content, session_id, seq FROM messages WHERE role != 'tool' AND trim(content) != '' ORDER BY created_at, session_id, seq`).run().changes);
    } else {
      const horizon = (database.prepare("SELECT created_at FROM messages WHERE session_id = ? AND seq = ?").get(last.session_id, last.seq) as { created_at: string } | undefined)?.created_at;
      if (horizon !== undefined) added = addMissingSince(database, horizon);
    }
    database.exec("COMMIT");
    return added;
  } catch (error) {
    if (database.isTransaction) database.exec("ROLLBACK");
    throw error;
  }
}

function addMissingSince(database: Database, horizon: string): number {
  // The index rows of messages written at the horizon itself (one group commit), newest first.
  const indexed = new Set<string>();
  const createdAt = database.prepare("SELECT created_at FROM messages WHERE session_id = ? AND seq = ?");
  for (const row of database.prepare("SELECT session_id, seq FROM messages_fts ORDER BY rowid DESC").iterate()) {
    const { session_id: sessionId, seq } = row as { session_id: string; seq: number };
    const created = (createdAt.get(sessionId, seq) as { created_at: string } | undefined)?.created_at;
    if (created === undefined || created < horizon) break;
    indexed.add(`${sessionId}\u0000${seq}`);
  }
  const sessions = database.prepare("SELECT id FROM sessions WHERE updated_at >= ?").all(horizon) as Array<{ id: string }>;
  const newest = database.prepare("SELECT seq, role, content, created_at FROM messages WHERE session_id = ? ORDER BY seq DESC");
  const insert = database.prepare("INSERT INTO messages_fts (content, session_id, seq) VALUES (?, ?, ?)");
  const missing: Array<{ createdAt: string; sessionId: string; seq: number; content: string }> = [];
  for (const { id } of sessions) {
    for (const row of newest.iterate(id)) {
      const message = row as { seq: number; role: string; content: string; created_at: string };
      if (message.created_at < horizon) break;
      if (indexable(message.role, message.content) && !indexed.has(`${id}\u0000${message.seq}`)) {
        missing.push({ createdAt: message.created_at, sessionId: id, seq: message.seq, content: message.content });
      }
    }
  }
  // In the order they were written, as the store would have indexed them.
  missing.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : a.seq - b.seq));
  for (const message of missing) insert.run(message.content, message.sessionId, message.seq);
  return missing.length;
}
