import { readEnvironment, type GatewayFlags } from "../config/index.ts";
import { FaradayError } from "../errors/index.ts";
import { startGateway, type GatewayExtension } from "../gateway/index.ts";
import { createLogger, LogBuffer, routeConsoleToLog, secretValuesFrom } from "../logging/index.ts";
import { faradayVersion } from "../version.ts";
import { reportError } from "./output.ts";

/** The capabilities this build plugs into the gateway. Later issues append theirs. */
export const GATEWAY_EXTENSIONS: readonly GatewayExtension[] = [
  {
    name: "agent",
    async setup(context) {
      const { agentExtension } = await loadAgentExtension();
      return agentExtension.setup(context);
    },
  },
  {
    name: "backup",
    async setup(context) {
      return (await import("../backup/backup-routes.ts")).backupExtension.setup(context);
    },
  },
];

/** How many log lines the gateway keeps in memory for `GET /api/logs` and the dashboard. */
export const LOG_BUFFER_LINES = 2_000;

/** `/api/logs` over the gateway's in-memory log. */
function logsExtension(buffer: LogBuffer): GatewayExtension {
  return {
    name: "logs",
    async setup() {
      const { logRoutes } = await import("../http/index.ts");
      return { plugin: logRoutes(buffer) };
    },
  };
}

let agentModule: Promise<typeof import("../agent/agent-extension.ts")> | undefined;
/** Loaded once; started early so parsing overlaps the lock and database work. */
const loadAgentExtension = () => (agentModule ??= import("../agent/agent-extension.ts"));

/** A repeat of the first stop signal within this long is a duplicate delivery, not "exit now". */
const DUPLICATE_SIGNAL_MS = 1_000;

const LEVELS = new Set(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

/** `faraday gateway`: run until SIGTERM/SIGINT; resolves with the exit code. */
export async function runGateway(flags: GatewayFlags): Promise<number> {
  void loadAgentExtension().catch(() => {}); // errors surface again when setup awaits it
  const environment = readEnvironment();
  const level = environment.logLevel && LEVELS.has(environment.logLevel) ? environment.logLevel : "info";
  const logBuffer = new LogBuffer(LOG_BUFFER_LINES);
  const logger = createLogger({ level: level as "info", tee: (line) => logBuffer.push(line), redactValues: secretValuesFrom(environment.variables) });
  // Library notices printed with console.* (an SDK's model deprecation warning) become log entries.
  routeConsoleToLog(logger);
  // Handlers go in before start-up: Fly or Docker may stop us the moment /healthz answers.
  let gateway: Awaited<ReturnType<typeof startGateway>> | undefined;
  let pendingSignal: NodeJS.Signals | undefined;
  let signals = 0;
  let firstSignal: { signal: NodeJS.Signals; at: number } | undefined;
  const startAborted = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    // The same signal again within a second is one delivery seen twice: a wrapper (npm, the
    // Node 24 launcher) passing on what the process group already got. A person's second
    // Ctrl-C comes later.
    if (firstSignal && firstSignal.signal === signal && performance.now() - firstSignal.at < DUPLICATE_SIGNAL_MS) return;
    firstSignal ??= { signal, at: performance.now() };
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    if (gateway) void gateway.close(`received ${signal}`);
    else {
      pendingSignal = signal;
      startAborted.abort();
    }
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  try {
    gateway = await startGateway({
      flags, environment, version: faradayVersion(), logger, extensions: [...GATEWAY_EXTENSIONS, logsExtension(logBuffer)], signal: startAborted.signal,
      // A person at a terminal gets a sign-in link; a service's log (Fly, systemd) never does.
      ...(process.stderr.isTTY ? { signInLinkTo: process.stderr } : {}),
    });
  } catch (error) {
    logger.fatal({ code: error instanceof FaradayError ? error.code : "INTERNAL" }, "gateway did not start");
    logger.flush?.();
    return reportError(error);
  }
  if (pendingSignal) void gateway.close(`received ${pendingSignal} during start-up`);
  const code = await gateway.stopped;
  logger.flush?.();
  return code;
}
