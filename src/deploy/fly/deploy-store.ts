import { mkdir, readFile, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "../../state/index.ts";

/**
 * What the deploy CLI remembers per app on this computer, in `$FARADAY_HOME/deploys/APP.json`
 * (0600): the gateway token it generated and, per secret it set on Fly, a sha256 of the value.
 * Fly's `secrets list` digests are not a contract (flyctl passes on whatever the API returns),
 * so a change is noticed by comparing with these hashes.
 */
export interface DeployRecord {
  readonly app: string;
  readonly gatewayToken?: string;
  /** The Telegram webhook secret the deploy generated (a Fly secret, TELEGRAM_WEBHOOK_SECRET). */
  readonly telegramWebhookSecret?: string;
  readonly url?: string;
  readonly region?: string;
  readonly memoryMb?: number;
  /** Secret name → sha256 hex of the value last set on Fly from this computer. */
  readonly secretHashes?: Readonly<Record<string, string>>;
  readonly updatedAt?: string;
}

export function deployStoreDir(env: Readonly<Record<string, string | undefined>>): string {
  return join(env.FARADAY_HOME ?? join(env.HOME ?? homedir(), ".faraday"), "deploys");
}

export function deployRecordPath(env: Readonly<Record<string, string | undefined>>, app: string): string {
  return join(deployStoreDir(env), `${app}.json`);
}

export async function readDeployRecord(env: Readonly<Record<string, string | undefined>>, app: string): Promise<DeployRecord | undefined> {
  try {
    return JSON.parse(await readFile(deployRecordPath(env, app), "utf8")) as DeployRecord;
  } catch {
    return undefined;
  }
}

export async function writeDeployRecord(env: Readonly<Record<string, string | undefined>>, record: DeployRecord): Promise<void> {
  const directory = deployStoreDir(env);
  await mkdir(directory, { recursive: true, mode: 0o700 });
  await writeFileAtomic(deployRecordPath(env, record.app), JSON.stringify({ ...record, updatedAt: new Date().toISOString() }, null, 2) + "\n", { mode: 0o600 });
}

/** Forget an app (after `destroy`): its record holds the gateway token. */
export async function removeDeployRecord(env: Readonly<Record<string, string | undefined>>, app: string): Promise<void> {
  await rm(deployRecordPath(env, app), { force: true });
}
