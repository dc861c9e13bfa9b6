/** pino's numeric levels by name, and back. */
export const LOG_LEVELS: Readonly<Record<string, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };
const LEVEL_NAMES = new Map(Object.entries(LOG_LEVELS).map(([name, value]) => [value, name]));

/** One log line as the API shows it. */
export interface LogEntry {
  /** Increases by one per line for the life of the process: `?since=` takes it. */
  readonly seq: number;
  readonly time: string;
  readonly level: string;
  readonly msg: string;
  /** The line's other fields (pid and hostname left out). */
  readonly fields: Readonly<Record<string, unknown>>;
}

export interface LogQuery {
  /** Only lines after this sequence number. */
  readonly since?: number;
  /** Only lines at this level or above. */
  readonly level?: string;
  /** At most this many (the newest). */
  readonly limit?: number;
}

export type LogListener = (entry: LogEntry) => void;

const OMIT = new Set(["level", "time", "msg", "pid", "hostname"]);

function toEntry(seq: number, line: string): LogEntry {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(line) as Record<string, unknown>;
  } catch {
    parsed = { level: 30, msg: line.trimEnd() };
  }
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed)) if (!OMIT.has(key)) fields[key] = value;
  return {
    seq,
    time: typeof parsed.time === "string" ? parsed.time : new Date(typeof parsed.time === "number" ? parsed.time : Date.now()).toISOString(),
    level: LEVEL_NAMES.get(parsed.level as number) ?? String(parsed.level ?? "info"),
    msg: typeof parsed.msg === "string" ? parsed.msg : "",
    fields,
  };
}

/**
 * The gateway's last N log lines in memory (a ring), as written — so already redacted by the
 * logger — for `GET /api/logs` and the dashboard. Lines are kept as text and parsed when read.
 */
export class LogBuffer {
  readonly capacity: number;
  readonly #lines: string[] = [];
  #first = 1; // seq of #lines[0]
  #start = 0; // ring index of the oldest line
  readonly #listeners = new Set<LogListener>();

  constructor(capacity = 2_000) {
    this.capacity = Math.max(1, Math.floor(capacity));
  }

  /** Sequence number of the newest line (0 when empty). */
  get last(): number {
    return this.#first + this.#lines.length - 1;
  }

  /** Add one serialized line (pino's JSON). */
  push(line: string): void {
    if (this.#lines.length < this.capacity) this.#lines.push(line);
    else {
      this.#lines[this.#start] = line;
      this.#start = (this.#start + 1) % this.capacity;
      this.#first++;
    }
    if (this.#listeners.size === 0) return;
    const entry = toEntry(this.last, line);
    for (const listener of this.#listeners) listener(entry);
  }

  /** Lines after `since`, at `level` or above, the newest `limit` of them, oldest first. */
  query(query: LogQuery = {}): LogEntry[] {
    const minimum = query.level ? LOG_LEVELS[query.level] ?? 0 : 0;
    const from = Math.max(this.#first, (query.since ?? 0) + 1);
    const entries: LogEntry[] = [];
    for (let seq = from; seq <= this.last; seq++) {
      const entry = toEntry(seq, this.#lines[(this.#start + seq - this.#first) % this.#lines.length]!);
      if ((LOG_LEVELS[entry.level] ?? 0) >= minimum) entries.push(entry);
    }
    return query.limit !== undefined && entries.length > query.limit ? entries.slice(entries.length - query.limit) : entries;
  }

  /** Called with every line pushed from now on; returns the unsubscribe function. */
  subscribe(listener: LogListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
