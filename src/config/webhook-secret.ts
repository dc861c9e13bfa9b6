import { randomBytes } from "node:crypto";

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => value !== null && typeof value === "object" && !Array.isArray(value);

function webhookOf(config: unknown): Json | undefined {
  const channels = isObject(config) ? config.channels : undefined;
  const telegram = isObject(channels) ? channels.telegram : undefined;
  const webhook = isObject(telegram) ? telegram.webhook : undefined;
  return isObject(webhook) ? webhook : undefined;
}

/** A new `secret_token` for Telegram's webhook: 64 hex characters (Telegram allows A-Z a-z 0-9 _ -, up to 256). */
export function newWebhookSecret(): string {
  return randomBytes(32).toString("hex");
}

/**
 * A config that sets `channels.telegram.webhook.url` without a `secret` (the dashboard, a PUT)
 * gets one: the current config's secret when it has one, else a new random one. Without a
 * secret anyone could post forged updates, so the schema requires one; this fills it in rather
 * than refusing, because a user who pastes a webhook URL expects it to work. Returns `config`
 * unchanged otherwise (never mutates it).
 */
export function fillWebhookSecret(config: unknown, current: unknown): unknown {
  const webhook = webhookOf(config);
  if (!webhook || typeof webhook.url !== "string" || webhook.secret !== undefined) return config;
  const existing = webhookOf(current)?.secret;
  const secret = typeof existing === "string" && existing !== "" ? existing : newWebhookSecret();
  const root = config as Json;
  const channels = root.channels as Json;
  const telegram = channels.telegram as Json;
  return { ...root, channels: { ...channels, telegram: { ...telegram, webhook: { ...webhook, secret } } } };
}
