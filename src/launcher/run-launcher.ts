import { readEnvironment } from "../config/index.ts";
import { FaradayError } from "../errors/index.ts";
import { startLauncher } from "./start-launcher.ts";

export interface LauncherFlags {
  port?: string;
  bind?: string;
}

/**
 * `faraday launcher`: serve the launcher on loopback until SIGINT/SIGTERM. Prints one line
 * `Faraday launcher: http://127.0.0.1:PORT/#t=TOKEN` to open (scripts and tests parse it).
 * `FARADAY_LAUNCHER_INSTANCE_URL` (a URL, `{app}` replaced) points instances away from
 * https://APP.fly.dev; `FARADAY_LAUNCHER_HEALTH_TIMEOUT` (seconds) bounds the wait for /healthz.
 */
export async function runLauncher(flags: LauncherFlags): Promise<number> {
  const environment = readEnvironment();
  const variables = environment.variables;
  const port = flags.port === undefined ? undefined : Number(flags.port);
  if (port !== undefined && (!/^\d+$/.test(flags.port!) || port > 65535)) throw new FaradayError("PORT_INVALID", `--port "${flags.port}" is not a port number (0–65535)`);
  const healthSeconds = Number(variables.FARADAY_LAUNCHER_HEALTH_TIMEOUT);
  const launcher = await startLauncher({
    ...(port !== undefined ? { port } : {}),
    ...(flags.bind !== undefined ? { bind: flags.bind } : {}),
    env: variables,
    ...(variables.FARADAY_LAUNCHER_INSTANCE_URL ? { instanceUrlTemplate: variables.FARADAY_LAUNCHER_INSTANCE_URL } : {}),
    ...(healthSeconds > 0 ? { deployHealthTimeoutMs: healthSeconds * 1000 } : {}),
    log: (line) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`),
  });
  process.stdout.write(`Faraday launcher: ${launcher.url}\nOpen that address in a browser on this computer (it signs you in). Ctrl-C stops the launcher.\n`);
  await new Promise<void>((resolveStop) => {
    const stop = () => resolveStop();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await launcher.close();
  return 0;
}
