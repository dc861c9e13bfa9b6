import { readFile } from "node:fs/promises";

/** Parse a `.env` file: NAME=VALUE lines, `#` comments, optional quotes, `export ` prefix. */
export function parseEnvFile(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) continue;
    let value = match[2]!.trim();
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) value = value.slice(1, -1);
    values[match[1]!] = value;
  }
  return values;
}

export async function readEnvFile(path: string): Promise<Record<string, string>> {
  return parseEnvFile(await readFile(path, "utf8"));
}
