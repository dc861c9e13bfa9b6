import { FaradayError } from "../errors/index.ts";
import type { CronAddFlags } from "./cron-register.ts";
import { gatewayJson, localGateway } from "./gateway-client.ts";
import { printJson } from "./output.ts";

interface Target { url?: string; stateDir?: string; json?: boolean }

interface JobJson {
  id: string; source: string; kind: string; schedule: string; text: string; paused: boolean; enabled: boolean; nextRun: string | null;
  deliverTo: unknown; lastRun: { status: string; scheduledAt: string; result: string | null } | null;
}

const line = (job: JobJson) => {
  const state = !job.enabled ? "disabled" : job.paused ? "paused" : job.nextRun ? `next ${job.nextRun}` : "done";
  const last = job.lastRun ? `last ${job.lastRun.status} (${job.lastRun.scheduledAt})` : "never run";
  return `${job.id.padEnd(24)} ${job.kind.padEnd(11)} ${job.schedule.padEnd(26)} ${state.padEnd(32)} ${last}\n`;
};

/** `faraday cron list`. */
export async function runCronList(options: Target): Promise<number> {
  const result = await gatewayJson<{ timezone: string; jobs: JobJson[] }>(await localGateway(options), "/api/cron");
  if (options.json) printJson(result);
  else if (result.jobs.length === 0) process.stdout.write("No scheduled jobs. Add one with `faraday cron add ID --schedule \"0 9 * * 1-5\" --instruction \"…\"` or cron.jobs in openclaw.json.\n");
  else for (const job of result.jobs) process.stdout.write(line(job));
  return 0;
}

/** `faraday cron add ID --schedule … --instruction … [--channel … --chat …]`. */
export async function runCronAdd(id: string, options: Target & CronAddFlags): Promise<number> {
  if ((options.channel === undefined) !== (options.chat === undefined)) throw new FaradayError("BAD_REQUEST", "give --channel and --chat together (or neither, to deliver to the owners)");
  const body = {
    id, schedule: options.schedule,
    ...(options.instruction ? { instruction: options.instruction } : {}),
    ...(options.message ? { message: options.message } : {}),
    ...(options.timezone ? { timezone: options.timezone } : {}),
    ...(options.agent ? { agent: options.agent } : {}),
    ...(options.model ? { model: options.model } : {}),
    deliverTo: options.channel ? { channel: options.channel, chat: options.chat } : "owners",
  };
  const result = await gatewayJson<{ job: JobJson }>(await localGateway(options), "/api/cron", { method: "POST", body });
  if (options.json) printJson(result);
  else process.stdout.write(`✓ added ${result.job.id}: next run ${result.job.nextRun ?? "none"}\n`);
  return 0;
}

/** `faraday cron remove|run|pause|resume ID`. */
export async function runCronAction(action: "remove" | "run" | "pause" | "resume", id: string, options: Target): Promise<number> {
  const target = await localGateway(options);
  const path = `/api/cron/${encodeURIComponent(id)}`;
  const result = action === "remove"
    ? await gatewayJson<Record<string, unknown>>(target, path, { method: "DELETE" })
    : await gatewayJson<Record<string, unknown>>(target, `${path}/${action}`, { method: "POST", body: {} });
  if (options.json) printJson(result);
  else if (action === "run") {
    const run = result.run as { status: string; result: string | null } | null;
    process.stdout.write(run ? `${run.status}: ${run.result ?? ""}\n` : "not run (it was already running)\n");
  } else process.stdout.write(`✓ ${action === "remove" ? "removed" : action === "pause" ? "paused" : "resumed"} ${id}\n`);
  return 0;
}
