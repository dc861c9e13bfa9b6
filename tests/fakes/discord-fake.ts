/**
 * A loopback fake of Discord — REST API v10 and the gateway WebSocket — on 127.0.0.1, for tests
 * that run the REAL discord.js client against it:
 *
 *   const fake = await startDiscordFake({ guilds: [{ id, name, channels: [{ id, name, type: 0 }] }] });
 *   const client = new Client({ intents, partials, rest: { api: fake.apiBase } });
 *   await client.login(fake.token);
 *
 * `rest.api` is the only option needed: REST goes to `${apiBase}/v10/...`, and discord.js takes
 * the gateway URL from `GET /gateway/bot` (here `ws://127.0.0.1:PORT/gateway`) and the resume URL
 * from READY (`ws://127.0.0.1:PORT/resume-gateway`, a different path so a test can tell a resume
 * went there). @discordjs/ws appends `?v=10&encoding=json`; it asks for `compress=zlib-stream`
 * only when the optional `zlib-sync` package is installed (it is not), and the fake speaks
 * zlib-stream too if asked, so no compression option is needed.
 *
 * What it models, because the gateway's Discord adapter must cope with it:
 * - auth: a wrong token is 401 on REST and close 4004 on IDENTIFY; privileged intents requested
 *   while `privilegedIntentsAllowed` is false close with 4014 "Disallowed intent(s).";
 * - intents: guild messages need GuildMessages, DMs need DirectMessages, and without
 *   MessageContent a guild message's content is "" unless it mentions the bot (Discord's rule);
 * - sequence numbers, a per-session dispatch log, RESUME replaying what the client missed (also
 *   what was pushed while it was disconnected or the socket was a zombie), INVALID_SESSION for an
 *   unknown session;
 * - the bot's own messages come back as MESSAGE_CREATE, as on Discord;
 * - 2000-character content limit (counted in code points), empty-message and unknown-reply
 *   errors, injected 429s with the headers @discordjs/rest reads;
 * - fatal close codes (4004 Authentication failed, 4010 Invalid shard, 4011 Sharding required,
 *   4012 Invalid API version, 4013 Invalid intent(s), 4014 Disallowed intent(s)) end the session:
 *   Discord does not take it back, so a RESUME after one gets INVALID_SESSION. The client side of
 *   those codes is what the gateway's adapter has to handle, checked against @discordjs/ws 1.2
 *   `WebSocketShard.onClose` (these codes emit an error and destroy the shard without `recover`, so
 *   it never reconnects; during login `connect()` rejects with that error: "Authentication failed",
 *   "Invalid shard", "Sharding is required", "Used an invalid API version", "Used invalid intents",
 *   "Used disallowed intents") and discord.js 14 `WebSocketManager` (`UNRECOVERABLE_CLOSE_CODES`:
 *   only these emit `shardDisconnect`; every other close emits `shardReconnecting` and resumes or
 *   re-identifies). `refuseIdentify(code)` makes the next IDENTIFYs close with one of them, as
 *   Discord does when the bot outgrows one shard (4011) or the portal changes under it.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { constants as zlibConstants, createDeflate, type Deflate } from "node:zlib";
import { WebSocketServer, type RawData, type WebSocket } from "ws";

/** Close codes after which Discord ends the session and the client must not reconnect. */
export const FATAL_CLOSE_CODES = [4004, 4010, 4011, 4012, 4013, 4014] as const;
export type FatalCloseCode = (typeof FATAL_CLOSE_CODES)[number];
const CLOSE_REASONS: Record<number, string> = {
  4000: "Unknown error.", 4004: "Authentication failed.", 4007: "Invalid seq.", 4008: "Rate limited.",
  4009: "Session timed out.", 4010: "Invalid shard.", 4011: "Sharding required.", 4012: "Invalid API version.",
  4013: "Invalid intent(s).", 4014: "Disallowed intent(s).",
};

/** An obviously fake bot token, the default for {@link DiscordFakeOptions.token}. */
export const DISCORD_FAKE_DEFAULT_TOKEN = "FAKE0000.discord-fake.not-a-real-bot-token";

const Op = {
  Dispatch: 0, Heartbeat: 1, Identify: 2, Resume: 6, Reconnect: 7, InvalidSession: 9, Hello: 10,
  HeartbeatAck: 11,
} as const;

/** Gateway intent bits the fake acts on. */
const Intent = {
  GuildMembers: 1 << 1, GuildMessages: 1 << 9, GuildPresences: 1 << 8, DirectMessages: 1 << 12,
  MessageContent: 1 << 15,
} as const;
const PRIVILEGED_INTENTS = Intent.GuildMembers | Intent.GuildPresences | Intent.MessageContent;
const DISCORD_EPOCH = 1_420_070_400_000n;
const MESSAGE_LIMIT = 2000;
const DISPATCH_LOG_LIMIT = 1000;

export interface DiscordFakeChannel { id: string; name: string; type: 0 }
export interface DiscordFakeGuild { id: string; name: string; channels: DiscordFakeChannel[] }

export interface DiscordFakeOptions {
  /** The bot token REST (`Authorization: Bot …`) and IDENTIFY must carry. */
  token?: string;
  botUserId?: string;
  botUsername?: string;
  guilds?: DiscordFakeGuild[];
  /** Default true. When false, an IDENTIFY asking for MessageContent, GuildMembers or GuildPresences gets close 4014. */
  privilegedIntentsAllowed?: boolean;
  /** HELLO's heartbeat_interval. Default 1000 ms (Discord's is ~41 250). */
  heartbeatIntervalMs?: number;
}

