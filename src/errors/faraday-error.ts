/**
 * The one error class of Faraday. Every failure a user can meet carries a stable
 * `code` (documented in the README) and a message that says the fix.
 */
export const ERROR_CODES = {
  CONFIG_MISSING: "CONFIG_MISSING",
  CONFIG_INVALID: "CONFIG_INVALID",
  CONFIG_UNREADABLE: "CONFIG_UNREADABLE",
  CONFIG_COMMAND_FORBIDDEN: "CONFIG_COMMAND_FORBIDDEN",
  LOCK_HELD: "LOCK_HELD",
  LOCK_COMPROMISED: "LOCK_COMPROMISED",
  STATE_DIR_UNWRITABLE: "STATE_DIR_UNWRITABLE",
  DATABASE_FAILED: "DATABASE_FAILED",
  TOKEN_REQUIRED: "TOKEN_REQUIRED",
  BIND_INVALID: "BIND_INVALID",
  PORT_INVALID: "PORT_INVALID",
  PORT_IN_USE: "PORT_IN_USE",
  AUTH_REQUIRED: "AUTH_REQUIRED",
  AUTH_INVALID: "AUTH_INVALID",
  AUTH_RATE_LIMITED: "AUTH_RATE_LIMITED",
  AUTH_CROSS_ORIGIN: "AUTH_CROSS_ORIGIN",
  HOST_NOT_ALLOWED: "HOST_NOT_ALLOWED",
  NOT_FOUND: "NOT_FOUND",
  BAD_REQUEST: "BAD_REQUEST",
  GATEWAY_UNREACHABLE: "GATEWAY_UNREACHABLE",
  MODEL_NOT_CONFIGURED: "MODEL_NOT_CONFIGURED",
  MODEL_AUTH_FAILED: "MODEL_AUTH_FAILED",
  MODEL_RATE_LIMITED: "MODEL_RATE_LIMITED",
  MODEL_UNAVAILABLE: "MODEL_UNAVAILABLE",
  MODEL_TIMEOUT: "MODEL_TIMEOUT",
  MODEL_CONTEXT_TOO_LONG: "MODEL_CONTEXT_TOO_LONG",
  MODEL_BAD_REQUEST: "MODEL_BAD_REQUEST",
  SESSION_NOT_FOUND: "SESSION_NOT_FOUND",
  TOOL_NOT_FOUND: "TOOL_NOT_FOUND",
  TOOL_DENIED: "TOOL_DENIED",
  TOOL_NEEDS_CONFIRMATION: "TOOL_NEEDS_CONFIRMATION",
  APPROVAL_NOT_FOUND: "APPROVAL_NOT_FOUND",
  APPROVAL_PENDING: "APPROVAL_PENDING",
  CONFIG_CHANGED_ON_DISK: "CONFIG_CHANGED_ON_DISK",
  MCP_SERVER_UNKNOWN: "MCP_SERVER_UNKNOWN",
  MCP_SERVER_UNAVAILABLE: "MCP_SERVER_UNAVAILABLE",
  MCP_AUTH_FAILED: "MCP_AUTH_FAILED",
  CHANNEL_AUTH_FAILED: "CHANNEL_AUTH_FAILED",
  CHANNEL_INTENTS_DISALLOWED: "CHANNEL_INTENTS_DISALLOWED",
  CHANNEL_NOT_CONFIGURED: "CHANNEL_NOT_CONFIGURED",
  CHANNEL_CONFLICT: "CHANNEL_CONFLICT",
  CHANNEL_UNAVAILABLE: "CHANNEL_UNAVAILABLE",
  CHANNEL_LOGGED_OUT: "CHANNEL_LOGGED_OUT",
  CHANNEL_REPLACED: "CHANNEL_REPLACED",
  CHANNEL_ALREADY_LINKED: "CHANNEL_ALREADY_LINKED",
  CHANNEL_NOT_ALLOWED: "CHANNEL_NOT_ALLOWED",
  CHANNEL_LINK_FAILED: "CHANNEL_LINK_FAILED",
  PAIRING_NOT_FOUND: "PAIRING_NOT_FOUND",
  FLYCTL_MISSING: "FLYCTL_MISSING",
  FLY_NOT_LOGGED_IN: "FLY_NOT_LOGGED_IN",
  FLY_APP_NAME_TAKEN: "FLY_APP_NAME_TAKEN",
  FLY_NO_PAYMENT_METHOD: "FLY_NO_PAYMENT_METHOD",
  FLY_NO_CAPACITY: "FLY_NO_CAPACITY",
  FLY_HEALTH_TIMEOUT: "FLY_HEALTH_TIMEOUT",
  FLY_COMMAND_FAILED: "FLY_COMMAND_FAILED",
  DEPLOY_SECRET_MISSING: "DEPLOY_SECRET_MISSING",
  DEPLOY_FLY_TOML_EXISTS: "DEPLOY_FLY_TOML_EXISTS",
  DEPLOY_CONFIG_PUSH_FAILED: "DEPLOY_CONFIG_PUSH_FAILED",
  AGENT_NOT_FOUND: "AGENT_NOT_FOUND",
  INTERNAL: "INTERNAL",
} as const;

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/**
 * Process exit codes. Documented in the README; scripts and the deploy CLI rely on them.
 * 0 ok, 1 generic failure / doctor unhealthy, 2 usage or configuration, 3 lock held by a
 * live gateway, 4 refused to start insecurely, 5 state directory or database unusable.
 */
export const EXIT_CODES = {
  OK: 0,
  FAILURE: 1,
  CONFIG: 2,
  LOCK_HELD: 3,
  INSECURE: 4,
  STATE: 5,
  /** `faraday chat -m`: the turn waits for a yes (the question and session id were printed). */
  APPROVAL_PENDING: 10,
} as const;

const EXIT_BY_CODE: Partial<Record<ErrorCode, number>> = {
  CONFIG_MISSING: EXIT_CODES.CONFIG,
  CONFIG_INVALID: EXIT_CODES.CONFIG,
  CONFIG_UNREADABLE: EXIT_CODES.CONFIG,
  BIND_INVALID: EXIT_CODES.CONFIG,
  PORT_INVALID: EXIT_CODES.CONFIG,
  LOCK_HELD: EXIT_CODES.LOCK_HELD,
  LOCK_COMPROMISED: EXIT_CODES.LOCK_HELD,
  TOKEN_REQUIRED: EXIT_CODES.INSECURE,
  STATE_DIR_UNWRITABLE: EXIT_CODES.STATE,
  DATABASE_FAILED: EXIT_CODES.STATE,
  APPROVAL_PENDING: EXIT_CODES.APPROVAL_PENDING,
};

export interface FaradayErrorOptions {
  cause?: unknown;
  /** Structured details safe to show a user (never secrets). */
  details?: Record<string, unknown>;
}

export class FaradayError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: FaradayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "FaradayError";
    this.code = code;
    this.details = options.details;
  }

  /** The process exit code a command should end with when this error stops it. */
  get exitCode(): number {
    return EXIT_BY_CODE[this.code] ?? EXIT_CODES.FAILURE;
  }
}

/** True when `error` is a FaradayError with the given code (or any code when omitted). */
export function isFaradayError(error: unknown, code?: ErrorCode): error is FaradayError {
  return error instanceof FaradayError && (code === undefined || error.code === code);
}
