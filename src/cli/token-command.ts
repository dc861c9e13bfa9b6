import { configuredToken, readEnvironment, resolveStateDir, loadConfigFile, configPath } from "../config/index.ts";
import { FaradayError } from "../errors/index.ts";
import { createSecretStore, openDatabase, statePaths, SECRET_NAMES } from "../state/index.ts";
import { existsSync } from "node:fs";

/**
 * The gateway token a client on this machine should use: the environment's, the config's, or
 * the one the gateway generated into the state dir. Throws when there is none yet.
 */
export async function localGatewayToken(stateDirFlag?: string): Promise<string> {
  const environment = readEnvironment();
  const stateDir = resolveStateDir(stateDirFlag, environment);
  const config = await loadConfigFile(configPath(stateDir), environment.variables);
  const explicit = configuredToken(environment, config.state === "valid" ? config.config : undefined);
  if (explicit) return explicit.token;
  const database = statePaths(stateDir).database;
  if (existsSync(database)) {
    const opened = await openDatabase(database, { readOnly: true });
    try {
      const stored = createSecretStore(opened).get(SECRET_NAMES.gatewayToken);
      if (stored) return stored;
    } finally {
      opened.close();
    }
  }
  throw new FaradayError("AUTH_REQUIRED", `no gateway token for ${stateDir}: start the gateway once on loopback (it generates one), or set OPENCLAW_GATEWAY_TOKEN`);
}

/** `faraday token`: print the gateway token (explicitly asked for; never logged). */
export async function runToken(options: { stateDir?: string }): Promise<number> {
  process.stdout.write((await localGatewayToken(options.stateDir)) + "\n");
  return 0;
}
