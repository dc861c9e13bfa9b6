import type { FastifyInstance } from "fastify";
import type { FaradayConfig } from "../config/index.ts";
import { isFaradayError } from "../errors/index.ts";
import type { ConfigService } from "../gateway/config-service.ts";
import { sendError } from "../http/index.ts";
import type { Logger } from "../logging/index.ts";
import type { SecretStore } from "../state/index.ts";
import { resolveModelCandidates } from "../agent/models/index.ts";
import { isKeyedProvider, MODEL_KEY_SECRETS, modelKeySource } from "../agent/models/stored-keys.ts";
import type { ChannelControl } from "../channels/channel-control.ts";
import { FAVCRM_SECRET, type McpManager } from "../tools/mcp/index.ts";
import { assertCredentialShape, checkDiscordToken, checkModel, checkTelegramToken } from "./setup-checks.ts";

export interface SetupRoutesDeps {
  readonly config: ConfigService;
  readonly secrets: SecretStore;
  /** The gateway's own environment (where a key set there wins over a stored one). */
  readonly variables: Readonly<Record<string, string | undefined>>;
  /** The environment the model registry reads (the variables, plus stored keys). */
  readonly modelEnv: Readonly<Record<string, string | undefined>>;
  readonly channels: ChannelControl;
  readonly mcp: McpManager;
  /** Whether the web chat has been used (the last step). */
  readonly webChatUsed: () => boolean;
  /** A key was stored: refresh what status says about the model. */
  readonly onModelChanged: () => void;
  readonly logger: Logger;
}

/**
 * Guided setup (`faraday onboard` and the dashboard's Setup page): where each step stands, and
 * one route per step that checks a credential with a real call before keeping it in the secret
 * store — never in openclaw.json.
 */
