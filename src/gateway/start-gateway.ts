import { readdir } from "node:fs/promises";
import {
  configPath,
  formatProblems,
  loadConfigFile,
  resolveBindHost,
  resolvePort,
  resolveStateDir,
  resolveTrustProxy,
  setupModePort,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  type FaradayConfig,
  type ConfigState,
  type Environment,
  type GatewayFlags,
} from "../config/index.ts";
import { FaradayError, isFaradayError } from "../errors/index.ts";
import type { RegisteredRoute } from "../http/index.ts";
import type { Logger } from "../logging/index.ts";
import {
  acquireStateLock,
  createSecretStore,
  ensureStateDir,
  databaseDamaged,
  databaseWriteProbe,
  isDatabaseDamaged,
  isDiskFull,
  StorageHealth,
  openDatabase,
  removeStaleTemporaries,
  type Database,
  type SecretStore,
  type StateLock,
} from "../state/index.ts";
import { nodeFlagsReport, SUPPORTED_NODE_FLAGS } from "../node-flags.ts";
import { ComponentRegistry } from "./components.ts";
import { ConfigService, type ConfigFileStatus } from "./config-service.ts";
import { watchConfigFile } from "./config-watcher.ts";
import { diskFullChatRoute, diskFullComponent, serveWhileDiskFull } from "./disk-full-setup.ts";
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
  /** Aborted when the gateway is asked to stop before start-up finished (e.g. waiting for disk space). */
  signal?: AbortSignal;
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

/**
 * The token while serving in setup mode on a full disk: the configured one, or (loopback, none
 * configured) a random one for this run, since the stored one is in the database we cannot open.
 */
function setupModeToken(environment: Environment, config: FaradayConfig | undefined, loopback: boolean, bindDescription: string) {
  return resolveGatewayToken({
    environment, config, loopback, bindDescription,
    // Kept in memory only: `faraday token` cannot print it, the dashboard needs a restart with space.
    secrets: (): SecretStore => ({ get: () => undefined, set: () => {}, delete: () => false, names: () => [] }),
  });
}

