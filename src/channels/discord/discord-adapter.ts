import type { Client, Message } from "discord.js";
import { FaradayError } from "../../errors/index.ts";
import type { Logger } from "../../logging/index.ts";
import type { ChannelAdapter, ChannelHooks, InboundMessage, SendOptions } from "../channel-adapter.ts";

export interface DiscordAdapterOptions {
  readonly token: string;
  /** Default https://discord.com/api; a test fake. */
  readonly apiBase?: string;
  readonly logger: Logger;
  /** No heartbeat acknowledged for this long → the connection is dead (default 90 s; Discord beats every ~41 s). */
  readonly watchdogMs?: number;
}

const TEXT_LIMIT = 2000;

/**
 * The gateway close codes after which Discord will not take the session back, with the error
 * @discordjs/ws raises for each (`WebSocketShard.onClose`: these close without `recover`, so the
 * shard stays down, and discord.js emits `ShardDisconnect` only for them — `UNRECOVERABLE_CLOSE_CODES`
 * in discord.js `WebSocketManager`). Each is fatal: retrying cannot fix it.
 */
const FATAL_CLOSES: ReadonlyArray<{ code: number; pattern: RegExp; error: (cause: unknown) => FaradayError }> = [
  {
    code: 4004,
    pattern: /authentication failed|invalid token|TokenInvalid|\b401\b|Unauthorized/i,
    error: (cause) => new FaradayError("CHANNEL_AUTH_FAILED", "Discord rejected the bot token (4004 Authentication failed). Check DISCORD_BOT_TOKEN or channels.discord.token (developer portal → Bot → Reset Token)", { cause }),
  },
  {
    code: 4010,
    pattern: /invalid shard/i,
    error: (cause) => new FaradayError("CHANNEL_NOT_CONFIGURED", "Discord refused the shard (4010 Invalid shard). Faraday connects one shard [0, 1]; restart the channel, and report it if it happens again", { cause }),
  },
  {
    code: 4011,
    pattern: /sharding (is )?required/i,
    error: (cause) => new FaradayError("CHANNEL_NOT_CONFIGURED", "Discord requires sharding for this bot (4011 Sharding required: it is in more than 2,500 servers). Faraday does not shard; use a bot that is in fewer servers", { cause }),
  },
  {
    code: 4012,
    pattern: /invalid api version/i,
    error: (cause) => new FaradayError("CHANNEL_NOT_CONFIGURED", "Discord refused the gateway API version (4012 Invalid API version). Update Faraday (its discord.js is too old for Discord)", { cause }),
  },
  {
    code: 4013,
    pattern: /invalid intent/i,
    error: (cause) => new FaradayError("CHANNEL_NOT_CONFIGURED", "Discord refused the intents Faraday asked for (4013 Invalid intents). Update Faraday, and report it if it persists", { cause }),
  },
  {
    code: 4014,
    pattern: /disallowed intent/i,
    error: (cause) => new FaradayError(
      "CHANNEL_INTENTS_DISALLOWED",
      "Discord refused the Message Content intent (4014 \"Used disallowed intents\"). Turn on \"Message Content Intent\" under Bot → Privileged Gateway Intents in the Discord developer portal, then restart the channel",
      { cause },
    ),
  },
];

/** discord.js rejects login with a plain Error ("Authentication failed", "Used disallowed intents", …) after a fatal close. */
function describeDiscordError(error: unknown): Error {
  const text = String((error as Error)?.message ?? error);
  const code = (error as { code?: unknown })?.code;
  const fatal = FATAL_CLOSES.find((entry) => entry.code === code || entry.pattern.test(text) || new RegExp(`\\b${entry.code}\\b`).test(text));
  if (fatal) return fatal.error(error);
  return error instanceof Error ? error : new Error(text);
}

/**
 * Discord through discord.js: guild messages, DMs (needs Partials.Channel) and message content;
 * an `error` listener (without one an async throw kills the process); bounded caches; mentions
 * can never ping @everyone. discord.js resumes after 1006/4000 by itself; if it stays down past
 * the watchdog, the supervisor rebuilds the client.
 */
