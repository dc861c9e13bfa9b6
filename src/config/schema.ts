/**
 * The one schema of `openclaw.json`. Loaded lazily (zod costs ~50 ms and ~15 MiB to import),
 * only when there is a config to check. Every object is strict so unknown keys surface as
 * issues — the loader turns those into warnings, never errors.
 */
import { Cron } from "croner";
import { z } from "zod";

/**
 * What `faraday config schema` shows in an editor's hover and completion: a sentence and an
 * example for every key (zod 4 carries `.meta()` into the JSON Schema as description/examples).
 */
const doc = (description: string, ...examples: unknown[]) => ({ description, examples });

const port = z.number().int().min(0).max(65535);
const positiveInt = z.number().int().min(1);
const httpUrl = z.string().regex(/^(https?|wss?):\/\/[^\s]+$/, "expected an http(s):// or ws(s):// URL");

const modelId = z
  .string()
  .regex(/^[A-Za-z0-9._-]+\/[^\s]+$/, "expected provider/model, e.g. anthropic/claude-sonnet-5-5");

const modelRef = z.union([
  modelId,
  z.strictObject({
    primary: modelId.meta(doc("The model asked first, as provider/model.", "anthropic/claude-sonnet-5-5")),
    fallbacks: z.array(modelId).meta(doc("Models tried in order when the primary fails (rate limit, outage, refused key).", ["openai/gpt-4.1"])).optional(),
  }),
]).meta(doc(
  "The model as provider/model, or {primary, fallbacks}. Providers: anthropic, openai, or a name under models.providers; provider/* takes the one model a local server lists.",
  "anthropic/claude-sonnet-5-5",
  { primary: "anthropic/claude-sonnet-5-5", fallbacks: ["openai/gpt-4.1"] },
  "local/llama3.1",
));

const dmPolicy = z.enum(["pairing", "allowlist", "open", "disabled"]);
const groupPolicy = z.enum(["allowlist", "open", "disabled"]);
const allowEntry = z.union([z.string().min(1), z.number()]);

const channelCommon = {
  enabled: z.boolean().meta(doc("Start this channel (it also needs its token or link).", true)).optional(),
  dmPolicy: dmPolicy.meta(doc("Who may write in direct messages: pairing (a code the owner approves, default), allowlist (only allowFrom), open (anyone), disabled.", "pairing")).optional(),
  allowFrom: z.array(allowEntry).meta(doc("User ids (or @usernames / phone numbers, per platform) always admitted.", ["123456789"])).optional(),
  groupPolicy: groupPolicy.meta(doc("Groups the assistant answers in: allowlist (only groups), open (any), disabled.", "allowlist")).optional(),
  groups: z.union([z.array(allowEntry), z.record(z.string(), z.strictObject({
    requireMention: z.boolean().meta(doc("In this group, answer only when mentioned.", true)).optional(),
    enabled: z.boolean().meta(doc("Answer in this group at all.", true)).optional(),
  }))]).meta(doc("Allowed group ids, or per-group settings keyed by id.", ["-1001234567890"], { "-1001234567890": { requireMention: true } })).optional(),
  requireMention: z.boolean().meta(doc("In groups, answer only when the bot is mentioned or replied to.", true)).optional(),
  owners: z.array(allowEntry).meta(doc("The business owner(s) on this channel: Telegram/Discord user ids, WhatsApp E.164 numbers. Owners get the full agent, answer customers' approvals, and get the heartbeat and jobs with deliverTo \"owners\"; everyone else admitted is a customer.", ["123456789"], ["+85291234567"])).optional(),
};

