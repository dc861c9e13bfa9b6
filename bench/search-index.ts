import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repairSearchIndex } from "../src/agent/sessions/search-index-repair.ts";
import { openDatabase } from "../src/state/index.ts";
import { formatMs, summarize, type BenchContext, type BenchModule, type BenchResult } from "./bench-module.ts";

const MESSAGES = 100_000;
const SESSIONS = 2_000;
const MISSING = 500;
const RUNS = 5;

/**
 * The start-up search-index repair (after kill -9) on a 100,000-message database (2,000
 * sessions × 50 messages, all indexed): when nothing is missing (every start), when the last
 * 500 messages are missing, and an empty index built whole.
 */
export const searchIndexBench: BenchModule = {
  name: "search-index",
  description: "start-up search-index repair on a 100k-message database",
  async run(context: BenchContext): Promise<BenchResult> {
    const scratch = await mkdtemp(join(tmpdir(), "faraday-bench-search-"));
    try {
      const database = await openDatabase(join(scratch, "faraday.sqlite"));
      context.log(`search-index: writing ${MESSAGES} messages`);
      database.exec("BEGIN");
      const session = database.prepare("INSERT INTO sessions (id, key, agent_id, channel, chat, created_at, updated_at, message_count) VALUES (?, ?, 'main', 'web', ?, ?, ?, ?)");
      const message = database.prepare("INSERT INTO messages (session_id, seq, role, content, created_at) VALUES (?, ?, ?, ?, ?)");
      const index = database.prepare("INSERT INTO messages_fts (content, session_id, seq) VALUES (?, ?, ?)");
      const perSession = MESSAGES / SESSIONS;
      const start = Date.parse("2026-01-01T00:00:00Z");
      // Sessions take turns, as busy chats do: message n of the whole database at start + n s.
      for (let n = 0; n < MESSAGES; n++) {
        const id = `session-${n % SESSIONS}`;
        const seq = Math.floor(n / SESSIONS) + 1;
        const at = new Date(start + n * 1000).toISOString();
        if (seq === 1) session.run(id, `main:web:${n % SESSIONS}`, String(n % SESSIONS), at, at, perSession);
        const content = `message ${n} about booking number ${n * 7} for the customer`;
        message.run(id, seq, n % 2 ? "assistant" : "user", content, at);
        index.run(content, id, seq);
      }
      database.exec(`UPDATE sessions SET updated_at = (SELECT MAX(created_at) FROM messages WHERE session_id = sessions.id)`);
      database.exec("COMMIT");
      const time = (work: () => number) => {
        const started = performance.now();
        const added = work();
        return { ms: performance.now() - started, added };
      };
      const none: number[] = [];
      const some: number[] = [];
      const whole: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        const clean = time(() => repairSearchIndex(database));
        if (clean.added !== 0) throw new Error(`repair added ${clean.added} rows to a complete index`);
        none.push(clean.ms);
        database.exec(`DELETE FROM messages_fts WHERE rowid > (SELECT MAX(rowid) FROM messages_fts) - ${MISSING}`);
        const repaired = time(() => repairSearchIndex(database));
        if (repaired.added !== MISSING) throw new Error(`repair added ${repaired.added} rows, expected ${MISSING}`);
        some.push(repaired.ms);
      }
      for (let run = 0; run < 2; run++) {
        database.exec("DELETE FROM messages_fts");
        const rebuilt = time(() => repairSearchIndex(database));
        if (rebuilt.added !== MESSAGES) throw new Error(`rebuild added ${rebuilt.added} rows`);
        whole.push(rebuilt.ms);
      }
      database.close();
      const nothing = summarize(none);
      const missing = summarize(some);
      const empty = summarize(whole);
      return {
        rows: [
          { figure: `search-index repair at start, 100k messages, none missing (median of ${RUNS})`, ours: `${nothing.median.toFixed(2)} ms`, anchor: "", target: "" },
          { figure: `  same, last ${MISSING} messages missing (median of ${RUNS})`, ours: `${missing.median.toFixed(1)} ms`, anchor: "", target: "" },
          { figure: "  same, empty index built whole (median of 2)", ours: formatMs(empty.median), anchor: "", target: "" },
        ],
        data: { messages: MESSAGES, sessions: SESSIONS, noneMissingMs: nothing, lastMissingMs: missing, emptyIndexMs: empty },
      };
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  },
};