export interface DiscordRestCall {
  method: string;
  /** Path after `/api/v10`, e.g. `/channels/1/messages`. */
  path: string;
  query: Record<string, string>;
  /** Parsed JSON; for multipart, `payload_json` parsed plus `files: [{ name, size }]`. */
  body: unknown;
  headers: Record<string, string>;
  /** The status the fake answered with. */
  status: number;
  at: number;
}

export interface DiscordGatewayEvent {
  direction: "in" | "out";
  op: number;
  t?: string;
  s?: number;
  /** {@link DiscordGatewayConnection.id} of the socket it went over. */
  connection: number;
  at: number;
}

export interface DiscordGatewayConnection {
  id: number;
  /** `/gateway` (from GET /gateway/bot) or `/resume-gateway` (READY's resume_gateway_url). */
  path: string;
  query: Record<string, string>;
  openedAt: number;
  closedAt?: number;
  /** Close code as the fake's side saw it (1006 when the socket died without a close frame). */
  closeCode?: number;
}

/** What {@link DiscordFake.failNext} answers instead of the real route. */
export interface DiscordFakeFailure {
  status: number;
  /** Seconds, for 429s. Default 1. */
  retryAfter?: number;
  global?: boolean;
  message?: string;
  code?: number;
}

export interface DiscordPushMessage {
  channelId: string;
  /** Defaults to the guild that owns `channelId`. Ignored for DMs. */
  guildId?: string;
  authorId: string;
  authorName?: string;
  /** With `mentionsBot`, `<@botId> ` is prefixed unless the content already mentions the bot. */
  content: string;
  mentionsBot?: boolean;
  /** A DM: `channelId` becomes (or is) the DM channel with the author. */
  dm?: boolean;
  /** Reply to the bot's latest message in the channel (true) or to the bot message with this id. */
  referencedBotMessage?: boolean | string;
}

export interface DiscordPushInteraction {
  channelId: string;
  userId: string;
  customId: string;
  /** The bot message holding the button. Default the bot's latest message in the channel. */
  messageId?: string;
}

export interface DiscordFakeUser {
  id: string; username: string; discriminator: string; global_name: string | null; avatar: null; bot?: boolean;
}

/** A message as the fake stores and returns it (a subset of Discord's message object). */
export interface DiscordFakeMessage {
  id: string;
  type: number;
  channel_id: string;
  guild_id?: string;
  author: DiscordFakeUser;
  content: string;
  timestamp: string;
  edited_timestamp: string | null;
  tts: boolean;
  mention_everyone: boolean;
  mentions: DiscordFakeUser[];
  mention_roles: string[];
  attachments: unknown[];
  embeds: unknown[];
  components: unknown[];
  pinned: boolean;
  flags: number;
  nonce?: string | number;
  message_reference?: { type: 0; message_id: string; channel_id: string; guild_id?: string };
  referenced_message?: DiscordFakeMessage | null;
}

export interface DiscordInteractionCallback {
  interactionId: string;
  /** 4 reply, 5 deferred reply, 6 deferred update, 7 update message, … */
  type: number;
  data: unknown;
  at: number;
}

export interface DiscordFake {
  /** `http://127.0.0.1:PORT/api` — pass as `rest.api`. */
  apiBase: string;
  /** `ws://127.0.0.1:PORT/gateway`, what GET /gateway/bot returns. */
  gatewayUrl: string;
  token: string;
  botUserId: string;
  applicationId: string;
  restCalls: DiscordRestCall[];
  gatewayEvents: DiscordGatewayEvent[];
  gatewayConnections: DiscordGatewayConnection[];
  /** IDENTIFY payloads received (op 2), accepted or not. */
  readonly identifies: number;
  /** RESUME payloads received (op 6), accepted or not. */
  readonly resumes: number;
  /** Messages the bot created with POST /channels/:id/messages, optionally in one channel. */
  sentMessages(channelId?: string): DiscordFakeMessage[];
  /** Successful POST /channels/:id/typing calls. */
  typingCalls(channelId?: string): DiscordRestCall[];
  interactionCallbacks(): DiscordInteractionCallback[];
  /**
   * Answers the next `times` requests matching `route` (`"POST /channels/:id/messages"`, `:name`
   * matches any segment, a literal id matches only itself) with `failure`. 429s carry
   * `retry-after`, `x-ratelimit-*` and `{ message, retry_after, global }` like Discord's.
   */
  failNext(route: string, failure: DiscordFakeFailure, times?: number): void;
  /** MESSAGE_CREATE from a user. Throws if no client has identified yet or the channel is unknown. */
  pushMessage(message: DiscordPushMessage): DiscordFakeMessage;
  /** INTERACTION_CREATE for a button click. Returns the interaction's id and token. */
  pushInteraction(interaction: DiscordPushInteraction): { id: string; token: string };
  /**
   * Closes every open gateway socket with `code`; 1006 destroys the TCP socket with no close frame.
   * A fatal code (4004, 4010–4014) also ends the session, as on Discord.
   */
  closeConnection(code: number): void;
  /** Every IDENTIFY from now on closes with this fatal code (undefined: accept them again). */
  refuseIdentify(code: FatalCloseCode | undefined): void;
  /** op 7 RECONNECT on every open socket. */
  requestReconnect(): void;
  /**
   * true: open sockets stay open but get no heartbeat ACKs and no dispatches; dispatches are kept
   * for RESUME. Sockets opened later are healthy. With `halfOpen`, the fake also stops reading
   * those TCP sockets, so the client's close frame goes unanswered too (a dead peer, not just a
   * silent one). false: heal the still-open sockets and send what they missed.
   */
  zombie(on: boolean, options?: { halfOpen?: boolean }): void;
  /** Open gateway sockets. */
  connected(): number;
  close(): Promise<void>;
}

interface Dispatch { s: number; t: string; d: unknown }

