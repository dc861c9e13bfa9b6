/**
 * The one schema of `openclaw.json`. Loaded lazily (zod costs ~50 ms and ~15 MiB to import),
 * only when there is a config to check. Every object is strict so unknown keys surface as
 * issues — the loader turns those into warnings, never errors.
 */
import { z } from "zod";

const port = z.number().int().min(0).max(65535);
const positiveInt = z.number().int().min(1);
const httpUrl = z.string().regex(/^(https?|wss?):\/\/[^\s]+$/, "expected an http(s):// or ws(s):// URL");

const modelId = z
  .string()
  .regex(/^[A-Za-z0-9._-]+\/[^\s]+$/, "expected provider/model, e.g. anthropic/claude-sonnet-5-5");

const modelRef = z.union([
  modelId,
  z.strictObject({ primary: modelId, fallbacks: z.array(modelId).optional() }),
]);

const dmPolicy = z.enum(["pairing", "allowlist", "open", "disabled"]);
const groupPolicy = z.enum(["allowlist", "open", "disabled"]);
const allowEntry = z.union([z.string().min(1), z.number()]);

const channelCommon = {
  enabled: z.boolean().optional(),
  dmPolicy: dmPolicy.optional(),
  allowFrom: z.array(allowEntry).optional(),
  groupPolicy: groupPolicy.optional(),
  groups: z.union([z.array(allowEntry), z.record(z.string(), z.strictObject({
    requireMention: z.boolean().optional(),
    enabled: z.boolean().optional(),
  }))]).optional(),
  requireMention: z.boolean().optional(),
};

const telegram = z.strictObject({
  ...channelCommon,
  botToken: z.string().min(1).optional(),
  apiRoot: httpUrl.optional(),
  pollingTimeoutSeconds: z.number().int().min(1).max(50).optional(),
  webhook: z.strictObject({
    url: z.string().regex(/^https:\/\/[^\s]+$/, "Telegram only delivers to a public https:// URL"),
    secret: z.string().regex(/^[A-Za-z0-9_-]{1,256}$/, "letters, digits, _ and - (Telegram's rule for secret_token)").optional(),
  }).superRefine((webhook, context) => {
    // Without a secret anyone who finds the URL can post forged updates (a forged YES to an approval).
    if (webhook.secret === undefined) {
      context.addIssue({
        code: "custom",
        path: ["secret"],
        message: "required: without it anyone can post forged updates to the webhook. Add one (letters, digits, _ and -, e.g. from `openssl rand -hex 32`); `faraday deploy fly` and the dashboard generate one when they set a webhook URL",
      });
    }
  }).optional(),
});

const discord = z.strictObject({
  ...channelCommon,
  token: z.string().min(1).optional(),
  apiBase: httpUrl.optional(),
  watchdogSeconds: z.number().int().min(2).max(600).optional(),
});

const whatsapp = z.strictObject({
  ...channelCommon,
  webSocketUrl: z.string().regex(/^wss?:\/\/[^\s]+$/, "expected a ws:// or wss:// URL (default wss://web.whatsapp.com/ws/chat)").optional(),
  keepAliveSeconds: z.number().int().min(1).max(120).optional(),
});

const mcpServer = z.strictObject({
  url: httpUrl.optional(),
  headers: z.record(z.string(), z.string()).optional(),
  command: z.string().min(1).optional(),
  args: z.array(z.string()).optional(),
  env: z.record(z.string(), z.string()).optional(),
  trusted: z.boolean().optional(),
  /** This server is FavCRM under another name (its URL host api.favcrm.io says so anyway). */
  favcrm: z.boolean().optional(),
  enabled: z.boolean().optional(),
  timeoutMs: positiveInt.optional(),
  toolFilter: z.strictObject({
    include: z.array(z.string()).optional(),
    exclude: z.array(z.string()).optional(),
  }).optional(),
  type: z.enum(["http", "streamable-http", "stdio", "sse"]).optional(),
});

const agentId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, "expected letters, digits, - or _ (max 64)");

const agent = z.strictObject({
  id: agentId,
  default: z.boolean().optional(),
  name: z.string().optional(),
  model: modelRef.optional(),
  instructions: z.string().optional(),
});

export const configSchema = z
  .strictObject({
    $schema: z.string().optional(),
    gateway: z.strictObject({
      port: port.optional(),
      bind: z.string().min(1).optional(),
      auth: z.strictObject({ token: z.string().min(16, "use at least 16 characters").optional() }).optional(),
      shutdownTimeoutMs: z.number().int().min(0).max(600_000).optional(),
      publicUrl: httpUrl.optional(),
      /** Count failed sign-ins by Fly's `Fly-Client-IP` header (only behind Fly's proxy). */
      trustProxy: z.boolean().optional(),
      /**
       * Let `PUT /api/config` (and the dashboard) add or change MCP servers that run a program
       * (`command`/`args`/`env`). Read from the file on disk only; a PUT cannot turn it on.
       */
      allowRemoteCommands: z.boolean().optional(),
    }).optional(),
    logging: z.strictObject({
      level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).optional(),
    }).optional(),
    agents: z.strictObject({
      defaults: z.strictObject({
        model: modelRef.optional(),
        maxConcurrent: positiveInt.optional(),
        contextTokens: positiveInt.optional(),
        maxToolRounds: positiveInt.optional(),
      }).optional(),
      list: z.array(agent).optional(),
    }).optional(),
    bindings: z.array(z.strictObject({
      agentId,
      match: z.strictObject({
        channel: z.string().min(1),
        account: z.string().optional(),
        chat: z.union([z.string(), z.number()]).optional(),
      }),
    })).optional(),
    session: z.strictObject({ dmScope: z.enum(["per-peer", "main"]).optional() }).optional(),
    models: z.strictObject({
      providers: z.record(z.string(), z.strictObject({
        apiKey: z.string().min(1).optional(),
        baseUrl: httpUrl.optional(),
        api: z.enum(["anthropic", "openai"]).optional(),
        /** One request's time limit (default 120 000): a hung provider fails the call into a clear reply. */
        timeoutMs: z.number().int().min(100).max(3_600_000).optional(),
        /** Calls to this provider at once; default agents.defaults.maxConcurrent (4). */
        maxConcurrent: positiveInt.optional(),
      })).optional(),
    }).optional(),
    channels: z.strictObject({
      telegram: telegram.optional(),
      discord: discord.optional(),
      whatsapp: whatsapp.optional(),
      web: z.strictObject({ enabled: z.boolean().optional() }).optional(),
    }).optional(),
    mcp: z.strictObject({ servers: z.record(z.string(), mcpServer).optional() }).optional(),
    mcpServers: z.record(z.string(), mcpServer).optional(),
    tools: z.strictObject({
      approvalTimeoutMs: z.number().int().min(10_000).max(24 * 3_600_000).optional(),
      policy: z.array(z.strictObject({
        match: z.string().min(1),
        decision: z.enum(["auto", "confirm", "deny"]),
      })).optional(),
    }).optional(),
  });

/** A validated `openclaw.json`, after `${env:NAME}` interpolation. */
export type FaradayConfig = z.infer<typeof configSchema>;

/** JSON Schema of `openclaw.json` for editors (`"$schema": "..."`). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  return { ...schema, title: "Faraday gateway configuration (openclaw.json)" };
}
