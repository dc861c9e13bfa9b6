import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { chmod, open, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { Readable } from "node:stream";
import { FaradayError, type ErrorCode } from "../../errors/index.ts";
import { tokenFor, type AppTarget } from "./deploy-commands.ts";
import { createFlyctl, flyError, type FlyClient } from "./flyctl.ts";

const appUrl = (target: AppTarget) => (target.url ?? `https://${target.app}.fly.dev`).replace(/\/$/, "");

async function apiFailure(response: Response, what: string): Promise<FaradayError> {
  const body = (await response.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
  return new FaradayError((body.error?.code ?? "GATEWAY_UNREACHABLE") as ErrorCode, body.error?.message ?? `${what} answered HTTP ${response.status}`);
}

function unreachable(url: string, error: unknown): FaradayError {
  return new FaradayError("GATEWAY_UNREACHABLE", `cannot reach the gateway at ${url} (${(error as Error).message}); is the app running (\`faraday deploy status\`)? Pass --url to point elsewhere`);
}

/**
 * `deploy backup`: download the deployed gateway's backup (`GET /api/backup`) into `out`,
 * atomically and 0600.
 */
export async function deployBackup(target: AppTarget & { out: string; withoutSecrets?: boolean }) {
  const url = appUrl(target);
  const token = await tokenFor(target);
  let response: Response;
  try {
    response = await fetch(`${url}/api/backup${target.withoutSecrets ? "?withoutSecrets=1" : ""}`, { headers: { authorization: `Bearer ${token}` } });
  } catch (error) {
    throw unreachable(url, error);
  }
  if (!response.ok || !response.body) throw await apiFailure(response, `GET ${url}/api/backup`);
  const out = resolve(target.cwd, target.out);
  const temporary = join(dirname(out), `.${basename(out)}.${randomBytes(4).toString("hex")}.tmp`);
  const handle = await open(temporary, "wx", 0o600);
  let bytes = 0;
  try {
    for await (const chunk of Readable.fromWeb(response.body as import("node:stream/web").ReadableStream<Uint8Array>)) {
      await handle.write(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
    await handle.sync();
    await handle.close();
    await chmod(temporary, 0o600);
    await rename(temporary, out);
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(temporary).catch(() => {});
    throw error instanceof FaradayError ? error : new FaradayError("GATEWAY_UNREACHABLE", `the download from ${url} broke off (${(error as Error).message}); nothing was written, run it again`);
  }
  return { app: target.app, file: out, bytes, withSecrets: response.headers.get("x-faraday-backup-secrets") !== "excluded" };
}

interface FlyMachine {
  id?: string;
  state?: string;
  config?: { metadata?: Record<string, string> };
}

/** The app's gateway machine: process group `app` (when flyctl reports groups), a started one first. */
export function gatewayMachine(machines: readonly FlyMachine[]): FlyMachine | undefined {
  const grouped = machines.filter((machine) => machine.config?.metadata?.fly_process_group !== undefined);
  const candidates = grouped.length ? grouped.filter((machine) => machine.config?.metadata?.fly_process_group === "app") : [...machines];
  const live = candidates.filter((machine) => machine.state !== "destroyed" && machine.state !== "destroying");
  return live.find((machine) => machine.state === "started") ?? live[0];
}

/**
 * `deploy restore`: upload a backup to the deployed gateway (`POST /api/backup/restore`, streamed),
 * which checks it completely and stages it; then restart the machine, and the gateway swaps it
 * in at start-up before opening its database. An upload cut off, or a file that fails a check,
 * leaves the gateway's state as it was.
 */
export async function deployRestore(target: AppTarget & { file: string }, fly?: FlyClient) {
  const url = appUrl(target);
  const token = await tokenFor(target);
  const file = resolve(target.cwd, target.file);
  const size = await stat(file).then((info) => info.size, () => {
    throw new FaradayError("BACKUP_INVALID", `cannot read ${file}: no such file (or no permission)`);
  });
  let response: Response;
  try {
    response = await fetch(`${url}/api/backup/restore`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/gzip", "content-length": String(size) },
      body: Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>,
      duplex: "half",
    } as RequestInit);
  } catch (error) {
    throw unreachable(url, error);
  }
  if (!response.ok) throw await apiFailure(response, `POST ${url}/api/backup/restore`);
  const staged = (await response.json()) as { createdAt: string; faradayVersion: string; withSecrets: boolean; files: string[] };
  const client = fly ?? (await createFlyctl(target.env));
  const list = await client.run(["machines", "list", "-a", target.app, "--json"]);
  if (list.exitCode !== 0) throw flyError(list, { command: "machines list", app: target.app });
  const machine = gatewayMachine(JSON.parse(list.stdout || "[]") as FlyMachine[]);
  if (!machine?.id) {
    throw new FaradayError("FLY_COMMAND_FAILED", `${target.app} has no machine to restart; the backup is staged and is applied when the gateway next starts (\`flyctl machine start\`)`);
  }
  const restart = await client.run(["machine", "restart", machine.id, "-a", target.app]);
  if (restart.exitCode !== 0) throw flyError(restart, { command: "machine restart", app: target.app });
  return { app: target.app, url, bytes: size, staged, restartedMachine: machine.id };
}
