import { FaradayError } from "../errors/index.ts";

/** `manifest.json`, the first file of every backup archive. */
export interface BackupManifest {
  readonly format: "faraday-backup";
  readonly formatVersion: 1;
  /** The Faraday version that wrote it. */
  readonly faradayVersion: string;
  readonly createdAt: string;
  /** False for `--without-secrets`: no secret store, no WhatsApp link, config secrets masked. */
  readonly withSecrets: boolean;
  /** `schema_migrations` version of the database copy. */
  readonly schemaVersion: number;
  readonly files: readonly BackupFile[];
}

export interface BackupFile {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

export const MANIFEST_NAME = "manifest.json";
export const DATABASE_NAME = "faraday.sqlite";
export const CONFIG_NAME = "openclaw.json";

/** Tables that hold secrets: emptied (and vacuumed away) in a backup made without secrets. */
export const SECRET_TABLES = ["secrets", "whatsapp_creds", "whatsapp_keys"] as const;

/**
 * Everything in the state dir a restore replaces. What the backup does not hold (the old WAL, a
 * last-good config) is moved aside too, so nothing of the old state mixes with the restored one.
 */
export const RESTORED_NAMES = [
  DATABASE_NAME, `${DATABASE_NAME}-wal`, `${DATABASE_NAME}-shm`, `${DATABASE_NAME}-journal`,
  CONFIG_NAME, `${CONFIG_NAME}.last-good`, "agents",
] as const;

const AGENT_FILE = /^agents\/[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}\/[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}\.md$/;

/** Whether a path may appear in a backup (and so be written into the state dir by a restore). */
export function isBackupPath(path: string): boolean {
  return path === DATABASE_NAME || path === CONFIG_NAME || (AGENT_FILE.test(path) && !path.includes(".."));
}

/**
 * Check a parsed manifest's shape.
 * @throws FaradayError BACKUP_INVALID naming what is wrong.
 */
export function validateManifest(value: unknown): BackupManifest {
  const manifest = value as Partial<BackupManifest> | null;
  if (!manifest || typeof manifest !== "object" || manifest.format !== "faraday-backup") {
    throw new FaradayError("BACKUP_INVALID", "this is not a Faraday backup (its manifest.json is missing or not Faraday's); make one with `faraday backup create`");
  }
  if (manifest.formatVersion !== 1) {
    throw new FaradayError("BACKUP_INVALID", `the backup has format version ${String(manifest.formatVersion)}, which this Faraday does not know; upgrade Faraday to restore it`);
  }
  if (!Array.isArray(manifest.files) || typeof manifest.withSecrets !== "boolean" || typeof manifest.schemaVersion !== "number") {
    throw new FaradayError("BACKUP_INVALID", "the backup's manifest.json is incomplete (files, withSecrets, schemaVersion)");
  }
  const seen = new Set<string>();
  for (const file of manifest.files) {
    if (!file || typeof file.path !== "string" || !isBackupPath(file.path) || seen.has(file.path) ||
      !Number.isSafeInteger(file.size) || file.size < 0 || typeof file.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(file.sha256)) {
      throw new FaradayError("BACKUP_INVALID", `the backup's manifest lists a file Faraday does not restore: ${JSON.stringify(file?.path ?? file)}`);
    }
    seen.add(file.path);
  }
  if (!seen.has(DATABASE_NAME)) throw new FaradayError("BACKUP_INVALID", `the backup has no ${DATABASE_NAME}`);
  return manifest as BackupManifest;
}
