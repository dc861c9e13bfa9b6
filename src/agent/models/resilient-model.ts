/**
 * Retries and fallbacks over an ordered list of models: what turns a 429 or a provider
 * outage into a slower answer instead of a failed turn.
 */
import { setTimeout as delay } from "node:timers/promises";
import type { ModelClient, ModelRequest, ModelResponse } from "./model-client.ts";
import { DISCOVERED_MODEL } from "./discovered-model.ts";
import { ModelError, toModelError } from "./model-error.ts";

/** One model to try: `ref` is `provider/model`, `client` the provider's (shared) client. */
export interface ModelCandidate {
  readonly ref: string;
  readonly client: ModelClient;
}

/** The subset of a pino logger this uses. */
export interface RetryLogger {
  warn(details: Record<string, unknown>, message: string): void;
}

export interface ResilientModelOptions {
  /** Tried in order: the primary, then the fallbacks. */
  candidates: readonly ModelCandidate[];
  /** Total time spent sleeping between attempts, across all candidates. Default 60 000. */
  maxTotalWaitMs?: number;
  /** First backoff delay; doubles per attempt, with jitter. Default 500. */
  baseDelayMs?: number;
  /** Attempts per candidate, the first included. Default 4. */
  maxAttemptsPerModel?: number;
  /** Injectable for tests. Must reject when `signal` aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Injectable for tests; returns [0, 1). */
  random?: () => number;
  logger?: RetryLogger;
  /**
   * Each attempt runs in one of its provider's slots (`ModelSlots`); sleeps between attempts
   * hold none. Without it, attempts are not limited.
   */
  slots?: { run<T>(provider: string, work: () => Promise<T>): Promise<T> };
}

export interface ResilientModel {
  /** The candidates' refs, in the order they are tried. */
  readonly refs: readonly string[];
  /**
   * Asks the first candidate that answers. A timeout moves on to the next candidate at once
   * (a hung model is not waited for twice). A retryable ModelError (429, 5xx, 529, connection) is retried with exponential backoff and jitter, or after the provider's
   * `retry-after` when it sent one; a `retry-after` longer than the wait budget left moves on
   * to the next candidate at once. MODEL_CONTEXT_TOO_LONG is thrown at once (the caller
   * compacts and asks again); other non-retryable errors (auth, bad request) move on to the
   * next candidate. When every candidate has failed, throws the last ModelError.
   * When the request's signal aborts, rejects with its reason without further attempts.
   *
   * Streaming: `onTextDelta` is passed to every attempt. An attempt that fails after it
   * streamed some text is followed by one that streams its answer from the start, so the
   * listener can see a partial reply and then the whole of another; the caller must treat
   * the text of the returned response as the reply, not the concatenated deltas.
   */
  complete(request: Omit<ModelRequest, "model">): Promise<ModelResponse>;
}

const MAX_BACKOFF_MS = 30_000;

/** Wraps candidates in retry-with-backoff and fallback. */
export function createResilientModel(options: ResilientModelOptions): ResilientModel {
  const candidates = [...options.candidates];
  const maxTotalWaitMs = options.maxTotalWaitMs ?? 60_000;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const maxAttempts = Math.max(1, options.maxAttemptsPerModel ?? 4);
  const sleep = options.sleep ?? ((ms: number, signal?: AbortSignal) => delay(ms, undefined, { signal }));
  const random = options.random ?? Math.random;

  return {
    refs: candidates.map((candidate) => candidate.ref),
    async complete(request) {
      if (candidates.length === 0) {
        throw new ModelError("MODEL_NOT_CONFIGURED", "no model candidates to ask", {
          userMessage: "No model is configured: set ANTHROPIC_API_KEY or OPENAI_API_KEY, or OPENAI_BASE_URL for a local OpenAI-compatible server (or agents.defaults.model in openclaw.json).",
        });
      }
      const signal = request.signal;
      let waited = 0;
      let lastError: ModelError | undefined;

      for (const candidate of candidates) {
        const model = modelName(candidate.ref);
        for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
          if (signal?.aborted) throw signal.reason;
          let error: ModelError;
          try {
            const attempt = () => candidate.client.complete({ ...request, model });
            const response = await (options.slots ? options.slots.run(candidate.client.provider, attempt) : attempt());
            // `provider/*` is answered by the model the server lists; the response names it.
            return { ...response, model: model === DISCOVERED_MODEL ? response.model : candidate.ref };
          } catch (thrown) {
            if (signal?.aborted) throw thrown;
            error = toModelError(thrown, candidate.client.provider, { model });
          }
          lastError = error;
          const log = { model: candidate.ref, attempt, code: error.code, status: error.status, error: error.message };
          if (error.code === "MODEL_CONTEXT_TOO_LONG") throw error;
          if (error.code === "MODEL_TIMEOUT") {
            // A model that let a whole request time out is not asked again: the chat has waited enough.
            options.logger?.warn(log, "model timed out; trying the next model");
            break;
          }
          if (!error.retryable) {
            options.logger?.warn(log, "model failed; trying the next model");
            break;
          }
          if (attempt === maxAttempts) {
            options.logger?.warn(log, "model failed after its last attempt; trying the next model");
            break;
          }
          const remaining = maxTotalWaitMs - waited;
          const wait = error.retryAfterMs ?? backoff(attempt, baseDelayMs, random);
          if (wait > remaining) {
            options.logger?.warn({ ...log, waitMs: wait, remainingMs: remaining }, "model retry would exceed the wait budget; trying the next model");
            break;
          }
          options.logger?.warn({ ...log, waitMs: wait }, "model failed; retrying");
          await sleep(wait, signal);
          waited += wait;
        }
      }
      throw lastError!;
    },
  };
}

/** `base · 2^(attempt-1)`, between half and all of it (jitter), capped at 30 s. */
function backoff(attempt: number, baseDelayMs: number, random: () => number): number {
  const ceiling = Math.min(MAX_BACKOFF_MS, baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** `anthropic/claude-sonnet-5-5` → `claude-sonnet-5-5` (model names may contain `/` themselves). */
function modelName(ref: string): string {
  const slash = ref.indexOf("/");
  return slash === -1 ? ref : ref.slice(slash + 1);
}
