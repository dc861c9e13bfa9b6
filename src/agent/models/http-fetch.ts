/**
 * The `fetch` the model SDKs are given (their documented `fetch` client option), written on
 * node:http/node:https with keep-alive agents instead of Node's built-in fetch (undici).
 *
 * Why (measured with the agent bench's load, `--trace-gc-nvp`, CPU profiles): the built-in
 * fetch keeps ~40 KB per model call alive across young-generation GCs — every scavenge then
 * copied 7–10 MB and paused the gateway 5–15 ms, even at 300 turns/s — and its machinery was
 * about a sixth of a turn's CPU. Over node:http ~0.1 MB survives, a scavenge takes ~1 ms, and
 * the same gateway served ~1,900 instead of ~1,400 turns/s (50 sessions at once).
 *
 * What it does: http and https (system CAs, NODE_EXTRA_CA_CERTS); string and byte bodies;
 * `signal` (rejects with the signal's reason, as fetch does, before and during the response);
 * connection failures as `TypeError("fetch failed", { cause })`, as undici, so the SDKs
 * classify them the same; gzip/deflate/br response bodies decoded. JSON and other bodies are
 * read whole, then handed over; `text/event-stream` (and NDJSON) bodies are streamed as they arrive.
 * Anything else — a Request object, a streamed or form body, another protocol, an HTTP(S)
 * proxy in the environment — goes to the built-in fetch unchanged. Redirects are returned, not
 * followed (model APIs do not redirect).
 */
import http from "node:http";
import https from "node:https";
import { Readable } from "node:stream";
import { constants as zlibConstants, createBrotliDecompress, createGunzip, createInflate } from "node:zlib";

export interface HttpFetchOptions {
  /** Extra CA certificates for https (tests; production uses the system's and NODE_EXTRA_CA_CERTS). */
  ca?: string | Buffer;
  /** Fallback for what this fetch does not handle itself; default the built-in fetch. */
  fallback?: typeof globalThis.fetch;
}

const PROXY_VARIABLES = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"];
/** Responses that never carry a body (the Response constructor rejects one). */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);
/** Bodies handed over as they arrive (server-sent events; newline-delimited JSON some local servers stream). */
const STREAMED_TYPES = /^\s*(text\/event-stream|application\/(x-)?ndjson|application\/jsonl)\b/i;

type FetchInput = Parameters<typeof globalThis.fetch>[0];
type FetchInit = NonNullable<Parameters<typeof globalThis.fetch>[1]>;

