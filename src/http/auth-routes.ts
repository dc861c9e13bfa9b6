import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { FailureLimiter, tokensEqual } from "./auth.ts";
import type { AuthStore } from "./auth-store.ts";
import { DashboardSessions, isSameOrigin, readCookie, SESSION_COOKIE, SESSION_TTL_MS, sessionCookie } from "./dashboard-session.ts";
import { sendError } from "./reply-error.ts";

export interface AuthRoutesDeps {
  readonly gatewayToken: () => string;
  readonly sessions: DashboardSessions;
  readonly store: AuthStore;
  readonly limiter: FailureLimiter;
  readonly onFailure: () => void;
}

/** Whether the browser reached us over https (directly, or through a trusted proxy's x-forwarded-proto). */
export function isSecure(request: FastifyRequest): boolean {
  return request.protocol === "https";
}

function rateLimited(request: FastifyRequest, reply: FastifyReply, limiter: FailureLimiter): FastifyReply | undefined {
  const wait = limiter.retryAfterSeconds(request.ip);
  if (wait === 0) return undefined;
  reply.header("retry-after", String(wait));
  return sendError(reply, 429, "AUTH_RATE_LIMITED", `too many failed sign-ins from this address; try again in ${wait} s`);
}

/**
 * Dashboard sign-in: `POST /auth/login {token}` or `{code}` (a one-time link from
 * `faraday token --link`) sets the session cookie; `POST /auth/logout` revokes it;
 * `GET /auth/session` says whether the browser is signed in (never counted as a failure);
 * `POST /api/auth/login-code` (authenticated) makes a one-time code.
 */
export function authRoutes(deps: AuthRoutesDeps) {
  return (app: FastifyInstance) => {
    app.post("/auth/login", async (request, reply) => {
      const headers = request.headers;
      if ((headers.origin || headers["sec-fetch-site"]) && !isSameOrigin(headers)) {
        return sendError(reply, 403, "AUTH_CROSS_ORIGIN", "sign in from the gateway's own page, not from another site");
      }
      const limited = rateLimited(request, reply, deps.limiter);
      if (limited) return limited;
      const body = request.body as { token?: unknown; code?: unknown } | undefined;
      const token = typeof body?.token === "string" ? body.token.trim() : undefined;
      const code = typeof body?.code === "string" ? body.code.trim() : undefined;
      if (!token && !code) return sendError(reply, 400, "BAD_REQUEST", 'send {"token": "…"} (the gateway token) or {"code": "…"} (from `faraday token --link`)');
      const accepted = token ? tokensEqual(token, deps.gatewayToken()) : deps.store.consumeLoginCode(code!);
      if (!accepted) {
        deps.limiter.recordFailure(request.ip);
        deps.onFailure();
        return token
          ? sendError(reply, 401, "AUTH_INVALID", "that is not the gateway token; check OPENCLAW_GATEWAY_TOKEN (or run `faraday token` on the gateway's machine)")
          : sendError(reply, 401, "AUTH_INVALID", "that sign-in link is used up or expired (links work once, for 15 minutes); run `faraday token --link` for a new one");
      }
      reply.header("set-cookie", sessionCookie(deps.sessions.issue(), isSecure(request)));
      reply.header("cache-control", "no-store");
      return { ok: true, expiresAt: new Date(Date.now() + SESSION_TTL_MS).toISOString() };
    });

    app.post("/auth/logout", async (request, reply) => {
      if (!isSameOrigin(request.headers)) return sendError(reply, 403, "AUTH_CROSS_ORIGIN", "sign out from the gateway's own page");
      const session = deps.sessions.verify(readCookie(request.headers.cookie, SESSION_COOKIE));
      if (session) deps.store.revokeSession(session.id, Date.now() + SESSION_TTL_MS);
      reply.header("set-cookie", sessionCookie("", isSecure(request)));
      return { ok: true };
    });

    app.get("/auth/session", async (request, reply) => {
      reply.header("cache-control", "no-store");
      return { signedIn: deps.sessions.verify(readCookie(request.headers.cookie, SESSION_COOKIE)) !== undefined };
    });

    app.post("/api/auth/login-code", async () => deps.store.createLoginCode());
  };
}
