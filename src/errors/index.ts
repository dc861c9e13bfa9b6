export { FaradayError, isFaradayError, ERROR_CODES, EXIT_CODES } from "./faraday-error.ts";
export type { ErrorCode, FaradayErrorOptions } from "./faraday-error.ts";