export function createHttpFetch(options: HttpFetchOptions = {}): typeof globalThis.fetch {
  const fallback = options.fallback ?? globalThis.fetch;
  // LIFO reuse (Node's default): the busiest sockets stay warm, idle ones are closed by the server.
  const agents = {
    "http:": new http.Agent({ keepAlive: true }),
    "https:": new https.Agent({ keepAlive: true, ...(options.ca ? { ca: options.ca } : {}) }),
  };

  const fetchOverHttp = (input: FetchInput, init: FetchInit = {}): Promise<Response> => {
    const url = typeof input === "string" ? safeUrl(input) : input instanceof URL ? input : undefined;
    const body = init.body;
    const plainBody = body === undefined || body === null || typeof body === "string" || body instanceof Uint8Array || body instanceof ArrayBuffer;
    if (url === undefined || !(url.protocol === "http:" || url.protocol === "https:") || !plainBody || PROXY_VARIABLES.some((name) => process.env[name])) {
      return fallback(input, init);
    }
    const signal = init.signal ?? undefined;
    if (signal?.aborted) return Promise.reject(abortReason(signal));

    return new Promise<Response>((resolve, reject) => {
      const headers = requestHeaders(init.headers);
      const payload = body === undefined || body === null ? undefined : typeof body === "string" ? body : Buffer.from(body instanceof ArrayBuffer ? new Uint8Array(body) : body);
      if (payload !== undefined && !Object.keys(headers).some((name) => name.toLowerCase() === "content-length")) headers["content-length"] = String(Buffer.byteLength(payload));
      const method = (init.method ?? "GET").toUpperCase();
      let streaming: Readable | undefined;
      let settled = false;
      /** Settles the promise once; later outcomes (an error after the body, an abort after the end) are dropped. */
      const finish = (outcome: () => void): void => {
        if (settled) return;
        settled = true;
        outcome();
      };
      const onAbort = (): void => {
        const reason = abortReason(signal!);
        request.destroy();
        streaming?.destroy(reason instanceof Error ? reason : undefined);
        finish(() => reject(reason));
      };
      const release = (): void => signal?.removeEventListener("abort", onAbort);
      const fail = (error: unknown): void => {
        release();
        finish(() => reject(new TypeError("fetch failed", { cause: error })));
      };

      const request = (url.protocol === "https:" ? https : http).request(url, { method, agent: url.protocol === "https:" ? agents["https:"] : agents["http:"], headers }, (response) => {
        try {
          receive(response);
        } catch (error) {
          // A header value the Headers class rejects, a status Response refuses: a failed fetch, not a crash.
          request.destroy();
          fail(error);
        }
      });
      const receive = (response: http.IncomingMessage): void => {
        const status = response.statusCode ?? 0;
        const responseHeaders = new Headers();
        const raw = response.rawHeaders;
        for (let index = 0; index + 1 < raw.length; index += 2) responseHeaders.append(raw[index] as string, raw[index + 1] as string);
        // `response.url` stays "" (the SDKs only log it): giving Response an own property made
        // every turn measurably slower (the SDKs' code that handles it deoptimises).
        const build = (content: ConstructorParameters<typeof Response>[0]): Response =>
          new Response(NULL_BODY_STATUS.has(status) || method === "HEAD" ? null : content, { status, statusText: response.statusMessage ?? "", headers: responseHeaders });
        const decoded = decode(response, responseHeaders.get("content-encoding"));
        if (decoded !== response) responseHeaders.delete("content-encoding");
        if (STREAMED_TYPES.test(responseHeaders.get("content-type") ?? "")) {
          // Streamed: the abort listener stays until the stream ends, so a later abort still stops it.
          streaming = decoded;
          decoded.once("close", release);
          finish(() => resolve(build(Readable.toWeb(decoded) as ReadableStream<Uint8Array>)));
          return;
        }
        const chunks: Buffer[] = [];
        decoded.on("data", (chunk: Buffer) => chunks.push(chunk));
        decoded.once("end", () => {
          release();
          finish(() => resolve(build(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks))));
        });
        decoded.on("error", fail);
        // The connection closed before the body ended (without an error event): a failed fetch, never a hang.
        decoded.once("close", () => fail(new Error("the connection closed before the response ended")));
      };
      // `on`, not `once`: a second error event with no listener would crash the process.
      request.on("error", fail);
      signal?.addEventListener("abort", onAbort, { once: true });
      request.end(payload);
    });
  };
  return fetchOverHttp as typeof globalThis.fetch;
}

let shared: typeof globalThis.fetch | undefined;

/** One fetch (and so one pool of keep-alive connections) for every model client in the process. */
export function sharedHttpFetch(): typeof globalThis.fetch {
  return (shared ??= createHttpFetch());
}

function safeUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("This operation was aborted", "AbortError");
}

/**
 * The request headers as an object (names as given; a repeated name joined with ", ", as
 * Headers does). An object, not Node's raw [name, value] array: that form cost a third of the
 * throughput in the bench.
 */
function requestHeaders(init: FetchInit["headers"]): Record<string, string> {
  const headers: Record<string, string> = {};
  if (init === undefined || init === null) return headers;
  const pairs: Iterable<[string, string]> =
    init instanceof Headers ? init : Array.isArray(init) ? init.map(([name, value]) => [String(name), String(value)] as [string, string]) : Object.entries(init as Record<string, string>);
  for (const [name, value] of pairs) headers[name] = Object.hasOwn(headers, name) ? `${headers[name]}, ${value}` : String(value);
  return headers;
}

/** The response body with its content-encoding undone (fetch does this too). */
function decode(response: http.IncomingMessage, encoding: string | null): Readable {
  const codec = encoding?.trim().toLowerCase();
  const decoder =
    codec === "gzip" || codec === "x-gzip" ? createGunzip({ finishFlush: zlibConstants.Z_SYNC_FLUSH })
    : codec === "deflate" ? createInflate({ finishFlush: zlibConstants.Z_SYNC_FLUSH })
    : codec === "br" ? createBrotliDecompress({ finishFlush: zlibConstants.BROTLI_OPERATION_FLUSH })
    : undefined;
  if (decoder === undefined) return response;
  response.on("error", (error) => decoder.destroy(error));
  return response.pipe(decoder);
}