export function setupRoutes(deps: SetupRoutesDeps) {
  const currentConfig = (): FaradayConfig | undefined => {
    const state = deps.config.current();
    return state.state === "valid" ? state.config : undefined;
  };
  const describe = () => {
    const config = currentConfig();
    const resolved = resolveModelCandidates({
      modelRef: config?.agents?.defaults?.model as Parameters<typeof resolveModelCandidates>[0]["modelRef"],
      providers: config?.models?.providers,
      env: deps.modelEnv,
    });
    const favcrm = deps.mcp.statuses().find((server) => server.name === "favcrm");
    return {
      model: {
        ready: !("error" in resolved),
        ...("error" in resolved ? { reason: resolved.error.userMessage } : { model: resolved.candidates[0]?.ref }),
        keys: Object.fromEntries(Object.keys(MODEL_KEY_SECRETS).map((provider) => [provider, modelKeySource(provider as keyof typeof MODEL_KEY_SECRETS, deps.variables, deps.secrets)])),
      },
      channels: deps.channels.describe(),
      favcrm: favcrm
        ? { configured: !favcrm.authSource.startsWith("none"), state: favcrm.state, reason: favcrm.reason, authSource: favcrm.authSource, toolCount: favcrm.toolCount }
        : { configured: false, state: "disabled", reason: "not in the config" },
      chat: { used: deps.webChatUsed() },
    };
  };

  return (app: FastifyInstance) => {
    app.get("/api/setup", async () => describe());

    app.post("/api/setup/model", async (request, reply) => {
      const body = (request.body ?? {}) as { provider?: unknown; apiKey?: unknown; model?: unknown };
      if (typeof body.provider !== "string" || !isKeyedProvider(body.provider)) {
        return sendError(reply, 400, "BAD_REQUEST", 'send {"provider": "anthropic" | "openai", "apiKey": "…", "model": "optional model name"}');
      }
      if (body.model !== undefined && (typeof body.model !== "string" || !/^[\w.:-]{1,100}$/.test(body.model))) {
        return sendError(reply, 400, "BAD_REQUEST", "model: a model name without the provider, e.g. claude-sonnet-5-5 or gpt-4.1");
      }
      let apiKey: string;
      try {
        apiKey = assertCredentialShape(body.apiKey, "apiKey");
      } catch (error) {
        if (isFaradayError(error)) return sendError(reply, 400, error.code, error.message);
        throw error;
      }
      const provider = body.provider;
      const { secret, variable } = MODEL_KEY_SECRETS[provider];
      const baseUrl = deps.variables[provider === "anthropic" ? "ANTHROPIC_BASE_URL" : "OPENAI_BASE_URL"]?.trim() || undefined;
      const checked = await checkModel({ provider, apiKey, ...(body.model ? { model: body.model } : {}), ...(baseUrl ? { baseUrl } : {}) });
      if (!checked.ok) return sendError(reply, 400, checked.code as "MODEL_AUTH_FAILED", checked.message, { checked: false });
      deps.secrets.set(secret, apiKey);
      request.log.info({ provider, secret, model: checked.model }, "setup: model key checked and kept in the secret store");
      const warnings: string[] = [];
      if (deps.variables[variable]?.trim()) warnings.push(`saved, but ${variable} in the gateway's environment takes precedence over the stored key; remove it to use this one`);
      // A model named explicitly goes into openclaw.json (the key never does).
      const wanted = checked.model;
      if (body.model && wanted && currentConfig()?.agents?.defaults?.model !== wanted) {
        if (deps.config.current().state === "invalid") {
          warnings.push(`the model stays unset: openclaw.json has problems; set agents.defaults.model to "${wanted}" once they are fixed`);
        } else {
          const raw = structuredClone((deps.config.raw() ?? {}) as Record<string, Record<string, Record<string, unknown>>>);
          raw.agents ??= {};
          raw.agents.defaults = { ...(raw.agents.defaults ?? {}), model: wanted };
          const result = await deps.config.update(raw);
          if (!result.ok) warnings.push(`agents.defaults.model could not be set: ${result.problems.map((problem) => problem.message).join("; ")}`);
        }
      }
      deps.onModelChanged();
      return { ok: true, model: wanted, answer: checked.detail, ...(warnings.length ? { warnings } : {}), setup: describe() };
    });

    app.post("/api/setup/channels/:name", async (request, reply) => {
      const { name } = request.params as { name: string };
      if (name !== "telegram" && name !== "discord") {
        return sendError(reply, 404, "NOT_FOUND", name === "whatsapp" ? "WhatsApp has no token: link it with POST /api/channels/whatsapp/login (a QR code)" : `no channel "${name}" with a token; telegram or discord`);
      }
      let token: string;
      try {
        token = assertCredentialShape((request.body as { token?: unknown } | undefined)?.token, "token");
      } catch (error) {
        if (isFaradayError(error)) return sendError(reply, 400, error.code, error.message);
        throw error;
      }
      const settings = currentConfig()?.channels?.[name] as { apiRoot?: string; apiBase?: string; enabled?: boolean } | undefined;
      const checked = name === "telegram" ? await checkTelegramToken(token, settings?.apiRoot) : await checkDiscordToken(token, settings?.apiBase);
      if (!checked.ok) return sendError(reply, 400, checked.code as "CHANNEL_AUTH_FAILED", checked.message, { checked: false });
      const warnings: string[] = [];
      if (settings?.enabled === false) {
        const result = await deps.channels.setEnabled(name, true);
        if (!result.ok) warnings.push(`channels.${name}.enabled stays false: the config has problems`);
      }
      const { warning } = await deps.channels.setToken(name, token);
      if (warning) warnings.push(warning);
      request.log.info({ channel: name }, "setup: bot token checked and kept in the secret store");
      return { ok: true, detail: checked.detail, channel: deps.channels.describe().find((channel) => channel.name === name), ...(warnings.length ? { warnings } : {}) };
    });

    app.post("/api/setup/favcrm", async (request, reply) => {
      let apiKey: string;
      try {
        apiKey = assertCredentialShape((request.body as { apiKey?: unknown } | undefined)?.apiKey, "apiKey");
      } catch (error) {
        if (isFaradayError(error)) return sendError(reply, 400, error.code, error.message);
        throw error;
      }
      if (!apiKey.startsWith("fav_")) return sendError(reply, 400, "BAD_REQUEST", "a FavCRM MCP key starts with fav_mcp_ (FavCRM → Settings → API keys)");
      const previous = deps.secrets.get(FAVCRM_SECRET);
      deps.secrets.set(FAVCRM_SECRET, apiKey);
      deps.mcp.reload();
      const connection = deps.mcp.connection("favcrm");
      await connection?.connect();
      let status = deps.mcp.statuses().find((server) => server.name === "favcrm");
      // Listing tools works without a key (signup); an authenticated read says whether FavCRM takes it.
      const probe = status?.state === "connected" && connection ? await connection.call("list_my_companies", {}) : undefined;
      if (!probe || probe.isError) {
        // Keep what worked before rather than a key FavCRM refused.
        if (previous) deps.secrets.set(FAVCRM_SECRET, previous);
        else deps.secrets.delete(FAVCRM_SECRET);
        deps.mcp.reload();
        const reason = probe ? `FavCRM refused the key: ${probe.content.replaceAll(apiKey, "…")}` : `FavCRM did not accept the connection: ${status?.reason ?? "FavCRM is turned off in the config (mcp.servers.favcrm.enabled)"}`;
        return sendError(reply, 400, probe ? "MCP_AUTH_FAILED" : "MCP_SERVER_UNAVAILABLE", reason, { checked: false });
      }
      await connection?.refresh();
      status = deps.mcp.statuses().find((server) => server.name === "favcrm")!;
      request.log.info({ server: "favcrm", tools: status.toolCount }, "setup: FavCRM key checked and kept in the secret store");
      return { ok: true, detail: `connected, ${status.toolCount} tools`, favcrm: status };
    });
  };
}
