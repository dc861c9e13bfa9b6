import type { FaradayConfig } from "../config/index.ts";
import type { ComponentRegistry } from "../gateway/components.ts";
import type { ConfigService, ConfigUpdateResult } from "../gateway/config-service.ts";
import type { SecretStore } from "../state/index.ts";
import type { ChannelService } from "./channel-service.ts";
import { botToken, CHANNEL_SECRETS } from "./start-channels.ts";
import type { TelegramWebhookSink } from "./telegram/telegram-adapter.ts";
import type { WhatsAppAdapter } from "./whatsapp/whatsapp-adapter.ts";

export const CHANNEL_NAMES = ["telegram", "discord", "whatsapp"] as const;
export type ChannelName = (typeof CHANNEL_NAMES)[number];

export function isChannelName(name: string): name is ChannelName {
  return (CHANNEL_NAMES as readonly string[]).includes(name);
}

export interface ChannelDescription {
  readonly name: ChannelName;
  readonly state: string;
  readonly reason: string;
  /** Runs (or tries to): `enabled: true`, or a credential and not `enabled: false`. */
  readonly enabled: boolean;
  /** Where the credential comes from; `hint` is its last 4 characters, never more. */
  readonly credential: { readonly source: "env" | "config" | "secret-store" | "linked" | null; readonly hint?: string };
}

export interface ChannelControlDeps {
  readonly config: ConfigService;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly secrets: SecretStore;
  readonly components: ComponentRegistry;
  readonly service: () => ChannelService | undefined;
  readonly telegramWebhook: () => TelegramWebhookSink | undefined;
  /** The WhatsApp adapter; `create` puts it under supervision on a gateway that never had it. */
  readonly whatsapp: (create: boolean) => Promise<WhatsAppAdapter | undefined>;
  /** Restart every channel (after a token change): the same path a config change takes. */
  readonly restartAll: () => Promise<void>;
}

/** What the dashboard and CLI can do to channels, over the same rules as the config file. */
export class ChannelControl {
  readonly deps: ChannelControlDeps;

  constructor(deps: ChannelControlDeps) {
    this.deps = deps;
  }

  #config(): FaradayConfig | undefined {
    const state = this.deps.config.current();
    return state.state === "valid" ? state.config : undefined;
  }

  describe(): ChannelDescription[] {
    const config = this.#config();
    const running = new Map((this.deps.service()?.states() ?? []).map((entry) => [entry.name, entry]));
    const components = new Map(this.deps.components.list().map((component) => [component.name, component]));
    return CHANNEL_NAMES.map((name) => {
      const settings = config?.channels?.[name] as { enabled?: boolean } | undefined;
      const live = running.get(name) ?? components.get(`channel:${name}`);
      let credential: ChannelDescription["credential"] = { source: null };
      if (name === "whatsapp") {
        const whatsapp = running.has("whatsapp") ? (this.deps.service()?.adapter("whatsapp") as WhatsAppAdapter | undefined) : undefined;
        const account = whatsapp?.loginStatus().account;
        if (account) credential = { source: "linked", hint: account };
      } else {
        const token = botToken(name, config, this.deps.env, this.deps.secrets);
        if (token) credential = { source: token.source, hint: `…${token.value.slice(-4)}` };
      }
      return {
        name,
        state: live?.state ?? "disabled",
        reason: live?.reason ?? (settings?.enabled === false ? "enabled: false" : "not set up"),
        // The same rule startChannels applies: on when the config says so, or when it has a
        // credential (a token, a link) and the config does not switch it off.
        enabled: settings?.enabled === true || (settings?.enabled !== false && credential.source !== null),
        credential,
      };
    });
  }

  /** Store a bot token in the secret store and restart channels so it takes effect. */
  async setToken(name: "telegram" | "discord", token: string): Promise<{ warning?: string }> {
    this.deps.secrets.set(CHANNEL_SECRETS[name], token);
    const used = botToken(name, this.#config(), this.deps.env, this.deps.secrets);
    await this.deps.restartAll();
    return used && used.source !== "secret-store" ? { warning: `saved, but ${used.origin} takes precedence over the stored token; remove it to use this one` } : {};
  }

  /** Switch a channel on or off in openclaw.json (validated and written like PUT /api/config). */
  async setEnabled(name: ChannelName, enabled: boolean): Promise<ConfigUpdateResult> {
    const raw = structuredClone((this.deps.config.raw() ?? {}) as Record<string, unknown>);
    const channels = (raw.channels ??= {}) as Record<string, Record<string, unknown>>;
    channels[name] = { ...(channels[name] ?? {}), enabled };
    return this.deps.config.update(raw);
  }
}
