/**
 * Split a reply into messages of at most `limit` UTF-16 units (Telegram 4096, Discord 2000,
 * WhatsApp 4000): on a paragraph break, else a line break, else a space, else hard — never
 * inside a surrogate pair, and a code fence cut in two is closed and reopened so both halves
 * render as code.
 */
export function splitMessage(text: string, limit: number): string[] {
  if (limit < 16) throw new RangeError("limit too small");
  const chunks: string[] = [];
  let rest = text.trim();
  let openFence: string | null = null;
  while (rest.length > 0) {
    const prefix = openFence ? `${openFence}\n` : "";
    const budget = limit - prefix.length - 4; // room to close a fence ("\n```")
    if (prefix.length + rest.length <= limit) {
      chunks.push(prefix + rest);
      break;
    }
    let cut = bestCut(rest, budget);
    let piece = rest.slice(0, cut);
    // Never leave a lone high surrogate at the end of a piece.
    if (/[\uD800-\uDBFF]$/.test(piece)) {
      cut -= 1;
      piece = rest.slice(0, cut);
    }
    const fence = fenceStateAfter(piece, openFence);
    chunks.push(prefix + piece.replace(/\s+$/, "") + (fence ? "\n```" : ""));
    openFence = fence;
    rest = rest.slice(cut).replace(/^\s+/, "");
  }
  return chunks.filter((chunk) => chunk.trim() !== "");
}

function bestCut(text: string, budget: number): number {
  const window = text.slice(0, budget + 1);
  for (const separator of ["\n\n", "\n", " "]) {
    const index = window.lastIndexOf(separator);
    if (index > budget / 3) return index + separator.length;
  }
  return budget;
}

/** The fence opener (e.g. "```ts") still open after `piece`, given the one open before it. */
function fenceStateAfter(piece: string, open: string | null): string | null {
  let state = open;
  for (const match of piece.matchAll(/^```[^\n`]*$/gm)) state = state ? null : match[0];
  return state;
}
