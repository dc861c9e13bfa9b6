/**
 * The provider-neutral script that drives the loopback model fakes
 * (`anthropic-fake.ts`, `openai-fake.ts`), and the `node:http` plumbing they share.
 *
 * A test enqueues steps; each model call consumes one (FIFO), and when the queue is
 * empty the default step answers (a plain "ok" unless changed). One script can drive
 * either fake: each one renders a step in its provider's real wire format.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** A tool call the scripted model makes. `id` defaults to a provider-style id (`toolu_…`, `call_…`). */
export type ToolCallSpec = {
  id?: string;
  name: string;
  arguments: Record<string, unknown>;
};

/**
 * Token counts to report instead of the derived ones. `inputTokens` means uncached input
 * (Anthropic's meaning); the OpenAI fake reports `prompt_tokens = inputTokens +
 * cacheReadInputTokens + cacheCreationInputTokens` and `cached_tokens = cacheReadInputTokens`.
 */
export type UsageSpec = {
  inputTokens?: number;
  outputTokens?: number;
  cacheReadInputTokens?: number;
  cacheCreationInputTokens?: number;
};

/**
 * An HTTP error the scripted model answers with, rendered in the provider's error shape.
 * `type`/`code`/`message` default per status. `contextTooLong` renders the provider's
 * "prompt too long" error (see {@link contextTooLong}). `midStream`: on a streaming request,
 * answer 200, stream the step's `text` (if any), then fail with an SSE error event.
 */
export type ModelErrorSpec = {
  status: number;
  retryAfter?: number;
  type?: string;
  code?: string;
  message?: string;
  contextTooLong?: { tokens?: number; maximum?: number };
  midStream?: boolean;
  headers?: Record<string, string>;
};

/**
 * Options any step may carry. `delayMs` holds the response before its first byte;
 * `chunkDelayMs` spaces out streamed events; `truncated` reports the output-limit stop
 * (`max_tokens` / `length`) instead of the normal one.
 */
export type StepOptions = {
  delayMs?: number;
  chunkDelayMs?: number;
  usage?: UsageSpec;
  truncated?: boolean;
};

/**
 * One scripted model turn. Which key is present says what kind it is:
 * `text` a plain reply; `toolCalls` one or more (parallel) tool calls with optional text;
 * `error` an HTTP error; `disconnect` drops the connection without answering;
 * a bare `{ delayMs }` answers like the default step, late.
 */
export type ModelStep =
  | (StepOptions & { text: string; toolCalls?: undefined; error?: undefined; disconnect?: undefined })
  | (StepOptions & { toolCalls: ToolCallSpec[]; text?: string; error?: undefined; disconnect?: undefined })
  | (StepOptions & { error: ModelErrorSpec; text?: string; toolCalls?: undefined; disconnect?: undefined })
  | (StepOptions & { disconnect: true; text?: undefined; toolCalls?: undefined; error?: undefined })
  | (StepOptions & { delayMs: number; text?: undefined; toolCalls?: undefined; error?: undefined; disconnect?: undefined });

/** A step, or a function that picks one from the request the fake received. */
export type ScriptStep = ModelStep | ((request: RecordedRequest) => ModelStep | Promise<ModelStep>);

/**
 * A request as the fake received it. `headers` have lower-case names; `body` is the parsed
 * JSON (null when the body is empty or not JSON). `rejected` holds the error message when
 * the fake refused the request (authentication or validation) without consuming a step.
 */
export type RecordedRequest = {
  method: string;
  path: string;
  headers: Record<string, string>;
  // Arbitrary provider JSON: `any` so tests can read into it without casts.
  body: any;
  rawBody: string;
  rejected?: string;
};

/** A running fake. `url` is the value to pass to the SDK as `baseURL`. */
export type ModelFake = {
  url: string;
  /** `http://127.0.0.1:<port>`, without any path. */
  origin: string;
  requests: RecordedRequest[];
  enqueue(...steps: ScriptStep[]): void;
  setDefault(step: ScriptStep): void;
  /** How many enqueued steps have not been consumed yet. */
  pendingSteps(): number;
  /** Stops listening and destroys open sockets and pending responses. Idempotent. */
  close(): Promise<void>;
};

export type ModelFakeOptions = {
  /** Answers when the queue is empty. Defaults to `{ text: "ok" }`. */
  defaultStep?: ScriptStep;
  /** When set, requests carrying another key get the provider's 401. */
  apiKey?: string;
  /** Reject malformed conversations the way the real API does (default true). */
  validate?: boolean;
  /** Model ids `GET /v1/models` lists besides the ones requested so far. */
  models?: string[];
  /**
   * Anthropic fake only: simulate prompt caching (see anthropic-fake.ts). `minimumTokens`: a
   * prefix shorter than this is never cached (Anthropic: 1,024 for Sonnet/Opus; default 1,024).
   */
  promptCache?: { minimumTokens?: number };
};

