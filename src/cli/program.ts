import { Command, Option } from "commander";
import { faradayVersion } from "../version.ts";
import { reportError } from "./output.ts";
import { registerDeployBackupCommands } from "./deploy-backup-register.ts";
import { registerCronCommands } from "./cron-register.ts";

type Action<T> = (options: T) => Promise<number>;

/** Wrap a command so a thrown error becomes its message and exit code, never a stack trace. */
function exitWith<T extends { json?: boolean }>(action: Action<T>) {
  return async (options: T) => {
    let code: number;
    try {
      code = await action(options);
    } catch (error) {
      code = reportError(error, options.json);
    }
    process.exitCode = code;
  };
}

const stateDirOption = () => new Option("--state-dir <path>", "state directory (default: $OPENCLAW_STATE_DIR, else ./data)");

/** The `faraday` command line. Each command loads its implementation only when it runs. */
export function buildProgram(): Command {
  const program = new Command("faraday")
    .description("Faraday: a self-hosted AI agent gateway, and the toolkit that deploys it to Fly.io")
    .version(faradayVersion(), "-V, --version")
    .showHelpAfterError()
    .configureHelp({ sortSubcommands: true });

  program
    .command("gateway")
    .description("run the gateway: HTTP API, channels and the agent, on one state directory")
    .option("--port <number>", "port to listen on (default: $OPENCLAW_GATEWAY_PORT, gateway.port, 3000; 0 picks a free one)")
    .option("--bind <mode>", "loopback (127.0.0.1, default), lan (0.0.0.0, needs a token) or an IP address")
    .option("--allow-unconfigured", "start without openclaw.json, or in setup mode when it is invalid")
    .addOption(stateDirOption())
    .action(async (options: { port?: string; bind?: string; allowUnconfigured?: boolean; stateDir?: string }) => {
      const { runGateway } = await import("./gateway-command.ts");
      const code = await runGateway(options);
      // Exit explicitly: a library timer must not keep a stopped gateway alive.
      process.exit(code);
    });

  program
    .command("doctor")
    .description("check Node, the state dir, config, lock, database, credentials, the model provider and the running gateway")
    .option("--fix", "repair what is safe to repair (removes only a dead owner's lock)")
    .option("--offline", "make no request to the model provider")
    .option("--json", "print the checks as JSON")
    .addOption(stateDirOption())
    .action(exitWith(async (options: { fix?: boolean; offline?: boolean; json?: boolean; stateDir?: string }) => {
      const { runDoctor } = await import("./doctor-command.ts");
      return runDoctor(options);
    }));

  const config = program.command("config").description("validate openclaw.json, print its JSON Schema");
  config
    .command("validate")
    .description("check openclaw.json and list every problem with its path (exit 2 when invalid)")
    .option("--json", "print the result as JSON")
    .option("--file <path>", "validate this file instead of the state dir's openclaw.json")
    .addOption(stateDirOption())
    .action(exitWith(async (options: { json?: boolean; file?: string; stateDir?: string }) => {
      const { runConfigValidate } = await import("./config-command.ts");
      return runConfigValidate(options);
    }));
  config
    .command("schema")
    .description("print the JSON Schema of openclaw.json (for editors, via \"$schema\")")
    .action(exitWith(async () => {
      const { runConfigSchema } = await import("./config-command.ts");
      return runConfigSchema();
    }));

  program
    .command("onboard")
    .description("guided setup against the running gateway: model key (checked with one real call), Telegram/Discord tokens (checked live), FavCRM key, a first hello")
    .option("--non-interactive", "no questions: credentials from this command's environment (ANTHROPIC_API_KEY or OPENAI_API_KEY, TELEGRAM_BOT_TOKEN, DISCORD_BOT_TOKEN, FAVCRM_API_KEY); a step whose variable is unset is skipped")
    .option("--provider <name>", "model provider: anthropic or openai")
    .option("--model <name>", "model name without the provider (default: the provider's default)")
    .option("--skip <steps>", "comma-separated steps to skip: model, telegram, discord, favcrm, hello")
    .option("--json", "print the steps' outcomes as JSON")
    .option("--url <url>", "gateway URL (default: the local gateway's, from the state dir)")
    .addOption(stateDirOption())
    .action(exitWith(async (options: { nonInteractive?: boolean; provider?: string; model?: string; skip?: string; json?: boolean; url?: string; stateDir?: string }) => {
      const { runOnboard } = await import("./onboard-command.ts");
      return runOnboard(options);
    }));

  program
    .command("chat")
    .description("chat with the running gateway's agent (interactive, or one message with -m)")
    .option("-m, --message <text>", "send one message, print the reply, exit (exit code 10 APPROVAL_PENDING when a tool call waits for a yes)")
    .option("--session <id>", "continue this session")
    .option("--json", "with -m: print the API object")
    .option("--url <url>", "gateway URL (default: the local gateway's, from the state dir)")
    .addOption(stateDirOption())
    .action(exitWith(async (options: { message?: string; session?: string; json?: boolean; url?: string; stateDir?: string }) => {
      const { runChat } = await import("./chat-command.ts");
      return runChat(options);
    }));

  const mcp = program.command("mcp").description("MCP servers and tools, through the running gateway");
  const urlOption = () => new Option("--url <url>", "gateway URL (default: the local gateway's, from the state dir)");
  mcp
    .command("list")
    .description("servers: state, tool count, auth source")
    .option("--json", "print JSON")
    .addOption(urlOption())
    .addOption(stateDirOption())
    .action(exitWith(async (options: { json?: boolean; url?: string; stateDir?: string }) => {
      const { runMcpList } = await import("./mcp-command.ts");
      return runMcpList(options);
    }));
  mcp
    .command("tools [server]")
    .description("tools with their annotations and the policy the gateway applies")
    .option("--json", "print JSON")
    .addOption(urlOption())
    .addOption(stateDirOption())
    .action(async (server: string | undefined, options: { json?: boolean; url?: string; stateDir?: string }) => {
      await exitWith(async () => (await import("./mcp-command.ts")).runMcpTools(server, options))(options);
    });
  mcp
    .command("describe <server> <tool>")
    .description("one tool: description, annotations, policy, input schema")
    .option("--json", "print JSON")
    .addOption(urlOption())
    .addOption(stateDirOption())
    .action(async (server: string, tool: string, options: { json?: boolean; url?: string; stateDir?: string }) => {
      await exitWith(async () => (await import("./mcp-command.ts")).runMcpDescribe(server, tool, options))(options);
    });
  mcp
    .command("call <server> <tool> [json]")
    .description("call a tool through the gateway (policy applied; a confirm-level tool needs --yes)")
    .option("--yes", "approve a tool that needs confirmation")
    .option("--json", "print JSON")
    .addOption(urlOption())
    .addOption(stateDirOption())
    .action(async (server: string, tool: string, json: string | undefined, options: { yes?: boolean; json?: boolean; url?: string; stateDir?: string }) => {
      await exitWith(async () => (await import("./mcp-command.ts")).runMcpCall(server, tool, json, options))(options);
    });

  const pairing = program.command("pairing").description("admit people who wrote to the assistant (DM pairing codes)");
  pairing
    .command("list")
    .description("pending pairing codes and admitted people")
    .option("--json", "print JSON")
    .addOption(urlOption())
    .addOption(stateDirOption())
    .action(exitWith(async (options: { json?: boolean; url?: string; stateDir?: string }) => (await import("./pairing-command.ts")).runPairingList(options)));
  pairing
    .command("approve <channel> <code>")
    .description("admit the person behind a pairing code; they are told")
    .option("--owner", "make them an owner too: the full agent, and they approve customers' requests")
    .option("--json", "print JSON")
    .addOption(urlOption())
    .addOption(stateDirOption())
    .action(async (channel: string, code: string, options: { owner?: boolean; json?: boolean; url?: string; stateDir?: string }) => {
      await exitWith(async () => (await import("./pairing-command.ts")).runPairingApprove(channel, code, options))(options);
    });

  const channels = program.command("channels").description("channel states; link or unlink WhatsApp");
  channels
    .command("list")
    .description("each channel's state and reason")
    .option("--json", "print JSON")
    .addOption(urlOption())
    .addOption(stateDirOption())
    .action(exitWith(async (options: { json?: boolean; url?: string; stateDir?: string }) => (await import("./channels-command.ts")).runChannelsList(options)));
  channels
    .command("login <channel>")
    .description("link WhatsApp: shows the QR (refreshing as it rotates) and waits until linked")
    .option("--pairing-code <phone>", "print an 8-character code to type on the phone instead (number with country code, e.g. +15551234567)")
    .option("--timeout <seconds>", "give up after this long (default 300)")
    .option("--json", "print the final status as JSON")
    .addOption(urlOption())
    .addOption(stateDirOption())
    .action(async (channel: string, options: { pairingCode?: string; timeout?: string; json?: boolean; url?: string; stateDir?: string }) => {
      await exitWith(async () => (await import("./channels-command.ts")).runChannelsLogin(channel, {
        ...options,
        ...(options.timeout ? { timeoutSeconds: Number(options.timeout) } : {}),
      }))(options);
    });
  channels
    .command("logout <channel>")
    .description("unlink WhatsApp from this gateway and forget its creds")
    .option("--json", "print JSON")
    .addOption(urlOption())
    .addOption(stateDirOption())
    .action(async (channel: string, options: { json?: boolean; url?: string; stateDir?: string }) => {
      await exitWith(async () => (await import("./channels-command.ts")).runChannelsLogout(channel, options))(options);
    });

  registerCronCommands(program, exitWith);

  const deploy = program.command("deploy").description("deploy to Fly.io and manage the deployed gateway (no SSH needed)");
  deploy
    .command("fly")
    .description("from nothing to a running gateway on Fly.io; safe to rerun (it resumes)")
    .requiredOption("--app <name>", "Fly app name (global)")
    .option("--org <slug>", "Fly organisation (default personal)")
    .option("--region <code>", "region (default iad)")
    .option("--volume-size <gb>", "volume size in GB (default 1)")
    .option("--memory <mb>", "machine memory in MB: 256 to 16384 in steps of 256 (default 256; shared CPUs follow, 2048 MB each)")
    .option("--config <file>", "openclaw.json to push (default ./openclaw.json if present)")
    .option("--env-file <file>", "secrets as NAME=value lines (default ./.env if present)")
    .option("--url <url>", "address for the health check and config push (default https://APP.fly.dev)")
    .option("--health-timeout <seconds>", "how long to wait for /healthz (default 300)")
    .option("--dry-run", "print the plan; change nothing")
    .option("--force", "replace an existing fly.toml that faraday did not write")
    .option("--yes", "do not ask")
    .option("--json", "one JSON event per line")
    .option("--show-token", "print the gateway token in full at the end")
    .action(exitWith(async (options: import("./deploy-command.ts").DeployFlyFlags) => (await import("./deploy-command.ts")).runDeployFly(options)));
  const appCommand = (name: string, description: string) =>
    deploy.command(name).description(description).requiredOption("--app <name>", "Fly app name").option("--url <url>", "gateway URL (default https://APP.fly.dev)").option("--env-file <file>", "where OPENCLAW_GATEWAY_TOKEN is (default ./.env)");
  appCommand("status", "machine state, health, version, volume, region").option("--json", "print JSON")
    .action(exitWith(async (options: { app: string; url?: string; json?: boolean }) => (await import("./deploy-command.ts")).runDeployStatus(options)));
  appCommand("logs", "recent log lines")
    .action(exitWith(async (options: { app: string; url?: string; json?: boolean }) => (await import("./deploy-command.ts")).runDeployLogs(options)));
  appCommand("unlock", "remote repair: remove a dead gateway's lock inside the machine, restart it if unhealthy").option("--json", "print JSON")
    .action(exitWith(async (options: { app: string; url?: string; json?: boolean }) => (await import("./deploy-command.ts")).runDeployUnlock(options)));
  deploy.command("update").description("snapshot the volume, rebuild and redeploy, check the new version answers; secrets and config kept")
    .option("--app <name>", "Fly app name").option("--all", "every app in the launcher's list, one at a time; stops at the first failure")
    .option("--url <url>", "gateway URL (default https://APP.fly.dev)").option("--env-file <file>", "secrets as NAME=value lines (default ./.env if present)")
    .option("--health-timeout <seconds>", "how long to wait for /healthz (default 300)")
    .option("--json", "one JSON event per line")
    .action(exitWith(async (options: import("./deploy-command.ts").DeployFlyFlags) => (await import("./deploy-command.ts")).runDeployFly({ ...options, redeploy: true })));
  appCommand("config <direction>", "push or pull openclaw.json through the gateway's API").option("--config <file>", "file to push (default ./openclaw.json)").option("-o, --out <file>", "pull: write here (default ./openclaw.json; - prints it)").option("--json", "print JSON")
    .action(async (direction: string, options: { app: string; url?: string; json?: boolean; config?: string }) => {
      await exitWith(async () => (await import("./deploy-command.ts")).runDeployConfig(direction, options))(options);
    });
  appCommand("destroy", "destroy the app and its volume (asks for the name to be typed)").option("--yes", "do not ask")
    .action(exitWith(async (options: { app: string; yes?: boolean; json?: boolean }) => (await import("./deploy-command.ts")).runDeployDestroy(options)));

  registerDeployBackupCommands(deploy, exitWith);

  const backup = program.command("backup").description("back up the state dir (database, config, agents' files) and restore it");
  backup
    .command("create")
    .description("write a consistent archive, even while the gateway runs (0600; it holds secrets unless --without-secrets)")
    .option("--out <file>", "where to write it (default ./faraday-backup-DATE-TIME.tar.gz)")
    .option("--without-secrets", "leave the secret store and the WhatsApp link out; mask secrets in openclaw.json")
    .option("--json", "print the result as JSON")
    .addOption(stateDirOption())
    .action(exitWith(async (options: { out?: string; withoutSecrets?: boolean; json?: boolean; stateDir?: string }) => (await import("./backup-command.ts")).runBackupCreate(options)));
  backup
    .command("restore <file>")
    .description("replace the state dir's database, config and agents' files with a backup's (the gateway must be stopped)")
    .option("--json", "print the result as JSON")
    .addOption(stateDirOption())
    .action(async (file: string, options: { json?: boolean; stateDir?: string }) => {
      await exitWith(async () => (await import("./backup-command.ts")).runBackupRestore(file, options))(options);
    });

  program
    .command("launcher")
    .description("a web page on 127.0.0.1 that launches, updates, repairs and destroys gateways on Fly.io")
    .option("--port <number>", "port on 127.0.0.1 (default 3100; 0 picks a free one)")
    .option("--bind <address>", "only 127.0.0.1 is accepted (the launcher holds keys and spends money)")
    .action(exitWith(async (options: { port?: string; bind?: string; json?: boolean }) => (await import("../launcher/index.ts")).runLauncher(options)));

  const secrets = program.command("secrets").description("the state dir's secret store: bot tokens, API keys (values never printed)");
  secrets
    .command("set <name>")
    .description("store a secret; the value is read from stdin (piped, or typed without echo), never from the command line")
    .option("--json", "print JSON")
    .addOption(stateDirOption())
    .action(async (name: string, options: { json?: boolean; stateDir?: string }) => {
      await exitWith(async () => (await import("./secrets-command.ts")).runSecretsSet(name, options))(options);
    });
  secrets
    .command("list")
    .description("names, masked hints and what each is for")
    .option("--json", "print JSON")
    .addOption(stateDirOption())
    .action(exitWith(async (options: { json?: boolean; stateDir?: string }) => (await import("./secrets-command.ts")).runSecretsList(options)));
  secrets
    .command("remove <name>")
    .description("delete a secret (exit 1 when there was none)")
    .option("--json", "print JSON")
    .addOption(stateDirOption())
    .action(async (name: string, options: { json?: boolean; stateDir?: string }) => {
      await exitWith(async () => (await import("./secrets-command.ts")).runSecretsRemove(name, options))(options);
    });

  program
    .command("token")
    .description("print the gateway token a client on this machine uses")
    .option("--link", "print a one-time dashboard sign-in link (valid 15 minutes) instead of the token")
    .option("--url <url>", "with --link: the gateway URL the link opens (default: the local gateway's)")
    .addOption(stateDirOption())
    .action(exitWith(async (options: { stateDir?: string; json?: boolean; link?: boolean; url?: string }) => {
      const { runToken } = await import("./token-command.ts");
      return runToken(options);
    }));

  return program;
}

/** Parse argv and run. */
export async function runCli(argv: readonly string[]): Promise<void> {
  await buildProgram().parseAsync([...argv]);
}
