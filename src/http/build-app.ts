import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from "fastify";
import { maskSecrets, type TokenSource } from "../config/index.ts";
import { isDiskFull } from "../state/index.ts";
import type { ComponentRegistry } from "../gateway/components.ts";
import type { ConfigService } from "../gateway/config-service.ts";
import { isFaradayError } from "../errors/index.ts";
import type { Logger } from "../logging/index.ts";
import { dashboardRoutes } from "../dashboard/index.ts";
import { bearerToken, FailureLimiter, refuseIfLimited, tokensEqual } from "./auth.ts";
import { authRoutes } from "./auth-routes.ts";
import { createMemoryAuthStore, type AuthStore } from "./auth-store.ts";
import { DashboardSessions, isSameOrigin, readCookie, SESSION_COOKIE, sessionCookie } from "./dashboard-session.ts";
import { clientAddress, isSecureRequest } from "./client-address.ts";
import { hostAllowed } from "./host-check.ts";
import { lazySchemaCompilers } from "./lazy-schema-compilers.ts";
import { HttpMetrics, renderMetrics } from "./metrics.ts";
import { guardRoutes, routeAccess } from "./route-access.ts";
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
  /** The token every route but the public ones accepts. */
  gatewayToken: () => string;
  tokenSource: TokenSource;
  limiter?: FailureLimiter;
  /** Dashboard one-time login codes and session revocations; in memory when absent. */
  authStore?: AuthStore;
  plugins?: readonly AppPlugin[];
  /**
   * Count failures against Fly's `Fly-Client-IP` header instead of the socket address
   * (`gateway.trustProxy`). `X-Forwarded-For` is never trusted. Read per request.
   */
  trustProxy?: () => boolean;
  /**
   * On a loopback bind: the Host values the gateway answers to (`127.0.0.1:PORT`, `localhost:PORT`,
   * `[::1]:PORT`, the public URL's host); anything else gets 421. Absent on a LAN bind: any Host.
   */
  allowedHosts?: () => readonly string[];
}

