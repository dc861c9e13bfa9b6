import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { FaradayConfig } from "./schema.ts";
import { interpolateEnv } from "./interpolate.ts";
import { formatPath, type ConfigProblem } from "./problems.ts";
import { structureProblems } from "./structure.ts";

export const CONFIG_FILE_NAME = "openclaw.json";

/**
 * What the gateway knows about its config file. `missing`: no file; `invalid`: it exists but
 * has problems (the gateway serves in setup mode); `valid`: `config` is the frozen result.
 */
export type ConfigState =
  | { readonly state: "missing"; readonly path: string; readonly problems: readonly []; readonly warnings: readonly [] }
  | { readonly state: "invalid"; readonly path: string; readonly problems: readonly ConfigProblem[]; readonly warnings: readonly ConfigProblem[]; readonly raw?: unknown }
  | { readonly state: "valid"; readonly path: string; readonly config: Readonly<FaradayConfig>; readonly raw: unknown; readonly problems: readonly []; readonly warnings: readonly ConfigProblem[] };

/** The config file's path inside a state directory. */
export function configPath(stateDir: string): string {
  return join(stateDir, CONFIG_FILE_NAME);
}

/** Read and validate `openclaw.json` from a state directory. Never throws for bad content. */
export async function loadConfigFile(
  path: string,
  variables: Readonly<Record<string, string | undefined>>,
): Promise<ConfigState> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { state: "missing", path, problems: [], warnings: [] };
    return {
      state: "invalid",
      path,
      problems: [{ path: "", message: `cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)}); check its permissions` }],
      warnings: [],
    };
  }
  // A UTF-8 byte order mark (Windows editors add one) is not content.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { state: "invalid", path, problems: [{ path: "", message: `not valid JSON: ${(error as Error).message}` }], warnings: [] };
  }
  return validateConfig(raw, variables, path);
}

/**
 * Validate a parsed config object: interpolate `${env:NAME}`, check it against the schema.
 * Unknown keys become warnings and are dropped; everything else wrong is a problem with its path.
 */
export async function validateConfig(
  raw: unknown,
  variables: Readonly<Record<string, string | undefined>>,
  path = "",
): Promise<ConfigState> {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return { state: "invalid", path, raw, problems: [{ path: "", message: "expected a JSON object at the top level" }], warnings: [] };
  }
  // Depth and prototype keys first: everything below walks the value recursively.
  const structural = structureProblems(raw);
  // Not kept as `raw`: GET /api/config would walk it (and copy `__proto__` into a prototype).
  if (structural.length > 0) return { state: "invalid", path, problems: structural, warnings: [] };
  const problems: ConfigProblem[] = [];
  const interpolated = interpolateEnv(raw, variables, problems);
  problems.push(...crossReferenceProblems(interpolated as Record<string, unknown>));
  const [{ configSchema }, { knownKeysAt, suggestClosest }] = await Promise.all([import("./schema.ts"), import("./did-you-mean.ts")]);
  const warnings: ConfigProblem[] = [];
  let candidate = interpolated;
  // Two passes at most: the first finds unknown keys (warnings), the second validates without them.
  for (let pass = 0; pass < 2; pass++) {
    const result = configSchema.safeParse(candidate, { reportInput: true });
    if (result.success) {
      if (problems.length > 0) return { state: "invalid", path, raw, problems, warnings };
      return { state: "valid", path, raw, config: deepFreeze(result.data), problems: [], warnings };
    }
    const unknown = result.error.issues.filter((issue) => issue.code === "unrecognized_keys");
    const others = result.error.issues.filter((issue) => issue.code !== "unrecognized_keys");
    if (pass === 0 && unknown.length > 0) {
      candidate = structuredClone(candidate);
      for (const issue of unknown) {
        const parent = resolve(candidate, issue.path);
        const known = knownKeysAt(configSchema, issue.path);
        for (const key of (issue as { keys: string[] }).keys) {
          const suggestion = suggestClosest(key, known);
          warnings.push({ path: formatPath([...issue.path, key]), message: suggestion ? `unknown key, ignored: did you mean "${suggestion}"?` : "unknown key, ignored (check the spelling)" });
          if (parent) delete parent[key];
        }
      }
      if (others.length === 0) continue;
    }
    for (const issue of others) problems.push({ path: formatPath(issue.path), message: describeIssue(issue) });
    return { state: "invalid", path, raw, problems, warnings };
  }
  return { state: "invalid", path, raw, problems: [{ path: "", message: "config could not be validated" }], warnings };
}

/**
 * Checks that span several keys (unique agent ids, one default, bindings naming real agents).
 * Run on the raw object so they are reported together with the schema's problems.
 */
function crossReferenceProblems(config: Record<string, unknown>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const agents = (config.agents as { list?: unknown } | undefined)?.list;
  const list = Array.isArray(agents) ? (agents as Array<{ id?: unknown; default?: unknown }>) : [];
  const seen = new Set<string>();
  list.forEach((entry, index) => {
    if (typeof entry?.id !== "string") return;
    if (seen.has(entry.id)) problems.push({ path: `agents.list[${index}].id`, message: `duplicate agent id "${entry.id}"` });
    seen.add(entry.id);
  });
  if (list.filter((entry) => entry?.default === true).length > 1) {
    problems.push({ path: "agents.list", message: "more than one agent has default: true; keep one" });
  }
  const bindings = config.bindings;
  if (Array.isArray(bindings) && seen.size > 0) {
    bindings.forEach((binding: { agentId?: unknown }, index) => {
      if (typeof binding?.agentId === "string" && !seen.has(binding.agentId)) {
        problems.push({ path: `bindings[${index}].agentId`, message: `no agent "${binding.agentId}" in agents.list (known: ${[...seen].join(", ")})` });
      }
    });
  }
  return problems;
}

function resolve(root: unknown, path: ReadonlyArray<PropertyKey>): Record<string, unknown> | undefined {
  let node: unknown = root;
  for (const segment of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[segment];
  }
  return node !== null && typeof node === "object" ? (node as Record<string, unknown>) : undefined;
}

interface IssueLike {
  code: string;
  message: string;
  values?: unknown[];
  expected?: string;
  input?: unknown;
}

function describeIssue(issue: IssueLike): string {
  if (issue.code === "invalid_value" && Array.isArray(issue.values)) {
    return `expected one of ${issue.values.map(String).join("|")}`;
  }
  if (issue.code === "invalid_type" && issue.expected) {
    const received = issue.input === undefined ? "nothing" : Array.isArray(issue.input) ? "array" : issue.input === null ? "null" : typeof issue.input;
    return received === "nothing" ? `required (expected ${issue.expected})` : `expected ${issue.expected}, got ${received}`;
  }
  if (issue.code === "invalid_union") return "does not match any accepted form";
  return issue.message.charAt(0).toLowerCase() + issue.message.slice(1);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
