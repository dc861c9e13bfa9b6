import { access, constants, stat } from "node:fs/promises";
import { dirname } from "node:path";
import {
  CREDENTIAL_VARIABLES,
  configPath,
  loadConfigFile,
  maskSecret,
  readEnvironment,
  resolveStateDir,
  type ConfigState,
} from "../config/index.ts";
import { checkIntegrity, inspectStateLock, openDatabase, removeDeadLock, statePaths, createSecretStore } from "../state/index.ts";
import { printJson } from "./output.ts";

export type CheckStatus = "ok" | "warn" | "fail";

export interface DoctorCheck {
  name: string;
  status: CheckStatus;
  detail: string;
  fixed?: boolean;
  problems?: ReadonlyArray<{ path: string; message: string }>;
}

export interface DoctorOptions {
  stateDir?: string;
  fix?: boolean;
  json?: boolean;
  /** Make no request to the model provider. */
  offline?: boolean;
}

/** Run every check; `--fix` repairs only what is safe (a dead owner's lock). */
export async function collectDoctorChecks(options: DoctorOptions): Promise<DoctorCheck[]> {
  const environment = readEnvironment();
  const stateDir = resolveStateDir(options.stateDir, environment);
  const paths = statePaths(stateDir);
  const checks: DoctorCheck[] = [];

  const major = Number(process.versions.node.split(".")[0]);
  checks.push(major >= 24
    ? { name: "node", status: "ok", detail: `Node.js ${process.version}` }
    : { name: "node", status: "fail", detail: `Node.js ${process.version}; Faraday needs 24 or newer (install Node.js 24 LTS)` });

  let stateDirExists = false;
  try {
    stateDirExists = (await stat(stateDir)).isDirectory();
    await access(stateDir, constants.W_OK);
    checks.push({ name: "stateDir", status: "ok", detail: `${stateDir} is writable` });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      const parentWritable = await access(dirname(stateDir), constants.W_OK).then(() => true, () => false);
      checks.push(parentWritable
        ? { name: "stateDir", status: "warn", detail: `${stateDir} does not exist yet; the gateway creates it on first start` }
        : { name: "stateDir", status: "fail", detail: `${stateDir} does not exist and ${dirname(stateDir)} is not writable; set --state-dir or OPENCLAW_STATE_DIR` });
    } else {
      checks.push({ name: "stateDir", status: "fail", detail: `${stateDir} is not writable (${code}); fix its ownership or point OPENCLAW_STATE_DIR elsewhere` });
    }
  }

  const config: ConfigState = await loadConfigFile(configPath(stateDir), environment.variables);
  if (config.state === "valid") {
    checks.push({
      name: "config",
      status: config.warnings.length ? "warn" : "ok",
      detail: config.warnings.length ? `${config.path} is valid with ${config.warnings.length} warning(s)` : `${config.path} is valid`,
      ...(config.warnings.length ? { problems: config.warnings } : {}),
    });
  } else if (config.state === "missing") {
    checks.push({ name: "config", status: "warn", detail: `no ${config.path}; the gateway needs --allow-unconfigured to start without it` });
  } else {
    checks.push({ name: "config", status: "fail", detail: `${config.path} has ${config.problems.length} problem(s)`, problems: config.problems });
  }

  if (stateDirExists) {
    const lock = await inspectStateLock(stateDir);
    if (lock.state === "free") {
      checks.push({ name: "lock", status: "ok", detail: "free (no gateway running on this state dir)" });
    } else if (lock.state === "held") {
      const owner = lock.owner;
      checks.push({
        name: "lock",
        status: "ok",
        detail: owner ? `held by a live gateway: pid ${owner.pid} on ${owner.hostname} since ${owner.startedAt}` : lock.reason,
      });
    } else if (options.fix) {
      const removed = await removeDeadLock(stateDir, lock.owner);
      checks.push({
        name: "lock",
        status: removed ? "ok" : "fail",
        detail: removed ? `removed the lock of a dead owner (${lock.reason})` : "the lock changed hands while fixing; run doctor again",
        fixed: removed,
      });
    } else {
      checks.push({ name: "lock", status: "fail", detail: `held by a dead owner (${lock.reason}); the next gateway start reclaims it, or run \`faraday doctor --fix\`` });
    }
  }

  let storedSecrets: string[] = [];
  const storedValues = new Map<string, string>();
  const databaseExists = await access(paths.database).then(() => true, () => false);
  if (!databaseExists) {
    checks.push({ name: "database", status: "warn", detail: "not created yet (the gateway creates it on first start)" });
  } else {
    try {
      const database = await openDatabase(paths.database, { readOnly: true });
      try {
        const integrity = checkIntegrity(database);
        checks.push(integrity.ok
          ? { name: "database", status: "ok", detail: `${paths.database}: integrity ok` }
          : { name: "database", status: "fail", detail: `${paths.database}: ${integrity.detail}; restore from a backup or move the file aside` });
        // WhatsApp's link lives in the database: say whether it is there (a lost link needs a scan).
        const whatsapp = config.state === "valid" ? config.config.channels?.whatsapp : undefined;
        try {
          const [{ WhatsAppAuthStore }, { phoneFromJid }] = await Promise.all([import("../channels/whatsapp/auth-store.ts"), import("../channels/whatsapp/transport.ts")]);
          const linked = new WhatsAppAuthStore(database).linkedAs();
          if (linked) checks.push({ name: "whatsapp", status: "ok", detail: `linked as ${phoneFromJid(linked)}${whatsapp?.enabled === false ? " (channel disabled in the config)" : ""}` });
          else if (whatsapp?.enabled === true) checks.push({ name: "whatsapp", status: "warn", detail: "enabled but not linked: run `faraday channels login whatsapp` while the gateway runs, and scan the QR code" });
        } catch {
          // a database from before WhatsApp support: nothing to report
        }
        try {
          const store = createSecretStore(database);
          storedSecrets = store.names();
          for (const name of storedSecrets) storedValues.set(name, store.get(name) ?? "");
        } catch {
          storedSecrets = [];
        }
      } finally {
        database.close();
      }
    } catch (error) {
      checks.push({ name: "database", status: "fail", detail: (error as Error).message });
    }
  }

  // A running gateway is asked: its environment and secret store are what count, not this shell's.
  let gatewayUrl: string | undefined;
  if (stateDirExists) {
    const lock = await inspectStateLock(stateDir);
    if (lock.state === "held" && lock.owner?.url) gatewayUrl = lock.owner.url;
  }
  if (gatewayUrl !== undefined) {
    const gatewayChecks = await askGateway(gatewayUrl, options);
    if (gatewayChecks !== undefined) {
      checks.push(...gatewayChecks);
      const { mcpDoctorChecks } = await import("./doctor-mcp.ts");
      checks.push(...(await mcpDoctorChecks(config.state === "valid" ? config.config : undefined, environment.variables, (name) => storedValues.get(name))));
      return checks;
    }
  }

  const present = CREDENTIAL_VARIABLES.flatMap((name) => {
    const value = environment.variables[name];
    return value ? [`${name}=${maskSecret(value)}`] : [];
  });
  checks.push({
    name: "credentials",
    status: "ok",
    detail: [
      present.length ? `environment: ${present.join(", ")}` : "environment: none of " + CREDENTIAL_VARIABLES.join(", "),
      storedSecrets.length ? `secret store: ${storedSecrets.join(", ")}` : "secret store: empty",
    ].join("; "),
  });
  const validConfig = config.state === "valid" ? config.config : undefined;
  const { checkModelProvider } = await import("../agent/models/model-check.ts");
  const modelRef = validConfig?.agents?.defaults?.model;
  const model = await checkModelProvider({
    env: environment.variables,
    ...(options.offline ? { offline: true } : {}),
    ...(modelRef === undefined ? {} : { modelRef }),
    ...(validConfig?.models?.providers ? { providers: validConfig.models.providers } : {}),
  });
  checks.push({ name: "model", status: model.status, detail: `${model.detail} (no gateway running: checked with this shell's environment)` });
  const { mcpDoctorChecks } = await import("./doctor-mcp.ts");
  checks.push(...(await mcpDoctorChecks(validConfig, environment.variables, (name) => storedValues.get(name))));
  return checks;
}

