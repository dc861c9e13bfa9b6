/**
 * V8 flags for the gateway process that NODE_OPTIONS refuses. Node accepts only a handful of
 * V8 options in NODE_OPTIONS (`--max-old-space-size`, `--max-semi-space-size`, …); a word like
 * `--optimize-for-size` there makes every `node` in the container exit with "not allowed in
 * NODE_OPTIONS" — a crash loop. The Fly process line is fixed (`node dist/index.js gateway …`,
 * the Fly guide's), so such flags go in FARADAY_NODE_FLAGS instead and the entry point
 * re-executes itself with them (process.execve: same PID, so tini, signals and the state lock
 * see one process) before anything else loads.
 *
 * Only flags known to be safe are applied: a typo must not turn into "node: bad option" on every
 * boot. Unknown words are ignored and reported once the gateway logs (code NODE_FLAGS_IGNORED).
 */

export const NODE_FLAGS_ENV = "FARADAY_NODE_FLAGS";

/** V8 flags (as `node` takes them on its command line) that FARADAY_NODE_FLAGS may carry. */
export const SUPPORTED_NODE_FLAGS: ReadonlySet<string> = new Set([
  "--optimize-for-size",
  "--no-concurrent-recompilation",
  "--single-threaded-gc",
  "--single-threaded",
  "--max-lazy",
  "--lite-mode",
  "--no-opt",
]);

export interface NodeFlagsPlan {
  /** Every accepted flag, in the order given. */
  wanted: string[];
  /** Accepted flags this process does not run with yet (re-exec with these). */
  missing: string[];
  /** Words that are not supported flags; never applied. */
  ignored: string[];
}

/** Whether Node accepts the option `word` (`--name` or `--name=value`) in NODE_OPTIONS. */
export function allowedInNodeOptions(word: string, allowed: ReadonlySet<string> = process.allowedNodeEnvironmentFlags): boolean {
  return allowed.has(word.split("=", 1)[0] as string);
}

/** Whether `word` may be applied: a supported V8 flag, or a `--name=value` option Node also takes in NODE_OPTIONS. */
function supported(word: string, allowed: ReadonlySet<string>): boolean {
  if (SUPPORTED_NODE_FLAGS.has(word)) return true;
  // `--max-old-space-size=160` and friends: valid anywhere Node takes options.
  return word.startsWith("--") && word.includes("=") && allowedInNodeOptions(word, allowed);
}

export function planNodeFlags(
  value: string | undefined,
  execArgv: readonly string[],
  allowedInNodeOptions: ReadonlySet<string> = process.allowedNodeEnvironmentFlags,
): NodeFlagsPlan {
  const words = (value ?? "").split(/\s+/).filter((word) => word !== "");
  const wanted: string[] = [];
  const ignored: string[] = [];
  for (const word of words) (supported(word, allowedInNodeOptions) ? wanted : ignored).push(word);
  const missing = wanted.filter((flag) => !execArgv.includes(flag));
  return { wanted, missing, ignored };
}

export interface NodeFlagsReport {
  applied: string[];
  ignored: string[];
  /** Why the flags could not be applied (no process.execve on this platform, or it failed). */
  error?: string;
}

let report: NodeFlagsReport | undefined;

/** What FARADAY_NODE_FLAGS did for this process, for the gateway to log; undefined when unset. */
export function nodeFlagsReport(): NodeFlagsReport | undefined {
  return report;
}

/**
 * Re-executes this process with the flags FARADAY_NODE_FLAGS asks for, when it does not run
 * with them yet. Returns only when nothing needs doing or re-executing failed (then the gateway
 * runs without them and says so).
 */
export function applyNodeFlags(environment: NodeJS.ProcessEnv = process.env): void {
  const value = environment[NODE_FLAGS_ENV];
  if (value === undefined || value.trim() === "") return;
  const plan = planNodeFlags(value, process.execArgv);
  report = { applied: plan.wanted.filter((flag) => process.execArgv.includes(flag)), ignored: plan.ignored };
  if (plan.missing.length === 0) return;
  if (typeof process.execve !== "function") {
    report.error = "process.execve is not available on this platform";
    return;
  }
  try {
    // Node options before the script; the script and its arguments unchanged.
    process.execve(process.execPath, [process.execPath, ...plan.missing, ...process.execArgv, ...process.argv.slice(1)], environment);
  } catch (error) {
    report.error = (error as Error).message;
  }
}
