/**
 * The error every model adapter throws: a FaradayError with a MODEL_* code, whether it is
 * worth retrying, and a one-sentence `userMessage` safe to show in a chat. `message` is for
 * the log (provider, status, the provider's own words with anything key-like redacted).
 *
 * Mapping works on the SDK errors' shape (`status`, `headers`, class name), not their
 * classes, so this file never loads `@anthropic-ai/sdk` or `openai`.
 */
import { FaradayError, type ErrorCode, type FaradayErrorOptions } from "../../errors/index.ts";

/** The error codes a ModelError can carry. */
export type ModelErrorCode = Extract<ErrorCode, `MODEL_${string}`>;

export interface ModelErrorOptions extends FaradayErrorOptions {
  /** One sentence for the chat user: what happened and what to do. No secrets, no stack. */
  userMessage: string;
  /** True for transient failures (429, 5xx, 529, timeouts, connection errors). */
  retryable?: boolean;
  /** How long the provider asked us to wait (`retry-after-ms` / `retry-after`). */
  retryAfterMs?: number;
  /** The HTTP status, when there was a response. */
  status?: number;
  /** The provider name (`anthropic`, `openai`, `local` …). */
  provider?: string;
}

export class ModelError extends FaradayError {
  declare readonly code: ModelErrorCode;
  readonly userMessage: string;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly status: number | undefined;
  readonly provider: string | undefined;

  constructor(code: ModelErrorCode, message: string, options: ModelErrorOptions) {
    super(code, message, {
      cause: options.cause,
      details: {
        ...options.details,
        ...(options.provider === undefined ? {} : { provider: options.provider }),
        ...(options.status === undefined ? {} : { status: options.status }),
      },
    });
    this.name = "ModelError";
    this.userMessage = options.userMessage;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.status = options.status;
    this.provider = options.provider;
  }
}

/** What an adapter knows that makes the mapped error say the fix. */
export interface ModelErrorContext {
  /** Where the API key came from, named in auth failures: `ANTHROPIC_API_KEY`, `models.providers.local.apiKey`. */
  keySource?: string;
  /** The model name, named when the provider does not know it. */
  model?: string;
  /** Strings that must never appear in the error message (the API key). */
  secrets?: readonly string[];
}

const USER_MESSAGES = {
  rateLimited: "The model is rate-limited right now; try again in a minute.",
  overloaded: "The model is overloaded right now; try again in a minute.",
  unavailable: "The model provider is unavailable right now; try again in a minute.",
  unreachable: "The model provider could not be reached; check the network or the provider's base URL.",
  timeout: "The model took too long to answer; try again in a minute.",
  contextTooLong: "The conversation is too long for the model; start a new session.",
  badRequest: "The model provider rejected the request; the gateway log has the details.",
  quota: "The model provider account has run out of credit; check its billing.",
  cancelled: "The model request was cancelled.",
} as const;

/**
 * Maps anything an SDK call threw to a ModelError (a ModelError passes through unchanged).
 * 429 → MODEL_RATE_LIMITED (retryable unless OpenAI's `insufficient_quota`); 5xx, 529 and
 * mid-stream server errors → MODEL_UNAVAILABLE (retryable); 408/504 and client timeouts →
 * MODEL_TIMEOUT (retryable); connection failures → MODEL_UNAVAILABLE (retryable); 401/403/402 →
 * MODEL_AUTH_FAILED; 400 "prompt is too long" / `context_length_exceeded` / 413 →
 * MODEL_CONTEXT_TOO_LONG; other 4xx → MODEL_BAD_REQUEST.
 */
