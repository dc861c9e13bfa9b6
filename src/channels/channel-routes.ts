import type { FastifyInstance } from "fastify";
import { sendError } from "../http/index.ts";
import type { ChannelService } from "./channel-service.ts";
import type { TelegramWebhookSink } from "./telegram/telegram-adapter.ts";

/** Pairing and channel state for the CLI and dashboard, and the Telegram webhook. */
export function channelRoutes(channels: () => ChannelService | undefined, telegramWebhook: () => TelegramWebhookSink | undefined) {
  return (app: FastifyInstance) => {
    app.get("/api/channels", async () => ({ channels: channels()?.states() ?? [] }));

    app.get("/api/pairing", async () => ({
      pending: channels()?.access.pending() ?? [],
      allowed: channels()?.access.allowed() ?? [],
    }));

    for (const action of ["approve", "deny"] as const) {
      app.post(`/api/pairing/${action}`, async (request, reply) => {
        const body = request.body as { channel?: unknown; code?: unknown } | undefined;
        if (typeof body?.channel !== "string" || typeof body.code !== "string") {
          return sendError(reply, 400, "BAD_REQUEST", 'send {"channel": "telegram", "code": "ABCD2345"}');
        }
        const service = channels();
        const request_ = action === "approve" ? service?.access.approve(body.channel, body.code, "api") : service?.access.deny(body.channel, body.code);
        if (!service || !request_) return sendError(reply, 404, "PAIRING_NOT_FOUND", `no pending pairing code ${body.code} on ${body.channel} (codes expire after 1 hour); \`faraday pairing list\` shows them`);
        if (action === "approve") await service.notifyApproved(request_.channel, request_.chat);
        return { [action === "approve" ? "approved" : "denied"]: request_ };
      });
    }

    // Telegram calls this; it carries no bearer token, only Telegram's secret header.
    app.post("/channels/telegram/webhook", async (request, reply) => {
      const sink = telegramWebhook();
      if (!sink) return sendError(reply, 404, "NOT_FOUND", "Telegram webhook mode is not enabled (channels.telegram.webhook)");
      const status = await sink.handle(request.body, request.headers["x-telegram-bot-api-secret-token"] as string | undefined);
      return reply.code(status).send(status === 200 ? { ok: true } : { error: { code: status === 401 ? "AUTH_INVALID" : "CHANNEL_UNAVAILABLE", message: status === 401 ? "wrong webhook secret" : "Telegram channel is not running" } });
    });
  };
}
