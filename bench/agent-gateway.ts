/**
 * Plumbing for bench/agent.ts and bench/channels.ts: a keep-alive /api/chat client, per-turn
 * timing of the in-process Anthropic fake, and /proc readings. Gateways come from
 * spawnGateway() in gateway-process.ts.
 */
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { readFile } from "node:fs/promises";
import { Agent, request, type IncomingMessage, type ServerResponse } from "node:http";
import { readProcessMemory, type GatewayProcess } from "./gateway-process.ts";


export interface ChatAnswer {
  status: number;
  body: { sessionId?: string; reply?: string; errorCode?: string; error?: { code?: string; message?: string } } | undefined;
  text: string;
  /** Client round trip: request() to the response's last byte, in ms. */
  rttMs: number;
}

/** A keep-alive POST /api/chat client: one socket per concurrent caller, reused. */
export class ChatClient {
  readonly #agent: Agent;
  readonly #port: number;
  readonly #token: string;

  constructor(port: number, token: string, maxSockets: number) {
    this.#port = port;
    this.#token = token;
    this.#agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: "lifo" });
  }

  chat(payload: { text: string; sessionId?: string }, timeoutMs = 30_000): Promise<ChatAnswer> {
    const body = JSON.stringify(payload);
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const outgoing = request(
        {
          host: "127.0.0.1",
          port: this.#port,
          path: "/api/chat",
          method: "POST",
          agent: this.#agent,
          timeout: timeoutMs,
          headers: {
            authorization: `Bearer ${this.#token}`,
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", reject);
          response.on("end", () => {
            const rttMs = performance.now() - started;
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: ChatAnswer["body"];
            try {
              parsed = JSON.parse(text) as ChatAnswer["body"];
            } catch {
              parsed = undefined;
            }
            resolve({ status: response.statusCode ?? 0, body: parsed, text, rttMs });
          });
        },
      );
      outgoing.on("timeout", () => outgoing.destroy(new Error(`POST /api/chat timed out after ${timeoutMs} ms`)));
      outgoing.on("error", reject);
      outgoing.end(body);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

/**
 * Times every response of the HTTP servers in this process (only the Anthropic fake runs
 * one): from the request's headers being parsed to `response.end()`, keyed by the turn tag
 * found in the response body (the echo step returns the user's text, which carries it).
 * Uses node:diagnostics_channel, so the fake itself is not touched.
 */
export class FakeTimer {
  readonly #pattern: RegExp;
  /** tag -> ms the fake spent on the model call that answered it. */
  readonly byTag = new Map<number, number>();
  /** Every timed response, tagged or not. */
  readonly all: number[] = [];
  readonly #onStart: (message: unknown) => void;

  constructor(pattern: RegExp) {
    this.#pattern = pattern;
    this.#onStart = (message: unknown) => {
      const { response } = message as { request: IncomingMessage; response: ServerResponse };
      const started = performance.now();
      const originalEnd = response.end as (...args: unknown[]) => ServerResponse;
      const timer = this;
      (response as unknown as { end: (...args: unknown[]) => ServerResponse }).end = function (this: ServerResponse, ...args: unknown[]) {
        const elapsed = performance.now() - started;
        timer.all.push(elapsed);
        const chunk = args[0];
        const text = typeof chunk === "string" ? chunk : Buffer.isBuffer(chunk) ? chunk.toString("utf8") : "";
        const match = timer.#pattern.exec(text);
        if (match !== null) timer.byTag.set(Number(match[1]), elapsed);
        return originalEnd.apply(this, args);
      };
    };
    subscribe("http.server.request.start", this.#onStart);
  }

  reset(): void {
    this.byTag.clear();
    this.all.length = 0;
  }

  stop(): void {
    unsubscribe("http.server.request.start", this.#onStart);
  }
}

/** CPU seconds (user + system) a process has used, from /proc/PID/stat (clock ticks of 1/100 s). */
export async function readProcessCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may hold spaces; the fields after its closing paren are fixed.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / 100;
}

/** Nearest-rank percentile of an unsorted list; NaN when empty. */
export function percentile(values: readonly number[], fraction: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[rank] as number;
}

/** Slope of the least-squares line through (x, y) points. */
export function slope(points: ReadonlyArray<{ x: number; y: number }>): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const meanX = points.reduce((sum, point) => sum + point.x, 0) / n;
  const meanY = points.reduce((sum, point) => sum + point.y, 0) / n;
  let numerator = 0;
  let denominator = 0;
  for (const point of points) {
    numerator += (point.x - meanX) * (point.y - meanY);
    denominator += (point.x - meanX) ** 2;
  }
  return denominator === 0 ? Number.NaN : numerator / denominator;
}

/** Runs `worker(index)` for index 0..count-1 with at most `concurrency` at once. */
export async function pool(count: number, concurrency: number, worker: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) {
      const index = next;
      next += 1;
      await worker(index);
    }
  });
  await Promise.all(lanes);
}

/**
 * Live heap of a gateway started with `--inspect-port=127.0.0.1:0`: SIGUSR1 opens its
 * inspector (nothing listens before), then over the DevTools protocol a full GC and
 * process.memoryUsage(), then VmRSS. Tells garbage the GC had not yet collected from memory
 * still held. Only for the end of a measurement: the inspector stays open afterwards.
 * Undefined when any step fails or takes over `timeoutMs`.
 */
export async function memoryAfterFullGc(
  gateway: GatewayProcess,
  timeoutMs = 10_000,
): Promise<{ rssBytes: number; heapUsedBytes: number; heapTotalBytes: number; externalBytes: number } | undefined> {
  const deadline = performance.now() + timeoutMs;
  gateway.child.kill("SIGUSR1");
  let url: string | undefined;
  while (url === undefined && performance.now() < deadline && gateway.exitStatus === undefined) {
    url = /Debugger listening on (ws:\/\/\S+)/.exec(gateway.outputTail())?.[1];
    if (url === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  if (url === undefined) return undefined;
  const socket = new WebSocket(url);
  const pending = new Map<number, (result: unknown) => void>();
  let nextId = 0;
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
  });
  const call = (method: string, params: Record<string, unknown> = {}): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = ++nextId;
      const timer = setTimeout(() => reject(new Error(`${method} timed out`)), Math.max(1, deadline - performance.now()));
      pending.set(id, (result) => {
        clearTimeout(timer);
        resolve(result);
      });
      socket.send(JSON.stringify({ id, method, params }));
    });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("inspector did not open")), Math.max(1, deadline - performance.now()));
      socket.addEventListener("open", () => (clearTimeout(timer), resolve()), { once: true });
      socket.addEventListener("error", () => (clearTimeout(timer), reject(new Error("inspector connection failed"))), { once: true });
    });
    await call("HeapProfiler.collectGarbage");
    const evaluated = (await call("Runtime.evaluate", { expression: "JSON.stringify(process.memoryUsage())", returnByValue: true })) as { result?: { value?: string } };
    const usage = JSON.parse(evaluated.result?.value ?? "{}") as { heapUsed: number; heapTotal: number; external: number };
    const { rssBytes } = await readProcessMemory(gateway.pid);
    return { rssBytes, heapUsedBytes: usage.heapUsed, heapTotalBytes: usage.heapTotal, externalBytes: usage.external };
  } catch {
    return undefined;
  } finally {
    socket.close();
  }
}
