import { Command, Option } from "commander";
import { faradayVersion } from "../version.ts";
import { reportError } from "./output.ts";

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
    .description("check Node, the state dir, config, lock, database and credentials")
    .option("--fix", "repair what is safe to repair (removes only a dead owner's lock)")
    .option("--json", "print the checks as JSON")
    .addOption(stateDirOption())
    .action(exitWith(async (options: { fix?: boolean; json?: boolean; stateDir?: string }) => {
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
    .command("chat")
    .description("chat with the running gateway's agent (interactive, or one message with -m)")
    .option("-m, --message <text>", "send one message, print the reply, exit")
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
    .option("--json", "print JSON")
    .addOption(urlOption())
    .addOption(stateDirOption())
    .action(async (channel: string, code: string, options: { json?: boolean; url?: string; stateDir?: string }) => {
      await exitWith(async () => (await import("./pairing-command.ts")).runPairingApprove(channel, code, options))(options);
    });

  program
    .command("token")
    .description("print the gateway token a client on this machine uses")
    .addOption(stateDirOption())
    .action(exitWith(async (options: { stateDir?: string; json?: boolean }) => {
      const { runToken } = await import("./token-command.ts");
      return runToken(options);
    }));

  return program;
}

/** Parse argv and run. */
export async function runCli(argv: readonly string[]): Promise<void> {
  await buildProgram().parseAsync([...argv]);
}
