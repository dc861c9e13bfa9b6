import type { FastifyInstance, FastifyRequest } from "fastify";
import { LOG_LEVELS, type LogBuffer, type LogEntry } from "../logging/index.ts";
import { sendError } from "./reply-error.ts";

interface LogsQuery {
  since?: string;
  level?: string;
  limit?: string;
  follow?: string;
}

/**
 * `GET /api/logs?since=SEQ&level=LEVEL&limit=N`: the gateway's recent log lines (already
 * redacted), oldest first, with `next` to pass as `since` next time. With `?follow=1` or
 * `Accept: text/event-stream` the answer is a server-sent event stream: the matching recent
 * lines, then each new line as it is logged (`event: log`, `id:` its sequence number).
 */
export function logRoutes(buffer: LogBuffer) {
  return (app: FastifyInstance) => {
    const followers = new Set<() => void>();
    app.addHook("preClose", async () => {
      for (const end of followers) end();
    });

    app.get("/api/logs", async (request: FastifyRequest<{ Querystring: LogsQuery }>, reply) => {
      const { since, level, limit, follow } = request.query;
      const sinceNumber = since === undefined || since === "" ? undefined : Number(since);
      if (sinceNumber !== undefined && (!Number.isSafeInteger(sinceNumber) || sinceNumber < 0)) {
        return sendError(reply, 400, "BAD_REQUEST", "`since` is a line's sequence number (the `seq` or `next` of an earlier answer)");
      }
      if (level !== undefined && level !== "" && LOG_LEVELS[level] === undefined) {
        return sendError(reply, 400, "BAD_REQUEST", `\`level\` is one of ${Object.keys(LOG_LEVELS).join(", ")}`);
      }
      const limitNumber = limit === undefined || limit === "" ? buffer.capacity : Number(limit);
      if (!Number.isSafeInteger(limitNumber) || limitNumber <= 0) return sendError(reply, 400, "BAD_REQUEST", "`limit` is a positive whole number");
      const query = { ...(sinceNumber !== undefined ? { since: sinceNumber } : {}), ...(level ? { level } : {}), limit: limitNumber };
      const streaming = ["1", "true"].includes(String(follow ?? "")) || (request.headers.accept ?? "").includes("text/event-stream");
      if (!streaming) {
        const lines = buffer.query(query);
        return { lines, next: buffer.last, capacity: buffer.capacity };
      }

      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" });
      const minimum = level ? LOG_LEVELS[level]! : 0;
      const send = (entry: LogEntry) => {
        if ((LOG_LEVELS[entry.level] ?? 0) >= minimum) raw.write(`event: log\nid: ${entry.seq}\ndata: ${JSON.stringify(entry)}\n\n`);
      };
      // Subscribe before replaying, then skip what the replay already sent: no line is lost between them.
      const queued: LogEntry[] = [];
      let replayed = false;
      let lastSent = 0;
      const unsubscribe = buffer.subscribe((entry) => {
        if (!replayed) queued.push(entry);
        else if (entry.seq > lastSent) {
          lastSent = entry.seq;
          send(entry);
        }
      });
      for (const entry of buffer.query(query)) {
        send(entry);
        lastSent = entry.seq;
      }
      for (const entry of queued) if (entry.seq > lastSent) {
        lastSent = entry.seq;
        send(entry);
      }
      replayed = true;
      raw.write(`event: ready\ndata: ${JSON.stringify({ next: lastSent || buffer.last })}\n\n`);
      const heartbeat = setInterval(() => raw.write(": keep-alive\n\n"), 15_000);
      heartbeat.unref();
      const end = () => {
        clearInterval(heartbeat);
        unsubscribe();
        followers.delete(end);
        if (!raw.writableEnded) raw.end();
      };
      followers.add(end);
      request.raw.on("close", end);
      raw.on("close", end);
    });
  };
}
