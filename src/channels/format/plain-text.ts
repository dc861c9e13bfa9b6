import { renderMarkdown, type MarkdownStyle } from "./markdown.ts";

/** No markup at all: what Telegram gets when it refuses the HTML ("can't parse entities"). */
export const plainTextStyle: MarkdownStyle = {
  text: (text) => text,
  code: (text) => text,
  bold: (inner) => inner,
  italic: (inner) => inner,
  strike: (inner) => inner,
  link: (label, url, plainLabel) => (plainLabel === url ? url : `${label} (${url})`),
  codeBlock: (text) => text,
  heading: (inner) => inner,
  item: (inner, marker, ordered, indent) => `${" ".repeat(indent)}${ordered ? marker : "•"} ${inner}`,
  quote: (inner) => inner.split("\n").map((line) => `> ${line}`).join("\n"),
  rule: () => "──────────",
};

/** The model's Markdown with the markers taken out (links as "text (url)"). */
export function markdownToPlainText(markdown: string): string {
  return renderMarkdown(markdown, plainTextStyle);
}
