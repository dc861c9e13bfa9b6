import { format } from "node:util";
import type { Logger } from "./create-logger.ts";

/**
 * Sends what libraries print with `console.*` into the structured log instead of plain lines
 * between the JSON ones: the model SDKs `console.warn` deprecation notices
 * (@anthropic-ai/sdk resources/messages/messages.js: "The model '…' is deprecated …") and their
 * default logger writes to the console too. Each becomes one entry with `source: "console"` at
 * the matching level. For the gateway process only (it owns stdout); returns a function that
 * puts the console back.
 */
export function routeConsoleToLog(logger: Logger, target: Console = console): () => void {
  const original = { log: target.log, info: target.info, warn: target.warn, error: target.error, debug: target.debug };
  const route = (level: "info" | "warn" | "error" | "debug") => (...args: unknown[]) => {
    logger[level]({ source: "console" }, format(...args));
  };
  target.log = route("info");
  target.info = route("info");
  target.warn = route("warn");
  target.error = route("error");
  target.debug = route("debug");
  return () => Object.assign(target, original);
}