const telegram = z.strictObject({
  ...channelCommon,
  botToken: z.string().min(1).meta(doc("The bot token from @BotFather. Better: TELEGRAM_BOT_TOKEN or `faraday secrets set telegram.botToken`, or ${env:NAME}.", "${env:TELEGRAM_BOT_TOKEN}")).optional(),
  apiRoot: httpUrl.meta(doc("Bot API server (a self-hosted telegram-bot-api).", "https://api.telegram.org")).optional(),
  pollingTimeoutSeconds: z.number().int().min(1).max(50).meta(doc("Long-polling timeout per getUpdates call, in seconds.", 30)).optional(),
  webhook: z.strictObject({
    url: z.string().regex(/^https:\/\/[^\s]+$/, "Telegram only delivers to a public https:// URL").meta(doc("Public https:// address Telegram posts updates to (instead of long polling).", "https://my-app.fly.dev/channels/telegram/webhook")),
    secret: z.string().regex(/^[A-Za-z0-9_-]{1,256}$/, "letters, digits, _ and - (Telegram's rule for secret_token)").meta(doc("secret_token Telegram sends back in a header, so forged updates are refused. Required with a webhook; `faraday deploy fly` and the dashboard generate one.", "${env:TELEGRAM_WEBHOOK_SECRET}")).optional(),
  }).superRefine((webhook, context) => {
    // Without a secret anyone who finds the URL can post forged updates (a forged YES to an approval).
    if (webhook.secret === undefined) {
      context.addIssue({
        code: "custom",
        path: ["secret"],
        message: "required: without it anyone can post forged updates to the webhook. Add one (letters, digits, _ and -, e.g. from `openssl rand -hex 32`); `faraday deploy fly` and the dashboard generate one when they set a webhook URL",
      });
    }
  }).meta(doc("Receive updates by webhook rather than long polling.", { url: "https://my-app.fly.dev/channels/telegram/webhook", secret: "${env:TELEGRAM_WEBHOOK_SECRET}" })).optional(),
}).meta(doc("Telegram bot (grammY).", { enabled: true, dmPolicy: "pairing" }));

const discord = z.strictObject({
  ...channelCommon,
  token: z.string().min(1).meta(doc("The bot token (Developer Portal → Bot). Better: DISCORD_BOT_TOKEN or `faraday secrets set discord.token`.", "${env:DISCORD_BOT_TOKEN}")).optional(),
  apiBase: httpUrl.meta(doc("Discord REST base URL.", "https://discord.com/api")).optional(),
  watchdogSeconds: z.number().int().min(2).max(600).meta(doc("Restart the connection when no gateway event arrived for this long.", 120)).optional(),
}).meta(doc("Discord bot (discord.js).", { enabled: true, dmPolicy: "pairing" }));

const whatsapp = z.strictObject({
  ...channelCommon,
  webSocketUrl: z.string().regex(/^wss?:\/\/[^\s]+$/, "expected a ws:// or wss:// URL (default wss://web.whatsapp.com/ws/chat)").meta(doc("WhatsApp Web socket address.", "wss://web.whatsapp.com/ws/chat")).optional(),
  keepAliveSeconds: z.number().int().min(1).max(120).meta(doc("Keep-alive ping interval, in seconds.", 30)).optional(),
  selfChat: z.boolean().meta(doc("Answer in the linked account's own \"Message yourself\" chat: it is the owner's direct line to the assistant (default on). The owner's messages in other chats are never prompts, and the gateway never answers its own replies.", true)).optional(),
}).meta(doc("WhatsApp (Baileys): link with `faraday channels login whatsapp` or the dashboard's QR.", { enabled: true, dmPolicy: "pairing" }));

const mcpServer = z.strictObject({
  url: httpUrl.meta(doc("Streamable HTTP endpoint of the server.", "https://api.favcrm.io/mcp")).optional(),
  headers: z.record(z.string(), z.string()).meta(doc("HTTP headers sent with every request; use ${env:NAME} for keys.", { Authorization: "Bearer ${env:FAVCRM_API_KEY}" })).optional(),
  command: z.string().min(1).meta(doc("Program to start for a stdio server.", "npx")).optional(),
  args: z.array(z.string()).meta(doc("Its arguments.", ["-y", "@modelcontextprotocol/server-everything"])).optional(),
  env: z.record(z.string(), z.string()).meta(doc("Environment for the stdio server (it gets a minimal one otherwise).", { API_KEY: "${env:MY_SERVER_KEY}" })).optional(),
  trusted: z.boolean().meta(doc("Believe the server's tool annotations (read-only tools run without asking).", false)).optional(),
  favcrm: z.boolean().meta(doc("This server is FavCRM under another name, so FavCRM's protections apply (a URL host of *.favcrm.io says so anyway).", true)).optional(),
  enabled: z.boolean().meta(doc("Connect to this server.", true)).optional(),
  timeoutMs: positiveInt.meta(doc("Per-call timeout in milliseconds.", 60000)).optional(),
  toolFilter: z.strictObject({
    include: z.array(z.string()).meta(doc("Only these tools (names or * patterns).", ["list_*", "get_*"])).optional(),
    exclude: z.array(z.string()).meta(doc("Never these tools.", ["send_campaign"])).optional(),
  }).meta(doc("Which of the server's tools the agent sees.", { exclude: ["send_campaign"] })).optional(),
  type: z.enum(["http", "streamable-http", "stdio", "sse"]).meta(doc("Transport; inferred from url/command when absent.", "http")).optional(),
}).meta(doc("One MCP server: url (HTTP) or command (stdio).", { url: "https://api.favcrm.io/mcp", headers: { Authorization: "Bearer ${env:FAVCRM_API_KEY}" } }));

