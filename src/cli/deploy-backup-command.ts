import { readEnvironment } from "../config/index.ts";
import { defaultBackupName, secretsNotice } from "./backup-command.ts";
import { printJson } from "./output.ts";

interface Flags { app: string; url?: string; envFile?: string; out?: string; withoutSecrets?: boolean; json?: boolean }

const target = (flags: Flags) => ({ app: flags.app, env: readEnvironment().variables, cwd: process.cwd(), ...(flags.url ? { url: flags.url } : {}), envFile: flags.envFile ?? ".env" });

/** `faraday deploy backup --app A [--out FILE]`: the deployed gateway's backup, through its API. */
export async function runDeployBackup(flags: Flags): Promise<number> {
  const { deployBackup } = await import("../deploy/fly/deploy-backup.ts");
  const result = await deployBackup({ ...target(flags), out: flags.out ?? defaultBackupName().replace("faraday-backup-", `faraday-backup-${flags.app}-`), withoutSecrets: flags.withoutSecrets === true });
  if (flags.json) printJson({ ok: true, ...result });
  else process.stdout.write(`Wrote ${result.file} (${(result.bytes / 1024).toFixed(1)} KiB, mode 0600) from ${flags.app}.\n${secretsNotice(result.withSecrets)}\n`);
  return 0;
}

/** `faraday deploy restore --app A FILE`: upload, then restart the machine so the gateway applies it. */
export async function runDeployRestore(file: string, flags: Flags): Promise<number> {
  const { deployRestore } = await import("../deploy/fly/deploy-backup.ts");
  const result = await deployRestore({ ...target(flags), file });
  if (flags.json) printJson({ ok: true, ...result });
  else {
    process.stdout.write(`Uploaded the backup of ${result.staged.createdAt} to ${flags.app}; restarted machine ${result.restartedMachine}: the gateway applies it as it starts, before it opens its database.\n`);
    process.stdout.write("Check it with `faraday deploy status --app " + flags.app + "`.\n");
  }
  return 0;
}