export function toModelError(error: unknown, provider: string, context: ModelErrorContext = {}): ModelError {
  if (error instanceof ModelError) return error;
  const shape = describe(error);
  const detail = redact(shape.detail, context.secrets);
  const keySource = context.keySource ?? defaultKeySource(provider);
  const make = (code: ModelErrorCode, summary: string, options: Omit<ModelErrorOptions, "provider" | "status" | "cause">) =>
    new ModelError(code, `${provider}: ${summary}${detail ? ` (${detail})` : ""}`, {
      ...options,
      provider,
      cause: error,
      ...(shape.status === undefined ? {} : { status: shape.status }),
    });
  const retryAfterMs = parseRetryAfter(shape.headers);
  const retryAfter = retryAfterMs === undefined ? {} : { retryAfterMs };
  const status = shape.status;

  if (status === undefined) {
    if (shape.names.includes("APIUserAbortError") || shape.names.includes("AbortError")) {
      return make("MODEL_UNAVAILABLE", "the request was cancelled", { userMessage: USER_MESSAGES.cancelled });
    }
    if (shape.names.includes("APIConnectionTimeoutError")) {
      return make("MODEL_TIMEOUT", "the request timed out", { userMessage: USER_MESSAGES.timeout, retryable: true });
    }
    if (shape.names.includes("APIConnectionError")) {
      return make("MODEL_UNAVAILABLE", "could not connect to the provider", {
        userMessage: USER_MESSAGES.unreachable,
        retryable: true,
      });
    }
    // An error event inside a 200 stream: the SDKs throw an APIError without a status.
    if (shape.names.includes("APIError") && shape.type !== undefined) {
      return fromStreamErrorType(shape.type, make, retryAfter, shape.detail, keySource);
    }
    return make("MODEL_UNAVAILABLE", `unexpected failure: ${shape.names[0] ?? "Error"}`, {
      userMessage: USER_MESSAGES.unavailable,
    });
  }

  if (status === 429) {
    if (shape.code === "insufficient_quota") {
      return make("MODEL_RATE_LIMITED", "429 quota exhausted", { userMessage: USER_MESSAGES.quota });
    }
    return make("MODEL_RATE_LIMITED", "429 rate limited", {
      userMessage: USER_MESSAGES.rateLimited,
      retryable: true,
      ...retryAfter,
    });
  }
  if (status === 529) {
    return make("MODEL_UNAVAILABLE", "529 overloaded", { userMessage: USER_MESSAGES.overloaded, retryable: true, ...retryAfter });
  }
  if (status === 408 || status === 504) {
    return make("MODEL_TIMEOUT", `${status} timed out`, { userMessage: USER_MESSAGES.timeout, retryable: true, ...retryAfter });
  }
  if (status >= 500 || status === 409) {
    return make("MODEL_UNAVAILABLE", `${status} server error`, {
      userMessage: shape.type === "overloaded_error" ? USER_MESSAGES.overloaded : USER_MESSAGES.unavailable,
      retryable: true,
      ...retryAfter,
    });
  }
  if (status === 401) {
    return make("MODEL_AUTH_FAILED", `401 the API key was rejected; check ${keySource}`, {
      userMessage: `The model provider rejected the API key; check ${keySource}.`,
    });
  }
  if (status === 403) {
    return make("MODEL_AUTH_FAILED", `403 the API key is not allowed to do this; check ${keySource}`, {
      userMessage: `The model provider refused this API key access; check ${keySource} and its permissions.`,
    });
  }
  if (status === 402) {
    return make("MODEL_AUTH_FAILED", "402 billing problem", { userMessage: USER_MESSAGES.quota });
  }
  if (status === 413 || (status === 400 && isContextTooLong(shape))) {
    return make("MODEL_CONTEXT_TOO_LONG", `${status} the prompt is too long`, { userMessage: USER_MESSAGES.contextTooLong });
  }
  if (status === 404) {
    const model = context.model === undefined ? "this model" : `the model "${context.model}"`;
    return make("MODEL_BAD_REQUEST", `404 not found; check the model name and base URL`, {
      userMessage: `The model provider does not know ${model}; check the model name (agents.defaults.model in openclaw.json).`,
    });
  }
  return make("MODEL_BAD_REQUEST", `${status} bad request`, { userMessage: USER_MESSAGES.badRequest });
}

/**
 * Milliseconds the provider asked us to wait: `retry-after-ms`, else `retry-after` in
 * seconds or as an HTTP date. Undefined when neither header is there or readable.
 */
