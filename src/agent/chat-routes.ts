import type { FastifyInstance, FastifyReply } from "fastify";
import { isFaradayError } from "../errors/index.ts";
import { sendError } from "../http/index.ts";
import type { ApprovalBroker, ToolNotice } from "../tools/index.ts";
import type { AgentRuntime, InboundChat } from "./agent-runtime.ts";
import { RunningTurn, type RunningTurns, type TurnStep, type TurnStream } from "./running-turn.ts";
import type { SessionStore } from "./sessions/session-store.ts";

const MAX_TEXT = 32_000;

function failure(reply: FastifyReply, error: unknown) {
  if (isFaradayError(error, "SESSION_NOT_FOUND") || isFaradayError(error, "AGENT_NOT_FOUND")) {
    return sendError(reply, 404, error.code, error.message);
  }
  throw error;
}

/** The public part of an approval request, as a JSON client and the SSE `approval` event see it. */
export function pendingApprovalOf(notice: ToolNotice) {
  const { approval } = notice;
  return { id: approval.id, sessionId: approval.sessionId, tool: approval.tool, arguments: approval.arguments, expiresAt: approval.expiresAt, text: notice.text };
}

/**
 * The JSON answer for a turn's step: its result, or — when it paused for a yes — the question as
 * the reply plus `pendingApproval` (the turn is then tracked so the answer can resume it).
 */
export async function answerForStep(step: TurnStep, turn: RunningTurn, turns: RunningTurns): Promise<Record<string, unknown>> {
  if (step.kind === "failed") throw step.error;
  if (step.kind === "done") return { ...step.result };
  const { approval } = step.notice;
  turns.track(approval.id, turn);
  return {
    sessionId: approval.sessionId,
    agentId: approval.agentId,
    reply: step.notice.text,
    pendingApproval: pendingApprovalOf(step.notice),
    toolCalls: [],
    usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0 },
    model: null,
  };
}

/**
 * Resume the turn that waited for `approvalId` after it was decided, when no SSE stream is
 * following it: its next step (the answer, or the next question) is the reply of the request
 * that decided it. Undefined when there is no such turn.
 */
export async function resumedAnswer(approvalId: string, turns: RunningTurns, approvals: ApprovalBroker): Promise<Record<string, unknown> | undefined> {
  const turn = turns.forApproval(approvalId);
  if (!turn || turn.streamOpen) return undefined;
  return answerForStep(await turn.next((id) => approvals.get(id)?.status === "pending"), turn, turns);
}

/** `POST /api/chat` (JSON or SSE), `GET /api/sessions`, `GET /api/sessions/:id/messages`. */
export function chatRoutes(runtime: AgentRuntime, sessions: SessionStore, approvals: ApprovalBroker, turns: RunningTurns) {
  const isPending = (id: string) => approvals.get(id)?.status === "pending";
  return (app: FastifyInstance) => {
    app.post("/api/chat", async (request, reply) => {
      const body = request.body as { text?: unknown; sessionId?: unknown; agentId?: unknown } | undefined;
      if (!body || typeof body.text !== "string" || body.text.trim() === "") {
        return sendError(reply, 400, "BAD_REQUEST", "send {\"text\": \"…\"} with a non-empty message (sessionId and agentId are optional)");
      }
      if (body.text.length > MAX_TEXT) return sendError(reply, 400, "BAD_REQUEST", `the message is longer than ${MAX_TEXT} characters`);
      if (body.sessionId !== undefined && typeof body.sessionId !== "string") return sendError(reply, 400, "BAD_REQUEST", "sessionId must be a string");
      if (body.agentId !== undefined && typeof body.agentId !== "string") return sendError(reply, 400, "BAD_REQUEST", "agentId must be a string");
      const input: InboundChat = {
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
          // A turn of this session paused for a yes (its client got the question and left): if this
          // message answers it, the resumed turn's answer is this request's reply.
          const waiting = input.sessionId ? approvals.pending(input.sessionId).map((record) => record.id) : [];
          const turn = new RunningTurn(({ onNotice }) => runtime.handle({ ...input, onNotice }));
          const step = await turn.next(isPending);
          const decided = step.kind === "done" ? waiting.find((id) => !isPending(id)) : undefined;
          if (decided) {
            const resumed = await resumedAnswer(decided, turns, approvals);
            if (resumed) return resumed;
          }
          return await answerForStep(step, turn, turns);
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
      let closed = false;
      const detachers: Array<() => void> = [];
      // A client that leaves while a turn waits for a yes: whoever answers gets the reply instead.
      raw.once("close", () => {
        closed = true;
        for (const detach of detachers) detach();
      });
      const send = (event: string, data: unknown) => {
        if (!closed && !raw.destroyed) raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      const waiting = input.sessionId ? approvals.pending(input.sessionId).map((record) => record.id) : [];
      const streamFor = (followed: () => RunningTurn | undefined): TurnStream => ({
        delta: (text) => send("delta", { text }),
        notice: (notice) => {
          // A notice during construction is a question asked again: its turn is tracked already.
          const current = followed();
          if (current) turns.track(notice.approval.id, current);
          send("approval", pendingApprovalOf(notice));
        },
      });
      const follow = (followed: RunningTurn, stream: TurnStream) => {
        if (closed) followed.detach(stream);
        else {
          followed.attach(stream);
          detachers.push(() => followed.detach(stream));
        }
        return followed.finished();
      };
      let turn: RunningTurn | undefined;
      const firstStream = streamFor(() => turn);
      turn = new RunningTurn(({ onDelta, onNotice }) => runtime.handle({ ...input, onDelta, onNotice }), firstStream);
      let step = await follow(turn, firstStream);
      // This message answered the question of a turn nobody is following any more: follow that one.
      const decided = step.kind === "done" ? waiting.find((id) => !isPending(id)) : undefined;
      const parked = decided ? turns.forApproval(decided) : undefined;
      if (parked && parked !== turn && !parked.streamOpen) step = await follow(parked, streamFor(() => parked));
      if (step.kind === "done") send("done", step.result);
      else if (step.kind === "failed") {
        const error = step.error;
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
