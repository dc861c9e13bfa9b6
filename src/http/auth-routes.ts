import type { FastifyInstance, FastifyRequest } from "fastify";
import { FailureLimiter, refuseIfLimited, tokensEqual } from "./auth.ts";
import type { AuthStore } from "./auth-store.ts";
import { DashboardSessions, isSameOrigin, readCookie, SESSION_COOKIE, SESSION_TTL_MS, sessionCookie } from "./dashboard-session.ts";
import { isSecureRequest } from "./client-address.ts";
import { sendError } from "./reply-error.ts";

export interface AuthRoutesDeps {
  readonly gatewayToken: () => string;
  readonly sessions: DashboardSessions;
  readonly store: AuthStore;
  readonly limiter: FailureLimiter;
  /** The address failures are counted against (see clientAddress). */
  readonly addressOf: (request: FastifyRequest) => string;
  readonly onFailure: () => void;
}

const PUBLIC = { config: { public: true } } as const;

/**
 * Dashboard sign-in: `POST /auth/login {token}` or `{code}` (a one-time link from
 * `faraday token --link`) sets the session cookie; `POST /auth/logout` revokes it;
 * `GET /auth/session` says whether the browser is signed in (never counted as a failure);
 * `POST /api/auth/login-code` (authenticated) makes a one-time code.
 */
export function authRoutes(deps: AuthRoutesDeps) {
  return (app: FastifyInstance) => {
    app.post("/auth/login", PUBLIC, async (request, reply) => {
      const headers = request.headers;
      if ((headers.origin || headers["sec-fetch-site"]) && !isSameOrigin(headers)) {
        return sendError(reply, 403, "AUTH_CROSS_ORIGIN", "sign in from the gateway's own page, not from another site");
      }
      const body = request.body as { token?: unknown; code?: unknown } | undefined;
      const token = typeof body?.token === "string" ? body.token.trim() : undefined;
      const code = typeof body?.code === "string" ? body.code.trim() : undefined;
      if (!token && !code) return sendError(reply, 400, "BAD_REQUEST", 'send {"token": "…"} (the gateway token) or {"code": "…"} (from `faraday token --link`)');
      const accepted = token ? tokensEqual(token, deps.gatewayToken()) : deps.store.consumeLoginCode(code!);
      if (!accepted) {
        deps.onFailure();
        const address = deps.addressOf(request);
        const limited = refuseIfLimited(reply, deps.limiter, address);
        if (limited) return limited;
        deps.limiter.recordFailure(address);
        return token
          ? sendError(reply, 401, "AUTH_INVALID", "that is not the gateway token; check OPENCLAW_GATEWAY_TOKEN (or run `faraday token` on the gateway's machine)")
          : sendError(reply, 401, "AUTH_INVALID", "that sign-in link is used up or expired (links work once, for 15 minutes); run `faraday token --link` for a new one");
      }
      reply.header("set-cookie", sessionCookie(deps.sessions.issue(), isSecureRequest(request)));
      reply.header("cache-control", "no-store");
      return { ok: true, expiresAt: new Date(Date.now() + SESSION_TTL_MS).toISOString() };
    });

    app.post("/auth/logout", PUBLIC, async (request, reply) => {
      if (!isSameOrigin(request.headers)) return sendError(reply, 403, "AUTH_CROSS_ORIGIN", "sign out from the gateway's own page");
      const session = deps.sessions.verify(readCookie(request.headers.cookie, SESSION_COOKIE));
      if (session) deps.store.revokeSession(session.id, Date.now() + SESSION_TTL_MS);
      reply.header("set-cookie", sessionCookie("", isSecureRequest(request)));
      return { ok: true };
    });

    app.get("/auth/session", PUBLIC, async (request, reply) => {
      reply.header("cache-control", "no-store");
      return { signedIn: deps.sessions.verify(readCookie(request.headers.cookie, SESSION_COOKIE)) !== undefined };
    });

    app.post("/api/auth/login-code", async () => deps.store.createLoginCode());
  };
}
