import {
  configPath,
  formatProblems,
  loadConfigFile,
  resolveBindHost,
  resolvePort,
  resolveStateDir,
  resolveTrustProxy,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  type FaradayConfig,
  type ConfigState,
  type Environment,
  type GatewayFlags,
} from "../config/index.ts";
import { FaradayError } from "../errors/index.ts";
import type { RegisteredRoute } from "../http/index.ts";
import type { Logger } from "../logging/index.ts";
import {
  acquireStateLock,
  createSecretStore,
  ensureStateDir,
  openDatabase,
  type Database,
  type StateLock,
} from "../state/index.ts";
import { nodeFlagsReport, SUPPORTED_NODE_FLAGS } from "../node-flags.ts";
import { ComponentRegistry } from "./components.ts";
import { ConfigService, type ConfigFileStatus } from "./config-service.ts";
import { watchConfigFile } from "./config-watcher.ts";
import type { ExtensionInstance, GatewayExtension } from "./extension.ts";
import { resolveGatewayToken } from "./gateway-token.ts";

export interface StartGatewayOptions {
  flags: GatewayFlags;
  environment: Environment;
  version: string;
  logger: Logger;
  extensions?: readonly GatewayExtension[];
  /**
   * Where to print a one-time dashboard sign-in link after start-up (a person's terminal, never a
   * log: the link is a credential for 15 minutes). The CLI passes stderr when it is a TTY and the
   * gateway is on loopback.
   */
  signInLinkTo?: NodeJS.WritableStream;
}

export interface RunningGateway {
  /** Where a client on this machine reaches it, e.g. http://127.0.0.1:3000 */
  readonly url: string;
  readonly port: number;
  readonly stateDir: string;
  readonly components: ComponentRegistry;
  /** Stop accepting work, let in-flight work finish (bounded), release the lock. Idempotent. */
  close(reason: string): Promise<void>;
  /** Resolves with the exit code once the gateway has stopped for any reason. */
  readonly stopped: Promise<number>;
  /** Every HTTP route and whether it needs the token (from fastify's onRoute): for audits and tests. */
  routes(): readonly RegisteredRoute[];
}

function currentValidConfig(config: ConfigService): FaradayConfig | undefined {
  const state = config.current();
  return state.state === "valid" ? state.config : undefined;
}

function describeConfigComponent(config: ConfigState) {
  switch (config.state) {
    case "valid":
      return { state: "ready", ready: true, reason: config.warnings.length ? `loaded with ${config.warnings.length} warning(s)` : "loaded" };
    case "missing":
      return {
        state: "unconfigured",
        ready: true,
        reason: `no ${config.path}: running with defaults (no channels, no model). Create it or PUT /api/config`,
      };
    case "invalid":
      return { state: "failed", ready: false, reason: "config_invalid", details: { problems: config.problems } };
  }
}

/**
 * Boot the gateway: state dir, lock, config, database, HTTP. Throws a FaradayError (with its
 * exit code) when it must not start; otherwise serves until `close()` or a fatal lock loss.
 */
