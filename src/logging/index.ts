export { createLogger, secretValuesFrom } from "./create-logger.ts";
export type { Logger, LoggerOptions } from "./create-logger.ts";
export { LogBuffer, LOG_LEVELS } from "./log-buffer.ts";
export type { LogEntry, LogQuery, LogListener } from "./log-buffer.ts";
export { routeConsoleToLog } from "./console-to-log.ts";
