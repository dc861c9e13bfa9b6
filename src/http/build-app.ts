import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from "fastify";
import { maskSecrets, type TokenSource } from "../config/index.ts";
import { isDiskFull } from "../state/index.ts";
import type { ComponentRegistry } from "../gateway/components.ts";
import type { ConfigService } from "../gateway/config-service.ts";
import type { Logger } from "../logging/index.ts";
import { dashboardRoutes } from "../dashboard/index.ts";
import { bearerToken, FailureLimiter, tokensEqual } from "./auth.ts";
import { authRoutes, isSecure } from "./auth-routes.ts";
import { createMemoryAuthStore, type AuthStore } from "./auth-store.ts";
import { DashboardSessions, isSameOrigin, readCookie, SESSION_COOKIE, sessionCookie } from "./dashboard-session.ts";
import { HttpMetrics, renderMetrics } from "./metrics.ts";
import { sendError } from "./reply-error.ts";

/** A later capability's routes (agent chat, channel webhooks, dashboard), registered under auth rules below. */
export type AppPlugin = (app: FastifyInstance) => void | Promise<void>;

export interface AppDeps {
  version: string;
  startedAt: Date;
  stateDir: string;
  logger: Logger;
  components: ComponentRegistry;
  config: ConfigService;
  /** The token `/api/*` and `/metrics` accept. */
  gatewayToken: () => string;
  tokenSource: TokenSource;
  limiter?: FailureLimiter;
  /** Dashboard one-time login codes and session revocations; in memory when absent. */
  authStore?: AuthStore;
  plugins?: readonly AppPlugin[];
  /** Trust X-Forwarded-For (behind Fly's proxy) for the address used by the failure limiter. */
  trustProxy?: boolean;
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** Routes outside `/api/` that still need the gateway token. */
    auth?: boolean;
  }
}

