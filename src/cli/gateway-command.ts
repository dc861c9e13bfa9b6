import { readEnvironment, type GatewayFlags } from "../config/index.ts";
import { FaradayError } from "../errors/index.ts";
import { startGateway, type GatewayExtension } from "../gateway/index.ts";
import { createLogger } from "../logging/index.ts";
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
];

let agentModule: Promise<typeof import("../agent/agent-extension.ts")> | undefined;
/** Loaded once; started early so parsing overlaps the lock and database work. */
const loadAgentExtension = () => (agentModule ??= import("../agent/agent-extension.ts"));

const LEVELS = new Set(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

/** `faraday gateway`: run until SIGTERM/SIGINT; resolves with the exit code. */
export async function runGateway(flags: GatewayFlags): Promise<number> {
  void loadAgentExtension().catch(() => {}); // errors surface again when setup awaits it
  const environment = readEnvironment();
  const level = environment.logLevel && LEVELS.has(environment.logLevel) ? environment.logLevel : "info";
  const logger = createLogger({ level: level as "info" });
  // Handlers go in before start-up: Fly or Docker may stop us the moment /healthz answers.
  let gateway: Awaited<ReturnType<typeof startGateway>> | undefined;
  let pendingSignal: NodeJS.Signals | undefined;
  let signals = 0;
  const startAborted = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
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
      flags, environment, version: faradayVersion(), logger, extensions: GATEWAY_EXTENSIONS, signal: startAborted.signal,
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
