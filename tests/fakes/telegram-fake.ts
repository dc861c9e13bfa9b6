/**
 * A loopback fake of the Telegram Bot API for tests that run the real grammY against it:
 *
 *   const fake = await startTelegramFake();
 *   const bot = new Bot(fake.token, { client: { apiRoot: fake.url } });
 *
 * It answers `${url}/bot${token}/${method}` with the real envelope (`{ok, result}` /
 * `{ok:false, error_code, description, parameters?}`, HTTP status = error_code), records every
 * call in `calls`, and lets a test push updates and inject faults.
 *
 * getUpdates follows the official server (tdlib/telegram-bot-api `Client.cpp`, `do_get_updates`,
 * `abort_long_poll`, `fail_query_conflict`), not folklore:
 * - `offset` confirms: updates with `update_id < offset` are dropped for good; a negative offset
 *   keeps only the last `-offset` updates.
 * - A long poll (`timeout > 0`, nothing pending) is held until an update is pushed or the timeout
 *   passes (then `[]`). When a **new** long poll arrives while one is held, the **older** one is
 *   answered 409 "Conflict: terminated by other getUpdates request; …" and the new one is held:
 *   the last poller wins. A poll without `timeout` never aborts the held one.
 * - 409 answers are throttled like the real server: at most one immediately per 3 s, the others
 *   after a 3 s delay (`conflictThrottleSeconds`).
 * - With a webhook set, getUpdates answers 409 "Conflict: can't use getUpdates method while
 *   webhook is active; …"; setWebhook aborts a held poll with "terminated by setWebhook request".
 * - The real server raises `timeout` to 3 s when the same offset is polled again within 3 s
 *   (anti-spin); off by default, `repeatPollFloorSeconds: 3` turns it on.
 *
 * MarkdownV2 is parsed with a port of TDLib's `parse_markdown_v2` (same error texts and byte
 * offsets); HTML with a port of TDLib's `parse_html` (telegram-html.ts: the tags and errors of
 * td/telegram/MessageEntity.cpp, answered 400 "Bad Request: can't parse entities: …"); the 4096
 * limit is counted in UTF-16 units after parsing. Legacy Markdown is accepted unparsed. Nothing is delivered to a webhook by itself: {@link TelegramFake.webhookPost}
 * posts once; {@link TelegramFake.deliverWebhook} delivers like the real server's sender
 * (tdlib/telegram-bot-api `WebhookActor.cpp`, `on_connection_result` and `on_update_error`):
 * only a 2xx answer counts as delivered; any other status or a dropped connection sends the same
 * update again — the first time after the response's `Retry-After` seconds (0 without one: at
 * once; header read as td's `HttpQuery::get_retry_after`), then after 2, 4, 8 … s
 * (`delay_` starts at 1 and doubles, capped at a random 60–120 s: `WEBHOOK_MAX_RESEND_TIMEOUT`).
 */
import { Buffer } from "node:buffer";
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parseTelegramHtml } from "./telegram-html.ts";
import type {
  CallbackQuery,
  Chat,
  InlineKeyboardMarkup,
  Message,
  MessageEntity,
  Update,
  User,
  UserFromGetMe,
} from "grammy/types";

/** Obviously fake; the part before `:` is the bot id, as with real tokens. */
export const TELEGRAM_FAKE_DEFAULT_TOKEN = "123456:TEST-telegram-token-aaaaaaaaaaaaaaaaaaaa";
export const TELEGRAM_FAKE_DEFAULT_USERNAME = "faraday_test_bot";
export const TELEGRAM_TEXT_LIMIT = 4096;
export const CONFLICT_OTHER_GET_UPDATES =
  "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running";
export const CONFLICT_WEBHOOK_ACTIVE =
  "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first";
export const CONFLICT_SET_WEBHOOK = "Conflict: terminated by setWebhook request";

export interface TelegramFakeOptions {
  token?: string;
  botUsername?: string;
  /** Seconds between immediate 409 answers; later ones wait this long. Default 3 (the real value). */
  conflictThrottleSeconds?: number;
  /** Minimum long-poll timeout when the same offset is polled again within 3 s. Default 0; real 3. */
  repeatPollFloorSeconds?: number;
}

/** Whatever the client sent: JSON values, or strings (and parsed JSON fields) from a form or query. */
export type TelegramParams = Record<string, any>;

/** One HTTP request to `/bot<token>/<method>`, recorded on arrival, before any fault or check. */
export interface TelegramCall {
  method: string;
  params: TelegramParams;
  at: number;
  /** False when the URL carried another token (answered 401). */
  authorized: boolean;
}

/** An answer `failNext` makes the fake give instead of running the method. */
export type TelegramFault =
  | { status: 429; retryAfter: number }
  | { status: 409; description?: string }
  | { status: 500; description?: string }
  | { status: 403; description?: string }
  | { status: 400; description: string };

export interface DeliverWebhookOptions {
  /** Default: the secret of the webhook set with setWebhook. */
  secretToken?: string;
  maxAttempts?: number;
  /** Milliseconds per second of the real schedule (default 1000); a test may shrink it. */
  secondMs?: number;
  /** Called with each attempt's status before the next attempt is scheduled. */
  onAttempt?: (status: number, attempt: number) => void;
}

