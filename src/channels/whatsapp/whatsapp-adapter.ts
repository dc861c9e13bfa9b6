import { FaradayError } from "../../errors/index.ts";
import type { Logger } from "../../logging/index.ts";
import type { ChannelAdapter, ChannelHooks } from "../channel-adapter.ts";
import { markdownToWhatsApp } from "../format/whatsapp-text.ts";
import { closeAction, phoneDigits, phoneFromJid, type CloseAction, type TransportFactory, type TransportHandlers, type WhatsAppInbound, type WhatsAppTransport } from "./transport.ts";

/** WhatsApp's own limit is far higher; long walls of text read badly on a phone. */
export const WHATSAPP_TEXT_LIMIT = 4000;

export type LoginState = "idle" | "starting" | "qr" | "pairing_code" | "linked" | "failed";

export interface LoginStatus {
  readonly state: LoginState;
  readonly qr: string | null;
  /** A PNG data URL of the QR, ready for an `<img src>`. */
  readonly qrDataUrl: string | null;
  readonly pairingCode: string | null;
  readonly reason: string | null;
  /** The linked account (`+15550001111`), once linked. */
  readonly account: string | null;
}

export interface WhatsAppAccountStore {
  isLinked(): boolean;
  linkedAs(): string | undefined;
  wipe(): void;
}

export interface WhatsAppAdapterOptions {
  readonly connect: TransportFactory;
  readonly store: WhatsAppAccountStore;
  /** Did this chat ever write to us? The gateway replies; it never starts a conversation. */
  readonly knownChat: (chatJid: string) => boolean;
  /** Called when linking finished (creds saved): the owner should (re)start the channel. */
  readonly onLinked: () => void;
  readonly logger: Logger;
  /** Baileys' keep-alive ping interval; the watchdog allows two missed pings plus slack. */
  readonly keepAliveMs?: number;
  /** How long `start` waits for the socket to log in. */
  readonly openTimeoutMs?: number;
  /**
   * Answer the linked account's own "Message yourself" chat as the owner's DM (default true,
   * `channels.whatsapp.selfChat`). Off: the account's own messages are never prompts.
   */
  readonly selfChat?: boolean;
  /** Renders a QR payload as a PNG data URL (the `qrcode` package, loaded lazily). */
  readonly qrToDataUrl?: (qr: string) => Promise<string>;
}

export interface WhatsAppAdapter extends ChannelAdapter {
  /** Start linking (QR, or a pairing code when a phone number is given). */
  beginLogin(input: { phoneNumber?: string }): Promise<LoginStatus>;
  loginStatus(): LoginStatus;
  /** Unlink: tell WhatsApp (when connected), wipe the creds, stop listening. */
  logout(): Promise<void>;
  /** True only while a socket is logged in (the state never says `connected` otherwise). */
  readonly connected: boolean;
}

const notLinked = () =>
  new FaradayError("CHANNEL_LOGGED_OUT", "WhatsApp is not linked: run `faraday channels login whatsapp` (or Dashboard → Channels → WhatsApp → Link) and scan the QR code with the phone");

const loggedOut = (code: number | undefined) =>
  new FaradayError("CHANNEL_LOGGED_OUT", `WhatsApp logged this device out (${code ?? "401"}): it was removed from the phone's Linked devices, or the account is restricted. Link it again with \`faraday channels login whatsapp\``);

const replaced = () =>
  new FaradayError("CHANNEL_REPLACED", "replaced: another WhatsApp Web session took over this account (440). Close the other session, then restart the channel from the dashboard (or restart the gateway); it does not reconnect by itself, which would fight the other session");

const forbidden = () =>
  new FaradayError("CHANNEL_AUTH_FAILED", "WhatsApp refused this account (403): it is banned or restricted (open WhatsApp on the phone to see why). The link is kept; once the phone's WhatsApp works again, restart the channel from the dashboard (or POST /api/channels/whatsapp/restart)");

const multideviceMismatch = () =>
  new FaradayError("CHANNEL_AUTH_FAILED", "WhatsApp does not accept this linked device (411, multi-device mismatch): update WhatsApp on the phone, check Settings → Linked devices still lists this gateway (if not, `faraday channels logout whatsapp`, then link again), and restart the channel; it does not retry by itself");

/** The error that halts the channel for a close code, or undefined when the code is retried. */
const haltingError = (action: CloseAction, code: number | undefined): FaradayError | undefined => {
  if (action.kind === "logged-out") return loggedOut(code);
  if (action.kind === "forbidden") return forbidden();
  if (action.kind === "multidevice-mismatch") return multideviceMismatch();
  if (action.kind === "replaced") return replaced();
  return undefined;
};

