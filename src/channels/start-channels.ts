import type { FaradayConfig } from "../config/index.ts";
import type { Database, SecretStore } from "../state/index.ts";
import type { Logger } from "../logging/index.ts";
import type { ChannelService } from "./channel-service.ts";
import type { TelegramWebhookSink } from "./telegram/telegram-adapter.ts";
import type { WhatsAppAdapter } from "./whatsapp/whatsapp-adapter.ts";

/** Secret-store names of channel credentials entered on the dashboard. */
export const CHANNEL_SECRETS = { telegram: "telegram.botToken", discord: "discord.token" } as const;

/** Where each bot token can come from, in order of precedence. */
const TOKEN_SOURCES = {
  telegram: { configKey: "botToken", env: "TELEGRAM_BOT_TOKEN" },
  discord: { configKey: "token", env: "DISCORD_BOT_TOKEN" },
} as const;

export interface BotToken {
  readonly value: string;
  readonly source: "config" | "env" | "secret-store";
  /** Where to change it, in words: `channels.telegram.botToken in openclaw.json`, `TELEGRAM_BOT_TOKEN`. */
  readonly origin: string;
}

/** A bot channel's token: the config's, else the environment's, else the one entered on the dashboard. */
export function botToken(
  name: "telegram" | "discord",
  config: FaradayConfig | undefined,
  env: Readonly<Record<string, string | undefined>>,
  secrets: SecretStore,
): BotToken | undefined {
  const { configKey, env: envName } = TOKEN_SOURCES[name];
  const fromConfig = (config?.channels?.[name] as Record<string, unknown> | undefined)?.[configKey];
  if (typeof fromConfig === "string" && fromConfig) return { value: fromConfig, source: "config", origin: `channels.${name}.${configKey} in openclaw.json` };
  if (env[envName]) return { value: env[envName], source: "env", origin: envName };
  const stored = secrets.get(CHANNEL_SECRETS[name]);
  return stored ? { value: stored, source: "secret-store", origin: "the dashboard (secret store)" } : undefined;
}

/**
 * Start every enabled channel. A channel is enabled when its config block says so, or when its
 * token is present and the config does not disable it. Libraries load only for enabled channels.
 */
export interface StartChannelsInput {
  service: ChannelService;
  config: FaradayConfig | undefined;
  env: Readonly<Record<string, string | undefined>>;
  secrets: SecretStore;
  database: Database;
  logger: Logger;
}

export interface StartedChannels {
  telegramWebhook?: TelegramWebhookSink;
  whatsapp?: WhatsAppAdapter;
}

export async function startChannels(input: StartChannelsInput): Promise<StartedChannels> {
  const { service, config, env, secrets, logger } = input;
  const result: StartedChannels = {};

  const telegram = config?.channels?.telegram;
  const telegramToken = botToken("telegram", config, env, secrets)?.value;
  if (telegram?.enabled === false) service.reportUnavailable("telegram", "disabled", "enabled: false");
  else if (telegram?.enabled === true || telegramToken) {
    if (!telegramToken) service.reportUnavailable("telegram", "failed", "no bot token: set TELEGRAM_BOT_TOKEN (from @BotFather) or channels.telegram.botToken");
    else {
      const { createTelegramAdapter } = await import("./telegram/telegram-adapter.ts");
      const adapter = createTelegramAdapter({
        token: telegramToken,
        ...(telegram?.apiRoot ? { apiRoot: telegram.apiRoot } : {}),
        ...(telegram?.pollingTimeoutSeconds ? { pollingTimeoutSeconds: telegram.pollingTimeoutSeconds } : {}),
        ...(telegram?.webhook ? { webhook: telegram.webhook } : {}),
        logger,
      });
      if (telegram?.webhook) result.telegramWebhook = adapter.webhook;
      service.add(adapter);
    }
  }

  const discord = config?.channels?.discord;
  const discordToken = botToken("discord", config, env, secrets)?.value;
  if (discord?.enabled === false) service.reportUnavailable("discord", "disabled", "enabled: false");
  else if (discord?.enabled === true || discordToken) {
    if (!discordToken) service.reportUnavailable("discord", "failed", "no bot token: set DISCORD_BOT_TOKEN (Discord developer portal → Bot → Reset Token) or channels.discord.token");
    else {
      const { createDiscordAdapter } = await import("./discord/discord-adapter.ts");
      service.add(createDiscordAdapter({
        token: discordToken,
        ...(discord?.apiBase ? { apiBase: discord.apiBase } : {}),
        ...(discord?.watchdogSeconds ? { watchdogMs: discord.watchdogSeconds * 1000 } : {}),
        logger,
      }));
    }
  }

  // WhatsApp: enabled by config, or by a link made earlier (creds in the database).
  const whatsapp = config?.channels?.whatsapp;
  if (whatsapp?.enabled === false) service.reportUnavailable("whatsapp", "disabled", "enabled: false");
  else {
    const { WhatsAppAuthStore } = await import("./whatsapp/auth-store.ts");
    if (whatsapp?.enabled === true || new WhatsAppAuthStore(input.database).isLinked()) result.whatsapp = await addWhatsApp(input);
  }
  return result;
}

/**
 * Put WhatsApp under supervision (it reports `logged_out` until linked). Called at start when
 * enabled, and by the login API on a gateway where WhatsApp was never set up. Baileys itself
 * loads only when a socket is opened.
 */
export async function addWhatsApp(input: StartChannelsInput): Promise<WhatsAppAdapter> {
  const { service, config, database, logger } = input;
  const existing = service.adapter("whatsapp") as WhatsAppAdapter | undefined;
  if (existing) return existing;
  const settings = config?.channels?.whatsapp;
  const [{ WhatsAppAuthStore }, { createWhatsAppAdapter }, { baileysTransportFactory }, { WhatsAppDeviceCache }, { WhatsAppSentMessageStore }] = await Promise.all([
    import("./whatsapp/auth-store.ts"),
    import("./whatsapp/whatsapp-adapter.ts"),
    import("./whatsapp/baileys-transport.ts"),
    import("./whatsapp/device-cache.ts"),
    import("./whatsapp/sent-message-store.ts"),
  ]);
  const store = new WhatsAppAuthStore(database);
  const keepAliveMs = settings?.keepAliveSeconds ? settings.keepAliveSeconds * 1000 : undefined;
  const adapter = createWhatsAppAdapter({
    connect: baileysTransportFactory({
      store,
      ...(settings?.webSocketUrl ? { webSocketUrl: settings.webSocketUrl } : {}),
      ...(keepAliveMs ? { keepAliveMs } : {}),
      deviceCache: new WhatsAppDeviceCache(database),
      sentMessages: new WhatsAppSentMessageStore(database),
      logger,
    }),
    store,
    knownChat: (chat) => service.knownChat("whatsapp", chat),
    selfChat: settings?.selfChat ?? true,
    onLinked: () => void service.restart("whatsapp"),
    logger,
    ...(keepAliveMs ? { keepAliveMs } : {}),
  });
  service.add(adapter);
  return adapter;
}
