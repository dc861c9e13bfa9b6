import { matchesGlob } from "./tool-naming.ts";
import type { ToolDescriptor } from "./tool-source.ts";

/** OpenAI Chat Completions refuses more tools than this in one request (400 `array_above_max_length`). */
export const MAX_TOOLS_PER_REQUEST = 128;
/** Tools sent per model call when the catalog is larger than this (`tools.workingSet.max`). */
export const DEFAULT_WORKING_SET_MAX = 40;
/** Turns a found tool stays without being used (`tools.workingSet.decayTurns`). */
export const DEFAULT_DECAY_TURNS = 8;
/**
 * Always sent (`tools.workingSet.core`): the memory tools and the read-only discovery tools that
 * tell the model where it is (which company, which plan, what the platform knows).
 */
export const DEFAULT_CORE_TOOLS: readonly string[] = [
  "memory_*",
  "*__list_my_companies",
  "*__get_plan_status",
  "*__query_favcrm_platform",
  "*__query_company_knowledge",
];
/** Sessions whose working sets are kept in memory (least recently active dropped first). */
const MAX_SESSIONS = 1_000;

/** `tools.workingSet` as configured (every key optional). */
export interface WorkingSetSettings {
  readonly core?: readonly string[] | undefined;
  readonly max?: number | undefined;
  readonly decayTurns?: number | undefined;
}

interface SessionTools {
  turn: number;
  /** Tool name → the turn it was last found or called in. */
  readonly used: Map<string, number>;
}

/**
 * Which tools each session's model sees. A small catalog (≤ max) is sent whole, as before; a
 * large one is cut to the core, `find_tools`, and the tools this session found or called
 * recently (most recent first), never more than `max` (itself never more than 128). A tool not
 * found or called for `decayTurns` turns leaves the set. Kept in memory: after a restart the
 * model finds what it needs again.
 */
export class WorkingSets {
  readonly #settings: () => WorkingSetSettings | undefined;
  readonly #sessions = new Map<string, SessionTools>();

  constructor(settings: () => WorkingSetSettings | undefined) {
    this.#settings = settings;
  }

  /** The effective limit: configured max (default 40), never above 128. */
  limit(): number {
    return Math.max(1, Math.min(this.#settings()?.max ?? DEFAULT_WORKING_SET_MAX, MAX_TOOLS_PER_REQUEST));
  }

  #session(sessionId: string): SessionTools {
    let session = this.#sessions.get(sessionId);
    if (session) {
      this.#sessions.delete(sessionId);
    } else {
      session = { turn: 0, used: new Map() };
    }
    this.#sessions.set(sessionId, session);
    if (this.#sessions.size > MAX_SESSIONS) this.#sessions.delete(this.#sessions.keys().next().value!);
    return session;
  }

  /** A new user turn: found tools age by one, and those unused for `decayTurns` turns are dropped. */
  beginTurn(sessionId: string): void {
    const session = this.#session(sessionId);
    session.turn += 1;
    const decayTurns = this.#settings()?.decayTurns ?? DEFAULT_DECAY_TURNS;
    for (const [name, turn] of session.used) if (session.turn - turn > decayTurns) session.used.delete(name);
  }

  /** Tools found (by `find_tools`) or called in this turn: in the set from the next model call. */
  use(sessionId: string, names: readonly string[]): void {
    const session = this.#session(sessionId);
    for (const name of names) {
      session.used.delete(name);
      session.used.set(name, session.turn);
    }
    // Bounded: the least recently used go first.
    while (session.used.size > MAX_TOOLS_PER_REQUEST) session.used.delete(session.used.keys().next().value!);
  }

  /** Names found or called recently in this session, most recent first. */
  active(sessionId: string): string[] {
    return [...(this.#sessions.get(sessionId)?.used.keys() ?? [])].reverse();
  }

  /** Whether the catalog is large enough to need a working set at all. */
  needed(catalogSize: number): boolean {
    return catalogSize > this.limit();
  }

  /**
   * The tools for one model call. `catalog` is every real tool; `finder` is `find_tools`, sent
   * (first) only when the catalog is cut. Membership: the core, then the most recently found or
   * called; order: `find_tools`, the core, the rest in catalog order — so the list (part of the
   * prompt-cache prefix) stays byte-identical while its members do not change.
   */
  select(sessionId: string, catalog: readonly ToolDescriptor[], finder: ToolDescriptor): ToolDescriptor[] {
    const limit = this.limit();
    if (catalog.length <= limit) return [...catalog];
    const patterns = this.#settings()?.core ?? DEFAULT_CORE_TOOLS;
    const core = catalog.filter((tool) => patterns.some((pattern) => matchesGlob(pattern, tool.name))).slice(0, limit - 1);
    const coreNames = new Set(core.map((tool) => tool.name));
    const listed = new Set(catalog.map((tool) => tool.name));
    const found = new Set<string>();
    for (const name of this.active(sessionId)) {
      if (1 + core.length + found.size >= limit) break;
      if (listed.has(name) && !coreNames.has(name)) found.add(name);
    }
    return [finder, ...core, ...catalog.filter((tool) => found.has(tool.name))];
  }
}