const idleStatus = (account: string | null): LoginStatus => ({ state: account ? "linked" : "idle", qr: null, qrDataUrl: null, pairingCode: null, reason: null, account });

/**
 * WhatsApp as a channel. The supervisor runs it like every other adapter (state, watchdog,
 * backoff); on top of that this adapter applies WhatsApp's disconnect policy and owns linking.
 * Never two sockets for one account: linking only runs while unlinked, listening only while
 * linked, and every old socket's listeners are removed before a new one is made.
 */
export function createWhatsAppAdapter(options: WhatsAppAdapterOptions): WhatsAppAdapter {
  const keepAliveMs = options.keepAliveMs ?? 30_000;
  const openTimeoutMs = options.openTimeoutMs ?? 30_000;
  const logger = options.logger.child({ channel: "whatsapp" });
  let transport: WhatsAppTransport | undefined;
  /** Bumped whenever the current socket is dropped: events of older sockets are ignored. */
  let generation = 0;
  let open = false;
  let hooks: ChannelHooks | undefined;
  let failedHook: ((error: Error) => void) | undefined;
  let stopped = true;
  let linking: { transport?: WhatsAppTransport; phone?: string; cancelled: boolean } | undefined;
  const accountOf = (jid: string | undefined) => (jid ? phoneFromJid(jid) : null);
  let login: LoginStatus = idleStatus(accountOf(options.store.linkedAs()));

  const setLogin = (patch: Partial<LoginStatus>) => {
    login = { ...login, ...patch };
  };

  const dropTransport = () => {
    generation++;
    open = false;
    const current = transport;
    transport = undefined;
    current?.close();
  };

  /** Connect with the saved creds; resolves once logged in, rejects with the policy's error. */
  const connect = async (): Promise<void> => {
    let restarts = 0;
    for (;;) {
      const mine = ++generation;
      const current = () => mine === generation;
      const outcome = await new Promise<{ ok: true } | { ok: false; code: number | undefined; message: string }>((resolve, reject) => {
        let settled = false;
        const settle = (value: { ok: true } | { ok: false; code: number | undefined; message: string }) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(value);
        };
        const timer = setTimeout(() => settle({ ok: false, code: undefined, message: `WhatsApp did not log in within ${Math.round(openTimeoutMs / 1000)} s` }), openTimeoutMs);
        const handlers: TransportHandlers = {
          qr: () => {
            if (!current()) return;
            // Registered creds never get a QR: WhatsApp no longer knows this device.
            settle({ ok: false, code: 401, message: "WhatsApp asked for a new QR scan" });
          },
          open: (me) => {
            if (!current()) return;
            open = true;
            logger.info({ account: phoneFromJid(me.id) }, "WhatsApp connected");
            settle({ ok: true });
          },
          close: (code, message) => {
            if (!current()) return;
            if (!settled) return settle({ ok: false, code, message });
            onClosedAfterOpen(code, message);
          },
          message: async (message) => {
            if (current()) await onMessage(message);
          },
          frame: () => {
            if (current()) hooks?.alive();
          },
        };
        options.connect(handlers).then((created) => {
          if (!current() || (settled && !open)) created.close();
          else transport = created;
        }, (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        });
      });
      if (outcome.ok) return;
      dropTransport();
      const action = closeAction(outcome.code);
      if (action.kind === "restart-now" && restarts++ < 3) continue;
      if (action.kind === "logged-out") {
        // Only 401 wipes the link (Baileys' own example reconnects on everything but 401).
        options.store.wipe();
        setLogin(idleStatus(null));
      }
      const halting = haltingError(action, outcome.code);
      if (halting) throw halting;
      throw new FaradayError("CHANNEL_UNAVAILABLE", `WhatsApp connection closed${outcome.code ? ` (${outcome.code})` : ""}: ${outcome.message}`);
    }
  };

  const onClosedAfterOpen = (code: number | undefined, message: string) => {
    if (stopped) return;
    dropTransport();
    const action = closeAction(code);
    logger.warn({ code, reason: message, action: action.kind }, "WhatsApp connection closed");
    if (action.kind === "restart-now") {
      // WhatsApp asked for a restart (515): reconnect at once with the saved creds, no backoff.
      hooks?.setState("reconnecting", "restart requested by WhatsApp (515)");
      connect().then(() => {
        if (!stopped) hooks?.setState("connected", "listening");
      }, (error: Error) => failedHook?.(error));
      return;
    }
    if (action.kind === "logged-out") {
      options.store.wipe();
      setLogin(idleStatus(null));
    }
    const halting = haltingError(action, code);
    if (halting) return failedHook?.(halting);
    failedHook?.(new FaradayError("CHANNEL_UNAVAILABLE", `WhatsApp connection lost${code ? ` (${code})` : ""}: ${message}`));
  };

  const onMessage = async (message: WhatsAppInbound): Promise<void> => {
    if (!hooks) return;
    if (message.selfChat && options.selfChat === false) return;
    try {
      await store(message);
    } catch (error) {
      // Not stored (disk full, database locked): say so loudly and restart the channel, as the
      // other channels do. WhatsApp already has its protocol-level ack; the log names the message.
      logger.error({ err: error, chat: message.chatJid, id: message.id }, "could not store a WhatsApp message; restarting the channel");
      failedHook?.(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    // Stored: now the blue ticks, so the customer sees the message was seen (not for our own).
    if (message.selfChat) return;
    await transport?.markRead(message.key).catch((error: unknown) => logger.debug({ err: error }, "read receipt failed"));
  };

  const store = async (message: WhatsAppInbound): Promise<void> => {
    await hooks!.receive({
      channel: "whatsapp",
      account: login.account ?? "default",
      chat: message.chatJid,
      chatType: message.isGroup ? "group" : "dm",
      sender: message.sender,
      ...(message.pushName ? { senderName: message.pushName } : {}),
      // The account's own chat: the owner writing to their assistant, whatever the DM policy.
      ...(message.selfChat ? { selfChat: true, senderRole: "owner" as const } : {}),
      text: message.text,
      platformId: `${message.chatJid}:${message.id}`,
      addressedToBot: message.addressedToMe || message.selfChat === true,
    });
  };

  const renderQr = async (qr: string) => {
    try {
      const render = options.qrToDataUrl ?? (async (text: string) => (await import("qrcode")).toDataURL(text, { errorCorrectionLevel: "L", margin: 2, scale: 6 }));
      const dataUrl = await render(qr);
      if (login.qr === qr) setLogin({ qrDataUrl: dataUrl });
    } catch (error) {
      logger.warn({ err: error }, "could not render the WhatsApp QR code");
    }
  };

  const adapter: WhatsAppAdapter = {
    name: "whatsapp",
    textLimit: WHATSAPP_TEXT_LIMIT,
    // Baileys pings every keepAliveMs and every answer is a frame: two missed pings plus slack.
    watchdogMs: keepAliveMs * 2 + 10_000,

    get connected() {
      return open && transport !== undefined;
    },

    async start(channelHooks, failed) {
      hooks = channelHooks;
      failedHook = failed;
      stopped = false;
      if (!options.store.isLinked()) throw notLinked();
      if (linking) throw new FaradayError("CHANNEL_UNAVAILABLE", "WhatsApp linking is in progress; the channel starts once the phone has scanned");
      dropTransport();
      await connect();
      setLogin(idleStatus(accountOf(options.store.linkedAs())));
      channelHooks.alive();
    },

    async stop() {
      stopped = true;
      // Baileys already sent the delivery receipts of anything it still buffers: take those
      // messages in (stored) before the socket goes, or WhatsApp will not send them again.
      if (transport && open) {
        await transport.drain().catch((error: unknown) => logger.warn({ err: error }, "could not take in the messages WhatsApp had delivered before the stop"));
      }
      dropTransport();
    },

    async sendText(chat, text, sendOptions) {
      // Fail fast and visibly: nothing queues silently inside a dead socket.
      if (!transport || !open) throw new FaradayError("CHANNEL_UNAVAILABLE", "WhatsApp is not connected; the reply stays stored and is sent after it reconnects");
      if (!options.knownChat(chat)) throw new FaradayError("CHANNEL_NOT_ALLOWED", `refusing to message ${chat}: the gateway only answers chats that wrote to it first (WhatsApp bans accounts that cold-message)`);
      const id = await transport.sendText(chat, sendOptions?.markdown ? markdownToWhatsApp(text) : text);
      await transport.setTyping(chat, false).catch(() => {});
      return id;
    },

    async sendTyping(chat) {
      if (transport && open) await transport.setTyping(chat, true);
    },

    loginStatus() {
      return login;
    },

    async beginLogin(input) {
      if (options.store.isLinked()) {
        throw new FaradayError("CHANNEL_ALREADY_LINKED", `WhatsApp is already linked (${login.account ?? "this gateway"}); unlink it first (POST /api/channels/whatsapp/logout or \`faraday channels logout whatsapp\`)`);
      }
      const phone = input.phoneNumber === undefined ? undefined : phoneDigits(input.phoneNumber);
      if (input.phoneNumber !== undefined && !phone) {
        throw new FaradayError("BAD_REQUEST", `"${input.phoneNumber}" is not a phone number: give it in international format with the country code, e.g. +15551234567`);
      }
      // One linking socket at a time: asking again returns the one in progress (a new phone number restarts it).
      if (linking && !linking.cancelled && linking.phone === phone && login.state !== "failed") return login;
      linking?.transport?.close();
      if (linking) linking.cancelled = true;
      const attempt: { transport?: WhatsAppTransport; phone?: string; cancelled: boolean } = { cancelled: false, ...(phone ? { phone } : {}) };
      linking = attempt;
      setLogin({ state: "starting", qr: null, qrDataUrl: null, pairingCode: null, reason: null, account: null });
      const finish = (patch: Partial<LoginStatus>) => {
        if (attempt.cancelled) return;
        attempt.cancelled = true;
        attempt.transport?.close();
        if (linking === attempt) linking = undefined;
        setLogin(patch);
      };
      let restarts = 0;
      let ready: Promise<WhatsAppTransport> | undefined;
      let asked = false;
      let sawQr = false;
      const handlers: TransportHandlers = {
        qr: (qr) => {
          if (attempt.cancelled) return;
          sawQr = true;
          if (phone) {
            if (asked) return;
            asked = true;
            // Pairing code: asked once the socket is up (its first QR), only while unregistered.
            ready?.then((created) => created.requestPairingCode(phone)).then((code) => {
              if (!attempt.cancelled) setLogin({ state: "pairing_code", pairingCode: code });
            }, (error: Error) => finish({ state: "failed", reason: `WhatsApp refused the pairing code request: ${error.message}` }));
            return;
          }
          setLogin({ state: "qr", qr, qrDataUrl: null });
          void renderQr(qr);
        },
        open: (me) => {
          finish({ state: "linked", qr: null, qrDataUrl: null, pairingCode: null, account: phoneFromJid(me.id) });
          logger.info({ account: phoneFromJid(me.id) }, "WhatsApp linked");
          options.onLinked();
        },
        close: (code, message) => {
          if (attempt.cancelled) return;
          if (options.store.isLinked() && closeAction(code).kind === "restart-now") {
            // The phone scanned; WhatsApp restarts the stream (515) and the creds are saved: the
            // channel itself now connects with them.
            finish({ state: "linked", qr: null, qrDataUrl: null, pairingCode: null, account: accountOf(options.store.linkedAs()) });
            logger.info({ account: login.account }, "WhatsApp linked");
            options.onLinked();
            return;
          }
          if (closeAction(code).kind === "restart-now" && restarts++ < 3) {
            attempt.transport?.close();
            ready = options.connect(handlers);
            void ready.then((created) => (attempt.cancelled ? created.close() : (attempt.transport = created)), () => {});
            return;
          }
          // 408 after codes were shown: nobody scanned. Before any code: WhatsApp was not reachable.
          const expired = code === 408 && sawQr;
          finish({
            state: "failed",
            qr: null,
            qrDataUrl: null,
            reason: expired
              ? phone
                ? "the pairing code expired before it was entered on the phone; start linking again and type the new code within a minute or two"
                : "the QR code expired before it was scanned; start linking again and scan it within a minute"
              : sawQr
                ? `WhatsApp closed the linking connection${code ? ` (${code})` : ""}: ${message}`
                : `could not reach WhatsApp${code ? ` (${code})` : ""}: ${message}. Check the network (or channels.whatsapp.webSocketUrl) and start linking again`,
          });
        },
        message: async () => {},
        frame: () => {},
      };
      try {
        ready = options.connect(handlers);
        attempt.transport = await ready;
        if (attempt.cancelled) attempt.transport.close();
      } catch (error) {
        finish({ state: "failed", reason: `could not reach WhatsApp: ${(error as Error).message}` });
      }
      return login;
    },

    async logout() {
      if (linking) {
        linking.cancelled = true;
        linking.transport?.close();
        linking = undefined;
      }
      if (transport && open) {
        await transport.logout().catch((error: unknown) => logger.warn({ err: error }, "WhatsApp did not confirm the logout; forgetting the creds anyway"));
      }
      stopped = true;
      dropTransport();
      options.store.wipe();
      setLogin(idleStatus(null));
      logger.info("WhatsApp unlinked");
    },
  };
  return adapter;
}
