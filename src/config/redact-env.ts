const REFERENCE = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Names of the environment variables a config as written references (`${env:NAME}`). */
export function referencedVariables(raw: unknown, names = new Set<string>()): Set<string> {
  if (typeof raw === "string") for (const match of raw.matchAll(REFERENCE)) names.add(match[1]!);
  else if (Array.isArray(raw)) for (const item of raw) referencedVariables(item, names);
  else if (raw !== null && typeof raw === "object") for (const child of Object.values(raw)) referencedVariables(child, names);
  return names;
}

/**
 * `text` with the value of every variable the config references put back as `${env:NAME}`, so a
 * message built from the resolved config (an agent id, a model name) never shows what a
 * reference resolved to. Values shorter than 4 characters are left (they would mangle words).
 */
export function redactEnvValues(text: string, raw: unknown, variables: Readonly<Record<string, string | undefined>>): string {
  const values = [...referencedVariables(raw)]
    .map((name) => [name, variables[name]] as const)
    .filter((entry): entry is readonly [string, string] => entry[1] !== undefined && entry[1].length >= 4)
    .sort((a, b) => b[1].length - a[1].length);
  return values.reduce((result, [name, value]) => result.split(value).join(`\${env:${name}}`), text);
}
