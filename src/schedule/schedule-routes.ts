import type { FastifyInstance, FastifyReply } from "fastify";
import { isFaradayError } from "../errors/index.ts";
import { sendError } from "../http/index.ts";
import type { HeartbeatFile } from "./heartbeat-file.ts";
import type { AddJobInput, JobView, ScheduleService } from "./schedule-service.ts";
import type { JobRun } from "./schedule-store.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A job as the API shows it (times as ISO strings). */
export function jobJson(job: JobView) {
  return {
    id: job.id, source: job.source, kind: job.kind, schedule: job.schedule, timezone: "timezone" in job.spec ? job.spec.timezone : null,
    agent: job.agentId, text: job.text, deliverTo: job.deliverTo, model: job.model, origin: job.origin, enabled: job.enabled, paused: job.paused,
    nextRun: iso(job.nextRun), lastRun: job.lastRun ? runJson(job.lastRun) : null, createdAt: job.createdAt,
  };
}

export function runJson(run: JobRun) {
  return { ...run, scheduledAt: iso(run.scheduledAt) };
}

function fail(reply: FastifyReply, error: unknown): FastifyReply {
  if (isFaradayError(error, "NOT_FOUND")) return sendError(reply, 404, "NOT_FOUND", error.message);
  if (isFaradayError(error)) return sendError(reply, 400, error.code, error.message);
  throw error;
}

/** `/api/cron` (list, add, remove, run now, pause, resume) and the heartbeat checklist. */
export function scheduleRoutes(deps: { service: () => ScheduleService | undefined; heartbeat: HeartbeatFile }) {
  return (app: FastifyInstance) => {
    const service = (reply: FastifyReply): ScheduleService | undefined => {
      const current = deps.service();
      if (!current) sendError(reply, 503, "BAD_REQUEST", "scheduling is off (cron.enabled is false in openclaw.json)");
      return current;
    };

    app.get("/api/cron", async (_request, reply) => {
      const schedule = service(reply);
      if (!schedule) return reply;
      return { timezone: schedule.timezone(), catchUpMinutes: schedule.catchUpMinutes(), jobs: schedule.list().map(jobJson) };
    });

    app.get("/api/cron/:id", async (request, reply) => {
      const schedule = service(reply);
      if (!schedule) return reply;
      const { id } = request.params as { id: string };
      const job = schedule.get(id);
      if (!job) return sendError(reply, 404, "NOT_FOUND", `no scheduled job "${id}"; \`faraday cron list\` shows them`);
      return { job: jobJson(job), runs: schedule.runs(id).map(runJson) };
    });

    app.post("/api/cron", async (request, reply) => {
      const schedule = service(reply);
      if (!schedule) return reply;
      const body = request.body as Partial<AddJobInput> | undefined;
      if (!body || typeof body.schedule !== "string" || body.deliverTo === undefined) {
        return sendError(reply, 400, "BAD_REQUEST", 'send {"schedule": "0 9 * * 1-5", "instruction": "…" or "message": "…", "deliverTo": "owners" or {"channel": "telegram", "chat": "123"}}');
      }
      try {
        const job = schedule.add(body as AddJobInput);
        return reply.code(201).send({ job: jobJson({ ...job, lastRun: null }) });
      } catch (error) {
        return fail(reply, error);
      }
    });

    app.delete("/api/cron/:id", async (request, reply) => {
      const schedule = service(reply);
      if (!schedule) return reply;
      try {
        schedule.remove((request.params as { id: string }).id);
        return { removed: true };
      } catch (error) {
        return fail(reply, error);
      }
    });

    app.post("/api/cron/:id/run", async (request, reply) => {
      const schedule = service(reply);
      if (!schedule) return reply;
      try {
        const run = await schedule.runNow((request.params as { id: string }).id);
        return { run: run ? runJson(run) : null };
      } catch (error) {
        return fail(reply, error);
      }
    });

    for (const action of ["pause", "resume"] as const) {
      app.post(`/api/cron/:id/${action}`, async (request, reply) => {
        const schedule = service(reply);
        if (!schedule) return reply;
        try {
          return { job: jobJson(schedule.setPaused((request.params as { id: string }).id, action === "pause")) };
        } catch (error) {
          return fail(reply, error);
        }
      });
    }

    app.get("/api/agents/:id/heartbeat", async (request, reply) => {
      try {
        return { text: await deps.heartbeat.read((request.params as { id: string }).id) };
      } catch (error) {
        return fail(reply, error);
      }
    });

    app.put("/api/agents/:id/heartbeat", async (request, reply) => {
      const text = (request.body as { text?: unknown } | undefined)?.text;
      if (typeof text !== "string") return sendError(reply, 400, "BAD_REQUEST", 'send {"text": "- check unconfirmed bookings for today"}');
      try {
        await deps.heartbeat.write((request.params as { id: string }).id, text);
        return { saved: true, characters: text.length };
      } catch (error) {
        return fail(reply, error);
      }
    });
  };
}