/**
 * The gateway's HTTP app. Never listens: the entry point does, tests use `app.inject()`.
 * Every route needs `Authorization: Bearer <token>` or the dashboard's session cookie (and then,
 * for anything but GET, a same-origin request: the cookie alone must not let another site act),
 * except those registered with `config: { public: true }` (health, sign-in, the dashboard's
 * page, the Telegram webhook). The verdict comes from the matched route (see `guardRoutes`).
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // Never: fastify's trustProxy would read X-Forwarded-For/-Host/-Proto from any client.
    trustProxy: false,
    return503OnClosing: true,
    forceCloseConnections: "idle",
    schemaController: { compilersFactory: lazySchemaCompilers() },
  });
  guardRoutes(app);
  const limiter = deps.limiter ?? new FailureLimiter();
  const metrics = new HttpMetrics();
  const authStore = deps.authStore ?? createMemoryAuthStore();
  const sessions = new DashboardSessions({ gatewayToken: deps.gatewayToken, isRevoked: (id) => authStore.isSessionRevoked(id) });
  const addressOf = (request: FastifyRequest) => clientAddress(request, deps.trustProxy?.() ?? false);

  app.addHook("onRequest", async (request, reply) => {
    const allowed = deps.allowedHosts?.();
    if (allowed && !hostAllowed(request.headers.host, allowed)) {
      return sendError(reply, 421, "HOST_NOT_ALLOWED", `this gateway listens on loopback and answers only at http://${allowed[0]}; this request was addressed to another name (set gateway.publicUrl for a tunnel's address)`);
    }
    if (routeAccess(request) === "public") return;
    const token = bearerToken(request.headers.authorization);
    if (token === undefined) {
      const cookie = readCookie(request.headers.cookie, SESSION_COOKIE);
      if (cookie === undefined) {
        return sendError(reply, 401, "AUTH_REQUIRED", "send the gateway token as `Authorization: Bearer <token>` (OPENCLAW_GATEWAY_TOKEN, or `faraday token` on the gateway's machine)");
      }
      // A stale cookie (expired, signed out, token rotated) is not a guess: not counted as a failure.
      const session = sessions.verify(cookie);
      if (!session) return sendError(reply, 401, "AUTH_REQUIRED", "your dashboard session has ended; sign in again with the gateway token");
      if (request.method !== "GET" && request.method !== "HEAD" && !isSameOrigin(request.headers)) {
        return sendError(reply, 403, "AUTH_CROSS_ORIGIN", "this request came from another site; use the gateway's own dashboard page");
      }
      if (session.refreshed) reply.header("set-cookie", sessionCookie(session.refreshed, isSecureRequest(request)));
      return;
    }
    // The right token always gets through: the limiter only slows down wrong guesses.
    if (tokensEqual(token, deps.gatewayToken())) return;
    metrics.authFailures++;
    const address = addressOf(request);
    const limited = refuseIfLimited(reply, limiter, address);
    if (limited) return limited;
    limiter.recordFailure(address);
    return sendError(reply, 401, "AUTH_INVALID", "the gateway token is wrong; check OPENCLAW_GATEWAY_TOKEN (or `faraday token` on the gateway's machine)");
  });

  app.addHook("onResponse", async (request, reply) => {
    metrics.countRequest(request.method, request.routeOptions.url ?? "unmatched", reply.statusCode);
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 404, "NOT_FOUND", `no route ${request.method} ${request.url.split("?")[0]}`),
  );

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (isFaradayError(error, "CONFIG_CHANGED_ON_DISK")) return sendError(reply, 409, error.code, error.message, error.details ?? {});
    if (isFaradayError(error, "CONFIG_COMMAND_FORBIDDEN")) {
      request.log.warn({ paths: error.details?.paths, route: request.routeOptions.url }, "refused a config that adds or changes a program to run");
      return sendError(reply, 403, error.code, error.message, error.details ?? {});
    }
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

  app.get("/healthz", { config: { public: true } }, async () => ({ ok: true }));

  app.get("/readyz", { config: { public: true } }, async (request, reply) => {
    const failing = deps.components.failing();
    const components = deps.components.list().map(publicComponent);
    if (failing.length === 0) return { ok: true, components };
    // A failing component with a stable code (DISK_FULL, DATABASE_FAILED) names it at the top.
    const code = failing.map((component) => component.details?.code).find((value) => typeof value === "string");
    return reply.code(503).send({ ok: false, ...(code ? { code } : {}), failing: failing.map(publicComponent), components });
  });

  app.get("/metrics", async (request, reply) => {
    reply.type("text/plain; version=0.0.4; charset=utf-8");
    return renderMetrics({ version: deps.version, startedAt: deps.startedAt, metrics, components: deps.components });
  });

  await authRoutes({ gatewayToken: deps.gatewayToken, sessions, store: authStore, limiter, addressOf, onFailure: () => metrics.authFailures++ })(app);
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
      config: { state: config.state, path: config.path, problems: config.problems, warnings: config.warnings, file: deps.config.fileStatus() },
      ready: deps.components.failing().length === 0,
      components: deps.components.list().map(publicComponent),
    };
  });

  app.get("/api/config", async (_request, reply) => {
    const config = deps.config.current();
    const file = await deps.config.readFile();
    reply.header("etag", `"${file.version}"`);
    // The file as written: a hand edit not applied yet (or not valid) is what an editor must show.
    const raw = file.raw ?? deps.config.raw();
    const status = deps.config.fileStatus();
    return {
      path: config.path,
      state: config.state,
      config: raw === undefined ? null : maskSecrets(raw),
      problems: config.problems,
      warnings: config.warnings,
      // Send back as If-Match (or ?baseVersion) with PUT: a save over a newer file is refused.
      version: file.version,
      applied: file.applied,
      ...(file.applied ? {} : { fileProblems: status.version === file.version ? status.problems : file.parseError ? [{ path: "", message: file.parseError }] : [] }),
    };
  });

  app.put("/api/config", async (request: FastifyRequest<{ Body: unknown }>, reply) => {
    if (request.body === undefined || request.body === null || typeof request.body !== "object" || Array.isArray(request.body)) {
      return sendError(reply, 400, "CONFIG_INVALID", "send the whole openclaw.json object as the JSON body (Content-Type: application/json)", {
        problems: [{ path: "", message: "expected a JSON object at the top level" }],
      });
    }
    const ifMatch = request.headers["if-match"];
    const baseQuery = (request.query as { baseVersion?: unknown } | undefined)?.baseVersion;
    // If-Match: "VERSION" (an ETag from GET /api/config); "*" asks for no check, like no header.
    const matched = typeof ifMatch === "string" && ifMatch.trim() && ifMatch.trim() !== "*" ? ifMatch.trim().replace(/^W\//, "").replace(/^"|"$/g, "") : undefined;
    const baseVersion = matched ?? (typeof baseQuery === "string" && baseQuery ? baseQuery : undefined);
    const result = await deps.config.update(request.body, baseVersion === undefined ? {} : { baseVersion });
    if (!result.ok) {
      return sendError(reply, 400, "CONFIG_INVALID", `the config has ${result.problems.length} problem(s); nothing was written`, {
        problems: result.problems,
        warnings: result.warnings,
      });
    }
    request.log.info({ changed: result.changed, warnings: result.state.warnings.length }, "config replaced through the API");
    return { ok: true, changed: result.changed, state: result.state.state, warnings: result.state.warnings, version: deps.config.fileStatus().version };
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
