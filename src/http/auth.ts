import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyReply } from "fastify";
import { sendError } from "./reply-error.ts";

/** Constant-time token check: both sides hashed first so lengths leak nothing either. */
export function tokensEqual(candidate: string, expected: string): boolean {
  const a = createHash("sha256").update(candidate).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The bearer token of an `Authorization` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  return match?.[1];
}

export interface FailureLimiterOptions {
  /** Failures allowed per window before an address gets 429 (default 10). */
  maxFailures?: number;
  windowMs?: number;
  /** Addresses tracked at most; the oldest are forgotten first (bounded memory). */
  maxAddresses?: number;
  now?: () => number;
}

/**
 * Counts failed sign-ins per address; past the limit that address's wrong guesses are told 429
 * until its window ends (a right credential is never refused). Bounded in memory so a scan from
 * many addresses cannot grow it without end.
 */
export class FailureLimiter {
  readonly #entries = new Map<string, { count: number; windowStart: number }>();
  readonly #maxFailures: number;
  readonly #windowMs: number;
  readonly #maxAddresses: number;
  readonly #now: () => number;

  constructor(options: FailureLimiterOptions = {}) {
    this.#maxFailures = options.maxFailures ?? 10;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#maxAddresses = options.maxAddresses ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** Seconds until the address may try again, or 0 when it is not limited. */
  retryAfterSeconds(address: string): number {
    const entry = this.#entries.get(address);
    if (!entry) return 0;
    const elapsed = this.#now() - entry.windowStart;
    if (elapsed >= this.#windowMs) {
      this.#entries.delete(address);
      return 0;
    }
    return entry.count >= this.#maxFailures ? Math.ceil((this.#windowMs - elapsed) / 1000) : 0;
  }

  recordFailure(address: string): void {
    const now = this.#now();
    const entry = this.#entries.get(address);
    if (!entry || now - entry.windowStart >= this.#windowMs) {
      this.#entries.delete(address);
      if (this.#entries.size >= this.#maxAddresses) {
        const oldest = this.#entries.keys().next().value;
        if (oldest !== undefined) this.#entries.delete(oldest);
      }
      this.#entries.set(address, { count: 1, windowStart: now });
      return;
    }
    entry.count++;
  }
}

/**
 * Answer 429 (with Retry-After) when `address` has used up its failures; undefined otherwise.
 * Call it only for a request whose credential was wrong: a right one is never refused.
 */
export function refuseIfLimited(reply: FastifyReply, limiter: FailureLimiter, address: string): FastifyReply | undefined {
  const wait = limiter.retryAfterSeconds(address);
  if (wait === 0) return undefined;
  reply.header("retry-after", String(wait));
  return sendError(reply, 429, "AUTH_RATE_LIMITED", `too many failed sign-ins from this address; try again in ${wait} s (the right token or sign-in link still works)`);
}
