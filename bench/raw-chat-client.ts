/**
 * A lean keep-alive HTTP/1.1 client for `POST /api/chat`, for bench/agent.ts: requests are
 * written as one string on a pooled TCP socket and responses parsed by hand (status line,
 * Content-Length or chunked body). Node's http client cost this bench ~0.4 ms of CPU per turn,
 * about as much as the gateway's whole turn; on a 2-core machine the load generator then took
 * the CPU the gateway needed, and its own event-loop queueing was counted as gateway latency.
 * Same answers as ChatClient (agent-gateway.ts); rttMs is from the write to the last byte.
 */
import { connect, type Socket } from "node:net";
import type { ChatAnswer } from "./agent-gateway.ts";

const HEADER_END = Buffer.from("\r\n\r\n");

interface Pending {
  started: number;
  resolve: (answer: ChatAnswer) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

class Connection {
  readonly socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #pending: Pending | undefined;
  #ready: Promise<void>;
  closed = false;
  keepAlive = true;

  constructor(port: number, onFree: (connection: Connection) => void) {
    this.socket = connect({ host: "127.0.0.1", port, noDelay: true });
    this.#ready = new Promise((resolve, reject) => {
      this.socket.once("connect", resolve);
      this.socket.once("error", reject);
    });
    this.socket.on("data", (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      const answer = this.#parse();
      if (answer === undefined) return;
      const pending = this.#pending;
      this.#pending = undefined;
      if (!pending) return;
      clearTimeout(pending.timer);
      pending.resolve(answer);
      if (this.keepAlive && !this.closed) onFree(this);
      else this.destroy();
    });
    const fail = (error: Error) => {
      this.closed = true;
      const pending = this.#pending;
      this.#pending = undefined;
      if (pending) {
        clearTimeout(pending.timer);
        pending.reject(error);
      }
    };
    this.socket.on("error", fail);
    this.socket.on("close", () => fail(new Error("the gateway closed the connection")));
  }

  async send(request: string, timeoutMs: number): Promise<ChatAnswer> {
    await this.#ready;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.destroy();
        reject(new Error(`POST /api/chat timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending = { started: performance.now(), resolve, reject, timer };
      this.socket.write(request);
    });
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }

  /** A whole response from the buffer (consumed), or undefined when more bytes are needed. */
  #parse(): ChatAnswer | undefined {
    const buffer = this.#buffer;
    const headerEnd = buffer.indexOf(HEADER_END);
    if (headerEnd === -1) return undefined;
    const head = buffer.toString("latin1", 0, headerEnd);
    const lines = head.split("\r\n");
    const status = Number(lines[0]?.split(" ")[1] ?? 0);
    let length: number | undefined;
    let chunked = false;
    this.keepAlive = true;
    for (let index = 1; index < lines.length; index += 1) {
      const line = lines[index]!;
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === "content-length") length = Number(value);
      else if (name === "transfer-encoding" && /chunked/i.test(value)) chunked = true;
      else if (name === "connection" && /close/i.test(value)) this.keepAlive = false;
    }
    const bodyStart = headerEnd + HEADER_END.length;
    let body: Buffer;
    let consumed: number;
    if (chunked) {
      const parts: Buffer[] = [];
      let offset = bodyStart;
      for (;;) {
        const lineEnd = buffer.indexOf("\r\n", offset);
        if (lineEnd === -1) return undefined;
        const size = Number.parseInt(buffer.toString("latin1", offset, lineEnd), 16);
        if (size === 0) {
          // "0\r\n", optional trailers, then an empty line.
          const end = buffer.indexOf(HEADER_END, lineEnd);
          if (end === -1) return undefined;
          consumed = end + HEADER_END.length;
          break;
        }
        if (buffer.length < lineEnd + 2 + size + 2) return undefined;
        parts.push(buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
        offset = lineEnd + 2 + size + 2;
      }
      body = Buffer.concat(parts);
    } else {
      const bodyLength = length ?? 0;
      if (buffer.length < bodyStart + bodyLength) return undefined;
      body = buffer.subarray(bodyStart, bodyStart + bodyLength);
      consumed = bodyStart + bodyLength;
    }
    const rttMs = performance.now() - this.#pending!.started;
    this.#buffer = buffer.length > consumed ? buffer.subarray(consumed) : Buffer.alloc(0);
    const text = body.toString("utf8");
    let parsed: ChatAnswer["body"];
    try {
      parsed = JSON.parse(text) as ChatAnswer["body"];
    } catch {
      parsed = undefined;
    }
    return { status, body: parsed, text, rttMs };
  }
}

/** Keep-alive POST /api/chat over at most `maxSockets` pooled connections (a caller waits for a free one). */
export class RawChatClient {
  readonly #port: number;
  readonly #prefix: string;
  readonly #maxSockets: number;
  readonly #idle: Connection[] = [];
  readonly #all = new Set<Connection>();
  readonly #waiting: Array<(connection: Connection) => void> = [];

  constructor(port: number, token: string, maxSockets: number) {
    this.#port = port;
    this.#maxSockets = maxSockets;
    this.#prefix = `POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nAccept: application/json\r\nConnection: keep-alive\r\n`;
  }

  async chat(payload: { text: string; sessionId?: string }, timeoutMs = 30_000): Promise<ChatAnswer> {
    const body = JSON.stringify(payload);
    const connection = await this.#acquire();
    try {
      return await connection.send(`${this.#prefix}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`, timeoutMs);
    } catch (error) {
      connection.destroy();
      this.#all.delete(connection);
      this.#handOver();
      throw error;
    }
  }

  #acquire(): Promise<Connection> {
    let connection = this.#idle.pop();
    while (connection?.closed) {
      this.#all.delete(connection);
      connection = this.#idle.pop();
    }
    if (connection) return Promise.resolve(connection);
    if (this.#all.size >= this.#maxSockets) {
      for (const existing of this.#all) if (existing.closed) this.#all.delete(existing);
    }
    if (this.#all.size < this.#maxSockets) {
      const created = new Connection(this.#port, (free) => this.#release(free));
      this.#all.add(created);
      return Promise.resolve(created);
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #release(connection: Connection): void {
    const waiter = this.#waiting.shift();
    if (waiter) waiter(connection);
    else this.#idle.push(connection);
  }

  /** A connection was dropped: a waiting caller gets a new one. */
  #handOver(): void {
    const waiter = this.#waiting.shift();
    if (!waiter) return;
    const created = new Connection(this.#port, (free) => this.#release(free));
    this.#all.add(created);
    waiter(created);
  }

  close(): void {
    for (const connection of this.#all) connection.destroy();
    this.#all.clear();
    this.#idle.length = 0;
  }
}