/** An IANA time zone name Intl knows (`Europe/London`, `Asia/Hong_Kong`, `UTC`). */
const timeZone = z.string().refine((zone) => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}, "expected an IANA time zone such as Europe/London or Asia/Hong_Kong");

const agentId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, "expected letters, digits, - or _ (max 64)");

const role = z.enum(["owner", "customer"]);

const cronExpression = z.string().min(1).refine((value) => {
  try {
    new Cron(value);
    return true;
  } catch {
    return false;
  }
}, "expected a cron expression such as \"0 9 * * 1-5\" (minute hour day month weekday)");

const heartbeat = z.strictObject({
  every: z.string().regex(/^\d+\s*(s|m|h)$/, "expected a duration such as 30m or 1h").meta(doc("How often the agent reads its HEARTBEAT.md and checks whether there is anything to tell the owners.", "30m")),
  activeHours: z.string().regex(/^\d{1,2}:\d{2}-\d{1,2}:\d{2}$/, "expected HH:MM-HH:MM, e.g. 08:00-22:00").meta(doc("Local hours the heartbeat runs in (cron.timezone); outside them it waits.", "08:00-22:00")).optional(),
  model: modelId.meta(doc("A cheaper model for heartbeats, as provider/model.", "anthropic/claude-haiku-4-5")).optional(),
}).meta(doc("A periodic, silent-unless-needed check against agents/<id>/HEARTBEAT.md; it messages the owners only when it has something to say.", { every: "30m", activeHours: "08:00-22:00" }));

const cronJob = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "expected letters, digits, ., - or _ (max 64)").meta(doc("Unique id of the job (faraday cron run ID).", "morning-bookings")),
  schedule: cronExpression.meta(doc("When it runs: a cron expression in the job's time zone.", "0 9 * * 1-5")),
  timezone: timeZone.meta(doc("IANA time zone of the schedule; default cron.timezone.", "Europe/London")).optional(),
  agent: agentId.meta(doc("The agent that runs it; default the default agent.", "main")).optional(),
  instruction: z.string().min(1).meta(doc("What the agent is asked to do; its answer is delivered.", "List today's bookings and flag unconfirmed ones.")),
  deliverTo: z.union([
    z.literal("owners"),
    z.strictObject({
      channel: z.enum(["telegram", "discord", "whatsapp"]).meta(doc("The channel to deliver on.", "telegram")),
      chat: z.union([z.string().min(1), z.number()]).meta(doc("The chat id (it must have written to the gateway before, or be an owner's).", "123456789")),
    }),
  ]).meta(doc("Where the answer goes: \"owners\" or one chat.", "owners", { channel: "telegram", chat: "123456789" })),
  model: modelId.meta(doc("Model for this job, as provider/model.", "anthropic/claude-haiku-4-5")).optional(),
  enabled: z.boolean().meta(doc("Run this job (false keeps it listed but idle).", true)).optional(),
}).meta(doc("One scheduled job.", { id: "morning-bookings", schedule: "0 9 * * 1-5", instruction: "List today's bookings.", deliverTo: "owners" }));