export function parseRetryAfter(
  headers: { get(name: string): string | null | undefined } | Record<string, string | undefined> | undefined,
  now: number = Date.now(),
): number | undefined {
  if (headers === undefined || headers === null) return undefined;
  const read = (name: string): string | undefined => {
    const value =
      typeof (headers as { get?: unknown }).get === "function"
        ? (headers as { get(name: string): string | null | undefined }).get(name)
        : (headers as Record<string, string | undefined>)[name];
    return value === null || value === undefined || value.trim() === "" ? undefined : value.trim();
  };
  const milliseconds = read("retry-after-ms");
  if (milliseconds !== undefined && /^\d+(\.\d+)?$/.test(milliseconds)) return Math.ceil(Number(milliseconds));
  const retryAfter = read("retry-after");
  if (retryAfter === undefined) return undefined;
  if (/^\d+(\.\d+)?$/.test(retryAfter)) return Math.ceil(Number(retryAfter) * 1000);
  const date = Date.parse(retryAfter);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The env var (or config key) that holds a provider's key, for "check …" messages. */
export function defaultKeySource(provider: string): string {
  if (provider === "anthropic") return "ANTHROPIC_API_KEY";
  if (provider === "openai") return "OPENAI_API_KEY";
  return `models.providers.${provider}.apiKey`;
}

/**
 * The adapters' catch block: an aborted request rejects with the signal's reason (the caller
 * cancelled; not a model failure), anything else becomes a ModelError.
 */
/**
 * Runs one model request under a deadline that covers the whole answer. The SDKs' own `timeout`
 * stops at the response headers, so a provider that sends headers and then stalls (mid-stream,
 * or before the JSON body) would hold the call — and its slot — forever. When the deadline
 * passes first, the request is aborted and MODEL_TIMEOUT is thrown; the caller's own abort
 * still rejects with the caller's reason.
 */
export async function withDeadline<T>(
  timeoutMs: number,
  provider: string,
  signal: AbortSignal | undefined,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), timeoutMs);
  try {
    return await run(signal ? AbortSignal.any([signal, deadline.signal]) : deadline.signal);
  } catch (error) {
    if (deadline.signal.aborted && !signal?.aborted) {
      throw new ModelError("MODEL_TIMEOUT", `${provider} gave no complete answer within ${timeoutMs} ms`, {
        userMessage: USER_MESSAGES.timeout, retryable: true, provider, cause: error,
      });
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

export function rethrowModelFailure(
  error: unknown,
  provider: string,
  context: ModelErrorContext,
  signal: AbortSignal | undefined,
): never {
  if (signal?.aborted) throw signal.reason ?? error;
  throw toModelError(error, provider, context);
}

interface ErrorShape {
  /** Constructor names up the prototype chain, most specific first, plus `error.name`. */
  names: string[];
  status: number | undefined;
  headers: { get(name: string): string | null } | undefined;
  /** The provider's error type (`rate_limit_error`, `server_error` …). */
  type: string | undefined;
  /** OpenAI's error code (`context_length_exceeded`, `insufficient_quota` …). */
  code: string | undefined;
  /** The provider's own message, for the log. */
  detail: string;
}

// SDK errors are read by shape so this file does not import either SDK.
function describe(error: unknown): ErrorShape {
  const names: string[] = [];
  if (error instanceof Error && error.name) names.push(error.name);
  for (let prototype = Object.getPrototypeOf(error ?? {}); prototype && prototype !== Object.prototype; ) {
    const name = (prototype.constructor as { name?: string } | undefined)?.name;
    if (name && !names.includes(name)) names.push(name);
    prototype = Object.getPrototypeOf(prototype);
  }
  const record = (typeof error === "object" && error !== null ? error : {}) as Record<string, unknown>;
  const body = record.error as Record<string, unknown> | undefined;
  // Anthropic's body is `{type:"error", error:{type, message}}`; OpenAI's SDK keeps the inner `error`.
  const inner = (body && typeof body.error === "object" && body.error !== null ? body.error : body) as
    | Record<string, unknown>
    | undefined;
  const headers = record.headers as { get?: unknown } | undefined;
  const text = (value: unknown) => (typeof value === "string" && value !== "" ? value : undefined);
  return {
    names,
    status: typeof record.status === "number" ? record.status : undefined,
    headers: headers && typeof headers.get === "function" ? (headers as { get(name: string): string | null }) : undefined,
    type: text(record.type) ?? text(inner?.type),
    code: text(record.code) ?? text(record.errorCode) ?? text(inner?.code),
    detail: truncate(
      text(record.apiMessage) ?? text(inner?.message) ?? (error instanceof Error ? error.message : String(error)),
    ),
  };
}

function isContextTooLong(shape: ErrorShape): boolean {
  if (shape.code === "context_length_exceeded") return true;
  return /prompt is too long|exceed context limit|maximum context length|context length exceeded|context window/i.test(
    shape.detail,
  );
}

function fromStreamErrorType(
  type: string,
  make: (code: ModelErrorCode, summary: string, options: Omit<ModelErrorOptions, "provider" | "status" | "cause">) => ModelError,
  retryAfter: { retryAfterMs?: number },
  detail: string,
  keySource: string,
): ModelError {
  if (type === "rate_limit_error" || type === "requests" || type === "tokens") {
    return make("MODEL_RATE_LIMITED", "rate limited mid-stream", { userMessage: USER_MESSAGES.rateLimited, retryable: true, ...retryAfter });
  }
  if (type === "overloaded_error") {
    return make("MODEL_UNAVAILABLE", "overloaded mid-stream", { userMessage: USER_MESSAGES.overloaded, retryable: true });
  }
  if (type === "timeout_error") {
    return make("MODEL_TIMEOUT", "timed out mid-stream", { userMessage: USER_MESSAGES.timeout, retryable: true });
  }
  if (type === "authentication_error" || type === "permission_error") {
    return make("MODEL_AUTH_FAILED", "authentication failed mid-stream", {
      userMessage: `The model provider rejected the API key; check ${keySource}.`,
    });
  }
  if (type === "invalid_request_error") {
    const tooLong = /prompt is too long|maximum context length/i.test(detail);
    return tooLong
      ? make("MODEL_CONTEXT_TOO_LONG", "the prompt is too long", { userMessage: USER_MESSAGES.contextTooLong })
      : make("MODEL_BAD_REQUEST", "bad request mid-stream", { userMessage: USER_MESSAGES.badRequest });
  }
  return make("MODEL_UNAVAILABLE", "the stream failed", { userMessage: USER_MESSAGES.unavailable, retryable: true });
}

/** Removes the known secrets and anything shaped like an API key (`sk-…`, `sk-ant-…`, `sk-***abcd`). */
function redact(text: string, secrets: readonly string[] = []): string {
  let result = text;
  for (const secret of secrets) {
    if (secret.length >= 4) result = result.split(secret).join("[redacted]");
  }
  return result.replace(/\bsk-[A-Za-z0-9*_.-]{3,}/g, "[redacted]");
}

function truncate(text: string, limit = 300): string {
  const single = text.replace(/\s+/g, " ").trim();
  return single.length > limit ? `${single.slice(0, limit)}…` : single;
}
