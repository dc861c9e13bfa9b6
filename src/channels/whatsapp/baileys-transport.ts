/**
 * WhatsApp through Baileys, pinned to 7.0.0-rc14 (package.json, exact). Why 7 and not 6.7.24:
 * 6.x installs libsignal from a git URL, which this project's registry-only installs (and many
 * users' CI) cannot fetch — it needs an `overrides` hack to the registry's libsignal; 7.0.0-rc14
 * takes libsignal 6.0.0 from the registry and is the line that still gets protocol fixes (LID
 * addressing). This module is imported only when WhatsApp is enabled or being linked, so the
 * gateway's start-up time and idle memory do not pay for Baileys otherwise.
 */
import type { Logger } from "../../logging/index.ts";
import type { WhatsAppAuthStore } from "./auth-store.ts";
import { quietLibsignal } from "./quiet-libsignal.ts";
import { phoneFromJid, type TransportFactory, type TransportHandlers, type WhatsAppInbound, type WhatsAppTransport } from "./transport.ts";

export interface BaileysTransportOptions {
  readonly store: WhatsAppAuthStore;
  /** Default WhatsApp's own (`wss://web.whatsapp.com/ws/chat`); tests point it at a loopback fake. */
  readonly webSocketUrl?: string;
  readonly keepAliveMs?: number;
  readonly logger: Logger;
}

type Baileys = typeof import("baileys");
type Socket = ReturnType<Baileys["makeWASocket"]>;
type WAMessage = import("baileys").proto.IWebMessageInfo;

/** Text of a message, through the wrappers WhatsApp puts around it (ephemeral, view-once, edits). */
function textOf(baileys: Baileys, message: WAMessage): { text?: string; mentions: string[]; quotedParticipant?: string } {
  const content = baileys.normalizeMessageContent(message.message ?? undefined);
  if (!content) return { mentions: [] };
  const extended = content.extendedTextMessage;
  const text = content.conversation ?? extended?.text ?? undefined;
  const context = extended?.contextInfo;
  return {
    ...(text ? { text } : {}),
    mentions: context?.mentionedJid ?? [],
    ...(context?.participant ? { quotedParticipant: context.participant } : {}),
  };
}

/** Messages delivered from the offline queue are answered when at most this old. */
export const OFFLINE_REPLY_WINDOW_MS = 6 * 60 * 60_000;

function isRecent(message: WAMessage): boolean {
  const seconds = Number(message.messageTimestamp ?? 0);
  return seconds > 0 && Date.now() - seconds * 1000 <= OFFLINE_REPLY_WINDOW_MS;
}

