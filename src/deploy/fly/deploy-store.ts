import { mkdir, readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "../../state/index.ts";

/** What the deploy CLI remembers per app on this computer (0600): the gateway token it generated. */
export interface DeployRecord {
  readonly app: string;
  readonly gatewayToken?: string;
  /** The Telegram webhook secret the deploy generated (a Fly secret, TELEGRAM_WEBHOOK_SECRET). */
  readonly telegramWebhookSecret?: string;
  readonly url?: string;
  readonly region?: string;
  readonly memoryMb?: number;
  readonly updatedAt?: string;
}

export function deployStoreDir(env: Readonly<Record<string, string | undefined>>): string {
  return join(env.FARADAY_HOME ?? join(env.HOME ?? homedir(), ".faraday"), "deploys");
}

export async function readDeployRecord(env: Readonly<Record<string, string | undefined>>, app: string): Promise<DeployRecord | undefined> {
  try {
    return JSON.parse(await readFile(join(deployStoreDir(env), `${app}.json`), "utf8")) as DeployRecord;
  } catch {
    return undefined;
  }
}

export async function writeDeployRecord(env: Readonly<Record<string, string | undefined>>, record: DeployRecord): Promise<void> {
  const directory = deployStoreDir(env);
  await mkdir(directory, { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(directory, `${record.app}.json`), JSON.stringify({ ...record, updatedAt: new Date().toISOString() }, null, 2) + "\n", { mode: 0o600 });
}
