import type { Command } from "commander";

interface Flags { app: string; url?: string; envFile?: string; out?: string; withoutSecrets?: boolean; json?: boolean }

/** Adds `deploy backup` and `deploy restore` to the `deploy` command (one line in program.ts). */
export function registerDeployBackupCommands(deploy: Command, exitWith: <T extends { json?: boolean }>(action: (options: T) => Promise<number>) => (options: T) => Promise<void>): void {
  deploy
    .command("backup")
    .description("download the deployed gateway's backup through its API (0600; holds secrets unless --without-secrets)")
    .requiredOption("--app <name>", "Fly app name")
    .option("--url <url>", "gateway URL (default https://APP.fly.dev)")
    .option("--env-file <file>", "where OPENCLAW_GATEWAY_TOKEN is (default ./.env)")
    .option("--out <file>", "where to write it (default ./faraday-backup-APP-DATE-TIME.tar.gz)")
    .option("--without-secrets", "leave the secret store and the WhatsApp link out")
    .option("--json", "print JSON")
    .action(exitWith(async (options: Flags) => (await import("./deploy-backup-command.ts")).runDeployBackup(options)));
  deploy
    .command("restore <file>")
    .description("upload a backup to the deployed gateway and restart it; applied at start-up, all or nothing")
    .requiredOption("--app <name>", "Fly app name")
    .option("--url <url>", "gateway URL (default https://APP.fly.dev)")
    .option("--env-file <file>", "where OPENCLAW_GATEWAY_TOKEN is (default ./.env)")
    .option("--json", "print JSON")
    .action(async (file: string, options: Flags) => {
      await exitWith(async () => (await import("./deploy-backup-command.ts")).runDeployRestore(file, options))(options);
    });
}