/**
 * The gateway's HTTP app. Never listens: the entry point does, tests use `app.inject()`.
 * `/healthz`, `/readyz`, `/auth/*` and the dashboard's page are public; `/api/*` and `/metrics`
 * need `Authorization: Bearer <token>` or the dashboard's session cookie (and then, for anything
 * but GET, a same-origin request: the cookie alone must not let another site act).
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: deps.trustProxy ?? false,
    return503OnClosing: true,
    forceCloseConnections: "idle",
  });
  const limiter = deps.limiter ?? new FailureLimiter();
  const metrics = new HttpMetrics();
  const authStore = deps.authStore ?? createMemoryAuthStore();
  const sessions = new DashboardSessions({ gatewayToken: deps.gatewayToken, isRevoked: (id) => authStore.isSessionRevoked(id) });

  app.addHook("onRequest", async (request, reply) => {
    const needsAuth = request.url.startsWith("/api/") || request.routeOptions.config?.auth === true;
    if (!needsAuth) return;
    const address = request.ip;
    const wait = limiter.retryAfterSeconds(address);
    if (wait > 0) {
      reply.header("retry-after", String(wait));
      return sendError(reply, 429, "AUTH_RATE_LIMITED", `too many failed sign-ins from this address; try again in ${wait} s`);
    }
    const token = bearerToken(request.headers.authorization);
    if (token === undefined) {
      const cookie = readCookie(request.headers.cookie, SESSION_COOKIE);
      if (cookie !== undefined) {
        // A stale cookie (expired, signed out, token rotated) is not a guess: not counted as a failure.
        const session = sessions.verify(cookie);
        if (!session) return sendError(reply, 401, "AUTH_REQUIRED", "your dashboard session has ended; sign in again with the gateway token");
        if (request.method !== "GET" && request.method !== "HEAD" && !isSameOrigin(request.headers)) {
          return sendError(reply, 403, "AUTH_CROSS_ORIGIN", "this request came from another site; use the gateway's own dashboard page");
        }
        if (session.refreshed) reply.header("set-cookie", sessionCookie(session.refreshed, isSecure(request)));
        return;
      }
    }
    if (token === undefined || !tokensEqual(token, deps.gatewayToken())) {
      limiter.recordFailure(address);
      metrics.authFailures++;
      return token === undefined
        ? sendError(reply, 401, "AUTH_REQUIRED", "send the gateway token as `Authorization: Bearer <token>` (OPENCLAW_GATEWAY_TOKEN, or `faraday token` on the gateway's machine)")
        : sendError(reply, 401, "AUTH_INVALID", "the gateway token is wrong; check OPENCLAW_GATEWAY_TOKEN (or `faraday token` on the gateway's machine)");
    }
  });

  app.addHook("onResponse", async (request, reply) => {
    metrics.countRequest(request.method, request.routeOptions.url ?? "unmatched", reply.statusCode);
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 404, "NOT_FOUND", `no route ${request.method} ${request.url.split("?")[0]}`),
  );

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    const status = error.statusCode ?? 500;
    if (isDiskFull(error)) {
      request.log.error({ code: "DISK_FULL", err: error.message, route: request.routeOptions.url }, "request failed: the disk is full");
      return sendError(reply, 507, "DISK_FULL", "the gateway's disk is full, so this could not be saved (nothing stored was lost); grow the volume (`fly volumes extend`) and try again");
    }
    if (status >= 500) {
      request.log.error({ err: error, route: request.routeOptions.url }, "request failed");
      return sendError(reply, status, "INTERNAL", "the gateway hit an internal error; details are in its log");
    }
    return sendError(reply, status, "BAD_REQUEST", error.message);
  });

  app.get("/healthz", async () => ({ ok: true }));

  app.get("/readyz", async (request, reply) => {
    const failing = deps.components.failing();
    const components = deps.components.list().map(publicComponent);
    if (failing.length === 0) return { ok: true, components };
    // A failing component with a stable code (DISK_FULL, DATABASE_FAILED) names it at the top.
    const code = failing.map((component) => component.details?.code).find((value) => typeof value === "string");
    return reply.code(503).send({ ok: false, ...(code ? { code } : {}), failing: failing.map(publicComponent), components });
  });

  app.get("/metrics", { config: { auth: true } }, async (request, reply) => {
    reply.type("text/plain; version=0.0.4; charset=utf-8");
    return renderMetrics({ version: deps.version, startedAt: deps.startedAt, metrics, components: deps.components });
  });

  await authRoutes({ gatewayToken: deps.gatewayToken, sessions, store: authStore, limiter, onFailure: () => metrics.authFailures++ })(app);
  await dashboardRoutes()(app);

  app.get("/api/status", async () => {
    const config = deps.config.current();
    return {
      name: "faraday",
      version: deps.version,
      node: process.version,
      pid: process.pid,
      startedAt: deps.startedAt.toISOString(),
      uptimeSeconds: Math.round((Date.now() - deps.startedAt.getTime()) / 1000),
      stateDir: deps.stateDir,
      memory: { rssBytes: process.memoryUsage().rss },
      auth: { tokenSource: deps.tokenSource },
      config: { state: config.state, path: config.path, problems: config.problems, warnings: config.warnings },
      ready: deps.components.failing().length === 0,
      components: deps.components.list().map(publicComponent),
    };
  });

  app.get("/api/config", async () => {
    const config = deps.config.current();
    const raw = deps.config.raw();
    return {
      path: config.path,
      state: config.state,
      config: raw === undefined ? null : maskSecrets(raw),
      problems: config.problems,
      warnings: config.warnings,
    };
  });

  app.put("/api/config", async (request: FastifyRequest<{ Body: unknown }>, reply) => {
    if (request.body === undefined || request.body === null || typeof request.body !== "object" || Array.isArray(request.body)) {
      return sendError(reply, 400, "CONFIG_INVALID", "send the whole openclaw.json object as the JSON body (Content-Type: application/json)", {
        problems: [{ path: "", message: "expected a JSON object at the top level" }],
      });
    }
    const result = await deps.config.update(request.body);
    if (!result.ok) {
      return sendError(reply, 400, "CONFIG_INVALID", `the config has ${result.problems.length} problem(s); nothing was written`, {
        problems: result.problems,
        warnings: result.warnings,
      });
    }
    request.log.info({ changed: result.changed, warnings: result.state.warnings.length }, "config replaced through the API");
    return { ok: true, changed: result.changed, state: result.state.state, warnings: result.state.warnings };
  });

  for (const plugin of deps.plugins ?? []) await plugin(app);
  return app;
}

function publicComponent(component: { name: string; state: string; reason: string; ready: boolean; since: string; details?: Readonly<Record<string, unknown>> }) {
  return {
    name: component.name,
    state: component.state,
    reason: component.reason,
    ready: component.ready,
    since: component.since,
    ...(component.details ? { details: component.details } : {}),
  };
}
