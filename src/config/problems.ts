/** One thing wrong (or suspicious) in `openclaw.json`, located by its dotted path. */
export interface ConfigProblem {
  /** `channels.telegram.dmPolicy`, `agents.list[0].id`; empty for the whole file. */
  readonly path: string;
  readonly message: string;
}

/** `["agents","list",0,"id"]` → `agents.list[0].id`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out === "" ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

/** `channels.telegram.dmPolicy: expected one of …` — one line per problem. */
export function formatProblems(problems: ReadonlyArray<ConfigProblem>): string {
  return problems.map((problem) => `  ${problem.path || "(file)"}: ${problem.message}`).join("\n");
}
