/**
 * Telegram's `parse_mode: "HTML"`, ported from TDLib's `parse_html` and `decode_html_entity`
 * (tdlib/td `td/telegram/MessageEntity.cpp`, which the Bot API server calls for every text with
 * parse_mode HTML). Same accepted tags (a, b, strong, i, em, s, strike, del, u, ins, tg-spoiler,
 * tg-emoji, span class="tg-spoiler", pre, code class="language-…", blockquote), same error texts
 * and byte offsets; the Bot API prefixes them with "can't parse entities: ". What it refuses:
 * an unsupported start tag, an unclosed start/end tag, an end tag with nothing open, an end tag
 * that does not match the innermost open tag, a start tag never closed, a span without
 * class "tg-spoiler", an attribute without "=". Only `&lt; &gt; &amp; &quot;` and numeric
 * entities are decoded; any other `&` stays as it is. A link whose URL is not valid is dropped,
 * not refused (td's `LinkManager::get_checked_link`; approximated here by `new URL`).
 */
import type { MessageEntity } from "grammy/types";

const TAGS = new Set(["a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler", "tg-emoji", "span", "pre", "code", "blockquote"]);
const isSpace = (character: string | undefined) => character === " " || character === "\t" || character === "\r" || character === "\n";

/** Byte offset (UTF-8) of string index `index`, as td reports positions. */
const byteOffset = (text: string, index: number) => Buffer.byteLength(text.slice(0, index));

function decodeEntity(text: string, position: number): { code: number; end: number } | undefined {
  let end = position + 1;
  let code = 0;
  if (text[end] === "#") {
    end++;
    const hex = text[end] === "x";
    if (hex) end++;
    const start = end;
    const digit = hex ? /[0-9a-fA-F]/ : /[0-9]/;
    while (end < text.length && digit.test(text[end]!)) end++;
    if (end === start || end - start >= 10) return undefined;
    code = Number.parseInt(text.slice(start, end), hex ? 16 : 10);
    if (code === 0 || code >= 0x10ffff) return undefined;
  } else {
    const start = end;
    while (end < text.length && /[A-Za-z]/.test(text[end]!)) end++;
    const name = text.slice(start, end);
    const named: Record<string, number> = { lt: 60, gt: 62, amp: 38, quot: 34 };
    if (!(name in named)) return undefined;
    code = named[name]!;
  }
  if (text[end] === ";") end++;
  return { code, end };
}