const agent = z.strictObject({
  id: agentId.meta(doc("Unique id; also the folder agents/<id>/ for MEMORY.md and AGENTS.md.", "main")),
  default: z.boolean().meta(doc("The agent that answers when no binding matches (one agent only).", true)).optional(),
  name: z.string().meta(doc("Display name.", "Front desk")).optional(),
  model: modelRef.optional(),
  instructions: z.string().meta(doc("System prompt for this agent (agents/<id>/AGENTS.md is added to it).", "You are the front desk of a hair salon. Be brief.")).optional(),
  role: role.meta(doc("customer: this agent answers customers (everyone admitted who is not an owner) and is never used for an owner; owner (default): the full agent.", "customer")).optional(),
  tools: z.strictObject({
    allow: z.array(z.string().min(1)).meta(doc("Only tools matching one of these (server__tool, * wildcards) reach the model or run; absent: all.", ["favcrm__list_services", "favcrm__get_available_slots", "favcrm__create_booking", "favcrm__list_bookings"])).optional(),
    deny: z.array(z.string().min(1)).meta(doc("Never these tools, even when allowed.", ["favcrm__cancel_*", "memory_*"])).optional(),
  }).meta(doc("Which tools this agent sees and may call (checked on every call, also through execute_tool).", { allow: ["favcrm__list_*", "favcrm__create_booking"] })).optional(),
  toolArgs: z.record(z.string(), z.record(z.string(), z.string())).meta(doc(
    "Arguments the gateway pins before the policy and the call, by tool then dotted path; values are templates over the verified sender: {sender.phone}, {sender.id}, {sender.name}, {sender.channel}. A pin this sender has no value for refuses the call.",
    { "favcrm__list_bookings": { "customer.phone": "{sender.phone}" }, "favcrm__create_booking": { "customer.phone": "{sender.phone}", "customer.name": "{sender.name}" } },
  )).optional(),
  timezone: timeZone.meta(doc("Time zone this agent tells the model the date and time in (IANA name); default agents.defaults.timezone. A person's own zone, when known, comes first.", "Asia/Hong_Kong")).optional(),
}).meta(doc("One agent.", { id: "main", default: true }));

