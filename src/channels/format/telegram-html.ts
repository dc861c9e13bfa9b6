import { renderMarkdown, type MarkdownStyle } from "./markdown.ts";

/** `<`, `>` and `&` as Telegram's HTML parse mode wants them (the only entities it needs). */
export function escapeTelegramHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

const attribute = (text: string) => escapeTelegramHtml(text).replace(/"/g, "&quot;");

/**
 * Telegram's HTML parse mode (the tags TDLib's `parse_html` accepts: b, i, s, code, pre,
 * a href, blockquote). Every tag is closed within the text given, so a chunk renders on its own.
 */
export const telegramHtmlStyle: MarkdownStyle = {
  text: escapeTelegramHtml,
  code: (text) => `<code>${escapeTelegramHtml(text)}</code>`,
  bold: (inner) => `<b>${inner}</b>`,
  italic: (inner) => `<i>${inner}</i>`,
  strike: (inner) => `<s>${inner}</s>`,
  link: (label, url) => `<a href="${attribute(url)}">${label}</a>`,
  codeBlock: (text, language) => language
    ? `<pre><code class="language-${attribute(language)}">${escapeTelegramHtml(text)}</code></pre>`
    : `<pre>${escapeTelegramHtml(text)}</pre>`,
  heading: (inner) => `<b>${inner}</b>`,
  item: (inner, marker, ordered, indent) => `${" ".repeat(indent)}${ordered ? marker : "•"} ${inner}`,
  quote: (inner) => `<blockquote>${inner}</blockquote>`,
  rule: () => "──────────",
};

/** The model's Markdown as Telegram HTML (send with `parse_mode: "HTML"`). */
export function markdownToTelegramHtml(markdown: string): string {
  return renderMarkdown(markdown, telegramHtmlStyle);
}
