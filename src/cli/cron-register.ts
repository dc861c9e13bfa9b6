import { Option, type Command } from "commander";

interface Target { url?: string; stateDir?: string; json?: boolean }

type ExitWith = <T extends { json?: boolean }>(action: (options: T) => Promise<number>) => (options: T) => Promise<void>;

/** Adds `faraday cron list|add|remove|run|pause|resume` (one line in program.ts). */
export function registerCronCommands(program: Command, exitWith: ExitWith): void {
  const target = (command: Command) => command
    .option("--json", "print JSON")
    .addOption(new Option("--url <url>", "gateway URL (default: the local gateway's, from the state dir)"))
    .addOption(new Option("--state-dir <path>", "state directory (default: $OPENCLAW_STATE_DIR, else ./data)"));
  const cron = program.command("cron").description("scheduled jobs, reminders and the heartbeat, through the running gateway");
  target(cron.command("list").description("every job: schedule, next run, last result"))
    .action(exitWith(async (options: Target) => (await import("./cron-command.ts")).runCronList(options)));
  target(cron.command("add <id>").description("add a job: --schedule and --instruction (or --message), delivered to the owners or --channel/--chat")
    .requiredOption("--schedule <when>", "cron expression (\"0 9 * * 1-5\") or an ISO time with offset")
    .option("--instruction <text>", "what the agent does; its answer is delivered")
    .option("--message <text>", "a fixed message to deliver instead")
    .option("--timezone <zone>", "IANA time zone (default cron.timezone)")
    .option("--agent <id>", "the agent that runs it")
    .option("--model <provider/model>", "model for this job")
    .option("--channel <name>", "deliver on this channel (with --chat); default: to the owners")
    .option("--chat <id>", "deliver to this chat"))
    .action(async (id: string, options: Target & CronAddFlags) => {
      await exitWith(async () => (await import("./cron-command.ts")).runCronAdd(id, options))(options);
    });
  for (const [name, description] of [
    ["remove", "remove a job added over the API, the CLI or a chat"],
    ["run", "run a job now (its schedule does not move) and print the result"],
    ["pause", "pause a job"],
    ["resume", "resume a paused job"],
  ] as const) {
    target(cron.command(`${name} <id>`).description(description))
      .action(async (id: string, options: Target) => {
        await exitWith(async () => (await import("./cron-command.ts")).runCronAction(name, id, options))(options);
      });
  }
}

export interface CronAddFlags {
  schedule: string;
  instruction?: string;
  message?: string;
  timezone?: string;
  agent?: string;
  model?: string;
  channel?: string;
  chat?: string;
}
