/**
 * A small Markdown reader for model replies: the subset models write in chat (bold, italic,
 * strike, inline code, fenced code blocks, links, bullet and numbered lists, headings, quotes).
 * Not CommonMark: no nesting of blocks, no tables (kept as text), no HTML. A marker that is not
 * closed on its line stays literal text, so a chunk cut by split-message.ts never yields a
 * half-open entity: each chunk is read and rendered on its own.
 */

export type Inline =
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "code"; readonly text: string }
  | { readonly type: "bold" | "italic" | "strike"; readonly children: readonly Inline[] }
  | { readonly type: "link"; readonly url: string; readonly children: readonly Inline[] };

export type Block =
  | { readonly type: "code"; readonly language: string; readonly text: string }
  | { readonly type: "heading"; readonly content: readonly Inline[] }
  | { readonly type: "item"; readonly indent: number; readonly marker: string; readonly ordered: boolean; readonly content: readonly Inline[] }
  | { readonly type: "quote"; readonly content: readonly Inline[] }
  | { readonly type: "rule" }
  | { readonly type: "line"; readonly content: readonly Inline[] };

const FENCE = /^\s{0,3}(`{3,}|~{3,})\s*([\w+#.-]*)[^\n`]*$/;

/** The reply as blocks, one per line (code blocks whole). */
export function parseMarkdown(markdown: string): Block[] {
  const lines = markdown.replace(/\r\n?/g, "\n").split("\n");
  const blocks: Block[] = [];
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!;
    const fence = FENCE.exec(line);
    if (fence) {
      const closing = new RegExp(`^\\s{0,3}${fence[1]![0] === "`" ? "`" : "~"}{${fence[1]!.length},}\\s*$`);
      const body: string[] = [];
      index++;
      while (index < lines.length && !closing.test(lines[index]!)) body.push(lines[index++]!);
      blocks.push({ type: "code", language: fence[2] ?? "", text: body.join("\n") });
      continue;
    }
    let match: RegExpExecArray | null;
    if ((match = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line))) blocks.push({ type: "heading", content: parseInline(match[1]!) });
    else if (/^\s{0,3}([-*_])(\s*\1){2,}\s*$/.test(line)) blocks.push({ type: "rule" });
    else if ((match = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/.exec(line))) {
      const ordered = /\d/.test(match[2]!);
      blocks.push({ type: "item", indent: match[1]!.replace(/\t/g, "  ").length, marker: match[2]!, ordered, content: parseInline(match[3]!) });
    } else if ((match = /^\s{0,3}>\s?(.*)$/.exec(line))) blocks.push({ type: "quote", content: parseInline(match[1]!) });
    else blocks.push({ type: "line", content: parseInline(line) });
  }
  return blocks;
}

const isWord = (character: string | undefined) => character !== undefined && /[\p{L}\p{N}_]/u.test(character);