export const configSchema = z
  .strictObject({
    $schema: z.string().meta(doc("Path or URL of this file's JSON Schema, for editor completion (`faraday config schema > openclaw.schema.json`).", "./openclaw.schema.json")).optional(),
    gateway: z.strictObject({
      port: port.meta(doc("Port to listen on (--port and OPENCLAW_GATEWAY_PORT come first; 0 picks a free one).", 3000)).optional(),
      bind: z.string().min(1).meta(doc("loopback (127.0.0.1), lan (0.0.0.0, needs a token) or an IP address; --bind comes first.", "loopback")).optional(),
      auth: z.strictObject({
        token: z.string().min(16, "use at least 16 characters").meta(doc("Token for /api/* and the dashboard. Better: OPENCLAW_GATEWAY_TOKEN (a Fly secret); on loopback one is generated.", "${env:OPENCLAW_GATEWAY_TOKEN}")).optional(),
      }).meta(doc("How clients authenticate.", { token: "${env:OPENCLAW_GATEWAY_TOKEN}" })).optional(),
      shutdownTimeoutMs: z.number().int().min(0).max(600_000).meta(doc("How long SIGTERM waits for in-flight work, in milliseconds.", 10000)).optional(),
      publicUrl: httpUrl.meta(doc("The address people reach this gateway at (links, webhooks); its host is also accepted as Host on a loopback bind (a tunnel).", "https://my-app.fly.dev")).optional(),
      trustProxy: z.boolean().meta(doc("Count failed sign-ins by Fly's Fly-Client-IP header (only behind Fly's proxy; the deploy template sets OPENCLAW_GATEWAY_TRUST_PROXY). X-Forwarded-For is never trusted.", false)).optional(),
      allowRemoteCommands: z.boolean().meta(doc("Let PUT /api/config (and the dashboard) add or change MCP servers that run a program (command/args/env). Read from the file on disk only; a PUT cannot turn it on.", false)).optional(),
    }).meta(doc("The HTTP server: port, bind address, auth.", { port: 3000, bind: "loopback" })).optional(),
    logging: z.strictObject({
      level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).meta(doc("Log level (LOG_LEVEL / OPENCLAW_LOG_LEVEL come first).", "info")).optional(),
    }).meta(doc("Logging.", { level: "info" })).optional(),
    agents: z.strictObject({
      defaults: z.strictObject({
        model: modelRef.optional(),
        maxConcurrent: positiveInt.meta(doc("Sessions that may call the model at the same time.", 4)).optional(),
        contextTokens: positiveInt.meta(doc("Size of the window sent to the model; older turns are summarised.", 100000)).optional(),
        maxToolRounds: positiveInt.meta(doc("Tool-call rounds per turn before the agent must answer.", 8)).optional(),
        heartbeat: heartbeat.optional(),
        timezone: timeZone.meta(doc("Time zone every turn's date and time are given in (IANA name); default the host's (on Fly: UTC).", "Europe/London")).optional(),
      }).meta(doc("Settings every agent inherits.", { model: "anthropic/claude-sonnet-5-5" })).optional(),
      list: z.array(agent).meta(doc("The agents; one is the default.", [{ id: "main", default: true }])).optional(),
    }).meta(doc("Agents and their model.", { defaults: { model: "anthropic/claude-sonnet-5-5" }, list: [{ id: "main", default: true }] })).optional(),
    bindings: z.array(z.strictObject({
      agentId: agentId.meta(doc("The agent that answers matching chats.", "support")),
      match: z.strictObject({
        channel: z.string().min(1).meta(doc("telegram, discord, whatsapp or web.", "telegram")),
        account: z.string().meta(doc("Bot account, when a channel has several.", "default")).optional(),
        chat: z.union([z.string(), z.number()]).meta(doc("Chat or group id.", "-1001234567890")).optional(),
        role: role.meta(doc("Only senders with this verified role: owner (in owners) or customer (everyone else admitted).", "customer")).optional(),
      }).meta(doc("Which chats.", { channel: "telegram" })),
    }).meta(doc("Route matching chats to an agent.", { agentId: "support", match: { channel: "telegram" } }))).meta(doc("Which agent answers which chats (the default agent answers the rest).", [{ agentId: "support", match: { channel: "telegram" } }])).optional(),
    owners: z.array(z.strictObject({
      channel: z.string().min(1).meta(doc("telegram, discord or whatsapp.", "whatsapp")),
      id: allowEntry.meta(doc("The owner's user id (Telegram, Discord) or E.164 number (WhatsApp).", "+85291234567")),
      name: z.string().meta(doc("How approvals and the People page name them.", "Amy (owner)")).optional(),
    }).meta(doc("One owner on one channel.", { channel: "telegram", id: "123456789" }))).meta(doc(
      "Business owners across channels (added to channels.<name>.owners and to owners set with `faraday pairing approve --owner` or the People page). Owners get the full agent and approve customers' tool calls.",
      [{ channel: "telegram", id: "123456789" }, { channel: "whatsapp", id: "+85291234567" }],
    )).optional(),
    session: z.strictObject({
      dmScope: z.enum(["per-peer", "main"]).meta(doc("per-peer: one session per person and chat; main: one shared session for a person's DMs.", "per-peer")).optional(),
    }).meta(doc("How conversations map to sessions.", { dmScope: "per-peer" })).optional(),
    models: z.strictObject({
      providers: z.record(z.string(), z.strictObject({
        apiKey: z.string().min(1).meta(doc("The provider's key; use ${env:NAME}. A local server needs none.", "${env:OPENROUTER_API_KEY}")).optional(),
        baseUrl: httpUrl.meta(doc("API base URL (OpenAI-compatible servers end in /v1; added when the URL has no path).", "http://localhost:11434/v1")).optional(),
        api: z.enum(["anthropic", "openai"]).meta(doc("Wire API the provider speaks (default openai, i.e. OpenAI-compatible).", "openai")).optional(),
        timeoutMs: z.number().int().min(100).max(3_600_000).meta(doc("One request's time limit in milliseconds: a hung provider fails the call into a clear reply (or the fallback).", 120000)).optional(),
        maxConcurrent: positiveInt.meta(doc("Calls to this provider at once; default agents.defaults.maxConcurrent (4). A hung provider never holds another provider's slots.", 4)).optional(),
      }).meta(doc("One provider, named in model ids as name/model.", { baseUrl: "http://localhost:11434/v1" }))).meta(doc("Model providers besides the built-in anthropic and openai (or overrides for them).", { local: { baseUrl: "http://localhost:11434/v1" } })).optional(),
    }).meta(doc("Model providers.", { providers: { local: { baseUrl: "http://localhost:11434/v1" } } })).optional(),
    channels: z.strictObject({
      telegram: telegram.optional(),
      discord: discord.optional(),
      whatsapp: whatsapp.optional(),
      web: z.strictObject({
        enabled: z.boolean().meta(doc("Serve the dashboard's web chat.", true)).optional(),
      }).meta(doc("The built-in web chat.", { enabled: true })).optional(),
    }).meta(doc("Chat channels the assistant answers on.", { telegram: { enabled: true }, discord: { enabled: true } })).optional(),
    cron: z.strictObject({
      enabled: z.boolean().meta(doc("Run scheduled jobs, reminders and the heartbeat at all.", true)).optional(),
      timezone: timeZone.meta(doc("Default IANA time zone for cron expressions and the heartbeat's active hours; default the system's.", "Europe/London")).optional(),
      catchUpMinutes: z.number().int().min(0).max(10_080).meta(doc("An occurrence missed while the gateway was down runs once at start when it is at most this late; older ones are recorded as missed.", 60)).optional(),
      jobs: z.array(cronJob).meta(doc("Jobs defined here (reminders made in chats live in the database).", [{ id: "morning-bookings", schedule: "0 9 * * 1-5", instruction: "List today's bookings.", deliverTo: "owners" }])).optional(),
    }).meta(doc("Scheduled jobs, reminders and the heartbeat.", { timezone: "Europe/London", catchUpMinutes: 60 })).optional(),
    mcp: z.strictObject({
      servers: z.record(z.string(), mcpServer).meta(doc("MCP servers by name (FavCRM is built in when FAVCRM_API_KEY is set).", { crm: { url: "https://api.favcrm.io/mcp", headers: { Authorization: "Bearer ${env:FAVCRM_API_KEY}" } } })).optional(),
    }).meta(doc("MCP tool servers.", { servers: {} })).optional(),
    mcpServers: z.record(z.string(), mcpServer).meta(doc("Cursor/Claude-style spelling of mcp.servers (either works).", { everything: { command: "npx", args: ["-y", "@modelcontextprotocol/server-everything"] } })).optional(),
    tools: z.strictObject({
      approvalTimeoutMs: z.number().int().min(10_000).max(24 * 3_600_000).meta(doc("How long a tool call waits for a person's YES before it is refused, in milliseconds.", 600000)).optional(),
      policy: z.array(z.strictObject({
        match: z.string().min(1).meta(doc("Tool name or pattern (server__tool, * wildcards).", "favcrm__cancel_*")),
        decision: z.enum(["auto", "confirm", "deny"]).meta(doc("auto: run; confirm: ask in the chat first; deny: never.", "confirm")),
      }).meta(doc("One rule.", { match: "favcrm__cancel_*", decision: "confirm" }))).meta(doc("Rules checked in order before the annotations decide.", [{ match: "favcrm__void_*", decision: "deny" }])).optional(),
      workingSet: z.strictObject({
        core: z.array(z.string().min(1)).meta(doc("Tools always sent (names or * patterns). Default: the memory tools and the read-only discovery tools (list_my_companies, get_plan_status, query_favcrm_platform, query_company_knowledge).", ["memory_*", "favcrm__list_services", "favcrm__get_available_slots"])).optional(),
        max: z.number().int().min(1).max(128).meta(doc("Most tools sent to the model per call (OpenAI refuses more than 128). A catalog this size or smaller is sent whole, without find_tools.", 40)).optional(),
        decayTurns: positiveInt.meta(doc("Turns a tool found with find_tools stays in the working set without being found or called again.", 8)).optional(),
      }).meta(doc("Tools at scale: with more tools than max, the model gets the core, find_tools and the tools it found or called recently; find_tools searches every connected server's tools.", { max: 40, decayTurns: 8 })).optional(),
    }).meta(doc("The tool policy.", { approvalTimeoutMs: 600000 })).optional(),
  });

/** A validated `openclaw.json`, after `${env:NAME}` interpolation. */
export type FaradayConfig = z.infer<typeof configSchema>;

/** JSON Schema of `openclaw.json` for editors (`"$schema": "..."`). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  return { ...schema, title: "Faraday gateway configuration (openclaw.json)" };
}
