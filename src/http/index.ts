export { buildApp } from "./build-app.ts";
export type { AppDeps, AppPlugin } from "./build-app.ts";
export { FailureLimiter, tokensEqual, bearerToken } from "./auth.ts";
export { sendError } from "./reply-error.ts";
export { createMemoryAuthStore, createSettingsAuthStore, LOGIN_CODE_TTL_MS } from "./auth-store.ts";
export type { AuthStore } from "./auth-store.ts";
export { logRoutes } from "./log-routes.ts";