export interface PushMessageOptions {
  chatId: number;
  fromId: number;
  text: string;
  chatType?: "private" | "group" | "supergroup";
  firstName?: string;
  username?: string;
  /** Title of a group chat. Default "Faraday test group". */
  chatTitle?: string;
  /** Sets `reply_to_message` to the bot's last message in the chat (or a made-up one). */
  replyToBot?: boolean;
  /** Prefixes `@botUsername ` and adds its `mention` entity. */
  mentionBot?: boolean;
  messageId?: number;
}

export interface PushCallbackQueryOptions {
  chatId: number;
  fromId: number;
  data: string;
  /** The bot message carrying the button; made up if the bot never sent it. */
  messageId: number;
  firstName?: string;
  username?: string;
}

export interface TelegramFake {
  /** The apiRoot for grammY: `http://127.0.0.1:PORT`, no trailing slash. */
  url: string;
  token: string;
  botId: number;
  botUsername: string;
  calls: TelegramCall[];
  /** Updates below this id are confirmed (dropped). 0 until a getUpdates carries an offset. */
  readonly confirmedOffset: number;
  readonly webhookUrl: string;
  /** Commands from the last setMyCommands. */
  readonly commands: unknown[];
  /** Params of every *accepted* sendMessage, in order; `chatId` filters by `chat_id`. */
  sent(chatId?: number | string): TelegramParams[];
  /** The Messages the bot has in a chat now (after edits and deletes). */
  botMessages(chatId?: number | string): Message[];
  /** Params of every accepted sendChatAction. */
  chatActions(chatId?: number | string): TelegramParams[];
  /** Updates pushed and not yet confirmed. */
  pendingUpdates(): Update[];
  pushMessage(options: PushMessageOptions): number;
  pushCallbackQuery(options: PushCallbackQueryOptions): number;
  /** Queues any other update (`edited_message`, `my_chat_member`, …); returns its update_id. */
  pushUpdate(update: Omit<Update, "update_id">): number;
  /** The next `times` calls of `method` get `fault` instead of an answer. */
  failNext(method: string, fault: TelegramFault, times?: number): void;
  /** A webhook someone else left behind: getUpdates answers 409 until deleteWebhook. */
  setWebhookUrl(url: string, secretToken?: string): void;
  /**
   * `true`: every request is read and recorded but never answered (a half-open connection), and
   * a held long poll stops being answered too. `false`: those requests' sockets are destroyed.
   */
  stall(on: boolean): void;
  /** Resolves with the first call (past or future) of `method` matching `predicate`. */
  waitForCall(
    method: string,
    predicate?: (params: TelegramParams) => boolean,
    timeoutMs?: number,
  ): Promise<TelegramCall>;
  /** POSTs `update` as JSON with `X-Telegram-Bot-Api-Secret-Token`; resolves with the status. */
  webhookPost(url: string, update: Update, secretToken?: string): Promise<number>;
  /**
   * Delivers `update` the way Telegram's webhook sender does: again and again until a 2xx (see the
   * header for the schedule), at most `maxAttempts` times (default 6). Resolves with every
   * attempt's status, 0 for a connection that failed.
   */
  deliverWebhook(url: string, update: Update, options?: DeliverWebhookOptions): Promise<number[]>;
  /** Destroys every socket and stops listening. */
  close(): Promise<void>;
}

const CHAT_ACTIONS = new Set([
  "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
  "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
]);
const NOT_MODIFIED =
  "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message";
const INVALID_QUERY_ID = "query is too old and response timeout expired or query ID is invalid";

class ApiFailure extends Error {
  readonly status: number;
  readonly parameters: { retry_after?: number } | undefined;
  constructor(status: number, description: string, parameters?: { retry_after?: number }) {
    super(description);
    this.status = status;
    this.parameters = parameters;
  }
}

const badRequest = (description: string): ApiFailure => new ApiFailure(400, `Bad Request: ${description}`);

interface HeldPoll {
  response: ServerResponse;
  offset: number;
  limit: number;
  timer: NodeJS.Timeout | undefined;
}

interface CallWaiter {
  method: string;
  predicate: (params: TelegramParams) => boolean;
  resolve: (call: TelegramCall) => void;
}

