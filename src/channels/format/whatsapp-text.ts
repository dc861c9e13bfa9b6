import { renderMarkdown, type MarkdownStyle } from "./markdown.ts";

/**
 * WhatsApp's own markers (its "Format text" help): *bold*, _italic_, ~strike~, `inline code`,
 * ```monospace block```, "- " bullet and "1. " numbered lists, "> " quotes. No links with a
 * label: "text (url)", which WhatsApp makes tappable.
 */
export const whatsappStyle: MarkdownStyle = {
  text: (text) => text,
  code: (text) => `\`${text}\``,
  bold: (inner) => `*${inner}*`,
  italic: (inner) => `_${inner}_`,
  strike: (inner) => `~${inner}~`,
  link: (label, url, plainLabel) => (plainLabel === url ? url : `${label} (${url})`),
  codeBlock: (text) => `\`\`\`${text}\`\`\``,
  heading: (inner) => `*${inner}*`,
  item: (inner, marker, ordered, indent) => `${" ".repeat(indent)}${ordered ? marker : "-"} ${inner}`,
  quote: (inner) => inner.split("\n").map((line) => `> ${line}`).join("\n"),
  rule: () => "──────────",
};

/** The model's Markdown in WhatsApp's markers. */
export function markdownToWhatsApp(markdown: string): string {
  return renderMarkdown(markdown, whatsappStyle);
}
