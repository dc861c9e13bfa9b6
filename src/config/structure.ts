import { formatPath, type ConfigProblem } from "./problems.ts";

/** Nesting deeper than this is refused; a real `openclaw.json` is under 10 levels deep. */
export const MAX_CONFIG_DEPTH = 32;

/**
 * Keys refused anywhere in the config. `__proto__` in parsed JSON is an own key, but copying it
 * (`out[key] = …`, as every later step does) sets the copy's prototype instead: under `tools` it
 * silently turned every tool into `auto` and vanished from `GET /api/config`.
 */
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/**
 * Problems with the shape of a parsed config that must be caught before anything walks it
 * recursively: nesting deeper than `maxDepth` (a 5,000-deep body overflowed the stack) and
 * prototype keys. Iterative, so it is safe on any input. Empty when the shape is fine.
 */
export function structureProblems(root: unknown, maxDepth = MAX_CONFIG_DEPTH): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const stack: Array<{ value: unknown; path: PropertyKey[] }> = [{ value: root, path: [] }];
  let visited = 0;
  while (stack.length > 0 && problems.length < 20) {
    const { value, path } = stack.pop()!;
    if (value === null || typeof value !== "object") continue;
    if (++visited > 1_000_000) {
      problems.push({ path: "", message: "the config has more than a million values; it cannot be a real openclaw.json" });
      break;
    }
    if (path.length >= maxDepth) {
      problems.push({ path: formatPath(path), message: `nested more than ${maxDepth} levels deep; a config is never this deep (remove the nesting)` });
      continue;
    }
    if (Array.isArray(value)) {
      for (let index = value.length - 1; index >= 0; index--) stack.push({ value: value[index], path: [...path, index] });
      continue;
    }
    const keys = Object.keys(value);
    for (let index = keys.length - 1; index >= 0; index--) {
      const key = keys[index]!;
      if (FORBIDDEN_KEYS.has(key)) {
        problems.push({ path: formatPath([...path, key]), message: `"${key}" is not allowed as a key (it would change how the config is read); remove it` });
        continue;
      }
      stack.push({ value: (value as Record<string, unknown>)[key], path: [...path, key] });
    }
  }
  return problems;
}