/** Inline spans of one line. Unclosed markers are text; `\*` escapes a marker. */
export function parseInline(text: string): Inline[] {
  const nodes: Inline[] = [];
  let buffer = "";
  const flush = () => {
    if (buffer) nodes.push({ type: "text", text: buffer });
    buffer = "";
  };
  let index = 0;
  while (index < text.length) {
    const rest = text.slice(index);
    const previous = text[index - 1];
    let match: RegExpExecArray | null;
    if (rest[0] === "\\" && rest.length > 1 && /[\\`*_~[\]()#>+\-.!|]/.test(rest[1]!)) {
      buffer += rest[1];
      index += 2;
      continue;
    }
    if ((match = /^(`+)(?!`)([\s\S]*?[^`])\1(?!`)/.exec(rest))) {
      flush();
      const code = match[2]!;
      nodes.push({ type: "code", text: /^ .* $/.test(code) && code.trim() !== "" ? code.slice(1, -1) : code });
      index += match[0].length;
      continue;
    }
    if ((match = /^\[([^\]\n]+)\]\(\s*<?((?:https?:\/\/|mailto:|tg:\/\/)[^\s<>()]*(?:\([^\s<>()]*\)[^\s<>()]*)*)>?\s*\)/.exec(rest))) {
      flush();
      nodes.push({ type: "link", url: match[2]!, children: parseInline(match[1]!) });
      index += match[0].length;
      continue;
    }
    if ((match = /^(\*\*|__)(?=\S)((?:\\.|[^\\])*?[^\s\\])\1/.exec(rest)) && !(match[1] === "__" && (isWord(previous) || isWord(text[index + match[0].length])))) {
      flush();
      nodes.push({ type: "bold", children: parseInline(match[2]!) });
      index += match[0].length;
      continue;
    }
    if ((match = /^~~(?=\S)((?:\\.|[^\\])*?[^\s\\])~~/.exec(rest))) {
      flush();
      nodes.push({ type: "strike", children: parseInline(match[1]!) });
      index += match[0].length;
      continue;
    }
    // A lone star inside a word (2*3*4) is arithmetic, not emphasis.
    if (!isWord(previous) && ((match = /^\*(?=[^\s*])((?:\*\*[^*]+\*\*|\\.|[^*\\])*?[^\s*\\])\*(?!\*)/.exec(rest)) || (match = /^\*([^\s*\\])\*(?!\*)/.exec(rest)))) {
      flush();
      nodes.push({ type: "italic", children: parseInline(match[1]!) });
      index += match[0].length;
      continue;
    }
    if (!isWord(previous) && (match = /^_(?=[^\s_])((?:\\.|[^_\\])*?[^\s_\\]|[^\s_\\])_(?![\p{L}\p{N}_])/u.exec(rest))) {
      flush();
      nodes.push({ type: "italic", children: parseInline(match[1]!) });
      index += match[0].length;
      continue;
    }
    buffer += rest[0];
    index += 1;
  }
  flush();
  return nodes;
}

/** How a target writes each kind of span and block. */
export interface MarkdownStyle {
  text(text: string): string;
  code(text: string): string;
  bold(inner: string): string;
  italic(inner: string): string;
  strike(inner: string): string;
  /** `label` is already rendered; `plainLabel` is its bare text (to tell "url" from "text (url)"). */
  link(label: string, url: string, plainLabel: string): string;
  codeBlock(text: string, language: string): string;
  heading(inner: string): string;
  item(inner: string, marker: string, ordered: boolean, indent: number): string;
  /** Consecutive quote lines, already rendered, joined by "\n". */
  quote(inner: string): string;
  rule(): string;
}

/** The bare text of spans, without any marker. */
export function plainText(nodes: readonly Inline[]): string {
  return nodes.map((node) => (node.type === "text" || node.type === "code" ? node.text : plainText(node.children))).join("");
}

export function renderInline(nodes: readonly Inline[], style: MarkdownStyle): string {
  return nodes.map((node) => {
    switch (node.type) {
      case "text": return style.text(node.text);
      case "code": return style.code(node.text);
      case "bold": return style.bold(renderInline(node.children, style));
      case "italic": return style.italic(renderInline(node.children, style));
      case "strike": return style.strike(renderInline(node.children, style));
      case "link": return style.link(renderInline(node.children, style), node.url, plainText(node.children));
    }
  }).join("");
}

/** Markdown → the target's text, block by block; line breaks are kept as written. */
export function renderMarkdown(markdown: string, style: MarkdownStyle): string {
  const blocks = parseMarkdown(markdown);
  const out: string[] = [];
  for (let index = 0; index < blocks.length; index++) {
    const block = blocks[index]!;
    switch (block.type) {
      case "code": out.push(style.codeBlock(block.text, block.language)); break;
      case "heading": out.push(style.heading(renderInline(block.content, style))); break;
      case "item": out.push(style.item(renderInline(block.content, style), block.marker, block.ordered, block.indent)); break;
      case "rule": out.push(style.rule()); break;
      case "line": out.push(renderInline(block.content, style)); break;
      case "quote": {
        const lines = [renderInline(block.content, style)];
        while (blocks[index + 1]?.type === "quote") lines.push(renderInline((blocks[++index] as { content: readonly Inline[] }).content, style));
        out.push(style.quote(lines.join("\n")));
        break;
      }
    }
  }
  return out.join("\n");
}