export function baileysTransportFactory(options: BaileysTransportOptions): TransportFactory {
  return async (handlers: TransportHandlers): Promise<WhatsAppTransport> => {
    quietLibsignal(options.logger);
    const baileys: Baileys = await import("baileys");
    const baileysLogger = options.logger.child({ channel: "whatsapp", lib: "baileys" }, { level: "warn" });
    const { state, saveCreds } = options.store.load({
      codec: baileys.BufferJSON,
      initCreds: baileys.initAuthCreds,
      reviveKey: (type, value) => (type === "app-state-sync-key" && value ? baileys.proto.Message.AppStateSyncKeyData.fromObject(value as object) : value),
      onRecovered: (detail) => options.logger.warn({ channel: "whatsapp" }, detail),
    });
    const socket: Socket = baileys.makeWASocket({
      auth: {
        creds: state.creds,
        keys: baileys.makeCacheableSignalKeyStore(state.keys as Parameters<Baileys["makeCacheableSignalKeyStore"]>[0], baileysLogger as never),
      },
      ...(options.webSocketUrl ? { waWebSocketUrl: options.webSocketUrl } : {}),
      ...(options.keepAliveMs ? { keepAliveIntervalMs: options.keepAliveMs } : {}),
      logger: baileysLogger as never,
      syncFullHistory: false,
      markOnlineOnConnect: false,
      generateHighQualityLinkPreview: false,
      getMessage: async () => undefined,
    });
    let closed = false;
    const me = () => socket.user?.id;

    // Self-chat: the ids this socket sent, so that their echo (Baileys emits our own sends as
    // messages.upsert "append", before sendMessage resolves) is never taken for the owner's words.
    const sentIds = new Set<string>();
    const normalise = (message: WAMessage): WhatsAppInbound | undefined => {
      const key = message.key;
      if (!key?.remoteJid || !key.id || (key.fromMe && sentIds.has(key.id))) return undefined;
      if (key.remoteJid === "status@broadcast" || key.remoteJid.endsWith("@newsletter") || key.remoteJid.endsWith("@broadcast")) return undefined;
      const ownJids = [me(), socket.user?.lid].filter(Boolean).map((jid) => baileys.jidNormalizedUser(jid!));
      // The account's own messages count only in its own chat (remoteJid = own jid or own LID).
      const selfChat = key.fromMe === true && ownJids.includes(baileys.jidNormalizedUser(key.remoteJid));
      if (key.fromMe && !selfChat) return undefined;
      const { text, mentions, quotedParticipant } = textOf(baileys, message);
      if (!text) return undefined;
      const isGroup = baileys.isJidGroup(key.remoteJid) === true;
      const keyAlt = key as { remoteJidAlt?: string; participantAlt?: string };
      // WhatsApp addresses people by phone number (`…@s.whatsapp.net`) or by LID (`…@lid`), with
      // the other form alongside as *Alt: take the phone-number one, so allowFrom's E.164 matches.
      const candidates = isGroup ? [key.participant, keyAlt.participantAlt] : [key.remoteJid, keyAlt.remoteJidAlt];
      const senderJid = selfChat ? me() ?? "" : candidates.find((jid) => jid?.endsWith("@s.whatsapp.net")) ?? candidates.find(Boolean) ?? "";
      const own = [me(), socket.user?.lid].filter(Boolean).map((jid) => baileys.jidNormalizedUser(jid!));
      const isMine = (jid: string | undefined) => jid !== undefined && own.includes(baileys.jidNormalizedUser(jid));
      return {
        id: key.id,
        chatJid: key.remoteJid,
        sender: phoneFromJid(baileys.jidNormalizedUser(senderJid) || senderJid),
        ...(message.pushName ? { pushName: message.pushName } : {}),
        text,
        isGroup,
        addressedToMe: mentions.some(isMine) || isMine(quotedParticipant),
        ...(selfChat ? { selfChat: true } : {}),
        key,
      };
    };

    const onConnection = (update: Partial<import("baileys").ConnectionState>) => {
      if (closed) return;
      if (update.qr) handlers.qr(update.qr);
      if (update.connection === "open") handlers.open({ id: me() ?? "", ...(socket.user?.name ? { name: socket.user.name } : {}) });
      if (update.connection === "close") {
        const error = update.lastDisconnect?.error as { output?: { statusCode?: number }; message?: string } | undefined;
        handlers.close(error?.output?.statusCode, error?.message ?? "connection closed");
      }
    };
    const onCreds = () => {
      try {
        saveCreds();
      } catch (error) {
        options.logger.error({ err: error, channel: "whatsapp" }, "could not save WhatsApp creds");
      }
    };
    const onMessages = async ({ messages, type }: { messages: WAMessage[]; type: string }) => {
      if (closed) return;
      // "notify": live. "append": what arrived while we were offline (a restart, a reconnect) —
      // answered too, but only when recent: never reply to yesterday's conversation.
      if (type !== "notify" && type !== "append") return;
      for (const message of messages) {
        if (type === "append" && !isRecent(message)) continue;
        const inbound = normalise(message);
        if (inbound) await handlers.message(inbound);
      }
    };
    const onFrame = () => {
      if (!closed) handlers.frame();
    };
    socket.ev.on("connection.update", onConnection);
    socket.ev.on("creds.update", onCreds);
    socket.ev.on("messages.upsert", onMessages as never);
    socket.ws.on("frame", onFrame);

    const requireOpen = () => {
      if (closed) throw new Error("this WhatsApp socket is closed");
    };
    return {
      async requestPairingCode(digits) {
        requireOpen();
        return socket.requestPairingCode(digits);
      },
      async sendText(jid, text) {
        requireOpen();
        // The id is ours before the send, so its own-event echo is recognised.
        const messageId = baileys.generateMessageIDV2(socket.user?.id);
        sentIds.add(messageId);
        if (sentIds.size > 1_000) sentIds.delete(sentIds.values().next().value!);
        const sent = await socket.sendMessage(jid, { text }, { messageId });
        return sent?.key.id ?? messageId;
      },
      async markRead(key) {
        if (!closed) await socket.readMessages([key as import("baileys").WAMessageKey]);
      },
      async setTyping(jid, typing) {
        if (!closed) await socket.sendPresenceUpdate(typing ? "composing" : "paused", jid);
      },
      async logout() {
        requireOpen();
        await socket.logout();
      },
      close() {
        if (closed) return;
        closed = true;
        // Listeners first: a closing socket must not report into its successor's state.
        socket.ev.off("connection.update", onConnection);
        socket.ev.off("creds.update", onCreds);
        socket.ev.off("messages.upsert", onMessages as never);
        socket.ws.off("frame", onFrame);
        try {
          socket.end(undefined);
        } catch {
          // already ended
        }
      },
    };
  };
}
