import { readFile } from "node:fs/promises";

const LINE = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/;

/** One value as written after `NAME=`: quoted (the text between the quotes) or bare. */
function readValue(text: string): string {
  const raw = text.trimStart();
  const quote = raw[0];
  if (quote === '"' || quote === "'" || quote === "`") {
    const end = raw.indexOf(quote, 1);
    const rest = end < 0 ? undefined : raw.slice(end + 1).trim();
    // Only a closed quote with nothing but a comment after it is a quoted value.
    if (rest !== undefined && (rest === "" || rest.startsWith("#"))) {
      const inner = raw.slice(1, end);
      return quote === '"' ? inner.replaceAll("\\n", "\n") : inner;
    }
  }
  // Bare: a comment starts at a `#` after whitespace (so `p@ss#word` keeps its `#`).
  const comment = /\s#/.exec(raw);
  return (comment ? raw.slice(0, comment.index) : raw).trimEnd();
}

/**
 * Parse a `.env` file the way dotenv does: `NAME=VALUE` lines, optional `export `, blank lines
 * and `#` lines skipped. A value in single quotes (or backticks) is taken literally — `#`, inner
 * quotes and spaces included; in double quotes the same, with `\n` meaning a line break. A bare
 * value is trimmed and ends at a ` #` comment. A later line for the same name wins.
 */
export function parseEnvFile(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const match = LINE.exec(line);
    if (!match) continue;
    values[match[1]!] = readValue(match[2]!);
  }
  return values;
}

export async function readEnvFile(path: string): Promise<Record<string, string>> {
  return parseEnvFile(await readFile(path, "utf8"));
}
