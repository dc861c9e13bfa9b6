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
import type { WhatsAppDeviceCache } from "./device-cache.ts";
import type { WhatsAppSentMessageStore } from "./sent-message-store.ts";
import { quietLibsignal } from "./quiet-libsignal.ts";
import { phoneFromJid, type TransportFactory, type TransportHandlers, type WhatsAppInbound, type WhatsAppTransport } from "./transport.ts";

export interface BaileysTransportOptions {
  readonly store: WhatsAppAuthStore;
  /** Default WhatsApp's own (`wss://web.whatsapp.com/ws/chat`); tests point it at a loopback fake. */
  readonly webSocketUrl?: string;
  readonly keepAliveMs?: number;
  /** How long a query to WhatsApp may take (Baileys' `defaultQueryTimeoutMs`, 60 s by default). */
  readonly queryTimeoutMs?: number;
  /** Contacts' device lists across restarts (Baileys' `userDevicesCache`), so sessions are kept. */
  readonly deviceCache?: WhatsAppDeviceCache;
  /** What we sent, for retry receipts (Baileys' `getMessage`). */
  readonly sentMessages?: WhatsAppSentMessageStore;
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
    // Baileys is chatty below warn; a quieter gateway log level (error, silent) stays in force.
    const baileysLevel = options.logger.levelVal > 40 ? options.logger.level : "warn";
    const baileysLogger = options.logger.child({ channel: "whatsapp", lib: "baileys" }, { level: baileysLevel });
    const { state, saveCreds } = options.store.load({
      codec: baileys.BufferJSON,
      initCreds: baileys.initAuthCreds,
      reviveKey: (type, value) => (type === "app-state-sync-key" && value ? baileys.proto.Message.AppStateSyncKeyData.fromObject(value as object) : value),
      onRecovered: (detail) => options.logger.warn({ channel: "whatsapp" }, detail),
    });
    const logger = options.logger.child({ channel: "whatsapp" });
    /** The other form of a user jid (LID for a phone-number jid and back), when Baileys knows it. */
    const otherForm = async (jid: string): Promise<string | undefined> => {
      const mapping = socket.signalRepository.lidMapping;
      try {
        const other = baileys.isLidUser(jid) ? await mapping.getPNForLID(jid) : baileys.isPnUser(jid) ? await mapping.getLIDForPN(jid) : null;
        return other ? baileys.jidNormalizedUser(other) : undefined;
      } catch {
        return undefined;
      }
    };
    // A retry receipt (the recipient could not decrypt) re-sends from here once Baileys' own
    // 5-minute in-memory copy is gone: after a restart, or asked for under the other jid form.
    const getMessage = async (key: import("baileys").WAMessageKey): Promise<import("baileys").proto.IMessage | undefined> => {
      if (!options.sentMessages || !key.id || !key.remoteJid) return undefined;
      const jid = baileys.jidNormalizedUser(key.remoteJid);
      const forms = [key.remoteJid, jid];
      const other = await otherForm(jid);
      if (other) forms.push(other);
      const stored = options.sentMessages.get(key.id, forms);
      if (!stored) {
        logger.warn({ id: key.id }, "WhatsApp asked to re-send a message the gateway no longer has (older than the retention window, or not ours)");
        return undefined;
      }
      logger.info({ id: key.id }, "re-sending a WhatsApp message the recipient could not decrypt");
      return baileys.proto.Message.decode(stored);
    };
    const socket: Socket = baileys.makeWASocket({
      auth: {
        creds: state.creds,
        keys: baileys.makeCacheableSignalKeyStore(state.keys as Parameters<Baileys["makeCacheableSignalKeyStore"]>[0], baileysLogger as never),
      },
      ...(options.webSocketUrl ? { waWebSocketUrl: options.webSocketUrl } : {}),
      ...(options.keepAliveMs ? { keepAliveIntervalMs: options.keepAliveMs } : {}),
      ...(options.queryTimeoutMs ? { defaultQueryTimeoutMs: options.queryTimeoutMs } : {}),
      ...(options.deviceCache ? { userDevicesCache: options.deviceCache } : {}),
      logger: baileysLogger as never,
      syncFullHistory: false,
      // No history sync at all: on the first connection after linking it holds every event in
      // Baileys' buffer for up to 20 s (AwaitingInitialSync) — and the delivery receipts of those
      // messages are already sent — and it would download a business's whole history.
      shouldSyncHistoryMessage: () => false,
      markOnlineOnConnect: false,
      generateHighQualityLinkPreview: false,
      getMessage,
    });
    let closed = false;
    const me = () => socket.user?.id;

