import type { FastifyReply } from "fastify";
import type { ErrorCode } from "../errors/index.ts";

/** The wire shape of every API error: `{error: {code, message, ...details}}`. Stack traces stay in the log. */
export function sendError(
  reply: FastifyReply,
  status: number,
  code: ErrorCode,
  message: string,
  details: Record<string, unknown> = {},
): FastifyReply {
  return reply.code(status).send({ error: { code, message, ...details } });
}
