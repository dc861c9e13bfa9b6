import type { FastifyInstance, FastifyReply } from "fastify";
import { isFaradayError } from "../errors/index.ts";
import { sendError } from "../http/index.ts";
import { isChannelName, type ChannelControl } from "./channel-control.ts";

const BOT_TOKEN_SHAPE = /^\S{20,200}$/;

/** Channels, pairing and WhatsApp linking for the CLI and dashboard; the Telegram webhook. */
export function channelRoutes(control: ChannelControl) {
  const channels = () => control.deps.service();
  return (app: FastifyInstance) => {
    app.get("/api/channels", async () => ({ channels: control.describe() }));

    app.put("/api/channels/:name", async (request, reply) => {
      const { name } = request.params as { name: string };
      if (!isChannelName(name)) return sendError(reply, 404, "NOT_FOUND", `no channel "${name}"; channels are telegram, discord and whatsapp`);
      const body = (request.body ?? {}) as { enabled?: unknown; token?: unknown };
      if (body.enabled !== undefined && typeof body.enabled !== "boolean") return sendError(reply, 400, "BAD_REQUEST", 'send {"enabled": true} or {"enabled": false}');
      if (body.token !== undefined) {
        if (name === "whatsapp") return sendError(reply, 400, "BAD_REQUEST", "WhatsApp has no token: link it with POST /api/channels/whatsapp/login");
        if (typeof body.token !== "string" || !BOT_TOKEN_SHAPE.test(body.token.trim())) {
          return sendError(reply, 400, "BAD_REQUEST", name === "telegram" ? "that does not look like a Telegram bot token (from @BotFather: digits, a colon, then 35 characters)" : "that does not look like a Discord bot token (Developer Portal → your app → Bot → Reset Token)");
        }
      }
      let warning: string | undefined;
      if (body.enabled !== undefined) {
        const result = await control.setEnabled(name, body.enabled);
        if (!result.ok) return sendError(reply, 400, "CONFIG_INVALID", `the config has ${result.problems.length} problem(s); fix them on the Config page first`, { problems: result.problems });
      }
      if (typeof body.token === "string") ({ warning } = await control.setToken(name as "telegram" | "discord", body.token.trim()));
      return { channel: control.describe().find((channel) => channel.name === name), ...(warning ? { warning } : {}) };
    });

    app.post("/api/channels/:name/restart", async (request, reply) => {
      const { name } = request.params as { name: string };
      if (!(await channels()?.restart(name))) return sendError(reply, 404, "CHANNEL_UNAVAILABLE", `${name} is not running; enable it and give it a token (or link WhatsApp) first`);
      return { channel: control.describe().find((channel) => channel.name === name) };
    });

    app.post("/api/channels/whatsapp/login", async (request, reply) => {
      const body = (request.body ?? {}) as { phoneNumber?: unknown };
      if (body.phoneNumber !== undefined && typeof body.phoneNumber !== "string") return sendError(reply, 400, "BAD_REQUEST", 'send {"phoneNumber": "+15551234567"} for a pairing code, or {} for a QR code');
      const whatsapp = await control.deps.whatsapp(true);
      if (!whatsapp) return unavailable(reply);
      try {
        return await whatsapp.beginLogin(body.phoneNumber ? { phoneNumber: body.phoneNumber } : {});
      } catch (error) {
        if (isFaradayError(error)) return sendError(reply, error.code === "CHANNEL_ALREADY_LINKED" ? 409 : 400, error.code, error.message);
        throw error;
      }
    });

    app.get("/api/channels/whatsapp/login", async () => {
      const whatsapp = await control.deps.whatsapp(false);
      return whatsapp?.loginStatus() ?? { state: "idle", qr: null, qrDataUrl: null, pairingCode: null, reason: null, account: null };
    });

    app.post("/api/channels/whatsapp/logout", async () => {
      const whatsapp = await control.deps.whatsapp(false);
      if (!whatsapp) return { ok: true, state: "logged_out" };
      await whatsapp.logout();
      await channels()?.halt("whatsapp", "logged_out", "unlinked by the owner; link again with `faraday channels login whatsapp`");
      return { ok: true, state: "logged_out" };
    });

    app.get("/api/pairing", async () => ({
      pending: channels()?.access.pending() ?? [],
      allowed: channels()?.access.allowed() ?? [],
      owners: channels()?.people.owners() ?? [],
    }));

    // Owners set here are stored in the database, in addition to the config's owners; a config
    // owner cannot be removed here (edit the config).
    app.post("/api/owners", async (request, reply) => {
      const body = request.body as { channel?: unknown; sender?: unknown; name?: unknown; owner?: unknown } | undefined;
      if (typeof body?.channel !== "string" || !isChannelName(body.channel) || typeof body.sender !== "string" || body.sender.trim() === "" || (body.owner !== undefined && typeof body.owner !== "boolean")) {
        return sendError(reply, 400, "BAD_REQUEST", 'send {"channel": "telegram", "sender": "123456", "owner": true} (owner false removes an owner added here)');
      }
      const service = channels();
      if (!service) return unavailable(reply);
      const sender = body.sender.trim();
      if (body.owner === false) {
        if (!service.people.removeOwner(body.channel, sender)) {
          const fromConfig = service.people.owners().some((owner) => owner.channel === body.channel && owner.sender === service.people.ownerId(body.channel as string, sender) && owner.source === "config");
          return sendError(reply, fromConfig ? 409 : 404, "OWNER_NOT_FOUND", fromConfig
            ? `${sender} is an owner in the config (owners / channels.${body.channel}.owners); remove them there`
            : `${sender} is not an owner on ${body.channel}`);
        }
        return { owners: service.people.owners() };
      }
      service.people.addOwner(body.channel, sender, typeof body.name === "string" ? body.name : null, "api");
      return { owners: service.people.owners() };
    });

    for (const action of ["approve", "deny"] as const) {
      app.post(`/api/pairing/${action}`, async (request, reply) => {
        const body = request.body as { channel?: unknown; code?: unknown; owner?: unknown } | undefined;
        if (typeof body?.channel !== "string" || typeof body.code !== "string" || (body.owner !== undefined && typeof body.owner !== "boolean")) {
          return sendError(reply, 400, "BAD_REQUEST", 'send {"channel": "telegram", "code": "ABCD2345"} (approve also takes "owner": true)');
        }
        const service = channels();
        const request_ = action === "approve" ? service?.access.approve(body.channel, body.code, "api") : service?.access.deny(body.channel, body.code);
        if (!service || !request_) return sendError(reply, 404, "PAIRING_NOT_FOUND", `no pending pairing code ${body.code} on ${body.channel} (codes expire after 1 hour); \`faraday pairing list\` shows them`);
        if (action === "approve" && body.owner === true) service.people.addOwner(request_.channel, request_.sender, request_.senderName, "api");
        if (action === "approve") await service.notifyApproved(request_.channel, request_.chat);
        return { [action === "approve" ? "approved" : "denied"]: request_ };
      });
    }

    app.post("/api/pairing/revoke", async (request, reply) => {
      const body = request.body as { channel?: unknown; sender?: unknown } | undefined;
      if (typeof body?.channel !== "string" || typeof body.sender !== "string") return sendError(reply, 400, "BAD_REQUEST", 'send {"channel": "telegram", "sender": "123456"}');
      if (!channels()?.access.revoke(body.channel, body.sender)) return sendError(reply, 404, "PAIRING_NOT_FOUND", `${body.sender} is not on the ${body.channel} allowlist`);
      return { revoked: { channel: body.channel, sender: body.sender } };
    });

    // Telegram calls this; it carries no bearer token, only Telegram's secret header (checked by the sink).
    app.post("/channels/telegram/webhook", { config: { public: true } }, async (request, reply) => {
      const sink = control.deps.telegramWebhook();
      if (!sink) return sendError(reply, 404, "NOT_FOUND", "Telegram webhook mode is not enabled (channels.telegram.webhook)");
      const status = await sink.handle(request.body, request.headers["x-telegram-bot-api-secret-token"] as string | undefined);
      if (status === 500) return sendError(reply, 500, "INTERNAL", "the update could not be stored; Telegram delivers it again");
      return reply.code(status).send(status === 200 ? { ok: true } : { error: { code: status === 401 ? "AUTH_INVALID" : "CHANNEL_UNAVAILABLE", message: status === 401 ? "wrong webhook secret" : "Telegram channel is not running" } });
    });
  };
}

function unavailable(reply: FastifyReply) {
  return sendError(reply, 503, "CHANNEL_UNAVAILABLE", "channels are not running (the gateway is starting or stopping); try again in a moment");
}