export async function startGateway(options: StartGatewayOptions): Promise<RunningGateway> {
  const { flags, environment, version, logger } = options;
  const startedAt = new Date();
  // Start loading the HTTP stack while the disk work happens.
  const httpModule = import("../http/index.ts");
  const stateDir = resolveStateDir(flags.stateDir, environment);
  const { host, loopback } = resolveBindHost(flags.bind);
  const paths = await ensureStateDir(stateDir);

  let stopGateway: (reason: string, exitCode: number) => Promise<void> = async () => {};
  const lock: StateLock = await acquireStateLock(stateDir, {
    version,
    onCompromised: (error) => {
      logger.fatal({ code: "LOCK_COMPROMISED", err: error.message }, "lost the state lock (another process took it, or the state dir vanished); stopping to avoid two writers");
      void stopGateway("lock compromised", 3);
    },
  });

  if (lock.reclaimedFrom) {
    const previous = lock.reclaimedFrom.owner;
    logger.warn(
      { previousPid: previous?.pid, previousHost: previous?.hostname, previousStartedAt: previous?.startedAt, reason: lock.reclaimedFrom.reason },
      "reclaimed the state lock from a dead gateway",
    );
  }

  let database: Database | undefined;
  try {
    const [config, openedDatabase] = await Promise.all([
      loadConfigFile(configPath(stateDir), environment.variables),
      openDatabase(paths.database),
    ]);
    database = openedDatabase;
    if (config.state === "missing" && !flags.allowUnconfigured) {
      throw new FaradayError(
        "CONFIG_MISSING",
        `no config at ${config.path}. Create it (\`faraday config schema\` describes it), or start with --allow-unconfigured to run with defaults and set it later through PUT /api/config`,
      );
    }
    if (config.state === "invalid" && !flags.allowUnconfigured) {
      throw new FaradayError(
        "CONFIG_INVALID",
        `${config.path} has ${config.problems.length} problem(s):\n${formatProblems(config.problems)}\n` +
          `Fix them (\`faraday config validate\` re-checks), or start with --allow-unconfigured to serve in setup mode and fix it through PUT /api/config`,
        { details: { problems: config.problems } },
      );
    }
    for (const warning of config.warnings) logger.warn({ path: warning.path, file: config.path }, `config: ${warning.message}`);
    if (config.state === "invalid") {
      logger.error({ problems: config.problems, file: config.path }, "config is invalid: serving in setup mode (channels off) until it is fixed through PUT /api/config");
    }
    const validConfig = config.state === "valid" ? config.config : undefined;
    const port = resolvePort(flags.port, environment, validConfig);
    const secrets = createSecretStore(database);
    const token = resolveGatewayToken({
      environment,
      config: validConfig,
      loopback,
      bindDescription: `${host} (--bind ${flags.bind ?? "loopback"})`,
      secrets: () => secrets,
    });
    if (token.generated) logger.info("generated a gateway token and kept it in the state dir's secret store; `faraday token` prints it");

    const components = new ComponentRegistry();
    components.set("stateDir", { state: "ready", ready: true, reason: stateDir });
    components.set("database", { state: "ready", ready: true, reason: "open (WAL)" });
    const configService = new ConfigService(config, paths, environment.variables);
    const applyConfigState = (state: ConfigState) => components.set("config", describeConfigComponent(state));
    applyConfigState(config);
    configService.on("config-changed", applyConfigState);
    // A hand edit that cannot be applied: the running config stays, and status says why.
    configService.on("file-status", (status: ConfigFileStatus) => {
      const running = configService.current();
      if (status.applied) return applyConfigState(running);
      const reason = `openclaw.json on disk has ${status.problems.length} problem(s): ${status.problems.map((problem) => `${problem.path || "(file)"}: ${problem.message}`).join("; ")}`;
      components.set("config", running.state === "valid"
        ? { state: "degraded", ready: true, reason: `${reason} — still running the config loaded before the edit; fix the file to apply it`, details: { problems: status.problems, fileApplied: false } }
        : { state: "failed", ready: false, reason: "config_invalid", details: { problems: status.problems, fileApplied: false } });
    });

    const context = { version, paths, environment, config: configService, components, database, secrets, logger };
    const instances: Array<{ name: string; instance: ExtensionInstance }> = [];
    for (const extension of options.extensions ?? []) {
      instances.push({ name: extension.name, instance: await extension.setup(context) });
    }

    const { buildApp, createSettingsAuthStore, loopbackHosts, registeredRoutes } = await httpModule;
    // Known once listening (0 asks for a free port); the Host check reads it per request.
    const boundPort = () => {
      const address = app.server.address();
      return typeof address === "object" && address ? address.port : port;
    };
    const authStore = createSettingsAuthStore(database);
    const app = await buildApp({
      version,
      startedAt,
      stateDir,
      logger,
      components,
      config: configService,
      gatewayToken: () => token.token,
      tokenSource: token.source,
      authStore,
      trustProxy: () => resolveTrustProxy(environment, currentValidConfig(configService)),
      ...(loopback ? { allowedHosts: () => loopbackHosts(boundPort(), { bindHost: host, publicUrl: currentValidConfig(configService)?.gateway?.publicUrl }) } : {}),
      plugins: instances.flatMap(({ instance }) => (instance.plugin ? [instance.plugin] : [])),
    });

    try {
      await app.listen({ port, host });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
        throw new FaradayError("PORT_IN_USE", `port ${port} on ${host} is already in use; pick another with --port or OPENCLAW_GATEWAY_PORT, or stop what holds it`, { cause: error });
      }
      throw error;
    }
    const localHost = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "[::1]" : host.includes(":") ? `[${host}]` : host;
    const url = `http://${localHost}:${boundPort()}`;
    await lock.setUrl(url);
    const nodeFlags = nodeFlagsReport();
    logger.info(
      { url, bind: host, port: boundPort(), stateDir, config: config.state, tokenSource: token.source, startupMs: Math.round(performance.now()), ...(nodeFlags ? { nodeFlags: nodeFlags.applied } : {}) },
      "gateway listening",
    );
    if (nodeFlags?.ignored.length) {
      logger.warn(
        { code: "NODE_FLAGS_IGNORED", ignored: nodeFlags.ignored },
        `FARADAY_NODE_FLAGS: ignored ${nodeFlags.ignored.join(" ")} (supported: ${[...SUPPORTED_NODE_FLAGS].join(" ")}, or --name=value options Node also takes in NODE_OPTIONS); fix the value where it is set (fly.toml [env])`,
      );
    }
    if (nodeFlags?.error) {
      logger.warn({ code: "NODE_FLAGS_NOT_APPLIED", err: nodeFlags.error }, "FARADAY_NODE_FLAGS could not be applied; running without them (memory use may be higher). Put the flags on the node command line instead");
    }
    logger.info(
      { dashboard: loopback ? `${url}/` : "/ on this gateway's public address" },
      "dashboard and web chat; sign in with the gateway token, or open the one-time link `faraday token --link` prints",
    );
    if (loopback && options.signInLinkTo) {
      const { code } = authStore.createLoginCode();
      options.signInLinkTo.write(`\nDashboard: ${url}/#code=${code}\n  (one-time sign-in link, valid 15 minutes; later: \`faraday token --link\`)\n\n`);
    }
    configService.keepLastGood().catch((error: unknown) => logger.warn({ err: error, file: paths.configLastGood }, "could not keep a last-good copy of the config"));
    // Hand edits of openclaw.json apply while the gateway runs (validated like PUT /api/config).
    const stopWatchingConfig = watchConfigFile({
      path: paths.config,
      onChange: () => {
        configService.applyFromDisk().then((result) => {
          if (result.outcome === "applied") {
            logger.info({ file: paths.config, version: result.version, warnings: result.warnings.length }, "openclaw.json changed on disk: applied");
          } else if (result.outcome === "invalid") {
            logger.warn(
              { code: "CONFIG_INVALID", file: paths.config, version: result.version, problems: result.problems },
              `openclaw.json changed on disk but has ${result.problems.length} problem(s); still running the previous config until the file is fixed`,
            );
          }
        }, (error: unknown) => logger.error({ err: error, file: paths.config }, "could not apply the edited openclaw.json"));
      },
      onError: (error) => logger.warn({ err: error.message, file: paths.config }, "stopped watching openclaw.json: hand edits apply after a restart"),
    });

    for (const { name, instance } of instances) {
      instance.start?.().catch((error: unknown) => logger.error({ component: name, err: error }, "component failed to start"));
    }

    const shutdownTimeoutMs = validConfig?.gateway?.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
    let resolveStopped!: (code: number) => void;
    const stopped = new Promise<number>((resolve) => (resolveStopped = resolve));
    let closing: Promise<void> | undefined;
    const openDatabaseHandle = database;
    stopGateway = (reason: string, exitCode: number) => {
      closing ??= (async () => {
        logger.info({ reason, timeoutMs: shutdownTimeoutMs }, "gateway stopping");
        stopWatchingConfig();
        components.set("gateway", { state: "stopping", ready: false, reason });
        const deadline = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), shutdownTimeoutMs).unref());
        const drained = (async () => {
          // Stop extensions first (channels stop taking messages; in-flight turns finish), then HTTP.
          await Promise.allSettled(instances.reverse().map(({ instance }) => instance.stop?.()));
          await app.close();
        })();
        if ((await Promise.race([drained, deadline])) === "timeout") {
          logger.warn({ timeoutMs: shutdownTimeoutMs }, "in-flight work did not finish in time; stopping anyway");
        }
        try {
          openDatabaseHandle.close();
        } catch {
          // Already closed, or a statement still open after the timeout: the WAL keeps it safe.
        }
        await lock.release();
        logger.info({ exitCode }, "gateway stopped");
        resolveStopped(exitCode);
      })();
      return closing;
    };

    return {
      url,
      port: boundPort(),
      stateDir,
      routes: () => registeredRoutes(app),
      components,
      close: (reason: string) => stopGateway(reason, 0),
      stopped,
    };
  } catch (error) {
    try {
      database?.close();
    } catch {
      // ignore: we are failing already
    }
    await lock.release();
    throw error;
  }
}