interface GatewayStatus {
  version: string;
  components: Array<{ name: string; state: string; ready: boolean; reason?: string }>;
}

/**
 * The running gateway's view: its components (each not ready one is a line), the credentials in
 * its environment and secret store, and the model check made with its keys. Undefined when it
 * does not answer (then doctor checks locally and says so).
 */
async function askGateway(url: string, options: DoctorOptions): Promise<DoctorCheck[] | undefined> {
  const { gatewayJson, localGateway } = await import("./gateway-client.ts");
  let status: GatewayStatus;
  let report: import("../agent/doctor-routes.ts").DoctorReport;
  try {
    const target = await localGateway({ url, ...(options.stateDir ? { stateDir: options.stateDir } : {}) });
    [status, report] = await Promise.all([
      gatewayJson<GatewayStatus>(target, "/api/status"),
      gatewayJson<import("../agent/doctor-routes.ts").DoctorReport>(target, `/api/doctor${options.offline ? "?offline=1" : ""}`),
    ]);
  } catch (error) {
    return [{ name: "gateway", status: "warn", detail: `the lock names a gateway at ${url}, but asking it failed (${(error as Error).message}); the checks below use this shell's environment` }];
  }
  const notReady = status.components.filter((component) => !component.ready || component.state === "failed");
  const checks: DoctorCheck[] = [{
    name: "gateway",
    status: "ok",
    detail: `running at ${url} (version ${status.version}); ${status.components.length - notReady.length} of ${status.components.length} components ready`,
  }];
  for (const component of notReady) {
    checks.push({ name: component.name, status: "fail", detail: `${component.state}: ${component.reason ?? "no reason given"}` });
  }
  const byName = (source: string) => report.credentials.filter((credential) => credential.source === source).map((credential) => `${credential.name}=${credential.hint}`);
  const environmentCredentials = byName("environment");
  const storedCredentials = byName("secret store");
  checks.push({
    name: "credentials",
    status: "ok",
    detail: `as the gateway sees them — environment: ${environmentCredentials.length ? environmentCredentials.join(", ") : "none"}; secret store: ${storedCredentials.length ? storedCredentials.join(", ") : "empty"}`,
  });
  checks.push({ name: "model", status: report.model.status, detail: report.model.detail });
  return checks;
}

const MARK: Record<CheckStatus, string> = { ok: "✓", warn: "!", fail: "✗" };

/** `faraday doctor [--fix] [--json]`: exit 0 when nothing failed. */
export async function runDoctor(options: DoctorOptions): Promise<number> {
  const checks = await collectDoctorChecks(options);
  const healthy = checks.every((check) => check.status !== "fail");
  if (options.json) {
    printJson({ healthy, checks });
  } else {
    for (const check of checks) {
      process.stdout.write(`${MARK[check.status]} ${check.name}: ${check.detail}${check.fixed ? " (fixed)" : ""}\n`);
      for (const problem of check.problems ?? []) process.stdout.write(`    ${problem.path || "(file)"}: ${problem.message}\n`);
    }
    process.stdout.write(healthy ? "healthy\n" : "unhealthy: fix the ✗ lines above\n");
  }
  return healthy ? 0 : 1;
}
