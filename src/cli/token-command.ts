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

/**
 * `faraday token`: print the gateway token (explicitly asked for; never logged). With `--link`,
 * ask the running gateway for a one-time code and print a dashboard link that signs in with it
 * (`URL/#code=…`: a fragment, so the code never reaches a server log or a Referer header).
 */
export async function runToken(options: { stateDir?: string; link?: boolean; url?: string }): Promise<number> {
  if (!options.link) {
    process.stdout.write((await localGatewayToken(options.stateDir)) + "\n");
    return 0;
  }
  const { gatewayJson, localGateway } = await import("./gateway-client.ts");
  const target = await localGateway({ ...(options.url ? { url: options.url } : {}), ...(options.stateDir ? { stateDir: options.stateDir } : {}) });
  const { code } = await gatewayJson<{ code: string; expiresAt: string }>(target, "/api/auth/login-code", { method: "POST", body: {} });
  process.stdout.write(`${target.url}/#code=${code}\n`);
  process.stderr.write("Open it within 15 minutes; it signs one browser in, once.\n");
  return 0;
}