/** A step after functions, defaults and delays are resolved. */
export type ResolvedStep =
  | { kind: "reply"; text: string; toolCalls: ToolCallSpec[]; options: StepOptions }
  | { kind: "error"; error: ModelErrorSpec; text: string; options: StepOptions };

/** "Prompt too long" in each provider's words (Anthropic 400 `prompt is too long`, OpenAI `context_length_exceeded`). */
export function contextTooLong(tokens?: number, maximum = 200_000): ModelStep {
  return { error: { status: 400, contextTooLong: { maximum, ...(tokens === undefined ? {} : { tokens }) } } };
}

/** A 429 with a `retry-after` header in seconds. */
export function rateLimited(retryAfter = 1): ModelStep {
  return { error: { status: 429, retryAfter } };
}

/** The text of the last user message, from either provider's request shape ("" when none). */
export function lastUserText(request: RecordedRequest): string {
  const messages: unknown[] = Array.isArray(request.body?.messages) ? request.body.messages : [];
  for (let index = messages.length - 1; index >= 0; index -= 1) {
    const message = messages[index] as { role?: string; content?: unknown };
    if (message.role !== "user") continue;
    return contentText(message.content);
  }
  return "";
}

/** The gateway's `<turn_context>` block in the last user message ("" when none). */
export function lastTurnContext(request: RecordedRequest): string {
  const messages: unknown[] = Array.isArray(request.body?.messages) ? request.body.messages : [];
  for (let index = messages.length - 1; index >= 0; index -= 1) {
    const message = messages[index] as { role?: string; content?: unknown };
    if (message.role !== "user" || !Array.isArray(message.content)) continue;
    const block = (message.content as Array<{ type?: string; text?: unknown }>).find((part) => part?.type === "text" && typeof part.text === "string" && part.text.startsWith("<turn_context>"));
    if (block) return block.text as string;
  }
  return "";
}

/** A default step for load tests: answer with the last user message, instantly. */
export const echoLastUserMessage = (request: RecordedRequest): ModelStep => ({ text: lastUserText(request) });

/**
 * The tool results the request carries at its end, in either provider's shape: Anthropic
 * `tool_result` blocks in the last user message, or OpenAI's trailing `role: "tool"` messages.
 */
export function toolResults(request: RecordedRequest): Array<{ toolCallId: string; content: string; isError: boolean }> {
  const messages: Array<{ role?: string; content?: unknown; tool_call_id?: string }> = Array.isArray(
    request.body?.messages,
  )
    ? request.body.messages
    : [];
  const results: Array<{ toolCallId: string; content: string; isError: boolean }> = [];
  const last = messages.at(-1);
  if (last?.role === "user" && Array.isArray(last.content)) {
    for (const block of last.content as Array<Record<string, unknown>>) {
      if (block.type !== "tool_result") continue;
      results.push({
        toolCallId: String(block.tool_use_id),
        content: contentText(block.content),
        isError: block.is_error === true,
      });
    }
    return results;
  }
  for (let index = messages.length - 1; index >= 0 && messages[index]?.role === "tool"; index -= 1) {
    const message = messages[index]!;
    results.unshift({ toolCallId: String(message.tool_call_id), content: contentText(message.content), isError: false });
  }
  return results;
}

/**
 * The text of a message's content (string, or text blocks/parts joined), without the gateway's
 * `<turn_context>` block: the words the person wrote.
 */
function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter((part): part is { type: string; text: string } => part?.type === "text" && typeof part.text === "string" && !part.text.startsWith("<turn_context>"))
    .map((part) => part.text)
    .join("");
}

/** Splits text into at most `parts` pieces (by code point) that concatenate back to it. */
export function splitIntoChunks(text: string, parts = 3): string[] {
  const characters = Array.from(text);
  if (characters.length === 0) return [];
  const size = Math.ceil(characters.length / parts);
  const chunks: string[] = [];
  for (let start = 0; start < characters.length; start += size) {
    chunks.push(characters.slice(start, start + size).join(""));
  }
  return chunks;
}

/** A deterministic token estimate: one token per four characters, at least one. */
export function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

/** One request/response pair, as the provider fakes see it. */
export type Exchange = {
  request: RecordedRequest;
  sendJson(status: number, body: unknown, headers?: Record<string, string>): void;
  /** Sends the SSE response head; then `writeEvent` and `end`. */
  startEvents(headers?: Record<string, string>): void;
  /** Writes raw SSE text after waiting `delayMs`; false when the client is gone. */
  writeEvent(text: string, delayMs?: number): Promise<boolean>;
  end(): void;
  /** Consumes the next step, resolves it and waits out its delay; undefined when the exchange ended. */
  nextStep(): Promise<ResolvedStep | undefined>;
};