/** Parse like TDLib: the plain text and its entities (UTF-16 offsets), or throw td's error text. */
export function parseTelegramHtml(input: string): { text: string; entities: MessageEntity[] } {
  let out = "";
  const entities: MessageEntity[] = [];
  const open: Array<{ tag: string; argument: string; offset: number }> = [];
  for (let index = 0; index < input.length; index++) {
    const character = input[index]!;
    if (character === "&") {
      const decoded = decodeEntity(input, index);
      if (decoded) {
        out += String.fromCodePoint(decoded.code);
        index = decoded.end - 1;
        continue;
      }
    }
    if (character !== "<") {
      out += character;
      continue;
    }
    const begin = index++;
    if (input[index] !== "/") {
      while (index < input.length && !isSpace(input[index]) && input[index] !== ">") index++;
      if (index >= input.length) throw new Error(`Unclosed start tag at byte offset ${byteOffset(input, begin)}`);
      const tag = input.slice(begin + 1, index).toLowerCase();
      if (!TAGS.has(tag)) throw new Error(`Unsupported start tag "${tag}" at byte offset ${byteOffset(input, begin)}`);
      let argument = "";
      while (input[index] !== ">") {
        while (index < input.length && isSpace(input[index])) index++;
        if (input[index] === ">") break;
        const nameStart = index;
        while (index < input.length && !isSpace(input[index]) && input[index] !== "=") index++;
        const name = input.slice(nameStart, index);
        if (name === "") throw new Error(`Empty attribute name in the tag "${tag}" at byte offset ${byteOffset(input, begin)}`);
        while (index < input.length && isSpace(input[index])) index++;
        if (input[index] !== "=") throw new Error(`Expected equal sign in declaration of an attribute of the tag "${tag}" at byte offset ${byteOffset(input, begin)}`);
        index++;
        while (index < input.length && isSpace(input[index])) index++;
        if (index >= input.length) throw new Error(`Unclosed start tag "${tag}" at byte offset ${byteOffset(input, begin)}`);
        let value = "";
        if (input[index] !== "'" && input[index] !== '"') {
          const tokenStart = index;
          while (index < input.length && /[A-Za-z0-9.-]/.test(input[index]!)) index++;
          value = input.slice(tokenStart, index).toLowerCase();
          if (!isSpace(input[index]) && input[index] !== ">") throw new Error(`Unexpected end of name token at byte offset ${byteOffset(input, tokenStart)}`);
        } else {
          const quote = input[index++];
          while (index < input.length && input[index] !== quote) {
            if (input[index] === "&") {
              const decoded = decodeEntity(input, index);
              if (decoded) {
                value += String.fromCodePoint(decoded.code);
                index = decoded.end;
                continue;
              }
            }
            value += input[index++];
          }
          if (input[index] === quote) index++;
        }
        if (index >= input.length) throw new Error(`Unclosed start tag at byte offset ${byteOffset(input, begin)}`);
        if (tag === "a" && name === "href") argument = value;
        else if (tag === "code" && name === "class" && value.startsWith("language-")) argument = value.slice(9);
        else if (tag === "span" && name === "class" && value.startsWith("tg-")) argument = value.slice(3);
        else if (tag === "tg-emoji" && name === "emoji-id") argument = value;
      }
      if (tag === "span" && argument !== "spoiler") throw new Error(`Tag "span" must have class "tg-spoiler" at byte offset ${byteOffset(input, begin)}`);
      open.push({ tag, argument, offset: out.length });
      continue;
    }
    if (open.length === 0) throw new Error(`Unexpected end tag at byte offset ${byteOffset(input, begin)}`);
    while (index < input.length && !isSpace(input[index]) && input[index] !== ">") index++;
    const endTag = input.slice(begin + 2, index).toLowerCase();
    while (index < input.length && isSpace(input[index])) index++;
    if (input[index] !== ">") throw new Error(`Unclosed end tag at byte offset ${byteOffset(input, begin)}`);
    const top = open.pop()!;
    if (endTag !== "" && endTag !== top.tag) throw new Error(`Unmatched end tag at byte offset ${byteOffset(input, begin)}, expected "</${top.tag}>", found "</${endTag}>"`);
    const length = out.length - top.offset;
    if (length <= 0) continue;
    const at = { offset: top.offset, length };
    switch (top.tag) {
      case "b": case "strong": entities.push({ type: "bold", ...at }); break;
      case "i": case "em": entities.push({ type: "italic", ...at }); break;
      case "s": case "strike": case "del": entities.push({ type: "strikethrough", ...at }); break;
      case "u": case "ins": entities.push({ type: "underline", ...at }); break;
      case "tg-spoiler": case "span": entities.push({ type: "spoiler", ...at }); break;
      case "blockquote": entities.push({ type: "blockquote", ...at }); break;
      case "tg-emoji": break;
      case "a": {
        const url = top.argument || out.slice(top.offset);
        if (URL.canParse(url)) entities.push({ type: "text_link", ...at, url });
        break;
      }
      case "code": {
        const last = entities.at(-1);
        if (last?.type === "pre" && last.offset === at.offset && last.length === length && top.argument) (last as { language?: string }).language = top.argument;
        else entities.push({ type: "code", ...at, ...(top.argument ? { language: top.argument } : {}) } as MessageEntity);
        break;
      }
      case "pre": {
        const last = entities.at(-1) as (MessageEntity & { language?: string }) | undefined;
        if (last?.type === "code" && last.offset === at.offset && last.length === length && last.language) {
          entities[entities.length - 1] = { type: "pre", ...at, language: last.language };
        } else entities.push({ type: "pre", ...at });
        break;
      }
    }
  }
  if (open.length > 0) throw new Error(`Can't find end tag corresponding to start tag ${open.at(-1)!.tag}`);
  for (const entity of entities) if (entity.type === "code" && "language" in entity) delete (entity as { language?: string }).language;
  entities.sort((a, b) => a.offset - b.offset || b.length - a.length);
  return { text: out, entities };
}
