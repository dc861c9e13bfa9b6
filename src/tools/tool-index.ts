import { createHash } from "node:crypto";
import type { Database } from "../state/index.ts";
import type { ToolDescriptor } from "./tool-source.ts";

/** One tool `find_tools` found, best match first. */
export interface ToolSearchHit {
  readonly name: string;
  readonly server: string;
  readonly description: string;
}

/** What one source lists right now, as the index sees it. */
export interface IndexedSource {
  readonly name: string;
  readonly tools: readonly ToolDescriptor[];
}

/** Words that match half the catalog and say nothing about which tool is wanted. */
const STOP_WORDS = new Set(["a", "an", "and", "the", "for", "to", "of", "in", "on", "at", "by", "with", "my", "me", "i", "is", "it", "or", "tool", "tools", "please", "some", "this", "that"]);

/** `create_booking` and `favcrm__createBooking` → `create booking` (FTS5 needs the words apart). */
function nameWords(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/[^A-Za-z0-9]+/g, " ").trim().toLowerCase();
}

/** The FTS5 query for free text: each meaningful word as a quoted prefix, any of them may match. */
export function toolSearchQuery(text: string): string | undefined {
  const words = [...new Set((text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((word) => word.length > 1 && !STOP_WORDS.has(word)))];
  if (words.length === 0) return undefined;
  return words.slice(0, 16).map((word) => `"${word}"*`).join(" OR ");
}

/**
 * Full-text search over every connected server's tools (names and descriptions), in SQLite's
 * FTS5 with the porter stemmer, so "cancel an appointment" finds `cancel_booking` by its
 * description. `sync()` re-indexes a server only when what it lists changed (a fingerprint per
 * server is kept in `tool_catalog_servers`), so a re-list (reconnect, timer, list_changed) is
 * picked up at the next search and an unchanged catalog costs one hash.
 */
export class ToolIndex {
  readonly #database: Database;
  readonly #fingerprints = new Map<string, string>();

  constructor(database: Database) {
    this.#database = database;
    const rows = database.prepare("SELECT server, fingerprint FROM tool_catalog_servers").all() as Array<{ server: string; fingerprint: string }>;
    for (const row of rows) this.#fingerprints.set(row.server, row.fingerprint);
  }

  /** Bring the index in line with what the sources list now; servers no longer listed are dropped. */
  sync(sources: readonly IndexedSource[]): void {
    const seen = new Set<string>();
    const changes: Array<{ server: string; fingerprint: string; tools: readonly ToolDescriptor[] }> = [];
    for (const source of sources) {
      seen.add(source.name);
      const fingerprint = createHash("sha256")
        .update(JSON.stringify(source.tools.map((tool) => [tool.name, tool.description])))
        .digest("hex");
      if (this.#fingerprints.get(source.name) !== fingerprint) changes.push({ server: source.name, fingerprint, tools: source.tools });
    }
    const gone = [...this.#fingerprints.keys()].filter((server) => !seen.has(server));
    if (changes.length === 0 && gone.length === 0) return;
    const database = this.#database;
    const remove = database.prepare("DELETE FROM tool_catalog_fts WHERE server = ?");
    const removeServer = database.prepare("DELETE FROM tool_catalog_servers WHERE server = ?");
    const insert = database.prepare("INSERT INTO tool_catalog_fts (name, server, words, description) VALUES (?, ?, ?, ?)");
    const upsert = database.prepare(`INSERT INTO tool_catalog_servers (server, fingerprint, tool_count, indexed_at) VALUES (?, ?, ?, ?)
      ON CONFLICT(server) DO UPDATE SET fingerprint = excluded.fingerprint, tool_count = excluded.tool_count, indexed_at = excluded.indexed_at`);
    database.exec("BEGIN IMMEDIATE");
    try {
      for (const server of gone) {
        remove.run(server);
        removeServer.run(server);
      }
      const now = new Date().toISOString();
      for (const change of changes) {
        remove.run(change.server);
        for (const tool of change.tools) {
          insert.run(tool.name, change.server, `${nameWords(tool.name)} ${nameWords(tool.serverToolName ?? "")}`.trim(), tool.description);
        }
        upsert.run(change.server, change.fingerprint, change.tools.length, now);
      }
      database.exec("COMMIT");
    } catch (error) {
      database.exec("ROLLBACK");
      throw error;
    }
    for (const server of gone) this.#fingerprints.delete(server);
    for (const change of changes) this.#fingerprints.set(change.server, change.fingerprint);
  }

  /** Best matches for free text (names weigh four times the description), at most `limit`. */
  search(text: string, limit: number): ToolSearchHit[] {
    const query = toolSearchQuery(text);
    if (!query) return [];
    return this.#database.prepare(`SELECT name, server, description FROM tool_catalog_fts
      WHERE tool_catalog_fts MATCH ? ORDER BY bm25(tool_catalog_fts, 0.0, 0.0, 4.0, 1.0) LIMIT ?`)
      .all(query, limit) as unknown as ToolSearchHit[];
  }

  /** How many tools are indexed (for status and tests). */
  size(): number {
    return (this.#database.prepare("SELECT COUNT(*) AS count FROM tool_catalog_fts").get() as { count: number }).count;
  }
}