/** What startGateway returns when it was stopped before it finished starting. */
function stoppedGateway(stateDir: string, components: ComponentRegistry): RunningGateway {
  return { url: "", port: 0, stateDir, components, close: async () => {}, stopped: Promise.resolve(0), routes: () => [] };
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

  // A restore staged by `POST /api/backup/restore` (or one a crash interrupted) is applied or
  // discarded now, with the lock held and before the database is opened.
  if ((await readdir(stateDir)).some((name) => name.startsWith(".restore") || name.startsWith(".backup-"))) {
    try {
      const recovery = await (await import("../backup/index.ts")).recoverRestore(stateDir);
      if (recovery.outcome === "applied") logger.warn({ backupCreatedAt: recovery.manifest?.createdAt, withSecrets: recovery.manifest?.withSecrets }, "restored the state dir from the uploaded backup");
      if (recovery.outcome === "discarded") logger.warn("discarded an unfinished restore (it never completed; the state dir is as it was)");
    } catch (error) {
      await lock.release();
      throw new FaradayError("STATE_DIR_UNWRITABLE", `could not finish the restore staged in ${stateDir}/.restore: ${(error as Error).message}. Check free space and permissions, then start again (the restore resumes)`, { cause: error });
    }
  }

  // We hold the lock: every temporary file left in the state dir belongs to a dead writer.
  const staleTemporaries = await removeStaleTemporaries(stateDir);
  if (staleTemporaries.length > 0) logger.info({ files: staleTemporaries }, "removed temporary files a stopped writer left behind");

  let database: Database | undefined;
  let closeSetupApp: (() => Promise<void>) | undefined;
  try {
    const [config, opening] = await Promise.all([
      loadConfigFile(configPath(stateDir), environment.variables),
      openDatabase(paths.database).then((opened) => ({ opened }), (error: unknown) => ({ error })),
    ]);
    if ("opened" in opening) database = opening.opened;
    else if (!isDiskFull(opening.error)) throw opening.error;
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
    // Setup mode still listens on the file's gateway.port when that key itself is fine.
    const setupPort = config.state === "invalid" ? setupModePort(config.raw, config.problems) : undefined;
    let port = resolvePort(flags.port, environment, validConfig ?? (setupPort === undefined ? undefined : { gateway: { port: setupPort } }));
    const bindDescription = `${host} (--bind ${flags.bind ?? "loopback"})`;
    const components = new ComponentRegistry();
    components.set("stateDir", { state: "ready", ready: true, reason: stateDir });
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
    const { buildApp, createSettingsAuthStore, loopbackHosts, registeredRoutes } = await httpModule;

    if (database === undefined) {
      // Started on a full disk: setup mode until the database can be opened, then on as usual.
      const setupToken = setupModeToken(environment, validConfig, loopback, bindDescription);
      const waited = await serveWhileDiskFull({
        error: "error" in opening ? opening.error : undefined,
        open: () => openDatabase(paths.database),
        buildApp: async () => {
          const setupApp = await buildApp({
            version, startedAt, stateDir, logger, components, config: configService,
            gatewayToken: () => setupToken.token, tokenSource: setupToken.source,
            trustProxy: () => resolveTrustProxy(environment, validConfig),
            // The same Host rule as the full gateway (DNS rebinding), on the port this app got.
            ...(loopback ? {
              allowedHosts: () => {
                const address = setupApp.server.address();
                return loopbackHosts(typeof address === "object" && address ? address.port : port, { bindHost: host, publicUrl: validConfig?.gateway?.publicUrl });
              },
            } : {}),
            plugins: [diskFullChatRoute],
          });
          return setupApp;
        },
        port, host, stateDir, components, logger,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (!waited) {
        await lock.release();
        logger.info({ exitCode: 0 }, "gateway stopped");
        return stoppedGateway(stateDir, components);
      }
      database = waited.database;
      port = waited.port;
      closeSetupApp = waited.close;
    }
    const openedDatabase: Database = database;

    const secrets = createSecretStore(database);
    let token: ReturnType<typeof resolveGatewayToken>;
    try {
      token = resolveGatewayToken({ environment, config: validConfig, loopback, bindDescription, secrets: () => secrets });
      if (token.generated) logger.info("generated a gateway token and kept it in the state dir's secret store; `faraday token` prints it");
    } catch (error) {
      // The first start on a full disk cannot keep a generated token: use one for this run.
      if (!isDiskFull(error)) throw error;
      token = setupModeToken(environment, validConfig, loopback, bindDescription);
      logger.warn({ code: "DISK_FULL" }, "could not keep the generated gateway token (the disk is full); this run uses one that `faraday token` cannot print");
    }

    components.set("database", { state: "ready", ready: true, reason: "open (WAL)" });
    const storage = new StorageHealth({ probe: databaseWriteProbe(openedDatabase, stateDir) });
    storage.on("changed", (condition) => {
      if (condition.state === "disk_full") {
        const component = diskFullComponent(stateDir, "new messages, replies and settings cannot be saved");
        components.set("database", component);
        logger.error({ code: "DISK_FULL", failedWrite: condition.what }, component.reason);
      } else if (condition.state === "damaged") {
        const error = databaseDamaged(paths.database, new Error(condition.message));
        components.set("database", { state: "failed", ready: false, reason: error.message, details: { code: "DATABASE_FAILED" } });
        logger.error({ code: "DATABASE_FAILED", failedWrite: condition.what }, error.message);
      } else {
        components.set("database", { state: "ready", ready: true, reason: "open (WAL); writing again after the disk was full" });
        logger.info("the state volume has space again: writing resumed");
      }
    });

    const context = { version, paths, environment, config: configService, components, database, secrets, logger, storage };
    const instances: Array<{ name: string; instance: ExtensionInstance }> = [];
    for (const extension of options.extensions ?? []) {
      instances.push({ name: extension.name, instance: await extension.setup(context) });
    }

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
      const closing = closeSetupApp;
      closeSetupApp = undefined;
      await closing?.();
      await app.listen({ port, host });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
        throw new FaradayError("PORT_IN_USE", `port ${port} on ${host} is already in use; pick another with --port or OPENCLAW_GATEWAY_PORT, or stop what holds it`, { cause: error });
      }
      throw error;
    }
    const localHost = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "[::1]" : host.includes(":") ? `[${host}]` : host;
    const url = `http://${localHost}:${boundPort()}`;
    // The owner record tells `faraday` CLIs where we listen; on a full disk it waits for space.
    const recordUrl = () => lock.setUrl(url).catch((error: unknown) => {
      if (storage.report(error, "the lock's owner record") === "other") logger.warn({ err: error }, "could not record the gateway's URL beside the lock");
    });
    await recordUrl();
    storage.on("recovered", () => void recordUrl());
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
      try {
        const { code } = authStore.createLoginCode();
        options.signInLinkTo.write(`\nDashboard: ${url}/#code=${code}\n  (one-time sign-in link, valid 15 minutes; later: \`faraday token --link\`)\n\n`);
      } catch (error) {
        if (storage.report(error, "the sign-in link") === "other") throw error;
      }
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
        storage.close();
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
    await closeSetupApp?.().catch(() => {});
    try {
      database?.close();
    } catch {
      // ignore: we are failing already
    }
    await lock.release();
    // Damaged pages met anywhere during start-up (a table an extension reads first): exit 5
    // naming the file and the way out, not exit 1 with a stack trace.
    if (isDatabaseDamaged(error) && !isFaradayError(error, "DATABASE_FAILED")) throw databaseDamaged(paths.database, error);
    throw error;
  }
}
