import type { FastifyInstance, FastifyRequest } from "fastify";

/** Who may call a route: anyone (`public`), or only a caller holding the credential (`credential`). */
export type RouteAccess = "public" | "credential";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Opt out of authentication: the route answers anyone. Every other route needs the credential. */
    public?: boolean;
    /** Set for every route when it is registered (see `guardRoutes`); never set it by hand. */
    access?: RouteAccess;
  }
}

/** One registered route as its access guard saw it. */
export interface RegisteredRoute {
  readonly method: string;
  readonly url: string;
  readonly access: RouteAccess;
}

const registered = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/**
 * Deny by default: from now on every route registered on `app` (or a plugin inside it) needs the
 * credential unless its options say `config: { public: true }`. Authentication is then decided by
 * the route the router matched (`routeAccess(request)`), never by the URL string: `/%61pi/status`
 * and `/api/status` are the same route, with the same verdict. Call before any route is added.
 */
export function guardRoutes(app: FastifyInstance): void {
  const routes: RegisteredRoute[] = [];
  registered.set(app, routes);
  app.addHook("onRoute", (options) => {
    const access: RouteAccess = options.config?.public === true ? "public" : "credential";
    options.config = { ...options.config, access };
    const methods = Array.isArray(options.method) ? options.method : [options.method];
    for (const method of methods) routes.push({ method: String(method), url: options.url ?? options.path ?? "", access });
  });
}

/**
 * What the matched route requires. Unmatched requests (the 404 handler) are `public`: they reach
 * nothing, and answer the same 404 with or without a credential.
 */
export function routeAccess(request: FastifyRequest): RouteAccess {
  if (request.is404) return "public";
  return request.routeOptions.config?.access ?? "credential";
}

/** Every route registered on `app` since `guardRoutes`, with its access: for tests and audits. */
export function registeredRoutes(app: FastifyInstance): readonly RegisteredRoute[] {
  return registered.get(app) ?? [];
}