interface Session {
  id: string;
  intents: number;
  sequence: number;
  log: Dispatch[];
  connection: Connection | null;
}

interface Connection {
  record: DiscordGatewayConnection;
  socket: WebSocket;
  /** The TCP socket under `socket`, paused for a half-open zombie. */
  tcp: Duplex;
  session: Session | null;
  zombie: boolean;
  /** Highest sequence delivered on this socket. */
  sentUpTo: number;
  deflate: Deflate | null;
  /** Serialises zlib-stream frames so they leave in order. */
  sendChain: Promise<void>;
}

interface FailureRule { method: string; pattern: string; failure: DiscordFakeFailure; remaining: number }

interface FakeChannelRecord { id: string; type: 0 | 1; name?: string; guildId?: string; recipient?: DiscordFakeUser }

interface InteractionRecord { id: string; token: string; acknowledged: boolean; message: DiscordFakeMessage }

class HttpError extends Error {
  status: number;
  body: unknown;
  constructor(status: number, body: { code: number; message: string; errors?: unknown }) {
    super(body.message);
    this.status = status;
    this.body = body;
  }
}

/** Starts the fake on 127.0.0.1 with an ephemeral port. */
export async function startDiscordFake(options: DiscordFakeOptions = {}): Promise<DiscordFake> {
  const token = options.token ?? DISCORD_FAKE_DEFAULT_TOKEN;
  const privilegedIntentsAllowed = options.privilegedIntentsAllowed ?? true;
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 1000;
  let snowflakeCounter = 0;
  const snowflake = (): string =>
    (((BigInt(Date.now()) - DISCORD_EPOCH) << 22n) | BigInt(snowflakeCounter++ & 0xfff)).toString();
  const botUserId = options.botUserId ?? snowflake();
  const applicationId = botUserId;
  const botUser: DiscordFakeUser = {
    id: botUserId, username: options.botUsername ?? "faraday-test-bot", discriminator: "0",
    global_name: null, avatar: null, bot: true,
  };
  const guilds = options.guilds ?? [];

  const channels = new Map<string, FakeChannelRecord>();
  for (const guild of guilds) {
    for (const channel of guild.channels) channels.set(channel.id, { id: channel.id, type: 0, name: channel.name, guildId: guild.id });
  }
  const users = new Map<string, DiscordFakeUser>([[botUserId, botUser]]);
  const messages = new Map<string, DiscordFakeMessage>();
  const botMessages: DiscordFakeMessage[] = [];
  const interactions = new Map<string, InteractionRecord>();
  const callbacks: DiscordInteractionCallback[] = [];
  const restCalls: DiscordRestCall[] = [];
  const gatewayEvents: DiscordGatewayEvent[] = [];
  const gatewayConnections: DiscordGatewayConnection[] = [];
  const failures: FailureRule[] = [];
  const sessions = new Map<string, Session>();
  const connections = new Set<Connection>();
  let identifies = 0;
  let refusedIdentify: FatalCloseCode | undefined;
  let resumes = 0;

  const user = (id: string, name?: string): DiscordFakeUser => {
    const existing = users.get(id);
    if (existing && (name === undefined || existing.username === name)) return existing;
    const created: DiscordFakeUser = { id, username: name ?? `user${id.slice(-4)}`, discriminator: "0", global_name: name ?? null, avatar: null };
    users.set(id, created);
    return created;
  };

  // ---- gateway ----

  const sendFrame = (connection: Connection, payload: { op: number; d: unknown; s?: number | null; t?: string | null }): void => {
    if (connection.socket.readyState !== connection.socket.OPEN) return;
    gatewayEvents.push({
      direction: "out", op: payload.op, connection: connection.record.id, at: Date.now(),
      ...(payload.t ? { t: payload.t } : {}), ...(typeof payload.s === "number" ? { s: payload.s } : {}),
    });
    const text = JSON.stringify({ s: null, t: null, ...payload });
    const deflate = connection.deflate;
    if (!deflate) {
      connection.socket.send(text);
      return;
    }
    // zlib-stream: one deflate context per connection, each payload ends with a Z_SYNC_FLUSH.
    connection.sendChain = connection.sendChain.then(() => new Promise<void>((resolve) => {
      const chunks: Buffer[] = [];
      const collect = (chunk: Buffer) => chunks.push(chunk);
      deflate.on("data", collect);
      deflate.write(text);
      deflate.flush(zlibConstants.Z_SYNC_FLUSH, () => {
        deflate.off("data", collect);
        if (connection.socket.readyState === connection.socket.OPEN) connection.socket.send(Buffer.concat(chunks));
        resolve();
      });
    }));
  };

  const flush = (connection: Connection | null): void => {
    if (!connection || connection.zombie || !connection.session) return;
    for (const dispatch of connection.session.log) {
      if (dispatch.s <= connection.sentUpTo) continue;
      sendFrame(connection, { op: Op.Dispatch, t: dispatch.t, s: dispatch.s, d: dispatch.d });
      connection.sentUpTo = dispatch.s;
    }
  };

  const dispatch = (session: Session, t: string, d: unknown): void => {
    session.sequence += 1;
    session.log.push({ s: session.sequence, t, d });
    if (session.log.length > DISPATCH_LOG_LIMIT) session.log.shift();
    flush(session.connection);
  };

  const closeSocket = (connection: Connection, code: number, reason: string): void => {
    // Discord does not take a session back after a fatal close: a later RESUME is refused.
    if ((FATAL_CLOSE_CODES as readonly number[]).includes(code) && connection.session) {
      sessions.delete(connection.session.id);
      connection.session.connection = null;
      connection.session = null;
    }
    if (code === 1006) connection.socket.terminate();
    else connection.socket.close(code, reason);
  };

  const guildCreatePayload = (guild: DiscordFakeGuild) => ({
    id: guild.id, name: guild.name, icon: null, owner_id: "1", unavailable: false, large: false,
    member_count: 2, joined_at: new Date().toISOString(), features: [], emojis: [], stickers: [],
    roles: [{ id: guild.id, name: "@everyone", permissions: "1071698660929", position: 0, color: 0, hoist: false, managed: false, mentionable: false, flags: 0 }],
    channels: guild.channels.map((channel, position) => ({
      id: channel.id, name: channel.name, type: channel.type, guild_id: guild.id, position,
      permission_overwrites: [], nsfw: false, parent_id: null, topic: null, last_message_id: null, rate_limit_per_user: 0,
    })),
    members: [{ user: botUser, roles: [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0 }],
    threads: [], presences: [], voice_states: [], stage_instances: [], guild_scheduled_events: [],
    premium_tier: 0, preferred_locale: "en-US", verification_level: 0, default_message_notifications: 0,
    explicit_content_filter: 0, mfa_level: 0, nsfw_level: 0, system_channel_id: null, afk_channel_id: null, afk_timeout: 300,
  });

  const onIdentify = (connection: Connection, data: { token?: unknown; intents?: unknown; shard?: unknown }): void => {
    identifies += 1;
    if (connection.session) return closeSocket(connection, 4005, "Already authenticated.");
    if (data.token !== token) return closeSocket(connection, 4004, "Authentication failed.");
    if (refusedIdentify !== undefined) return closeSocket(connection, refusedIdentify, CLOSE_REASONS[refusedIdentify] ?? "");
    if (typeof data.intents !== "number" || !Number.isInteger(data.intents) || data.intents < 0) {
      return closeSocket(connection, 4013, "Invalid intent(s).");
    }
    if (!privilegedIntentsAllowed && (data.intents & PRIVILEGED_INTENTS) !== 0) {
      return closeSocket(connection, 4014, "Disallowed intent(s).");
    }
    if (Array.isArray(data.shard) && (data.shard[0] !== 0 || data.shard[1] !== 1)) {
      return closeSocket(connection, 4010, "Invalid shard.");
    }
    const session: Session = { id: randomBytes(16).toString("hex"), intents: data.intents, sequence: 0, log: [], connection };
    sessions.set(session.id, session);
    connection.session = session;
    dispatch(session, "READY", {
      v: 10, user: botUser, guilds: guilds.map((guild) => ({ id: guild.id, unavailable: true })),
      session_id: session.id, session_type: "normal", resume_gateway_url: `${origin("ws")}/resume-gateway`,
      shard: [0, 1], application: { id: applicationId, flags: 0 }, private_channels: [], relationships: [],
      presences: [], guild_join_requests: [], geo_ordered_rtc_regions: [], user_settings: {}, _trace: ["discord-fake"],
    });
    for (const guild of guilds) dispatch(session, "GUILD_CREATE", guildCreatePayload(guild));
  };

  const onResume = (connection: Connection, data: { token?: unknown; session_id?: unknown; seq?: unknown }): void => {
    resumes += 1;
    if (connection.session) return closeSocket(connection, 4005, "Already authenticated.");
    if (data.token !== token) return closeSocket(connection, 4004, "Authentication failed.");
    const session = typeof data.session_id === "string" ? sessions.get(data.session_id) : undefined;
    const seq = typeof data.seq === "number" ? data.seq : -1;
    const oldest = session?.log[0]?.s ?? 1;
    if (!session || seq < oldest - 1 || seq > session.sequence) {
      sendFrame(connection, { op: Op.InvalidSession, d: false });
      return;
    }
    const previous = session.connection;
    if (previous && previous !== connection) previous.session = null;
    session.connection = connection;
    connection.session = session;
    connection.sentUpTo = seq;
    flush(connection);
    dispatch(session, "RESUMED", { _trace: ["discord-fake"] });
  };

  const onFrame = (connection: Connection, raw: RawData): void => {
    let payload: { op?: unknown; d?: unknown };
    try {
      payload = JSON.parse(raw.toString()) as { op?: unknown; d?: unknown };
    } catch {
      return closeSocket(connection, 4002, "Error while decoding payload.");
    }
    const op = typeof payload.op === "number" ? payload.op : -1;
    gatewayEvents.push({ direction: "in", op, connection: connection.record.id, at: Date.now() });
    const data = (payload.d ?? {}) as Record<string, unknown>;
    switch (op) {
      case Op.Heartbeat:
        if (!connection.zombie) sendFrame(connection, { op: Op.HeartbeatAck, d: null });
        return;
      case Op.Identify:
        return onIdentify(connection, data);
      case Op.Resume:
        return onResume(connection, data);
      default:
        if (!connection.session) return closeSocket(connection, 4003, "Not authenticated.");
        // Presence updates, voice state, request guild members: accepted and ignored.
        if ([3, 4, 8, 31].includes(op)) return;
        return closeSocket(connection, 4001, "Unknown opcode.");
    }
  };

  const wss = new WebSocketServer({ noServer: true });
  let connectionCounter = 0;

  const onConnection = (socket: WebSocket, tcp: Duplex, request: IncomingMessage): void => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const record: DiscordGatewayConnection = {
      id: ++connectionCounter, path: url.pathname, query: Object.fromEntries(url.searchParams), openedAt: Date.now(),
    };
    gatewayConnections.push(record);
    const connection: Connection = {
      record, socket, tcp, session: null, zombie: false, sentUpTo: 0,
      deflate: url.searchParams.get("compress") === "zlib-stream" ? createDeflate({ chunkSize: 65535 }) : null,
      sendChain: Promise.resolve(),
    };
    connections.add(connection);
    socket.on("message", (raw) => onFrame(connection, raw));
    socket.on("error", () => {});
    socket.on("close", (code) => {
      record.closedAt = Date.now();
      record.closeCode = code;
      connections.delete(connection);
      connection.deflate?.close();
      const session = connection.session;
      if (session?.connection === connection) {
        session.connection = null;
        // A client's normal close (discord.js destroy()) ends the session on Discord: it cannot be resumed.
        if (code === 1000 || code === 1001) sessions.delete(session.id);
      }
    });
    if (url.searchParams.get("v") !== "10") return closeSocket(connection, 4012, "Invalid API version.");
    if ((url.searchParams.get("encoding") ?? "json") !== "json") return closeSocket(connection, 4002, "Error while decoding payload.");
    sendFrame(connection, { op: Op.Hello, d: { heartbeat_interval: heartbeatIntervalMs, _trace: ["discord-fake"] } });
  };

  // ---- REST ----

  /** Sessions that receive events: identified, not ended by a 1000/1001 close from the client. */
  const liveSessions = (): Session[] => {
    if (sessions.size === 0) throw new Error("discord fake: no client has identified yet; wait for the client's ready event first");
    return [...sessions.values()];
  };

  const channelPayload = (channel: FakeChannelRecord) => channel.type === 1
    ? { id: channel.id, type: 1, recipients: channel.recipient ? [channel.recipient] : [], last_message_id: null, flags: 0 }
    : {
      id: channel.id, type: 0, name: channel.name, guild_id: channel.guildId, position: 0, permission_overwrites: [],
      nsfw: false, parent_id: null, topic: null, last_message_id: null, rate_limit_per_user: 0, flags: 0,
    };

  const dmChannelFor = (recipient: DiscordFakeUser, channelId?: string): FakeChannelRecord => {
    for (const channel of channels.values()) {
      if (channel.type === 1 && channel.recipient?.id === recipient.id && (!channelId || channel.id === channelId)) return channel;
    }
    const channel: FakeChannelRecord = { id: channelId ?? snowflake(), type: 1, recipient };
    channels.set(channel.id, channel);
    return channel;
  };

  const knownChannel = (id: string): FakeChannelRecord => {
    const channel = channels.get(id);
    if (!channel) throw new HttpError(404, { code: 10003, message: "Unknown Channel" });
    return channel;
  };

  const invalidFormBody = (field: string, code: string, message: string) =>
    new HttpError(400, { code: 50035, message: "Invalid Form Body", errors: { [field]: { _errors: [{ code, message }] } } });

  const validateContent = (content: unknown): void => {
    if (typeof content === "string" && [...content].length > MESSAGE_LIMIT) {
      throw invalidFormBody("content", "BASE_TYPE_MAX_LENGTH", `Must be ${MESSAGE_LIMIT} or fewer in length.`);
    }
  };

  const contentVisible = (session: Session, message: DiscordFakeMessage): boolean =>
    (session.intents & Intent.MessageContent) !== 0 || !message.guild_id || message.author.id === botUserId ||
    message.mentions.some((mentioned) => mentioned.id === botUserId);

  /** MESSAGE_CREATE to every session, filtered by each one's intents like Discord's. */
  const dispatchMessage = (message: DiscordFakeMessage, extra: Record<string, unknown>): void => {
    for (const session of sessions.values()) {
      const needed = message.guild_id ? Intent.GuildMessages : Intent.DirectMessages;
      if ((session.intents & needed) === 0) continue;
      const visible = contentVisible(session, message);
      dispatch(session, "MESSAGE_CREATE", {
        ...message, ...extra,
        ...(visible ? {} : { content: "", embeds: [], attachments: [], components: [] }),
      });
    }
  };

  const createBotMessage = (channel: FakeChannelRecord, body: Record<string, unknown>): DiscordFakeMessage => {
    const hasPayload = (typeof body.content === "string" && body.content.length > 0) ||
      (Array.isArray(body.embeds) && body.embeds.length > 0) || (Array.isArray(body.components) && body.components.length > 0) ||
      (Array.isArray(body.files) && body.files.length > 0) || (Array.isArray(body.sticker_ids) && body.sticker_ids.length > 0) ||
      body.poll !== undefined;
    if (!hasPayload) throw new HttpError(400, { code: 50006, message: "Cannot send an empty message" });
    validateContent(body.content);
    const reference = body.message_reference as { message_id?: string; fail_if_not_exists?: boolean } | undefined;
    let referenced: DiscordFakeMessage | undefined;
    if (reference?.message_id) {
      referenced = messages.get(reference.message_id);
      if (!referenced && reference.fail_if_not_exists !== false) {
        throw invalidFormBody("message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message");
      }
    }
    const message: DiscordFakeMessage = {
      id: snowflake(), type: referenced ? 19 : 0, channel_id: channel.id,
      ...(channel.guildId ? { guild_id: channel.guildId } : {}),
      author: botUser, content: typeof body.content === "string" ? body.content : "",
      timestamp: new Date().toISOString(), edited_timestamp: null, tts: body.tts === true, mention_everyone: false,
      mentions: [], mention_roles: [], attachments: [], embeds: Array.isArray(body.embeds) ? body.embeds : [],
      components: Array.isArray(body.components) ? body.components : [], pinned: false, flags: typeof body.flags === "number" ? body.flags : 0,
      ...(typeof body.nonce === "string" || typeof body.nonce === "number" ? { nonce: body.nonce } : {}),
      ...(referenced ? {
        message_reference: { type: 0 as const, message_id: referenced.id, channel_id: channel.id, ...(channel.guildId ? { guild_id: channel.guildId } : {}) },
        referenced_message: referenced,
      } : {}),
    };
    messages.set(message.id, message);
    botMessages.push(message);
    return message;
  };

  const editMessage = (message: DiscordFakeMessage, body: Record<string, unknown>): DiscordFakeMessage => {
    validateContent(body.content);
    if (typeof body.content === "string") message.content = body.content;
    if (Array.isArray(body.embeds)) message.embeds = body.embeds;
    if (Array.isArray(body.components)) message.components = body.components;
    message.edited_timestamp = new Date().toISOString();
    return message;
  };

  const knownInteraction = (id: string, interactionToken: string): InteractionRecord => {
    const interaction = interactions.get(id);
    if (!interaction || interaction.token !== interactionToken) throw new HttpError(404, { code: 10062, message: "Unknown interaction" });
    return interaction;
  };

  const interactionByToken = (interactionToken: string): InteractionRecord => {
    for (const interaction of interactions.values()) if (interaction.token === interactionToken) return interaction;
    throw new HttpError(404, { code: 10015, message: "Unknown Webhook" });
  };

  type Handler = (params: Record<string, string>, call: DiscordRestCall) => { status: number; body?: unknown };
  const routes: Array<{ method: string; pattern: string; auth: boolean; handle: Handler }> = [
    { method: "GET", pattern: "/gateway", auth: false, handle: () => ({ status: 200, body: { url: origin("ws") + "/gateway" } }) },
    {
      method: "GET", pattern: "/gateway/bot", auth: true,
      handle: () => ({
        status: 200,
        body: {
          url: `${origin("ws")}/gateway`, shards: 1,
          session_start_limit: { total: 1000, remaining: Math.max(0, 1000 - identifies), reset_after: 14_400_000, max_concurrency: 1 },
        },
      }),
    },
    { method: "GET", pattern: "/users/@me", auth: true, handle: () => ({ status: 200, body: { ...botUser, verified: true, mfa_enabled: false, flags: 0, email: null } }) },
    {
      method: "GET", pattern: "/applications/@me", auth: true,
      handle: () => ({
        status: 200,
        body: {
          id: applicationId, name: botUser.username, icon: null, description: "", bot_public: false,
          bot_require_code_grant: false, flags: 0, bot: botUser, owner: user("1", "owner"), verify_key: "0".repeat(64), team: null,
        },
      }),
    },
    { method: "GET", pattern: "/channels/:channel", auth: true, handle: (params) => ({ status: 200, body: channelPayload(knownChannel(params.channel ?? "")) }) },
    {
      method: "POST", pattern: "/channels/:channel/messages", auth: true,
      handle: (params, call) => {
        const channel = knownChannel(params.channel ?? "");
        const message = createBotMessage(channel, (call.body ?? {}) as Record<string, unknown>);
        // Discord echoes the bot's own messages on the gateway; after the REST reply, as usually observed.
        setImmediate(() => dispatchMessage(message, channel.guildId
          ? { channel_type: 0, member: { roles: [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0 } }
          : { channel_type: 1 }));
        return { status: 200, body: message };
      },
    },
    {
      method: "PATCH", pattern: "/channels/:channel/messages/:message", auth: true,
      handle: (params, call) => {
        knownChannel(params.channel ?? "");
        const message = messages.get(params.message ?? "");
        if (!message || message.channel_id !== params.channel) throw new HttpError(404, { code: 10008, message: "Unknown Message" });
        if (message.author.id !== botUserId) throw new HttpError(403, { code: 50005, message: "Cannot edit a message authored by another user" });
        return { status: 200, body: editMessage(message, (call.body ?? {}) as Record<string, unknown>) };
      },
    },
    {
      method: "POST", pattern: "/channels/:channel/typing", auth: true,
      handle: (params) => {
        knownChannel(params.channel ?? "");
        return { status: 204 };
      },
    },
    {
      method: "POST", pattern: "/users/@me/channels", auth: true,
      handle: (_params, call) => {
        const recipientId = (call.body as { recipient_id?: unknown } | null)?.recipient_id;
        if (typeof recipientId !== "string") throw invalidFormBody("recipient_id", "BASE_TYPE_REQUIRED", "This field is required");
        return { status: 200, body: channelPayload(dmChannelFor(user(recipientId))) };
      },
    },
    {
      method: "POST", pattern: "/interactions/:interaction/:token/callback", auth: false,
      handle: (params, call) => {
        const interaction = knownInteraction(params.interaction ?? "", params.token ?? "");
        if (interaction.acknowledged) throw new HttpError(400, { code: 40060, message: "Interaction has already been acknowledged." });
        const body = (call.body ?? {}) as { type?: unknown; data?: Record<string, unknown> };
        const type = typeof body.type === "number" ? body.type : 0;
        if (![1, 4, 5, 6, 7, 8, 9].includes(type)) throw invalidFormBody("type", "BASE_TYPE_CHOICES", "Value must be one of {1, 4, 5, 6, 7, 8, 9, 10, 12}.");
        if (type === 7 && body.data) editMessage(interaction.message, body.data);
        if (type === 4 && body.data) validateContent(body.data.content);
        interaction.acknowledged = true;
        callbacks.push({ interactionId: interaction.id, type, data: body.data ?? null, at: Date.now() });
        if (call.query.with_response !== "true") return { status: 204 };
        return {
          status: 200,
          body: {
            interaction: {
              id: interaction.id, type: 3, activity_instance_id: null, response_message_id: interaction.message.id,
              response_message_loading: false, response_message_ephemeral: false,
            },
            resource: { type, ...(type === 7 ? { message: interaction.message } : {}) },
          },
        };
      },
    },
    {
      method: "POST", pattern: "/webhooks/:application/:token", auth: false,
      handle: (params, call) => {
        const interaction = interactionByToken(params.token ?? "");
        const channel = knownChannel(interaction.message.channel_id);
        return { status: 200, body: createBotMessage(channel, (call.body ?? {}) as Record<string, unknown>) };
      },
    },
    {
      method: "PATCH", pattern: "/webhooks/:application/:token/messages/:message", auth: false,
      handle: (params, call) => {
        const interaction = interactionByToken(params.token ?? "");
        const target = params.message === "@original" ? interaction.message : messages.get(params.message ?? "");
        if (!target) throw new HttpError(404, { code: 10008, message: "Unknown Message" });
        return { status: 200, body: editMessage(target, (call.body ?? {}) as Record<string, unknown>) };
      },
    },
  ];

  const sendJson = (response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    if (status === 204) {
      // A 204 must not carry a JSON content type (discord.js would try to parse the empty body).
      response.writeHead(204, headers);
      response.end();
      return;
    }
    response.writeHead(status, { "content-type": "application/json", ...headers });
    response.end(JSON.stringify(body));
  };

  const failureResponse = (rule: FailureRule): { status: number; body: unknown; headers: Record<string, string> } => {
    const { failure } = rule;
    if (failure.status !== 429) {
      return { status: failure.status, body: { message: failure.message ?? `${failure.status}: Injected failure`, code: failure.code ?? 0 }, headers: {} };
    }
    const retryAfter = failure.retryAfter ?? 1;
    const global = failure.global === true;
    const headers: Record<string, string> = {
      "retry-after": String(retryAfter),
      "x-ratelimit-scope": global ? "global" : "user",
    };
    if (global) headers["x-ratelimit-global"] = "true";
    else {
      Object.assign(headers, {
        "x-ratelimit-limit": "5", "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": ((Date.now() / 1000) + retryAfter).toFixed(3), "x-ratelimit-reset-after": retryAfter.toFixed(3),
        "x-ratelimit-bucket": Buffer.from(`${rule.method} ${rule.pattern}`).toString("hex").slice(0, 32),
      });
    }
    return { status: 429, body: { message: "You are being rate limited.", retry_after: retryAfter, global }, headers };
  };

  const readBody = async (request: IncomingMessage): Promise<unknown> => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    if (raw.length === 0) return null;
    const type = request.headers["content-type"] ?? "";
    if (type.startsWith("application/json")) return JSON.parse(raw.toString("utf8")) as unknown;
    if (type.startsWith("multipart/form-data")) {
      const form = await new Response(raw, { headers: { "content-type": type } }).formData();
      const payload = form.get("payload_json");
      const body = (typeof payload === "string" ? JSON.parse(payload) : {}) as Record<string, unknown>;
      const files: Array<{ name: string; size: number }> = [];
      for (const [, value] of form) if (typeof value !== "string") files.push({ name: value.name, size: value.size });
      return { ...body, files };
    }
    return raw.toString("utf8");
  };

  const onRequest = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const path = url.pathname.startsWith("/api/v10/") ? url.pathname.slice("/api/v10".length) : url.pathname;
    const method = (request.method ?? "GET").toUpperCase();
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) if (typeof value === "string") headers[name] = value;
    const call: DiscordRestCall = { method, path, query: Object.fromEntries(url.searchParams), body: null, headers, status: 0, at: Date.now() };
    restCalls.push(call);
    const answer = (status: number, body: unknown, extraHeaders: Record<string, string> = {}): void => {
      call.status = status;
      sendJson(response, status, body, extraHeaders);
    };
    try {
      call.body = await readBody(request);
    } catch {
      return answer(400, { code: 50109, message: "The request body contains invalid JSON." });
    }
    if (!url.pathname.startsWith("/api/v10/")) return answer(404, { message: "404: Not Found", code: 0 });
    for (const route of routes) {
      if (route.method !== method) continue;
      const params = matchPath(route.pattern, path);
      if (!params) continue;
      if (route.auth && headers.authorization !== `Bot ${token}`) return answer(401, { message: "401: Unauthorized", code: 0 });
      const rule = failures.find((candidate) => candidate.remaining > 0 && candidate.method === method && matchPath(candidate.pattern, path));
      if (rule) {
        rule.remaining -= 1;
        const failure = failureResponse(rule);
        return answer(failure.status, failure.body, failure.headers);
      }
      try {
        const result = route.handle(params, call);
        return answer(result.status, result.body);
      } catch (error) {
        if (error instanceof HttpError) return answer(error.status, error.body);
        throw error;
      }
    }
    return answer(404, { message: "404: Not Found", code: 0 });
  };

  const sockets = new Set<Socket>();
  const server = createServer((request, response) => {
    onRequest(request, response).catch((error: unknown) => {
      if (!response.headersSent) sendJson(response, 500, { message: `discord fake: ${String(error)}`, code: 0 });
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("upgrade", (request, socket, head) => {
    const pathname = new URL(request.url ?? "/", "http://127.0.0.1").pathname;
    if (pathname !== "/gateway" && pathname !== "/resume-gateway") {
      socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n");
      return;
    }
    wss.handleUpgrade(request, socket, head, (webSocket) => onConnection(webSocket, socket, request));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  function origin(scheme: "http" | "ws"): string {
    return `${scheme}://127.0.0.1:${port}`;
  }

  return {
    apiBase: `${origin("http")}/api`,
    gatewayUrl: `${origin("ws")}/gateway`,
    token,
    botUserId,
    applicationId,
    restCalls,
    gatewayEvents,
    gatewayConnections,
    get identifies() { return identifies; },
    get resumes() { return resumes; },
    sentMessages: (channelId) => botMessages.filter((message) => channelId === undefined || message.channel_id === channelId),
    typingCalls: (channelId) => restCalls.filter((call) => call.method === "POST" && call.status === 204 &&
      matchPath("/channels/:channel/typing", call.path) !== null && (channelId === undefined || call.path === `/channels/${channelId}/typing`)),
    interactionCallbacks: () => [...callbacks],
    failNext(route, failure, times = 1) {
      const match = /^(GET|POST|PATCH|PUT|DELETE)\s+(\/\S*)$/i.exec(route.trim());
      if (!match?.[1] || !match[2]) throw new Error(`discord fake: route must look like "POST /channels/:id/messages", got "${route}"`);
      const pattern = match[2].replace(/^\/api/, "").replace(/^\/v10/, "");
      failures.push({ method: match[1].toUpperCase(), pattern, failure, remaining: times });
    },
    pushMessage(input) {
      liveSessions();
      const author = user(input.authorId, input.authorName);
      let channel: FakeChannelRecord;
      let guildId: string | undefined;
      if (input.dm) {
        channel = dmChannelFor(author, input.channelId);
      } else {
        const known = channels.get(input.channelId);
        if (!known || known.type !== 0) throw new Error(`discord fake: unknown guild channel ${input.channelId}; add it to options.guilds`);
        channel = known;
        guildId = input.guildId ?? known.guildId;
      }
      let content = input.content;
      if (input.mentionsBot && !content.includes(`<@${botUserId}>`) && !content.includes(`<@!${botUserId}>`)) content = `<@${botUserId}> ${content}`;
      let referenced: DiscordFakeMessage | undefined;
      if (input.referencedBotMessage) {
        referenced = typeof input.referencedBotMessage === "string"
          ? messages.get(input.referencedBotMessage)
          : botMessages.filter((message) => message.channel_id === channel.id).at(-1);
        if (!referenced) throw new Error(`discord fake: no bot message to reply to in channel ${channel.id}`);
      }
      const message: DiscordFakeMessage = {
        id: snowflake(), type: referenced ? 19 : 0, channel_id: channel.id, ...(guildId ? { guild_id: guildId } : {}),
        author, content, timestamp: new Date().toISOString(), edited_timestamp: null, tts: false, mention_everyone: false,
        mentions: input.mentionsBot ? [botUser] : [], mention_roles: [], attachments: [], embeds: [], components: [],
        pinned: false, flags: 0,
        ...(referenced ? {
          message_reference: { type: 0 as const, message_id: referenced.id, channel_id: channel.id, ...(guildId ? { guild_id: guildId } : {}) },
          referenced_message: referenced,
        } : {}),
      };
      messages.set(message.id, message);
      const member = {
        roles: [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0, nick: null, avatar: null,
        premium_since: null, pending: false, communication_disabled_until: null,
      };
      const extra: Record<string, unknown> = guildId
        ? { channel_type: 0, member, mentions: message.mentions.map((mentioned) => ({ ...mentioned, member: { ...member } })) }
        : { channel_type: 1 };
      dispatchMessage(message, extra);
      return message;
    },
    pushInteraction(input) {
      const targets = liveSessions();
      const channel = channels.get(input.channelId);
      if (!channel) throw new Error(`discord fake: unknown channel ${input.channelId}`);
      const message = input.messageId
        ? messages.get(input.messageId)
        : botMessages.filter((candidate) => candidate.channel_id === channel.id).at(-1);
      if (!message) throw new Error(`discord fake: no bot message with a button in channel ${channel.id}; send one first`);
      const clicker = user(input.userId);
      const interaction: InteractionRecord = { id: snowflake(), token: `interaction-token-${randomBytes(12).toString("hex")}`, acknowledged: false, message };
      interactions.set(interaction.id, interaction);
      const payload = {
        id: interaction.id, application_id: applicationId, type: 3, token: interaction.token, version: 1,
        data: { custom_id: input.customId, component_type: 2 },
        channel_id: channel.id, channel: channelPayload(channel), message,
        ...(channel.guildId
          ? { guild_id: channel.guildId, guild_locale: "en-US", context: 0, authorizing_integration_owners: { "0": channel.guildId },
            member: { user: clicker, roles: [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0, permissions: "1071698660929" } }
          : { user: clicker, context: 1, authorizing_integration_owners: { "0": "1" } }),
        locale: "en-US", app_permissions: "1071698660929", entitlements: [], attachment_size_limit: 10_485_760,
      };
      for (const session of targets) dispatch(session, "INTERACTION_CREATE", payload);
      return { id: interaction.id, token: interaction.token };
    },
    closeConnection(code) {
      for (const connection of [...connections]) closeSocket(connection, code, CLOSE_REASONS[code] ?? "");
    },
    refuseIdentify(code) {
      refusedIdentify = code;
    },
    requestReconnect() {
      for (const connection of connections) sendFrame(connection, { op: Op.Reconnect, d: null });
    },
    zombie(on, zombieOptions = {}) {
      for (const connection of connections) {
        connection.zombie = on;
        if (on && zombieOptions.halfOpen) connection.tcp.pause();
        if (!on) {
          connection.tcp.resume();
          flush(connection);
        }
      }
    },
    connected: () => [...connections].filter((connection) => connection.socket.readyState === connection.socket.OPEN).length,
    async close() {
      for (const connection of connections) connection.socket.terminate();
      wss.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `pattern` segments starting with `:` match any one segment; returns the named values, or null. */
function matchPath(pattern: string, path: string): Record<string, string> | null {
  const patternParts = pattern.split("/");
  const pathParts = path.split("/");
  if (patternParts.length !== pathParts.length) return null;
  const params: Record<string, string> = {};
  for (const [index, part] of patternParts.entries()) {
    const actual = pathParts[index] ?? "";
    if (part.startsWith(":")) {
      if (actual.length === 0) return null;
      params[part.slice(1)] = decodeURIComponent(actual);
    } else if (part !== actual) return null;
  }
  return params;
}
