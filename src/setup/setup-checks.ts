/**
 * The live checks of guided setup: one real call with a credential before it is kept, so the
 * person sees the provider's own answer (or its own error) at the step where they can fix it.
 */
import { FaradayError } from "../errors/index.ts";
import { createAnthropicClient, createOpenAIClient, DEFAULT_ANTHROPIC_MODEL, DEFAULT_OPENAI_MODEL, ModelError } from "../agent/models/index.ts";
import type { KeyedProvider } from "../agent/models/stored-keys.ts";

export interface ModelCheckInput {
  readonly provider: KeyedProvider;
  readonly apiKey: string;
  /** Model name without the provider (default: the gateway's default for the provider). */
  readonly model?: string;
  /** From the gateway's environment (ANTHROPIC_BASE_URL / OPENAI_BASE_URL). */
  readonly baseUrl?: string;
  readonly timeoutMs?: number;
}

export type CheckResult =
  | { readonly ok: true; readonly detail: string; readonly [key: string]: unknown }
  | { readonly ok: false; readonly code: string; readonly message: string };

const SETUP_PROMPT = "Someone is setting up their Faraday gateway and this is its first test call. Say hello to them in one short sentence.";

/** One small real request to the model: its answer, or the provider's error (key redacted). */
export async function checkModel(input: ModelCheckInput): Promise<CheckResult & { model?: string }> {
  const ref = input.model ? `${input.provider}/${input.model}` : input.provider === "anthropic" ? DEFAULT_ANTHROPIC_MODEL : DEFAULT_OPENAI_MODEL;
  const options = {
    apiKey: input.apiKey,
    provider: input.provider,
    keySource: "the key you entered",
    timeoutMs: input.timeoutMs ?? 30_000,
    ...(input.baseUrl ? { baseUrl: input.baseUrl } : {}),
  };
  const client = input.provider === "anthropic" ? createAnthropicClient(options) : createOpenAIClient(options);
  try {
    const response = await client.complete({ model: ref.slice(ref.indexOf("/") + 1), system: "You are a helpful assistant.", messages: [{ role: "user", content: SETUP_PROMPT }], tools: [], maxTokens: 100 });
    return { ok: true, detail: response.text.trim() || "(an empty answer)", model: ref };
  } catch (error) {
    if (error instanceof ModelError) return { ok: false, code: error.code, message: `${error.message}. ${error.userMessage}` };
    throw error;
  }
}

/** Telegram's getMe through grammY (against `apiRoot` when set): the bot's @name, or Telegram's error. */
export async function checkTelegramToken(token: string, apiRoot?: string): Promise<CheckResult> {
  const { Api, GrammyError, HttpError } = await import("grammy");
  const api = new Api(token, apiRoot ? { apiRoot: apiRoot.replace(/\/+$/, "") } : {});
  try {
    const me = await api.getMe();
    return { ok: true, detail: `@${me.username}`, username: me.username, name: me.first_name };
  } catch (error) {
    if (error instanceof GrammyError) {
      const fix = error.error_code === 401 || error.error_code === 404 ? " — copy the token again from @BotFather (/token)" : "";
      return { ok: false, code: "CHANNEL_AUTH_FAILED", message: `Telegram answered ${error.error_code}: ${error.description}${fix}` };
    }
    if (error instanceof HttpError) return { ok: false, code: "CHANNEL_UNAVAILABLE", message: `cannot reach Telegram${apiRoot ? ` at ${apiRoot}` : ""}: ${error.message.replace(token, "…")}` };
    throw error;
  }
}

/** Discord's GET /gateway/bot through discord.js's REST client (what login asks first): Discord's own error when the token is wrong. */
export async function checkDiscordToken(token: string, apiBase?: string): Promise<CheckResult> {
  const { REST, Routes, DiscordAPIError } = await import("discord.js");
  const rest = new REST({ version: "10", retries: 0, timeout: 15_000, ...(apiBase ? { api: apiBase } : {}) }).setToken(token);
  try {
    const answer = (await rest.get(Routes.gatewayBot())) as { shards?: number };
    return { ok: true, detail: `token accepted (${answer.shards ?? 1} shard${answer.shards === 1 ? "" : "s"})` };
  } catch (error) {
    if (error instanceof DiscordAPIError) {
      return { ok: false, code: "CHANNEL_AUTH_FAILED", message: `Discord answered ${error.status}: ${error.message} — reset the token in the Developer Portal (your app → Bot → Reset Token) and paste the new one` };
    }
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, code: "CHANNEL_UNAVAILABLE", message: `cannot reach Discord: ${message.replace(token, "…")}` };
  }
}

/** Refuse a value that cannot be a credential (empty, whitespace inside, absurd length). */
export function assertCredentialShape(value: unknown, what: string): string {
  if (typeof value !== "string" || !/^\S{8,500}$/.test(value.trim())) {
    throw new FaradayError("BAD_REQUEST", `${what}: paste the whole value (no spaces, 8 to 500 characters)`);
  }
  return value.trim();
}
