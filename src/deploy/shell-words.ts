/**
 * Splits a command line into words the way a POSIX shell does for a simple command: blanks
 * separate words, single quotes are literal, double quotes keep blanks and honour `\` before
 * `$`, `` ` ``, `"`, `\` and newline, a bare `\` escapes the next character. No expansion,
 * no operators: `a && b` gives the words `a`, `&&`, `b`. Used for fly.toml process lines
 * (flyctl splits them the same way) and Dockerfile shell-form commands.
 *
 * An unterminated quote ends the last word at the end of the text rather than throwing:
 * the caller is a consistency check that reports what it can read.
 */
export function splitShellWords(text: string): string[] {
  const words: string[] = [];
  let current = "";
  let inWord = false;
  let index = 0;
  while (index < text.length) {
    const character = text[index] as string;
    if (character === " " || character === "\t" || character === "\n") {
      if (inWord) words.push(current);
      current = "";
      inWord = false;
      index += 1;
      continue;
    }
    inWord = true;
    if (character === "'") {
      const end = text.indexOf("'", index + 1);
      const stop = end === -1 ? text.length : end;
      current += text.slice(index + 1, stop);
      index = stop + 1;
    } else if (character === '"') {
      index += 1;
      while (index < text.length && text[index] !== '"') {
        const inner = text[index] as string;
        const next = text[index + 1];
        if (inner === "\\" && next !== undefined && '$`"\\\n'.includes(next)) {
          if (next !== "\n") current += next;
          index += 2;
        } else {
          current += inner;
          index += 1;
        }
      }
      index += 1;
    } else if (character === "\\") {
      const next = text[index + 1];
      if (next !== undefined && next !== "\n") current += next;
      index += 2;
    } else {
      current += character;
      index += 1;
    }
  }
  if (inWord) words.push(current);
  return words;
}
