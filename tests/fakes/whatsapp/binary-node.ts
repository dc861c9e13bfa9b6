/**
 * Small helpers over Baileys' `BinaryNode` ({tag, attrs, content}) for the WhatsApp fake.
 * Content is a list of child nodes, bytes (decoded as Buffer), or a string (a dictionary token).
 */
import type { BinaryNode } from "baileys";

/** The server's own JID as it appears in `from` attributes. */
export const SERVER_JID = "s.whatsapp.net";

export function children(node: BinaryNode | undefined, tag?: string): BinaryNode[] {
  if (!node || !Array.isArray(node.content)) return [];
  return tag ? node.content.filter((child) => child.tag === tag) : node.content;
}

export function child(node: BinaryNode | undefined, tag: string): BinaryNode | undefined {
  return children(node, tag)[0];
}

/** Content as bytes (strings are UTF-8 encoded), or undefined for child lists / no content. */
export function bytes(node: BinaryNode | undefined): Buffer | undefined {
  if (!node) return undefined;
  if (node.content instanceof Uint8Array) return Buffer.from(node.content);
  if (typeof node.content === "string") return Buffer.from(node.content, "utf8");
  return undefined;
}

export function text(node: BinaryNode | undefined): string | undefined {
  return bytes(node)?.toString("utf8");
}

/** Big-endian unsigned integer from a child's bytes (registration ids, key ids). */
export function uintOf(node: BinaryNode | undefined): number | undefined {
  const value = bytes(node);
  if (!value || value.length === 0 || value.length > 6) return undefined;
  return value.readUIntBE(0, value.length);
}

export function node(tag: string, attrs: Record<string, string | undefined> = {}, content?: BinaryNode["content"]): BinaryNode {
  const cleanAttrs: Record<string, string> = {};
  for (const [key, value] of Object.entries(attrs)) if (value !== undefined) cleanAttrs[key] = value;
  return content === undefined ? { tag, attrs: cleanAttrs } : { tag, attrs: cleanAttrs, content };
}

/** `<iq type="result" id=… from="s.whatsapp.net">…</iq>`, the answer to a client query. */
export function iqResult(request: BinaryNode, content?: BinaryNode[]): BinaryNode {
  return node("iq", { type: "result", id: request.attrs.id, from: request.attrs.to === "@s.whatsapp.net" || !request.attrs.to ? SERVER_JID : request.attrs.to }, content);
}

/** `<iq type="error">` with `<error code text/>`; Baileys' `query()` turns it into a Boom with that status. */
export function iqError(request: BinaryNode, code: number, errorText: string): BinaryNode {
  return node("iq", { type: "error", id: request.attrs.id, from: SERVER_JID }, [node("error", { code: String(code), text: errorText })]);
}

export function unixSeconds(): string {
  return String(Math.floor(Date.now() / 1000));
}
