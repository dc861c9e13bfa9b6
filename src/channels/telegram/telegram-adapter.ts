import { createHash, timingSafeEqual } from "node:crypto";
import type { Bot, Context } from "grammy";
import { FaradayError } from "../../errors/index.ts";
import type { Logger } from "../../logging/index.ts";
import type { ChannelAdapter, ChannelHooks, InboundMessage, SendOptions } from "../channel-adapter.ts";
import { markdownToPlainText } from "../format/plain-text.ts";
import { markdownToTelegramHtml } from "../format/telegram-html.ts";

export interface TelegramAdapterOptions {
  readonly token: string;
  /** Default https://api.telegram.org; a self-hosted Bot API server, or a test fake. No trailing slash. */
  readonly apiRoot?: string;
  /** Long-poll timeout (s). The watchdog allows one poll plus slack before calling it dead. */
  readonly pollingTimeoutSeconds?: number;
  /** Webhook mode: Telegram POSTs updates to this URL (our route acks at once). No secret: every update is refused. */
  readonly webhook?: { readonly url: string; readonly secret?: string };
  readonly logger: Logger;
}

/**
 * Telegram's `X-Telegram-Bot-Api-Secret-Token` against the configured secret, in constant time.
 * No configured secret matches nothing (the config requires one; this is the second lock).
 */