export async function startTelegramFake(options: TelegramFakeOptions = {}): Promise<TelegramFake> {
  const token = options.token ?? TELEGRAM_FAKE_DEFAULT_TOKEN;
  const botUsername = options.botUsername ?? TELEGRAM_FAKE_DEFAULT_USERNAME;
  const botId = Number(token.split(":")[0]) || 123456;
  const conflictThrottleMs = (options.conflictThrottleSeconds ?? 3) * 1000;
  const repeatPollFloor = options.repeatPollFloorSeconds ?? 0;
  const botUser: UserFromGetMe = {
    id: botId, is_bot: true, first_name: "Faraday Test Bot", username: botUsername,
    can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false,
    can_connect_to_business: false, has_main_web_app: false, has_topics_enabled: false,
    allows_users_to_create_topics: false, can_manage_bots: false, supports_join_request_queries: false,
  };
  const botAsSender: User = { id: botId, is_bot: true, first_name: botUser.first_name, username: botUsername };

  const calls: TelegramCall[] = [];
  const accepted: { method: string; params: TelegramParams }[] = [];
  let queue: Update[] = [];
  let nextUpdateId = 100_000_001;
  let confirmedOffset = 0;
  let heldPoll: HeldPoll | undefined;
  let wakeScheduled = false;
  let nextConflictAt = 0;
  let previousPoll = { offset: Number.NaN, at: 0 };
  let webhook = { url: "", secretToken: undefined as string | undefined };
  let commands: unknown[] = [];
  let stalled = false;
  let closed = false;
  const stalledResponses = new Set<ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();
  const faults = new Map<string, { fault: TelegramFault; remaining: number }[]>();
  const waiters = new Set<CallWaiter>();
  const chats = new Map<string, Chat>();
  const messages = new Map<string, Map<number, Message>>(); // chat -> message_id -> message
  const lastMessageId = new Map<string, number>();
  const openCallbackQueries = new Set<string>();
  let callbackCounter = 0;

  const chatKey = (chatId: unknown): string => String(chatId);
  const now = (): number => Math.floor(Date.now() / 1000);

  function later(ms: number, run: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, ms);
    timers.add(timer);
    return timer;
  }

  function send(response: ServerResponse, status: number, body: unknown): void {
    if (response.writableEnded || response.destroyed) return;
    const json = JSON.stringify(body);
    response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(json) });
    response.end(json);
  }
  function answer(response: ServerResponse, result: unknown, description?: string): void {
    send(response, 200, description === undefined ? { ok: true, result } : { ok: true, result, description });
  }
  function fail(response: ServerResponse, failure: ApiFailure): void {
    const body: Record<string, unknown> = { ok: false, error_code: failure.status, description: failure.message };
    if (failure.parameters !== undefined) body.parameters = failure.parameters;
    send(response, failure.status, body);
  }
  /** The real server answers at most one 409 per 3 s at once; the rest wait 3 s. */
  function failConflict(response: ServerResponse, description: string): void {
    const at = Date.now();
    if (at >= nextConflictAt) {
      nextConflictAt = at + conflictThrottleMs;
      fail(response, new ApiFailure(409, description));
    } else {
      later(conflictThrottleMs, () => fail(response, new ApiFailure(409, description)));
    }
  }

  // ---- chats and messages ----

  function chatFor(chatId: unknown): Chat {
    const known = chats.get(chatKey(chatId));
    if (known !== undefined) return known;
    const id = Number(chatId);
    if (Number.isFinite(id) && id > 0) return { id, type: "private", first_name: "Test" };
    return { id: Number.isFinite(id) ? id : -1_001_000_000_001, type: "supergroup", title: "Faraday test group" };
  }
  function allocateMessageId(chatId: unknown, wanted?: number): number {
    const key = chatKey(chatId);
    const id = wanted ?? (lastMessageId.get(key) ?? 0) + 1;
    lastMessageId.set(key, Math.max(id, lastMessageId.get(key) ?? 0));
    return id;
  }
  function store(message: Message): void {
    const key = chatKey(message.chat.id);
    let inChat = messages.get(key);
    if (inChat === undefined) messages.set(key, (inChat = new Map()));
    inChat.set(message.message_id, message);
  }
  function find(chatId: unknown, messageId: unknown): Message | undefined {
    return messages.get(chatKey(chatId))?.get(Number(messageId));
  }
  function withoutReply(message: Message): Message {
    const { reply_to_message: _dropped, ...rest } = message;
    return rest as Message;
  }
  function madeUpBotMessage(chatId: number, messageId?: number): Message {
    const message = {
      message_id: allocateMessageId(chatId, messageId), from: botAsSender, chat: chatFor(chatId),
      date: now() - 60, text: "(an earlier message from the bot)",
    } as Message;
    store(message);
    return message;
  }
  function lastBotMessage(chatId: number): Message | undefined {
    const inChat = [...(messages.get(chatKey(chatId))?.values() ?? [])];
    return inChat.filter((message) => message.from?.id === botId).at(-1);
  }

  // ---- updates ----

  function enqueue(update: Omit<Update, "update_id">): number {
    const update_id = nextUpdateId++;
    queue.push({ update_id, ...update } as Update);
    scheduleWake();
    return update_id;
  }
  function confirm(offset: number): void {
    if (offset > 0) {
      queue = queue.filter((update) => update.update_id >= offset);
      confirmedOffset = Math.max(confirmedOffset, offset);
    } else if (offset < 0) {
      queue = queue.slice(offset);
      confirmedOffset = Math.max(confirmedOffset, queue[0]?.update_id ?? nextUpdateId);
    }
  }
  function scheduleWake(): void {
    if (heldPoll === undefined || wakeScheduled) return;
    wakeScheduled = true;
    // Answer on the next turn so updates pushed together arrive in one batch, as on the real server.
    setImmediate(() => {
      wakeScheduled = false;
      if (heldPoll !== undefined && queue.length > 0) releaseHeldPoll();
    });
  }
  /** Detaches the held long poll (if any) and cancels its timeout. */
  function takeHeldPoll(): HeldPoll | undefined {
    const poll = heldPoll;
    heldPoll = undefined;
    if (poll?.timer !== undefined) {
      clearTimeout(poll.timer);
      timers.delete(poll.timer);
    }
    return poll;
  }
  function releaseHeldPoll(): void {
    const poll = takeHeldPoll();
    if (poll !== undefined) answer(poll.response, queue.slice(0, poll.limit));
  }
  function abortHeldPoll(description: string): void {
    const poll = takeHeldPoll();
    if (poll !== undefined) failConflict(poll.response, description);
  }
  /** A stalled request is kept open, unanswered, until `stall(false)` or `close()` destroys it. */
  function park(response: ServerResponse): void {
    stalledResponses.add(response);
    response.on("close", () => stalledResponses.delete(response));
  }

  function getUpdates(params: TelegramParams, response: ServerResponse): void {
    if (webhook.url !== "") return failConflict(response, CONFLICT_WEBHOOK_ACTIVE);
    const offset = integer(params.offset, 0);
    const limit = Math.min(100, Math.max(1, integer(params.limit, 100)));
    let timeout = Math.min(50, Math.max(0, integer(params.timeout, 0)));
    const at = Date.now();
    if (offset === previousPoll.offset && timeout < repeatPollFloor && at < previousPoll.at + 3000) {
      timeout = repeatPollFloor;
    }
    previousPoll = { offset, at };
    confirm(offset);
    if (timeout === 0 || queue.length > 0) return answer(response, queue.slice(0, limit));
    abortHeldPoll(CONFLICT_OTHER_GET_UPDATES);
    const poll: HeldPoll = { response, offset, limit, timer: undefined };
    poll.timer = later(timeout * 1000, () => {
      if (heldPoll === poll) releaseHeldPoll();
    });
    heldPoll = poll;
    response.on("close", () => {
      if (heldPoll === poll) takeHeldPoll();
    });
  }

  // ---- methods ----

  function formatted(params: TelegramParams): { text: string; entities: MessageEntity[] | undefined } {
    const raw = params.text;
    if (typeof raw !== "string" && typeof raw !== "number") throw badRequest("message text is empty");
    let text = String(raw);
    let entities: MessageEntity[] | undefined = Array.isArray(params.entities) ? params.entities : undefined;
    const parseMode = typeof params.parse_mode === "string" ? params.parse_mode.toLowerCase() : "";
    if (parseMode === "markdownv2") {
      try {
        ({ text, entities } = parseMarkdownV2(text));
      } catch (error) {
        throw badRequest(`can't parse entities: ${(error as Error).message}`);
      }
    } else if (parseMode === "html") {
      try {
        ({ text, entities } = parseTelegramHtml(text));
      } catch (error) {
        throw badRequest(`can't parse entities: ${(error as Error).message}`);
      }
    } else if (parseMode !== "" && parseMode !== "markdown") {
      throw badRequest("unsupported parse_mode");
    }
    if (text.trim() === "") throw badRequest("message text is empty");
    if (text.length > TELEGRAM_TEXT_LIMIT) throw badRequest("message is too long");
    return { text, entities: entities !== undefined && entities.length > 0 ? entities : undefined };
  }
  function replyMarkup(params: TelegramParams): InlineKeyboardMarkup | undefined {
    const markup = params.reply_markup;
    if (markup === undefined || markup === null || markup === "") return undefined;
    if (typeof markup !== "object") throw badRequest("can't parse reply keyboard markup JSON object");
    if (!("inline_keyboard" in markup)) return undefined; // reply keyboards are not echoed back
    const rows: unknown = markup.inline_keyboard;
    if (!Array.isArray(rows) || !rows.every(Array.isArray)) {
      throw badRequest('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays');
    }
    for (const button of rows.flat() as Record<string, unknown>[]) {
      if (typeof button?.text !== "string") throw badRequest("can't find field \"text\"");
      const data = button.callback_data;
      if (typeof data === "string" && (data.length === 0 || Buffer.byteLength(data) > 64)) {
        throw badRequest("BUTTON_DATA_INVALID");
      }
    }
    return markup as InlineKeyboardMarkup;
  }
  function requireChat(params: TelegramParams): void {
    if (params.chat_id === undefined || params.chat_id === "") throw badRequest("chat_id is empty");
  }

  function sendMessage(params: TelegramParams): Message {
    requireChat(params);
    const { text, entities } = formatted(params);
    const markup = replyMarkup(params);
    const chat = chatFor(params.chat_id);
    const replyTo = params.reply_parameters?.message_id ?? params.reply_to_message_id;
    const original = replyTo === undefined ? undefined : find(chat.id, replyTo);
    if (replyTo !== undefined && original === undefined && params.reply_parameters?.allow_sending_without_reply !== true) {
      throw badRequest("message to be replied not found");
    }
    const message = { message_id: allocateMessageId(chat.id), from: botAsSender, chat, date: now(), text } as Message;
    if (entities !== undefined) message.entities = entities;
    if (markup !== undefined) message.reply_markup = markup;
    if (original !== undefined) message.reply_to_message = withoutReply(original) as Message["reply_to_message"];
    store(message);
    return message;
  }

  function editMessage(params: TelegramParams, part: "text" | "markup"): Message | true {
    if (params.inline_message_id !== undefined) return true;
    requireChat(params);
    const next = part === "text" ? formatted(params) : undefined;
    const markup = replyMarkup(params);
    const message = find(params.chat_id, params.message_id);
    if (message === undefined) throw badRequest("message to edit not found");
    if (message.from?.id !== botId) throw badRequest("message can't be edited");
    const same =
      JSON.stringify(message.reply_markup) === JSON.stringify(markup) &&
      (next === undefined ||
        (next.text === message.text && JSON.stringify(next.entities) === JSON.stringify(message.entities)));
    if (same) throw badRequest(NOT_MODIFIED);
    const edited = { ...message, edit_date: now() } as Message;
    if (next !== undefined) {
      edited.text = next.text;
      if (next.entities === undefined) delete edited.entities;
      else edited.entities = next.entities;
    }
    // Like Telegram: an edit without reply_markup removes the inline keyboard.
    if (markup === undefined) delete edited.reply_markup;
    else edited.reply_markup = markup;
    store(edited);
    return edited;
  }

  function webhookChange(params: TelegramParams, url: string): { result: true; description: string } {
    if (url !== "" && !/^https:\/\//i.test(url)) {
      throw badRequest("bad webhook: An HTTPS URL must be provided for webhook");
    }
    if (params.drop_pending_updates === true || params.drop_pending_updates === "true") {
      confirmedOffset = Math.max(confirmedOffset, nextUpdateId);
      queue = [];
    }
    const previous = webhook.url;
    if (url === "") {
      webhook = { url: "", secretToken: undefined };
      return { result: true, description: previous === "" ? "Webhook is already deleted" : "Webhook was deleted" };
    }
    abortHeldPoll(CONFLICT_SET_WEBHOOK);
    webhook = { url, secretToken: typeof params.secret_token === "string" ? params.secret_token : undefined };
    return { result: true, description: previous === url ? "Webhook is already set" : "Webhook was set" };
  }

  /** Runs one method; getUpdates answers by itself because it may hold the response. */
  function dispatch(method: string, params: TelegramParams, response: ServerResponse): void {
    let result: unknown = true;
    let description: string | undefined;
    switch (method.toLowerCase()) {
      case "getupdates":
        return getUpdates(params, response);
      case "getme":
        result = botUser;
        break;
      case "deletewebhook":
        ({ result, description } = webhookChange(params, ""));
        break;
      case "setwebhook":
        ({ result, description } = webhookChange(params, typeof params.url === "string" ? params.url : ""));
        break;
      case "getwebhookinfo":
        result = webhook.url === ""
          ? { url: "", has_custom_certificate: false, pending_update_count: queue.length }
          : { url: webhook.url, has_custom_certificate: false, pending_update_count: queue.length, max_connections: 40, ip_address: "127.0.0.1" };
        break;
      case "sendmessage":
        result = sendMessage(params);
        accepted.push({ method: "sendMessage", params });
        break;
      case "sendchataction":
        requireChat(params);
        if (!CHAT_ACTIONS.has(String(params.action))) throw badRequest("wrong parameter action in request");
        accepted.push({ method: "sendChatAction", params });
        break;
      case "answercallbackquery": {
        const id = String(params.callback_query_id ?? "");
        if (!openCallbackQueries.delete(id)) throw badRequest(INVALID_QUERY_ID);
        break;
      }
      case "editmessagetext":
        result = editMessage(params, "text");
        break;
      case "editmessagereplymarkup":
        result = editMessage(params, "markup");
        break;
      case "deletemessage": {
        requireChat(params);
        const inChat = messages.get(chatKey(params.chat_id));
        if (inChat?.delete(Number(params.message_id)) !== true) throw badRequest("message to delete not found");
        break;
      }
      case "setmycommands":
        if (!Array.isArray(params.commands)) throw badRequest("can't parse commands JSON object");
        commands = params.commands;
        break;
      case "getmycommands":
        result = commands;
        break;
      case "deletemycommands":
        commands = [];
        break;
      default:
        return fail(response, new ApiFailure(404, "Not Found"));
    }
    answer(response, result, description);
  }

  function takeFault(method: string): TelegramFault | undefined {
    const list = faults.get(method.toLowerCase());
    const first = list?.[0];
    if (list === undefined || first === undefined) return undefined;
    if (--first.remaining <= 0) list.shift();
    return first.fault;
  }
  function faultFailure(method: string, fault: TelegramFault): ApiFailure {
    switch (fault.status) {
      case 429:
        return new ApiFailure(429, `Too Many Requests: retry after ${fault.retryAfter}`, { retry_after: fault.retryAfter });
      case 409:
        return new ApiFailure(409, fault.description ?? (method.toLowerCase() === "getupdates" ? CONFLICT_OTHER_GET_UPDATES : "Conflict"));
      case 500:
        return new ApiFailure(500, fault.description ?? "Internal Server Error");
      case 403:
        return new ApiFailure(403, fault.description ?? "Forbidden: bot was blocked by the user");
      case 400:
        return new ApiFailure(400, fault.description);
    }
  }

  function record(call: TelegramCall): void {
    calls.push(call);
    for (const waiter of waiters) {
      if (waiter.method === call.method && waiter.predicate(call.params)) {
        waiters.delete(waiter);
        waiter.resolve(call);
      }
    }
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const match = /^\/bot([^/]+)\/([A-Za-z0-9_]+)$/.exec(url.pathname);
    const body = await readBody(request);
    if (match === null) return fail(response, new ApiFailure(404, "Not Found"));
    const [, callToken = "", method = ""] = match;
    let params: TelegramParams;
    try {
      params = await parseParams(url, request.headers["content-type"], body);
    } catch {
      return fail(response, badRequest("can't parse JSON object"));
    }
    const authorized = callToken === token;
    record({ method, params, at: Date.now(), authorized });
    if (!authorized) return fail(response, new ApiFailure(401, "Unauthorized"));
    if (stalled) return park(response);
    const fault = takeFault(method);
    if (fault !== undefined) {
      const failure = faultFailure(method, fault);
      return failure.status === 409 ? failConflict(response, failure.message) : fail(response, failure);
    }
    try {
      dispatch(method, params, response);
    } catch (error) {
      if (!(error instanceof ApiFailure)) throw error;
      fail(response, error);
    }
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) =>
      fail(response, new ApiFailure(500, `Internal Server Error: ${(error as Error).message}`)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  const filterChat = (list: TelegramParams[], chatId?: number | string): TelegramParams[] =>
    chatId === undefined ? list : list.filter((params) => String(params.chat_id) === String(chatId));

  const fake: TelegramFake = {
    url: `http://127.0.0.1:${port}`,
    token,
    botId,
    botUsername,
    calls,
    get confirmedOffset() {
      return confirmedOffset;
    },
    get webhookUrl() {
      return webhook.url;
    },
    get commands() {
      return commands;
    },
    sent: (chatId) => filterChat(accepted.filter((entry) => entry.method === "sendMessage").map((entry) => entry.params), chatId),
    chatActions: (chatId) =>
      filterChat(accepted.filter((entry) => entry.method === "sendChatAction").map((entry) => entry.params), chatId),
    botMessages: (chatId) =>
      [...messages.entries()]
        .filter(([key]) => chatId === undefined || key === chatKey(chatId))
        .flatMap(([, inChat]) => [...inChat.values()])
        .filter((message) => message.from?.id === botId),
    pendingUpdates: () => [...queue],

    pushMessage(options) {
      const chatType = options.chatType ?? "private";
      const firstName = options.firstName ?? "Test";
      const from: User = { id: options.fromId, is_bot: false, first_name: firstName, language_code: "en" };
      if (options.username !== undefined) from.username = options.username;
      const chat: Chat = chatType === "private"
        ? { id: options.chatId, type: "private", first_name: firstName, ...(options.username === undefined ? {} : { username: options.username }) }
        : { id: options.chatId, type: chatType, title: options.chatTitle ?? "Faraday test group" };
      chats.set(chatKey(options.chatId), chat);
      const text = options.mentionBot === true ? `@${botUsername} ${options.text}` : options.text;
      const message = { message_id: allocateMessageId(options.chatId, options.messageId), from, chat, date: now(), text } as Message;
      const entities = detectEntities(text);
      if (entities.length > 0) message.entities = entities;
      if (options.replyToBot === true) {
        const original = lastBotMessage(options.chatId) ?? madeUpBotMessage(options.chatId);
        message.reply_to_message = withoutReply(original) as Message["reply_to_message"];
      }
      store(message);
      return enqueue({ message } as Omit<Update, "update_id">);
    },
    pushCallbackQuery(options) {
      const from: User = { id: options.fromId, is_bot: false, first_name: options.firstName ?? "Test", language_code: "en" };
      if (options.username !== undefined) from.username = options.username;
      const message = find(options.chatId, options.messageId) ?? madeUpBotMessage(options.chatId, options.messageId);
      const id = String(4_000_000_000_000_000n + BigInt(++callbackCounter));
      openCallbackQueries.add(id);
      const callbackQuery = {
        id, from, message, data: options.data,
        chat_instance: String(BigInt.asUintN(62, BigInt(options.chatId) * 2_654_435_761n)),
      } as CallbackQuery;
      return enqueue({ callback_query: callbackQuery } as Omit<Update, "update_id">);
    },
    pushUpdate: (update) => enqueue(update),
    failNext(method, fault, times = 1) {
      const key = method.toLowerCase();
      const list = faults.get(key) ?? [];
      list.push({ fault, remaining: times });
      faults.set(key, list);
    },
    setWebhookUrl(url, secretToken) {
      if (url !== "") abortHeldPoll(CONFLICT_SET_WEBHOOK);
      webhook = { url, secretToken };
    },
    stall(on) {
      stalled = on;
      if (on) {
        const poll = takeHeldPoll();
        if (poll !== undefined) park(poll.response);
        return;
      }
      for (const response of stalledResponses) response.socket?.destroy();
      stalledResponses.clear();
    },
    waitForCall(method, predicate = () => true, timeoutMs = 5000) {
      const done = calls.find((call) => call.method === method && predicate(call.params));
      if (done !== undefined) return Promise.resolve(done);
      return new Promise<TelegramCall>((resolve, reject) => {
        const waiter: CallWaiter = { method, predicate, resolve: (call) => { clearTimeout(timer); resolve(call); } };
        const timer = later(timeoutMs, () => {
          waiters.delete(waiter);
          const seen = calls.map((call) => call.method).join(", ") || "nothing";
          reject(new Error(`Telegram fake: no matching ${method} within ${timeoutMs} ms; received: ${seen}`));
        });
        waiters.add(waiter);
      });
    },
    webhookPost(url, update, secretToken = webhook.secretToken) {
      return postUpdate(url, update, secretToken).then((answer) => answer.status);
    },
    async deliverWebhook(url, update, deliverOptions = {}) {
      const secondMs = deliverOptions.secondMs ?? 1000;
      const maxAttempts = deliverOptions.maxAttempts ?? 6;
      const statuses: number[] = [];
      let delay = 1; // WebhookActor: Update::delay_ starts at 1 when the update is queued
      for (let attempt = 1; attempt <= maxAttempts && !closed; attempt++) {
        const answer = await postUpdate(url, update, deliverOptions.secretToken ?? webhook.secretToken).catch(() => ({ status: 0, retryAfter: 0 }));
        statuses.push(answer.status);
        deliverOptions.onAttempt?.(answer.status, attempt);
        if (answer.status >= 200 && answer.status <= 299) break;
        // on_update_error: the first failure waits Retry-After (0: at once); later ones back off.
        let wait = Math.min(answer.retryAfter, 3600);
        if (wait === 0 && attempt > 1) {
          delay = Math.min(60 + Math.floor(Math.random() * 61), delay * 2);
          wait = delay;
        }
        if (attempt < maxAttempts && wait > 0) await new Promise<void>((resolve) => later(wait * secondMs, resolve));
      }
      return statuses;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      takeHeldPoll();
      for (const response of stalledResponses) response.socket?.destroy();
      stalledResponses.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return fake;
}

/** One webhook POST; `retryAfter` is the answer's Retry-After in whole seconds (0 when absent or unreadable). */
function postUpdate(url: string, update: Update, secretToken: string | undefined): Promise<{ status: number; retryAfter: number }> {
  const json = JSON.stringify(update);
  const headers: Record<string, string | number> = { "content-type": "application/json", "content-length": Buffer.byteLength(json) };
  if (secretToken !== undefined) headers["x-telegram-bot-api-secret-token"] = secretToken;
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(url, { method: "POST", headers }, (incoming) => {
      incoming.resume();
      const header = Number.parseInt(String(incoming.headers["retry-after"] ?? ""), 10);
      incoming.on("end", () => resolve({ status: incoming.statusCode ?? 0, retryAfter: Number.isFinite(header) && header > 0 ? header : 0 }));
    });
    outgoing.on("error", reject);
    outgoing.end(json);
  });
}