export function createDiscordAdapter(options: DiscordAdapterOptions): ChannelAdapter {
  let client: Client | undefined;
  let liveness: NodeJS.Timeout | undefined;

  function normalise(message: Message, botId: string): InboundMessage | undefined {
    if (message.author.bot || message.system || !message.content) return undefined;
    const dm = message.guildId === null;
    const mentioned = message.mentions.users.has(botId);
    const repliedToBot = message.mentions.repliedUser?.id === botId;
    return {
      channel: "discord",
      account: botId,
      chat: message.channelId,
      chatType: dm ? "dm" : "group",
      sender: message.author.id,
      senderName: message.author.globalName ?? message.author.username,
      text: message.content.replace(new RegExp(`<@!?${botId}>`, "g"), "").trim() || message.content,
      platformId: message.id,
      addressedToBot: mentioned || repliedToBot,
    };
  }

  return {
    name: "discord",
    textLimit: TEXT_LIMIT,
    watchdogMs: options.watchdogMs ?? 90_000,

    async start(hooks: ChannelHooks, failed) {
      const discord = await import("discord.js");
      const { GatewayIntentBits, Partials, Events, Options } = discord;
      const created = new discord.Client({
        intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.DirectMessages, GatewayIntentBits.MessageContent],
        partials: [Partials.Channel],
        ...(options.apiBase ? { rest: { api: options.apiBase } } : {}),
        allowedMentions: { parse: [], repliedUser: false },
        // Caches other than messages grow without bound by default.
        makeCache: Options.cacheWithLimits({
          ...Options.DefaultMakeCacheSettings,
          MessageManager: 20,
          GuildMemberManager: 50,
          UserManager: 200,
          PresenceManager: 0,
          ReactionManager: 0,
          GuildMessageManager: 20,
        }),
        sweepers: { ...Options.DefaultSweeperSettings, messages: { interval: 1_800, lifetime: 900 } },
      });
      client = created;
      created.on(Events.Error, (error) => options.logger.warn({ err: error.message }, "discord client error"));
      // discord.js emits ShardDisconnect only for the fatal close codes, after which the shard has
      // stopped for good (it resumes after the others by itself): say why, and stop retrying.
      created.on(Events.ShardDisconnect, (event) => {
        const fatal = FATAL_CLOSES.find((entry) => entry.code === event.code);
        failed(fatal ? fatal.error(new Error(`Discord gateway closed with ${event.code}`)) : new FaradayError("CHANNEL_UNAVAILABLE", `Discord gateway closed with ${event.code} and the shard stopped; reconnecting`));
      });
      // Every other close: discord.js resumes (or identifies again) by itself; say so meanwhile.
      created.on(Events.ShardReconnecting, () => hooks.setState("reconnecting", "gateway connection lost; discord.js is resuming it"));
      created.on(Events.ShardResume, () => {
        hooks.setState("connected", "resumed");
        hooks.alive();
      });
      created.on(Events.ShardReady, () => {
        hooks.setState("connected", "listening");
        hooks.alive();
      });
      created.on(Events.MessageCreate, async (message) => {
        const normalised = created.user ? normalise(message, created.user.id) : undefined;
        if (!normalised) return;
        try {
          await hooks.receive(normalised);
        } catch (error) {
          failed(error instanceof Error ? error : new Error(String(error)));
        }
      });
      created.on(Events.InteractionCreate, async (interaction) => {
        if (!interaction.isButton()) return;
        await hooks.action({
          channel: "discord",
          chat: interaction.channelId,
          sender: interaction.user.id,
          data: interaction.customId,
          acknowledge: async (text) => {
            await interaction.reply({ content: text ?? "OK", ephemeral: true }).catch(() => {});
          },
        });
      });
      try {
        await created.login(options.token);
        if (!created.isReady()) await new Promise<void>((resolve) => created.once(Events.ClientReady, () => resolve()));
      } catch (error) {
        await created.destroy().catch(() => {});
        client = undefined;
        throw describeDiscordError(error);
      }
      hooks.alive();
      // Alive means a heartbeat was acknowledged: a half-open socket keeps isReady() true for
      // ~30 s while nothing arrives (the "status OK while dead" failure), but stops the ACKs.
      let lastPing = -1;
      liveness = setInterval(() => {
        const ping = created.ws.shards.first()?.lastPingTimestamp ?? -1;
        if (ping !== lastPing && ping > 0) {
          lastPing = ping;
          hooks.alive();
        }
      }, Math.min(5_000, Math.max(100, Math.floor((options.watchdogMs ?? 90_000) / 10))));
      liveness.unref();
    },

    async stop() {
      clearInterval(liveness);
      const current = client;
      client = undefined;
      await current?.destroy().catch(() => {});
    },

    async sendText(chat: string, text: string, sendOptions?: SendOptions) {
      if (!client) throw new FaradayError("CHANNEL_UNAVAILABLE", "Discord is not connected; the reply stays queued");
      const channel = await client.channels.fetch(chat);
      if (!channel || !channel.isSendable()) throw new FaradayError("CHANNEL_UNAVAILABLE", `cannot send to Discord channel ${chat}`);
      const { ActionRowBuilder, ButtonBuilder, ButtonStyle } = await import("discord.js");
      const components = sendOptions?.buttons?.length
        ? [new ActionRowBuilder<InstanceType<typeof ButtonBuilder>>().addComponents(
            sendOptions.buttons.map((button, index) => new ButtonBuilder().setCustomId(button.data).setLabel(button.label).setStyle(index === 0 ? ButtonStyle.Primary : ButtonStyle.Secondary)),
          )]
        : [];
      const sent = await channel.send({ content: text, allowedMentions: { parse: [] }, ...(components.length ? { components } : {}) });
      return sent.id;
    },

    async sendTyping(chat: string) {
      const channel = await client?.channels.fetch(chat);
      if (channel?.isSendable()) await channel.sendTyping();
    },
  };
}
