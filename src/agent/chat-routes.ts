import type { FastifyInstance, FastifyReply } from "fastify";
import { isFaradayError } from "../errors/index.ts";
import { sendError } from "../http/index.ts";
import type { AgentRuntime } from "./agent-runtime.ts";
import type { SessionStore } from "./sessions/session-store.ts";

const MAX_TEXT = 32_000;

function failure(reply: FastifyReply, error: unknown) {
  if (isFaradayError(error, "SESSION_NOT_FOUND") || isFaradayError(error, "AGENT_NOT_FOUND")) {
    return sendError(reply, 404, error.code, error.message);
  }
  throw error;
}

/** `POST /api/chat` (JSON or SSE), `GET /api/sessions`, `GET /api/sessions/:id/messages`. */
export function chatRoutes(runtime: AgentRuntime, sessions: SessionStore) {
  return (app: FastifyInstance) => {
    app.post("/api/chat", async (request, reply) => {
      const body = request.body as { text?: unknown; sessionId?: unknown; agentId?: unknown } | undefined;
      if (!body || typeof body.text !== "string" || body.text.trim() === "") {
        return sendError(reply, 400, "BAD_REQUEST", "send {\"text\": \"…\"} with a non-empty message (sessionId and agentId are optional)");
      }
      if (body.text.length > MAX_TEXT) return sendError(reply, 400, "BAD_REQUEST", `the message is longer than ${MAX_TEXT} characters`);
      if (body.sessionId !== undefined && typeof body.sessionId !== "string") return sendError(reply, 400, "BAD_REQUEST", "sessionId must be a string");
      if (body.agentId !== undefined && typeof body.agentId !== "string") return sendError(reply, 400, "BAD_REQUEST", "agentId must be a string");
      const input = {
        channel: "web",
        chat: "web",
        sender: "web",
        text: body.text,
        ...(body.sessionId ? { sessionId: body.sessionId } : {}),
        ...(body.agentId ? { agentId: body.agentId } : {}),
      };
      const streaming = (request.headers.accept ?? "").includes("text/event-stream");
      if (!streaming) {
        try {
          return await runtime.handle(input);
        } catch (error) {
          return failure(reply, error);
        }
      }
      // Validate routing before committing to a stream, so a bad sessionId is still a 404.
      try {
        runtime.resolveAgent(input);
        if (input.sessionId && !sessions.get(input.sessionId)) return sendError(reply, 404, "SESSION_NOT_FOUND", `no session ${input.sessionId}; omit sessionId to start one`);
      } catch (error) {
        return failure(reply, error);
      }
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive", "x-accel-buffering": "no" });
      const send = (event: string, data: unknown) => raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      try {
        const result = await runtime.handle({
          ...input,
          onDelta: (text) => send("delta", { text }),
          onNotice: (notice) => send("approval", { id: notice.approval.id, sessionId: notice.approval.sessionId, tool: notice.approval.tool, arguments: notice.approval.arguments, expiresAt: notice.approval.expiresAt, text: notice.text }),
        });
        send("done", result);
      } catch (error) {
        request.log.error({ err: error }, "chat turn failed");
        send("error", { error: { code: isFaradayError(error) ? error.code : "INTERNAL", message: isFaradayError(error) ? error.message : "the turn failed; details are in the gateway log" } });
      }
      raw.end();
    });

    app.get("/api/sessions", async (request) => {
      const query = request.query as { limit?: string; offset?: string };
      const limit = Math.min(Math.max(Number(query.limit) || 50, 1), 500);
      const offset = Math.max(Number(query.offset) || 0, 0);
      return { sessions: sessions.list(limit, offset) };
    });

    app.get("/api/sessions/:id/messages", async (request, reply) => {
      const { id } = request.params as { id: string };
      const query = request.query as { after?: string; limit?: string };
      const session = sessions.get(id);
      if (!session) return sendError(reply, 404, "SESSION_NOT_FOUND", `no session ${id}`);
      const limit = Math.min(Math.max(Number(query.limit) || 200, 1), 1000);
      return { session, messages: sessions.page(id, Math.max(Number(query.after) || 0, 0), limit) };
    });
  };
}
