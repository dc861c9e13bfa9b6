import { formatPath, type ConfigProblem } from "./problems.ts";

const REFERENCE = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Replace `${env:NAME}` in every string of a parsed JSON value. A reference to a variable
 * that is not set is a problem at that path (the value is left as written).
 */
export function interpolateEnv(
  value: unknown,
  variables: Readonly<Record<string, string | undefined>>,
  problems: ConfigProblem[],
  path: PropertyKey[] = [],
): unknown {
  if (typeof value === "string") {
    return value.replace(REFERENCE, (whole, name: string) => {
      const resolved = variables[name];
      if (resolved === undefined) {
        problems.push({ path: formatPath(path), message: `environment variable ${name} is not set (referenced as ${whole})` });
        return whole;
      }
      return resolved;
    });
  }
  if (Array.isArray(value)) return value.map((item, index) => interpolateEnv(item, variables, problems, [...path, index]));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) out[key] = interpolateEnv(child, variables, problems, [...path, key]);
    return out;
  }
  return value;
}
