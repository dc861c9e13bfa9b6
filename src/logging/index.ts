export { createLogger } from "./create-logger.ts";
export type { Logger, LoggerOptions } from "./create-logger.ts";
export { routeConsoleToLog } from "./console-to-log.ts";