// ---- request parsing ----

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** JSON, urlencoded and multipart bodies plus the query string, as the real server accepts them. */
async function parseParams(url: URL, contentType: string | undefined, body: Buffer): Promise<TelegramParams> {
  const params: TelegramParams = {};
  for (const [key, value] of url.searchParams) params[key] = fromString(value);
  if (body.length === 0) return params;
  const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase();
  if (type === "application/json") return Object.assign(params, JSON.parse(body.toString("utf8")) as TelegramParams);
  if (type === "application/x-www-form-urlencoded") {
    for (const [key, value] of new URLSearchParams(body.toString("utf8"))) params[key] = fromString(value);
    return params;
  }
  if (type === "multipart/form-data") {
    const form = await new Response(new Uint8Array(body), { headers: { "content-type": contentType ?? "" } }).formData();
    for (const [key, value] of form) {
      params[key] = typeof value === "string" ? fromString(value) : { filename: value.name, size: value.size, type: value.type };
    }
  }
  return params;
}

/** Form fields carry objects (reply_markup, entities) as JSON text; the server parses them. */
function fromString(value: string): unknown {
  if (!/^[[{]/.test(value)) return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

function integer(value: unknown, fallback: number): number {
  const number = typeof value === "number" ? value : Number.parseInt(String(value ?? ""), 10);
  return Number.isFinite(number) ? Math.trunc(number) : fallback;
}

/** `bot_command` and `mention` entities, as Telegram adds them to incoming text. */
function detectEntities(text: string): MessageEntity[] {
  const entities: MessageEntity[] = [];
  for (const match of text.matchAll(/(^|\s)(\/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?)(?=$|\s)/g)) {
    entities.push({ type: "bot_command", offset: match.index + (match[1]?.length ?? 0), length: match[2]?.length ?? 0 });
  }
  for (const match of text.matchAll(/(^|[^\w@/])(@[A-Za-z][A-Za-z0-9_]{4,31})(?![\w@])/g)) {
    entities.push({ type: "mention", offset: match.index + (match[1]?.length ?? 0), length: match[2]?.length ?? 0 });
  }
  return entities.sort((a, b) => a.offset - b.offset);
}

// ---- MarkdownV2 ----

type MarkdownType = "bold" | "italic" | "underline" | "strikethrough" | "spoiler" | "code" | "pre" | "text_link" | "custom_emoji";
const TDLIB_ENTITY_NAMES: Record<MarkdownType, string> = {
  bold: "Bold", italic: "Italic", underline: "Underline", strikethrough: "Strikethrough", spoiler: "Spoiler",
  code: "Code", pre: "Pre", text_link: "TextUrl", custom_emoji: "CustomEmoji",
};

/**
 * TDLib's `parse_markdown_v2` (td/telegram/MessageEntity.cpp) on a JS string: returns the plain
 * text and its entities, or throws with TDLib's message ("Character '.' is reserved and must be
 * escaped with the preceding '\'", "Can't find end of Bold entity at byte offset 0", …).
 * A `>` at the start of a line is a blockquote marker and is dropped.
 */
export function parseMarkdownV2(input: string): { text: string; entities: MessageEntity[] } {
  const byteOffset = (index: number): number => Buffer.byteLength(input.slice(0, index));
  const entities: MessageEntity[] = [];
  const open: { type: MarkdownType; offset: number; byteOffset: number; language: string }[] = [];
  let text = "";
  for (let i = 0; i < input.length; i++) {
    const c = input[i] ?? "";
    const next = input[i + 1] ?? "";
    const nextCode = next.charCodeAt(0);
    if (c === "\\" && nextCode > 0 && nextCode <= 126) {
      text += next;
      i++;
      continue;
    }
    const top = open.at(-1);
    const inCode = top?.type === "code" || top?.type === "pre";
    if (!(inCode ? "`" : "_*[]()~`>#+-=|{}.!").includes(c)) {
      text += c;
      continue;
    }
    if (c === ">" && (i === 0 || input[i - 1] === "\n")) continue;
    let isEnd = false;
    switch (top?.type) {
      case "bold": isEnd = c === "*"; break;
      case "italic": isEnd = c === "_" && next !== "_"; break;
      case "underline": isEnd = c === "_" && next === "_"; break;
      case "strikethrough": isEnd = c === "~"; break;
      case "spoiler": isEnd = c === "|" && next === "|"; break;
      case "code": isEnd = c === "`"; break;
      case "pre": isEnd = c === "`" && next === "`" && input[i + 2] === "`"; break;
      case "text_link":
      case "custom_emoji": isEnd = c === "]"; break;
      case undefined: break;
    }
    if (!isEnd) {
      const entityByteOffset = byteOffset(i);
      let type: MarkdownType;
      let language = "";
      if (c === "_" && next === "_") {
        type = "underline";
        i++;
      } else if (c === "_") type = "italic";
      else if (c === "*") type = "bold";
      else if (c === "~") type = "strikethrough";
      else if (c === "|" && next === "|") {
        type = "spoiler";
        i++;
      } else if (c === "[") type = "text_link";
      else if (c === "!" && next === "[") {
        type = "custom_emoji";
        i++;
      } else if (c === "`" && next === "`" && input[i + 2] === "`") {
        type = "pre";
        i += 3;
        let languageEnd = i;
        while (languageEnd < input.length && !/\s|`/.test(input[languageEnd] ?? "")) languageEnd++;
        if (i !== languageEnd && languageEnd < input.length && input[languageEnd] !== "`") {
          language = input.slice(i, languageEnd);
          i = languageEnd;
        }
        if (input[i] === "\n" || input[i] === "\r") {
          const pair = (input[i + 1] === "\n" || input[i + 1] === "\r") && input[i] !== input[i + 1];
          i += pair ? 2 : 1;
        }
        i--;
      } else if (c === "`") type = "code";
      else throw new Error(`Character '${c}' is reserved and must be escaped with the preceding '\\'`);
      open.push({ type, offset: text.length, byteOffset: entityByteOffset, language });
      continue;
    }
    const entity = open.pop();
    if (entity === undefined) continue;
    let url = "";
    if (entity.type === "underline" || entity.type === "spoiler") i++;
    else if (entity.type === "pre") i += 2;
    else if (entity.type === "text_link" || entity.type === "custom_emoji") {
      if (input[i + 1] !== "(") url = text.slice(entity.offset);
      else {
        i += 2;
        const urlBegin = i;
        while (i < input.length && input[i] !== ")") {
          const escaped = input[i + 1]?.charCodeAt(0) ?? 0;
          if (input[i] === "\\" && escaped > 0 && escaped <= 126) {
            url += input[i + 1];
            i += 2;
          } else url += input[i++];
        }
        if (input[i] !== ")") throw new Error(`Can't find end of a URL at byte offset ${byteOffset(urlBegin)}`);
      }
    }
    const length = text.length - entity.offset;
    if (length === 0) continue;
    if (entity.type === "text_link") {
      if (URL.canParse(url)) entities.push({ type: "text_link", offset: entity.offset, length, url });
    } else if (entity.type === "custom_emoji") {
      const id = /^tg:\/\/emoji\?id=(\d+)$/.exec(url)?.[1];
      if (id !== undefined) entities.push({ type: "custom_emoji", offset: entity.offset, length, custom_emoji_id: id });
    } else if (entity.type === "pre") {
      entities.push(entity.language === "" ? { type: "pre", offset: entity.offset, length } : { type: "pre", offset: entity.offset, length, language: entity.language });
    } else {
      entities.push({ type: entity.type, offset: entity.offset, length });
    }
  }
  const unclosed = open.at(-1);
  if (unclosed !== undefined) {
    const name = unclosed.type === "pre" && unclosed.language !== "" ? "PreCode" : TDLIB_ENTITY_NAMES[unclosed.type];
    throw new Error(`Can't find end of ${name} entity at byte offset ${unclosed.byteOffset}`);
  }
  return { text, entities: entities.sort((a, b) => a.offset - b.offset || b.length - a.length) };
}
