export { prepareBackup, writeBackupFile, BACKUP_TEMP_PREFIX } from "./create-backup.ts";
export type { CreateBackupOptions, PreparedBackup } from "./create-backup.ts";
export { stageRestore, recoverRestore, restorePending, RESTORE_DIR, DEFAULT_MAX_RESTORE_BYTES } from "./restore-backup.ts";
export type { StageOptions, RestoreRecovery } from "./restore-backup.ts";
export { validateManifest, SECRET_TABLES, MANIFEST_NAME, DATABASE_NAME, CONFIG_NAME } from "./backup-manifest.ts";
export type { BackupManifest, BackupFile } from "./backup-manifest.ts";
export { restoreBackupFile } from "./restore-file.ts";
