export { buildApp } from "./build-app.ts";
export type { AppDeps, AppPlugin } from "./build-app.ts";
export { FailureLimiter, tokensEqual, bearerToken } from "./auth.ts";
export { sendError } from "./reply-error.ts";