export function webhookSecretMatches(expected: string | undefined, given: string | undefined): boolean {
  if (!expected || given === undefined) return false;
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Telegram's 400 "Bad Request: can't parse entities: …" (tdlib/td MessageEntity.cpp parse_html errors). */
function isEntityRefusal(error: unknown): boolean {
  const failure = error as { error_code?: unknown; description?: unknown };
  return failure.error_code === 400 && typeof failure.description === "string" && /can't parse entities/i.test(failure.description);
}

/** The fastify route a webhook-mode adapter is fed by. */
export interface TelegramWebhookSink {
  handle(update: unknown, secretHeader: string | undefined): Promise<number>;
}

const TEXT_LIMIT = 4096;

function describeTelegramError(error: unknown): FaradayError | Error {
  const code = (error as { error_code?: number }).error_code;
  if (code === 401 || code === 404) {
    return new FaradayError("CHANNEL_AUTH_FAILED", "Telegram rejected the bot token (401). Check TELEGRAM_BOT_TOKEN or channels.telegram.botToken (from @BotFather)", { cause: error });
  }
  if (code === 409) {
    return new FaradayError("CHANNEL_CONFLICT", "Telegram says another poller or a webhook uses this token (409). Stop the other bot instance; retrying with backoff", { cause: error });
  }
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Telegram through grammY. Long polling with grammY's own loop: it handles updates one at a
 * time and moves the offset only after our handler returns — and our handler only stores the
 * message (the agent runs elsewhere), so polling never waits on a model, and an update is
 * confirmed to Telegram only once it is on disk. (@grammyjs/runner fetches ahead and confirms
 * offsets before handlers finish, which would lose stored-but-unconfirmed guarantees.)
 */
export function createTelegramAdapter(options: TelegramAdapterOptions): ChannelAdapter & { webhook: TelegramWebhookSink } {
  const pollingTimeout = options.pollingTimeoutSeconds ?? 30;
  let bot: Bot | undefined;
  let hooks: ChannelHooks | undefined;
  let polling: Promise<void> | undefined;
  let webhookActive = false;
  /** The first update we could not store: never confirm it (or anything after it) to Telegram. */
  let refusedUpdate: number | undefined;
  /** Webhook mode: updates whose store failed, answered 500 so that Telegram delivers them again. */
  const unstored = new Set<number>();

  async function createBot(): Promise<Bot> {
    const [{ Bot: BotClass }, { autoRetry }] = await Promise.all([import("grammy"), import("@grammyjs/auto-retry")]);
    const created = new BotClass(options.token, {
      client: {
        ...(options.apiRoot ? { apiRoot: options.apiRoot.replace(/\/+$/, "") } : {}),
        // grammY's default is 500 s: a half-open socket would wedge polling silently.
        timeoutSeconds: pollingTimeout + 5,
      },
    });
    // 429 retry_after honoured, but bounded (defaults are unlimited attempts and wait). Network
    // errors are rethrown: auto-retry would otherwise retry them forever, so a dead connection
    // would hang a send (our own send retry and the watchdog handle them instead).
    created.api.config.use(autoRetry({ maxRetryAttempts: 3, maxDelaySeconds: 60, rethrowHttpErrors: true }));
    created.api.config.use(async (previous, method, payload, signal) => {
      const result = await previous(method, payload, signal);
      if (method === "getUpdates" && result.ok) hooks?.alive();
      return result;
    });
    return created;
  }

  function normalise(context: Context): InboundMessage | undefined {
    const message = context.message;
    if (!message || typeof message.text !== "string" || !context.me) return undefined;
    const isGroup = message.chat.type !== "private";
    const username = context.me.username.toLowerCase();
    const mentioned = (message.entities ?? []).some((entity) =>
      entity.type === "mention" && message.text!.slice(entity.offset, entity.offset + entity.length).toLowerCase() === `@${username}`);
    const repliedToBot = message.reply_to_message?.from?.id === context.me.id;
    return {
      channel: "telegram",
      account: String(context.me.id),
      chat: String(message.chat.id),
      chatType: isGroup ? "group" : "dm",
      sender: String(message.from?.id ?? message.chat.id),
      ...(message.from ? { senderName: [message.from.first_name, message.from.last_name].filter(Boolean).join(" ") || message.from.username || String(message.from.id) } : {}),
      text: isGroup ? message.text.replace(new RegExp(`@${username}\\b`, "ig"), "").trim() || message.text : message.text,
      platformId: `${message.chat.id}:${message.message_id}`,
      addressedToBot: mentioned || repliedToBot,
    };
  }

  return {
    name: "telegram",
    textLimit: TEXT_LIMIT,
    // One long poll plus the request timeout's slack: past that, polling is wedged.
    watchdogMs: options.webhook ? Number.POSITIVE_INFINITY : (pollingTimeout + 5) * 1000 + 2_000,

    async start(channelHooks, failed) {
      hooks = channelHooks;
      const created = await createBot();
      bot = created;
      try {
        await created.init(); // getMe: a bad token fails here, clearly
      } catch (error) {
        throw describeTelegramError(error);
      }
      refusedUpdate = undefined;
      created.on("message:text", async (context) => {
        const message = normalise(context);
        if (!message) return;
        try {
          await channelHooks.receive(message);
        } catch (error) {
          if (options.webhook) {
            // Not stored: the webhook answers 500 and Telegram delivers it again (only a 2xx
            // counts as delivered: tdlib/telegram-bot-api WebhookActor.cpp, on_update_error).
            unstored.add(context.update.update_id);
            options.logger.error({ err: error, updateId: context.update.update_id }, "could not store a Telegram update; answering 500 so that Telegram delivers it again");
            return;
          }
          // Not stored: make sure it is not confirmed to Telegram either, and restart.
          refusedUpdate ??= context.update.update_id;
          failed(error instanceof Error ? error : new Error(String(error)));
        }
      });
      // A person sharing their own contact (Telegram's request_contact button): a verified phone
      // number for pinned tool arguments. Someone else's contact is not theirs: ignored.
      created.on("message:contact", async (context) => {
        const message = context.message;
        const contact = message.contact;
        if (!message.from || contact.user_id !== message.from.id || !context.me) return;
        const digits = contact.phone_number.replace(/\D/g, "");
        if (!digits) return;
        try {
          await channelHooks.receive({
            channel: "telegram",
            account: String(context.me.id),
            chat: String(message.chat.id),
            chatType: message.chat.type === "private" ? "dm" : "group",
            sender: String(message.from.id),
            senderName: [message.from.first_name, message.from.last_name].filter(Boolean).join(" ") || String(message.from.id),
            text: "(shared their phone number)",
            platformId: `${message.chat.id}:${message.message_id}`,
            addressedToBot: message.chat.type === "private",
            sharedPhone: `+${digits}`,
          });
        } catch (error) {
          options.logger.error({ err: error, updateId: context.update.update_id }, "could not store a shared Telegram contact");
        }
      });
      created.on("callback_query:data", async (context) => {
        const query = context.callbackQuery;
        await channelHooks.action({
          channel: "telegram",
          chat: String(query.message?.chat.id ?? query.from.id),
          sender: String(query.from.id),
          data: query.data,
          acknowledge: async (text) => {
            await context.answerCallbackQuery(text ? { text } : undefined).catch(() => {});
          },
        });
      });
      created.catch((error) => options.logger.error({ err: error.error }, "telegram update handler failed"));

      if (options.webhook) {
        try {
          await created.api.setWebhook(options.webhook.url, {
            ...(options.webhook.secret ? { secret_token: options.webhook.secret } : {}),
            allowed_updates: ["message", "callback_query"],
          });
        } catch (error) {
          if ((error as { error_code?: number }).error_code === 400) {
            throw new FaradayError("CHANNEL_NOT_CONFIGURED", `Telegram refused the webhook URL ${options.webhook.url}: ${(error as Error).message}. It must be a public https:// URL that reaches POST /channels/telegram/webhook`, { cause: error });
          }
          throw describeTelegramError(error);
        }
        webhookActive = true;
        hooks.alive();
        return;
      }
      let started!: () => void;
      const running = new Promise<void>((resolve) => (started = resolve));
      // bot.start() deletes a stale webhook first, then long-polls until stopped.
      polling = created
        .start({ timeout: pollingTimeout, allowed_updates: ["message", "callback_query"], onStart: () => started() })
        .catch((error: unknown) => failed(describeTelegramError(error)));
      await Promise.race([running, polling.then(() => {
        throw new Error("Telegram polling stopped during start");
      })]);
      channelHooks.alive();
    },

    async stop() {
      const current = bot;
      bot = undefined;
      webhookActive = false;
      // bot.stop() confirms lastTriedUpdateId + 1 to Telegram; wind it back to before an update we
      // failed to store so Telegram redelivers it (duplicates are dropped by platform id).
      if (current && refusedUpdate !== undefined) (current as unknown as { lastTriedUpdateId: number }).lastTriedUpdateId = refusedUpdate - 1;
      if (current?.isRunning()) await current.stop().catch(() => {});
      await polling?.catch(() => {});
      polling = undefined;
    },

    async sendText(chat: string, text: string, sendOptions?: SendOptions) {
      if (!bot) throw new FaradayError("CHANNEL_UNAVAILABLE", "Telegram is not connected; the reply stays queued");
      const extra = {
        link_preview_options: { is_disabled: true },
        ...(sendOptions?.buttons?.length
          ? { reply_markup: { inline_keyboard: [sendOptions.buttons.map((button) => ({ text: button.label, callback_data: button.data }))] } }
          : sendOptions?.requestPhone
            ? { reply_markup: { keyboard: [[{ text: sendOptions.requestPhone, request_contact: true }]], one_time_keyboard: true, resize_keyboard: true } }
            : {}),
      };
      try {
        // The model's Markdown as HTML (escaped <>&), not MarkdownV2: replies full of . ! ( ) -
        // would break MarkdownV2. Should Telegram still refuse an entity (400 "can't parse
        // entities"), the same chunk goes again as plain text, markers taken out.
        // A chunk that is nothing but markup (an empty code block) would be "message text is empty".
        if (sendOptions?.markdown && markdownToPlainText(text).trim() !== "") {
          try {
            const message = await bot.api.sendMessage(chat, markdownToTelegramHtml(text), { ...extra, parse_mode: "HTML" });
            return String(message.message_id);
          } catch (error) {
            if (!isEntityRefusal(error)) throw error;
            options.logger.warn({ err: (error as Error).message }, "Telegram refused the formatted reply; sending it as plain text");
            const message = await bot.api.sendMessage(chat, markdownToPlainText(text), extra);
            return String(message.message_id);
          }
        }
        const message = await bot.api.sendMessage(chat, text, extra);
        return String(message.message_id);
      } catch (error) {
        // A 429 longer than auto-retry waits (60 s) comes back here: the service sends it again then.
        const retryAfter = (error as { parameters?: { retry_after?: unknown } }).parameters?.retry_after;
        if (typeof retryAfter === "number") {
          throw new FaradayError("CHANNEL_RATE_LIMITED", `Telegram asked to wait ${retryAfter} s before sending to this chat again (429 Too Many Requests); the reply stays stored and is sent then`, { cause: error, details: { retryAfterSeconds: retryAfter } });
        }
        throw error;
      }
    },

    async sendTyping(chat: string) {
      await bot?.api.sendChatAction(chat, "typing");
    },

    webhook: {
      async handle(update: unknown, secretHeader: string | undefined) {
        // The secret first: a forged update learns nothing, not even whether the bot runs.
        if (!webhookSecretMatches(options.webhook?.secret, secretHeader)) return 401;
        if (!bot || !webhookActive) return 503;
        hooks?.alive();
        // Stored before we answer 200; grammY's own webhook handler would time out after 10 s.
        await bot.handleUpdate(update as Parameters<Bot["handleUpdate"]>[0]);
        const updateId = (update as { update_id?: unknown } | null)?.update_id;
        if (typeof updateId === "number" && unstored.delete(updateId)) return 500;
        return 200;
      },
    },
  };
}
