import { resolve } from "node:path";
import { readEnvironment, resolveStateDir } from "../config/index.ts";
import { faradayVersion } from "../version.ts";
import { printJson } from "./output.ts";

/** What a backup holds, for a person: said every time, because a backup with secrets is a key ring. */
export function secretsNotice(withSecrets: boolean): string {
  return withSecrets
    ? "It CONTAINS SECRETS: the secret store (gateway token, bot tokens, API keys), the WhatsApp link, and keys written in openclaw.json. Anyone with the file can act as this assistant: keep it private (it is 0600), and encrypt it before it leaves this machine. `--without-secrets` makes one without them."
    : "It holds no secrets: the secret store and the WhatsApp link were left out, and secrets in openclaw.json are masked. After restoring it, set the keys again and link WhatsApp again.";
}

/** A default file name that sorts by time: faraday-backup-20261204-173000.tar.gz */
export function defaultBackupName(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `faraday-backup-${stamp}.tar.gz`;
}

const mib = (bytes: number) => (bytes < 1024 ** 2 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`);

/** `faraday backup create`: a consistent archive of the state dir, even while the gateway runs. */
export async function runBackupCreate(options: { stateDir?: string; out?: string; withoutSecrets?: boolean; json?: boolean }): Promise<number> {
  const { prepareBackup, writeBackupFile } = await import("../backup/index.ts");
  const stateDir = resolveStateDir(options.stateDir, readEnvironment());
  const out = resolve(options.out ?? defaultBackupName());
  const withSecrets = options.withoutSecrets !== true;
  const prepared = await prepareBackup({ stateDir, version: faradayVersion(), withSecrets });
  let bytes: number;
  try {
    bytes = await writeBackupFile(prepared, out);
  } finally {
    await prepared.dispose();
  }
  const { manifest } = prepared;
  if (options.json) {
    printJson({ ok: true, file: out, bytes, withSecrets, createdAt: manifest.createdAt, faradayVersion: manifest.faradayVersion, schemaVersion: manifest.schemaVersion, files: manifest.files.map((file) => file.path), warnings: prepared.warnings });
    return 0;
  }
  const agentFiles = manifest.files.filter((file) => file.path.startsWith("agents/")).length;
  const hasConfig = manifest.files.some((file) => file.path === "openclaw.json");
  process.stdout.write(`Wrote ${out} (${mib(bytes)}, mode 0600): the database${hasConfig ? ", openclaw.json" : ""} and ${agentFiles} agent file(s), as of ${manifest.createdAt}.\n`);
  for (const warning of prepared.warnings) process.stdout.write(`Note: ${warning}\n`);
  process.stdout.write(`${secretsNotice(withSecrets)}\nRestore it with: faraday backup restore ${out}\n`);
  return 0;
}

/** `faraday backup restore FILE`: refuses while a gateway runs on the state dir; all or nothing. */
export async function runBackupRestore(file: string, options: { stateDir?: string; json?: boolean }): Promise<number> {
  const { restoreBackupFile } = await import("../backup/index.ts");
  const stateDir = resolveStateDir(options.stateDir, readEnvironment());
  const manifest = await restoreBackupFile({ stateDir, file: resolve(file), version: faradayVersion() });
  if (options.json) {
    printJson({ ok: true, stateDir, createdAt: manifest.createdAt, faradayVersion: manifest.faradayVersion, withSecrets: manifest.withSecrets, files: manifest.files.map((entry) => entry.path) });
    return 0;
  }
  process.stdout.write(`Restored ${manifest.files.length} file(s) into ${stateDir} from the backup of ${manifest.createdAt} (Faraday ${manifest.faradayVersion}).\n`);
  if (!manifest.withSecrets) process.stdout.write("That backup was made without secrets: set the keys again and link WhatsApp again (`faraday channels login whatsapp`).\n");
  process.stdout.write("Start the gateway to use it.\n");
  return 0;
}