/** Starts a loopback server that hands each request to a provider's `handle`. */
export async function startScriptedServer(
  options: ModelFakeOptions,
  urlPath: string,
  handle: (exchange: Exchange) => Promise<void>,
): Promise<ModelFake> {
  const queue: ScriptStep[] = [];
  let defaultStep: ScriptStep = options.defaultStep ?? { text: "ok" };
  const requests: RecordedRequest[] = [];

  const server = createServer((incoming, response) => {
    void serve(incoming, response).catch((error: unknown) => {
      if (!response.headersSent) {
        response.writeHead(500, { "content-type": "text/plain" });
        response.end(`fake failed: ${error instanceof Error ? error.message : String(error)}`);
      } else {
        response.destroy();
      }
    });
  });

  async function serve(incoming: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString("utf8");
    const request: RecordedRequest = {
      method: incoming.method ?? "GET",
      path: incoming.url ?? "/",
      headers: Object.fromEntries(
        Object.entries(incoming.headers).map(([name, value]) => [
          name,
          Array.isArray(value) ? value.join(", ") : (value ?? ""),
        ]),
      ),
      body: parseJson(rawBody),
      rawBody,
    };
    requests.push(request);

    // Aborted when the client goes away, or when close() destroys the connection.
    const clientGone = new AbortController();
    response.on("close", () => {
      if (!response.writableFinished) clientGone.abort();
    });
    const signal = clientGone.signal;
    const usable = () => !signal.aborted && !response.destroyed && !response.writableEnded;

    const exchange: Exchange = {
      request,
      sendJson(status, body, headers = {}) {
        if (!usable()) return;
        const text = JSON.stringify(body);
        response.writeHead(status, {
          "content-type": "application/json",
          "content-length": String(Buffer.byteLength(text)),
          ...headers,
        });
        response.end(text);
      },
      startEvents(headers = {}) {
        if (!usable()) return;
        response.writeHead(200, {
          "content-type": "text/event-stream; charset=utf-8",
          "cache-control": "no-cache",
          connection: "keep-alive",
          ...headers,
        });
        response.flushHeaders();
      },
      async writeEvent(text, delayMs = 0) {
        if (delayMs > 0 && !(await pause(delayMs, signal))) return false;
        if (!usable()) return false;
        response.write(text);
        return true;
      },
      end() {
        if (usable()) response.end();
      },
      async nextStep() {
        const step = await resolveStep(queue.shift() ?? defaultStep, request, defaultStep);
        if (step.delayMs && !(await pause(step.delayMs, signal))) return undefined;
        if (step.disconnect) {
          response.destroy();
          return undefined;
        }
        if (!usable()) return undefined;
        const { text, toolCalls, error, disconnect: _disconnect, ...stepOptions } = step;
        if (error) return { kind: "error", error, text: text ?? "", options: stepOptions };
        return { kind: "reply", text: text ?? "", toolCalls: toolCalls ?? [], options: stepOptions };
      },
    };
    await handle(exchange);
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  let closed: Promise<void> | undefined;

  const fake: ModelFake = {
    url: origin + urlPath,
    origin,
    requests,
    enqueue: (...steps) => void queue.push(...steps),
    setDefault: (step) => {
      defaultStep = step;
    },
    pendingSteps: () => queue.length,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive and held connections would otherwise keep `close` (and the test) waiting.
        server.closeAllConnections();
      });
      return closed;
    },
  };
  return fake;
}

/** Resolves function steps, and a bare `{ delayMs }` into the default step answered late. */
async function resolveStep(
  scripted: ScriptStep,
  request: RecordedRequest,
  defaultStep: ScriptStep,
): Promise<StepOptions & { text?: string; toolCalls?: ToolCallSpec[]; error?: ModelErrorSpec; disconnect?: true }> {
  const step = await callStep(scripted, request);
  if (step.text !== undefined || step.toolCalls || step.error || step.disconnect) return step;
  const fallback = scripted === defaultStep ? { text: "ok" } : await callStep(defaultStep, request);
  const answer = fallback.text !== undefined || fallback.toolCalls || fallback.error || fallback.disconnect
    ? fallback
    : { ...fallback, text: "ok" };
  return { ...answer, ...step };
}

async function callStep(step: ScriptStep, request: RecordedRequest): Promise<ModelStep> {
  if (typeof step !== "function") return step;
  try {
    return await step(request);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { error: { status: 500, message: `fake: the step function threw: ${message}` } };
  }
}

/** Waits `ms`; false when the signal aborted first. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

function parseJson(text: string): unknown {
  if (text.length === 0) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
