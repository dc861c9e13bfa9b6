import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** The dashboard's session cookie. httpOnly, SameSite=Strict, Path=/; Secure over https. */
export const SESSION_COOKIE = "faraday_session";

/** A session lasts this long after its last refresh (sliding). */
export const SESSION_TTL_MS = 30 * 24 * 60 * 60_000;

/** A cookie older than this is re-issued on use, so an active session never runs out. */
const REFRESH_AFTER_MS = 24 * 60 * 60_000;

export interface SessionVerdict {
  readonly id: string;
  /** A fresh cookie value to send back (sliding expiry), when the current one is old. */
  readonly refreshed?: string;
}

/**
 * Stateless, signed dashboard sessions: `id.issuedAt.mac`, the MAC an HMAC-SHA256 keyed by the
 * gateway token. Rotating the token therefore signs every browser out, sessions survive a
 * restart (a deploy does not sign anyone out), and nothing but revocations is stored. Logout
 * revokes the id (kept until every cookie that could carry it has expired).
 */
export class DashboardSessions {
  readonly #token: () => string;
  readonly #isRevoked: (id: string) => boolean;
  readonly #now: () => number;

  constructor(options: { gatewayToken: () => string; isRevoked: (id: string) => boolean; now?: () => number }) {
    this.#token = options.gatewayToken;
    this.#isRevoked = options.isRevoked;
    this.#now = options.now ?? Date.now;
  }

  /** A new session's cookie value. */
  issue(id = randomBytes(16).toString("base64url")): string {
    const issuedAt = String(this.#now());
    return `${id}.${issuedAt}.${this.#mac(`${id}.${issuedAt}`)}`;
  }

  /** The session a cookie value names, or undefined when it is forged, expired or revoked. */
  verify(value: string | undefined): SessionVerdict | undefined {
    if (!value) return undefined;
    const parts = value.split(".");
    if (parts.length !== 3) return undefined;
    const [id, issuedAt, mac] = parts as [string, string, string];
    const expected = Buffer.from(this.#mac(`${id}.${issuedAt}`));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    const age = this.#now() - Number(issuedAt);
    if (!Number.isFinite(age) || age < -60_000 || age > SESSION_TTL_MS) return undefined;
    if (this.#isRevoked(id)) return undefined;
    return age > REFRESH_AFTER_MS ? { id, refreshed: this.issue(id) } : { id };
  }

  #mac(payload: string): string {
    const key = createHmac("sha256", this.#token()).update("faraday dashboard session v1").digest();
    return createHmac("sha256", key).update(payload).digest("base64url");
  }
}

/** One cookie's value from a `Cookie` header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const index = part.indexOf("=");
    if (index === -1) continue;
    if (part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return undefined;
}

/** A `Set-Cookie` value for the session (or, with `value` empty, one that deletes it). */
export function sessionCookie(value: string, secure: boolean): string {
  const maxAge = value ? Math.floor(SESSION_TTL_MS / 1000) : 0;
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? "; Secure" : ""}`;
}

/**
 * CSRF: a cookie-authenticated request that changes something must come from this origin.
 * `Sec-Fetch-Site: same-origin` (every current browser sends it), else an `Origin` whose host
 * is the `Host` the request was sent to. Neither header means not a browser we can trust.
 */
export function isSameOrigin(headers: { origin?: string | undefined; host?: string | undefined; "sec-fetch-site"?: string | string[] | undefined }): boolean {
  const site = headers["sec-fetch-site"];
  if (typeof site === "string") return site === "same-origin";
  if (!headers.origin || !headers.host) return false;
  try {
    return new URL(headers.origin).host === headers.host;
  } catch {
    return false;
  }
}