    // A device list older than the cache's TTL is still used (so no forced new session); re-read
    // it here with a devices-only query — without the LID protocol, which is what makes Baileys
    // force new sessions (`getUSyncDevices` in Socket/messages-send.js).
    const refreshing = new Set<string>();
    const refreshDevices = async (user: string, server: "lid" | "s.whatsapp.net"): Promise<void> => {
      const query = new baileys.USyncQuery().withContext("message").withDeviceProtocol().withUser(new baileys.USyncUser().withId(baileys.jidEncode(user, server)));
      const result = await socket.executeUSyncQuery(query);
      const creds = socket.authState.creds.me;
      if (!result || closed || !creds) return;
      const devices = baileys.extractDeviceJids(result.list, creds.id, creds.lid ?? "", false).filter((device) => device.user === user);
      if (devices.length) await socket.devicesMutex.mutex(async () => options.deviceCache?.set(user, devices));
    };
    const onStale = (user: string, devices: unknown[]) => {
      if (closed || refreshing.has(user)) return;
      const server = (devices as Array<{ server?: string }>).map((device) => device.server).find((candidate): candidate is "lid" | "s.whatsapp.net" => candidate === "lid" || candidate === "s.whatsapp.net");
      if (!server) return;
      refreshing.add(user);
      refreshDevices(user, server)
        .catch((error: unknown) => logger.debug({ err: error }, "could not refresh a WhatsApp device list; the cached one stays in use"))
        .finally(() => refreshing.delete(user));
    };
    if (options.deviceCache) options.deviceCache.onStale = onStale;

    // Self-chat: the ids this socket sent, so that their echo (Baileys emits our own sends as
    // messages.upsert "append", before sendMessage resolves) is never taken for the owner's words.
    const sentIds = new Set<string>();
    const normalise = async (message: WAMessage): Promise<WhatsAppInbound | undefined> => {
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
      // the other form alongside as *Alt (`sender_pn` / `participant_pn`): take the phone-number
      // one, so allowFrom's E.164 matches. Without it, ask Baileys' LID mapping (learnt from device
      // queries and earlier messages).
      const candidates = isGroup ? [key.participant, keyAlt.participantAlt] : [key.remoteJid, keyAlt.remoteJidAlt];
      let senderJid = selfChat ? me() ?? "" : candidates.find((jid) => jid?.endsWith("@s.whatsapp.net")) ?? candidates.find(Boolean) ?? "";
      if (!selfChat && baileys.isLidUser(senderJid)) {
        const phone = await otherForm(baileys.jidNormalizedUser(senderJid));
        if (phone) senderJid = phone;
      }
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
    const handling = new Set<Promise<void>>();
    const takeIn = async (messages: WAMessage[], type: string) => {
      for (const message of messages) {
        if (type === "append" && !isRecent(message)) continue;
        const inbound = await normalise(message);
        if (inbound) await handlers.message(inbound);
      }
    };
    const onMessages = ({ messages, type }: { messages: WAMessage[]; type: string }) => {
      // "notify": live. "append": what arrived while we were offline (a restart, a reconnect) —
      // answered too, but only when recent: never reply to yesterday's conversation.
      if (type !== "notify" && type !== "append") return;
      if (closed) {
        // Released from Baileys' buffer as the socket closed: WhatsApp has its delivery receipt and
        // will not deliver these again. Name them, so the owner can follow up by hand.
        for (const message of messages) {
          if (message.key?.id && !message.key.fromMe) logger.error({ id: message.key.id, chat: message.key.remoteJid }, "a WhatsApp message arrived as the socket closed and was not taken in");
        }
        return;
      }
      const work = takeIn(messages, type).catch((error: unknown) => logger.error({ err: error }, "could not take in a WhatsApp message"));
      handling.add(work);
      void work.finally(() => handling.delete(work));
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
        const id = sent?.key.id ?? messageId;
        if (id && sent?.message && options.sentMessages) {
          // Kept for retry receipts, under both forms of the chat's jid. A store failure does not
          // fail the send (it went out); Baileys' in-memory copy covers the next 5 minutes.
          try {
            const destination = baileys.jidNormalizedUser(jid);
            options.sentMessages.put(id, destination, await otherForm(destination), baileys.proto.Message.encode(sent.message).finish());
          } catch (error) {
            logger.warn({ err: error, id }, "could not keep a sent WhatsApp message for retries");
          }
        }
        return id;
      },
      async drain() {
        if (closed) return;
        socket.ev.flush();
        await Promise.allSettled([...handling]);
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
        if (options.deviceCache?.onStale === onStale) options.deviceCache.onStale = undefined;
        // Listeners first: a closing socket must not report into its successor's state.
        socket.ev.off("connection.update", onConnection);
        socket.ev.off("creds.update", onCreds);
        socket.ws.off("frame", onFrame);
        // end() discards what Baileys still buffers: release it first, so onMessages names it.
        try {
          socket.ev.flush();
        } catch {
          // nothing buffered
        }
        socket.ev.off("messages.upsert", onMessages as never);
        try {
          socket.end(undefined);
        } catch {
          // already ended
        }
      },
    };
  };
}
