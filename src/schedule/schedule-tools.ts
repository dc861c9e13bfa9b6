import { isFaradayError } from "../errors/index.ts";
import type { ToolCallContext, ToolDescriptor, ToolResult, ToolSource } from "../tools/index.ts";
import type { ScheduleService } from "./schedule-service.ts";
import type { ScheduledJob } from "./schedule-store.ts";

const TOOLS: readonly ToolDescriptor[] = [
  {
    name: "schedule_create",
    description:
      "Schedule something for this chat. `when`: an ISO 8601 time WITH its offset (work out relative times such as \"in 2 hours\" from the current date and time) " +
      "or a cron expression (minute hour day month weekday) for something that repeats. Give `message` to send a fixed reminder, or `instruction` to run a task " +
      "then and send its answer. `repeat` (a cron expression) makes it recur from `when` on. It is delivered to this chat.",
    inputSchema: {
      type: "object",
      properties: {
        when: { type: "string", description: "2026-12-05T17:00:00+01:00, or a cron expression such as 0 9 * * 1-5" },
        message: { type: "string", description: "The reminder text, sent as written" },
        instruction: { type: "string", description: "A task to run at that time; its answer is sent" },
        repeat: { type: "string", description: "Cron expression to repeat on (optional)" },
        timezone: { type: "string", description: "IANA time zone for cron expressions (default: the gateway's)" },
      },
      required: ["when"],
      additionalProperties: false,
    },
    annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
  },
  {
    name: "schedule_list",
    description: "List the reminders and scheduled tasks of this chat, with their ids and next run.",
    inputSchema: { type: "object", properties: {}, additionalProperties: false },
    annotations: { readOnlyHint: true },
  },
  {
    name: "schedule_cancel",
    description: "Cancel a reminder or scheduled task of this chat by its id (from schedule_list).",
    inputSchema: { type: "object", properties: { id: { type: "string" } }, required: ["id"], additionalProperties: false },
    annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
  },
];

function describe(job: ScheduledJob) {
  return {
    id: job.id, kind: job.kind, schedule: job.schedule, repeats: job.spec.kind !== "once",
    nextRun: job.nextRun === null ? null : new Date(job.nextRun).toISOString(), text: job.text, paused: job.paused,
  };
}

const text = (value: string | undefined) => (typeof value === "string" ? value : undefined);

/** The built-in reminder tools, scoped to the chat that calls them. */
export function createScheduleTools(service: () => ScheduleService | undefined): ToolSource {
  return {
    name: "schedule",
    trusted: true,
    list: () => TOOLS,
    async call(name: string, args: Record<string, unknown>, context: ToolCallContext): Promise<ToolResult> {
      const schedule = service();
      if (!schedule) return { content: "Scheduling is off on this gateway (cron.enabled is false).", isError: true };
      try {
        switch (name) {
          case "schedule_create": {
            if (typeof args.when !== "string" || args.when.trim() === "") return { content: "schedule_create needs `when`.", isError: true };
            const input = {
              when: args.when,
              ...(text(args.message as string) ? { message: args.message as string } : {}),
              ...(text(args.instruction as string) ? { instruction: args.instruction as string } : {}),
              ...(text(args.repeat as string) ? { repeat: args.repeat as string } : {}),
              ...(text(args.timezone as string) ? { timezone: args.timezone as string } : {}),
            };
            const job = schedule.createFromChat({ channel: context.channel, chat: context.chat, sender: context.sender, agentId: context.agentId }, input);
            return { content: JSON.stringify({ scheduled: describe(job) }) };
          }
          case "schedule_list":
            return { content: JSON.stringify({ jobs: schedule.listForChat(context.channel, context.chat).map(describe) }) };
          case "schedule_cancel": {
            if (typeof args.id !== "string") return { content: "schedule_cancel needs `id`.", isError: true };
            return schedule.cancelForChat(context.channel, context.chat, args.id)
              ? { content: `Cancelled ${args.id}.` }
              : { content: `No reminder ${args.id} in this chat (schedule_list shows them).`, isError: true };
          }
          default:
            return { content: `Unknown schedule tool ${name}.`, isError: true };
        }
      } catch (error) {
        if (isFaradayError(error)) return { content: error.message, isError: true };
        throw error;
      }
    },
  };
}
