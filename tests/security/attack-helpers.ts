/**
 * Tools for attacking a running server the way the outside review did: raw HTTP requests (node:http
 * sends the path byte for byte — fetch() would normalise `/./`, `/x/../` and the case of escapes),
 * path variants that a router may decode to the same route, and a tally of attempts per class.
 */
import { request as httpRequest } from "node:http";

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

/** One request to 127.0.0.1:port with `path` and `headers` exactly as given (Host included). */
export function rawRequest(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest({
      host: "127.0.0.1",
      port,
      method,
      path,
      headers: { host: `127.0.0.1:${port}`, ...headers, ...(body !== undefined ? { "content-length": String(Buffer.byteLength(body)) } : {}) },
      agent: false,
    }, (response) => {
      let text = "";
      response.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, text }));
      response.on("error", reject);
    });
    outgoing.setTimeout(10_000, () => outgoing.destroy(new Error(`no answer to ${method} ${path} in 10 s`)));
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

/** A concrete path for a route pattern: `:param` → a harmless value, `*` → `wildcard`. */
export function concretePath(url: string, values: Readonly<Record<string, string>> = {}): string {
  return url
    .replace(/:([A-Za-z0-9_]+)/g, (_match, name: string) => values[name] ?? `x${name}`)
    .replace(/\*/g, values["*"] ?? "wildcard");
}

const hex = (character: string) => `%${character.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`;

/**
 * The variants of `path` that must get the plain path's answer (or 404), never more:
 * - `decodesToSame`: each character percent-encoded in turn (upper- and lower-case hex), and all
 *   of them at once: a router that decodes sees the plain path, so auth must say the same;
 * - `other`: doubled slashes, `/./`, `/x/../`, mixed case, an encoded slash, a trailing `%00`,
 *   a trailing `;`/`?` and `#`: each either reaches the same route or none.
 */
export function pathVariants(path: string): { decodesToSame: string[]; other: string[] } {
  const decodesToSame = new Set<string>();
  for (let index = 0; index < path.length; index++) {
    const character = path[index]!;
    if (character === "/") continue;
    const encoded = hex(character);
    decodesToSame.add(path.slice(0, index) + encoded + path.slice(index + 1));
    decodesToSame.add(path.slice(0, index) + encoded.toLowerCase() + path.slice(index + 1));
  }
  decodesToSame.add(path.split("/").map((segment) => [...segment].map(hex).join("")).join("/"));
  decodesToSame.delete(path);

  const segments = path.split("/").filter(Boolean);
  const other = new Set<string>([
    `/${path}`,
    path.replace(/\//g, "//"),
    `/.${path}`,
    `/x/..${path}`,
    path.replace(/^\/([^/]+)/, "/$1/."),
    path.toUpperCase(),
    path.replace(/[a-z]/, (character) => character.toUpperCase()),
    `${path}%00`,
    `${path}/`,
    `${path}?`,
    `${path};`,
    `${path}#fragment`,
    segments.length > 1 ? `/${segments[0]}%2F${segments.slice(1).join("/")}` : `${path}%2F`,
    segments.length > 1 ? `/${segments[0]}%2f${segments.slice(1).join("/")}` : `${path}%2f`,
    path.replace(/^\//, "/%2E/"),
    path.replace(/^\//, "/%2e%2e/"),
  ]);
  other.delete(path);
  return { decodesToSame: [...decodesToSame], other: [...other] };
}

/** Attempts per class, printed at the end of a test file for the note. */
export class AttemptTally {
  readonly #counts = new Map<string, number>();

  add(kind: string, count = 1): void {
    this.#counts.set(kind, (this.#counts.get(kind) ?? 0) + count);
  }

  total(): number {
    return [...this.#counts.values()].reduce((sum, count) => sum + count, 0);
  }

  /** One line per class and a total, e.g. `path variants: 812`. */
  report(title: string): string {
    const lines = [...this.#counts.entries()].map(([kind, count]) => `  ${kind}: ${count}`);
    return `${title}: ${this.total()} attempts\n${lines.join("\n")}`;
  }
}
