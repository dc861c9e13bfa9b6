import type { GatewayExtension } from "../gateway/extension.ts";
import { ApprovalBroker, ToolAudit, ToolCatalog } from "../tools/index.ts";
import { McpManager } from "../tools/mcp/index.ts";
import { toolRoutes } from "../tools/tool-routes.ts";
import { AgentRuntime } from "./agent-runtime.ts";
import { chatRoutes, resumedAnswer } from "./chat-routes.ts";
import { RunningTurns } from "./running-turn.ts";
import { AgentFiles } from "./memory/agent-files.ts";
import { createMemoryTools } from "./memory/memory-tools.ts";
import { resolveModelCandidates } from "./models/index.ts";
import { modelEnvironment } from "./models/stored-keys.ts";
import { setupRoutes } from "../setup/setup-routes.ts";
import { SessionStore } from "./sessions/session-store.ts";
import { isDeepStrictEqual } from "node:util";
import { channelRoutes } from "../channels/channel-routes.ts";
import { ChannelControl } from "../channels/channel-control.ts";
import type { ChannelService } from "../channels/channel-service.ts";
import type { StartChannelsInput } from "../channels/start-channels.ts";
import type { TelegramWebhookSink } from "../channels/telegram/telegram-adapter.ts";
import type { WhatsAppAdapter } from "../channels/whatsapp/whatsapp-adapter.ts";

const DEFAULT_APPROVAL_TIMEOUT_MS = 10 * 60_000;

/**
 * The agent capability: sessions, the loop, memory tools, MCP servers behind the tool policy,
 * approvals and the audit log, and their routes. Its component says which model answers, or the
 * one sentence that says how to configure one.
 */
export const agentExtension: GatewayExtension = {
  name: "agent",
  async setup(context) {
    const currentConfig = () => {
      const state = context.config.current();
      return state.state === "valid" ? state.config : undefined;
    };
    const sessions = new SessionStore(context.database);
    const files = new AgentFiles(context.paths.agents);
    const memoryTools = createMemoryTools(files, sessions);
    const mcp = new McpManager({
      config: currentConfig,
      env: context.environment.variables,
      secrets: context.secrets,
      logger: context.logger,
      components: context.components,
    });
    const approvalTimeoutMs = () => currentConfig()?.tools?.approvalTimeoutMs ?? DEFAULT_APPROVAL_TIMEOUT_MS;
    const approvals = new ApprovalBroker(context.database, approvalTimeoutMs);
    const audit = new ToolAudit(context.database);
    const tools = new ToolCatalog({
      sources: () => [memoryTools, ...mcp.sources()],
      rules: () => currentConfig()?.tools?.policy ?? [],
      approvals,
      audit,
    });
    let lastReport = 0;
    // Model keys: the gateway's environment, else the secret store (guided setup keeps them there).
    const modelEnv = modelEnvironment(context.environment.variables, context.secrets);
    const runtime = new AgentRuntime({
      config: context.config, sessions, files, tools, approvals, logger: context.logger, env: modelEnv,
      beforeTurn: () => mcp.warmUp(),
      // Refresh usage in the status at most once a second, not on every turn.
      onTurnFinished: () => {
        if (Date.now() - lastReport > 1_000) report();
      },
    });
    const report = () => {
      lastReport = Date.now();
      const config = currentConfig();
      const resolved = resolveModelCandidates({
        modelRef: config?.agents?.defaults?.model as Parameters<typeof resolveModelCandidates>[0]["modelRef"],
        providers: config?.models?.providers,
        env: modelEnv,
      });
      const usage = sessions.usageToday();
      if ("error" in resolved) {
        context.components.set("agent", { state: "unconfigured", ready: true, reason: resolved.error.userMessage, details: { usageToday: usage } });
      } else {
        context.components.set("agent", {
          state: "ready",
          ready: true,
          reason: `model ${resolved.candidates.map((candidate) => candidate.ref).join(" → ")}`,
          details: { model: resolved.candidates[0]?.ref, usageToday: usage },
        });
      }
    };
    report();
    // Channels: created after listen, only for enabled channels; rebuilt when their config changes.
    let channels: ChannelService | undefined;
    let telegramWebhook: TelegramWebhookSink | undefined;
    let whatsapp: WhatsAppAdapter | undefined;
    let channelConfig: unknown;
    const channelInput = (service: ChannelService): StartChannelsInput => ({
      service, config: currentConfig(), env: context.environment.variables, secrets: context.secrets, database: context.database, logger: context.logger,
    });
    const startChannelService = async () => {
      channelConfig = currentConfig()?.channels;
      const [{ ChannelService }, { startChannels }] = await Promise.all([
        import("../channels/channel-service.ts"),
        import("../channels/start-channels.ts"),
      ]);
      const service = new ChannelService({ database: context.database, runtime, approvals, components: context.components, logger: context.logger, config: currentConfig });
      channels = service;
      ({ telegramWebhook, whatsapp } = await startChannels(channelInput(service)));
      service.resumeUnfinished();
    };
    let restarting: Promise<void> = Promise.resolve();
    const restartChannels = () => {
      const previous = channels;
      channels = undefined;
      whatsapp = undefined;
      restarting = restarting.then(async () => {
        await previous?.stop();
        await startChannelService();
      }).catch((error: unknown) => context.logger.error({ err: error }, "restarting channels failed"));
      return restarting;
    };
    const channelControl = new ChannelControl({
      config: context.config,
      env: context.environment.variables,
      secrets: context.secrets,
      components: context.components,
      service: () => channels,
      telegramWebhook: () => telegramWebhook,
      whatsapp: async (create) => {
        if (whatsapp || !create || !channels) return whatsapp;
        const { addWhatsApp } = await import("../channels/start-channels.ts");
        whatsapp = await addWhatsApp(channelInput(channels));
        return whatsapp;
      },
      restartAll: restartChannels,
    });
    context.config.on("config-changed", () => {
      report();
      mcp.reload();
      const next = currentConfig()?.channels;
      if (channels && !isDeepStrictEqual(next, channelConfig)) void restartChannels();
    });
    return {
      plugin: async (app) => {
        const turns = new RunningTurns();
        await chatRoutes(runtime, sessions, approvals, turns)(app);
        await toolRoutes({ tools, approvals, audit, mcp, resumed: (record) => resumedAnswer(record.id, turns, approvals) })(app);
        await channelRoutes(channelControl)(app);
        await setupRoutes({
          config: context.config, secrets: context.secrets, variables: context.environment.variables, modelEnv, channels: channelControl, mcp,
          webChatUsed: () => sessions.list(500, 0).some((session) => session.channel === "web"),
          onModelChanged: () => report(), logger: context.logger,
        })(app);
      },
      async start() {
        mcp.start();
        await startChannelService();
      },
      async stop() {
        // Calls waiting for a yes cannot finish once we stop: expire them so their turns end.
        approvals.expireAll();
        await channels?.stop();
        await runtime.lanes.drain();
        sessions.flushSearchIndex();
        await mcp.close();
      },
    };
  },
};
