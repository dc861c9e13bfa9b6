import type { GatewayExtension } from "../gateway/extension.ts";
import { ApprovalBroker, ToolAudit, ToolCatalog, ToolIndex } from "../tools/index.ts";
import { McpManager } from "../tools/mcp/index.ts";
import { toolRoutes } from "../tools/tool-routes.ts";
import { AgentRuntime } from "./agent-runtime.ts";
import { chatRoutes, resumedAnswer } from "./chat-routes.ts";
import { RunningTurns } from "./running-turn.ts";
import { doctorRoutes } from "./doctor-routes.ts";
import { AgentFiles } from "./memory/agent-files.ts";
import { createMemoryTools } from "./memory/memory-tools.ts";
import { resolveModelCandidates, type DiscoveredModelClient, type DiscoveryState, type ModelClient } from "./models/index.ts";
import { modelEnvironment } from "./models/stored-keys.ts";
import { repairSearchIndex } from "./sessions/search-index-repair.ts";
import { setupRoutes } from "../setup/setup-routes.ts";
import { SessionStore } from "./sessions/session-store.ts";
import { isDeepStrictEqual } from "node:util";
import { channelRoutes } from "../channels/channel-routes.ts";
import { ChannelControl } from "../channels/channel-control.ts";
import type { ChannelService } from "../channels/channel-service.ts";
import type { StartChannelsInput } from "../channels/start-channels.ts";
import type { TelegramWebhookSink } from "../channels/telegram/telegram-adapter.ts";
import type { WhatsAppAdapter } from "../channels/whatsapp/whatsapp-adapter.ts";
import { IngressStore, type IngressRow } from "../channels/ingress-store.ts";
import { peopleOwnerDirectory, setupSchedule } from "../schedule/index.ts";
import { PeopleDirectory } from "../channels/people-directory.ts";

const DEFAULT_APPROVAL_TIMEOUT_MS = 10 * 60_000;

/** What a discovered (`provider/*`) model found out, for the status; undefined for a named model. */
function discoveryOf(client: ModelClient | undefined): DiscoveryState | undefined {
  return client && "discovery" in client ? (client as DiscoveredModelClient).discovery() : undefined;
}

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
    // Messages stored just before a kill -9 that never reached the search index.
    let repairPending = true;
    const repair = () => {
      const started = performance.now();
      try {
        const repaired = repairSearchIndex(context.database);
        repairPending = false;
        if (repaired > 0) {
          context.logger.info({ messages: repaired, durationMs: Math.round(performance.now() - started) }, "added messages missing from the search index (the last stop was not clean)");
        }
      } catch (error) {
        // A full disk: repaired once there is room, before anything new is indexed.
        if (context.storage.report(error, "the search index repair") === "other") throw error;
      }
    };
    repair();
    const sessions = new SessionStore(context.database, {
      onBackgroundError: (error) => {
        if (context.storage.report(error, "the search index") === "other") context.logger.error({ err: error }, "could not update the search index; it is retried with the next message");
      },
    });
    // The index rows that could not be written while the disk was full go in as soon as it has room.
    context.storage.on("recovered", () => {
      try {
        if (repairPending) repair();
      } catch (error) {
        context.logger.error({ err: error }, "the search index repair failed; it runs again at the next start");
      }
      sessions.flushSearchIndex();
      channels?.retryAfterDiskFull();
    });
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
    // Reminders, cron jobs and the heartbeat (src/schedule/): set up before the tools it offers.
    let channels: ChannelService | undefined;
    const outbound = new IngressStore(context.database);
    let runtimeRef: AgentRuntime | undefined;
    const schedule = setupSchedule({
      database: context.database, agentsDir: context.paths.agents, config: currentConfig, logger: context.logger,
      channels: {
        store: (channel, chat, text, key) => outbound.addOutbound(channel, chat, text, key),
        send: (row) => channels?.sendStored(row as IngressRow),
        knownChat: (channel, chat) => outbound.hasChat(channel, chat),
        chatsOf: (channel, sender) => outbound.chatsOf(channel, sender),
        notify: (channel, chat, notice) => channels?.notify(channel, chat, notice),
      },
      // The owners the roles know (config, CLI, People page), reached in their DM chats.
      owners: peopleOwnerDirectory(new PeopleDirectory(context.database, currentConfig), (channel, sender) => outbound.chatsOf(channel, sender)),
      turn: async (turn) => {
        const result = await runtimeRef!.handle(turn);
        return { reply: result.reply, inputTokens: result.usage.inputTokens, outputTokens: result.usage.outputTokens, ...(result.errorCode ? { errorCode: result.errorCode } : {}) };
      },
    });
    const tools = new ToolCatalog({
      sources: () => [memoryTools, schedule.tools, ...mcp.sources()],
      rules: () => currentConfig()?.tools?.policy ?? [],
      approvals,
      audit,
      workingSet: { index: new ToolIndex(context.database), settings: () => currentConfig()?.tools?.workingSet },
    });
    let lastReport = 0;
    // Model keys: the gateway's environment, else the secret store (guided setup keeps them there).
    const modelEnv = modelEnvironment(context.environment.variables, context.secrets);
    const runtime = new AgentRuntime({
      config: context.config, sessions, files, tools, approvals, logger: context.logger, env: modelEnv, storage: context.storage,
      beforeTurn: () => mcp.warmUp(),
      // Refresh usage in the status at most once a second, not on every turn.
      onTurnFinished: () => {
        if (Date.now() - lastReport > 1_000) report();
      },
    });
    runtimeRef = runtime;
    const report = () => {
      lastReport = Date.now();
      const config = currentConfig();
      const resolved = resolveModelCandidates({
        modelRef: config?.agents?.defaults?.model as Parameters<typeof resolveModelCandidates>[0]["modelRef"],
        providers: config?.models?.providers,
        env: modelEnv,
      });
      const usage = sessions.usageToday();
      const discovery = "error" in resolved ? undefined : discoveryOf(resolved.candidates[0]?.client);
      if ("error" in resolved) {
        context.components.set("agent", { state: "unconfigured", ready: true, reason: resolved.error.userMessage, details: { usageToday: usage } });
      } else if (discovery && discovery.state !== "one") {
        const reason = discovery.state === "unknown"
          ? `model: the one ${resolved.candidates[0]?.client.provider}'s server lists (asked at the first message)`
          : discovery.message;
        context.components.set("agent", { state: discovery.state === "unknown" ? "ready" : "unconfigured", ready: true, reason, details: { model: resolved.candidates[0]?.ref, usageToday: usage } });
      } else if (discovery?.state === "one") {
        const model = `${resolved.candidates[0]?.client.provider}/${discovery.model}`;
        context.components.set("agent", { state: "ready", ready: true, reason: `model ${model} (the only one its server lists)`, details: { model, usageToday: usage } });
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
      const service = new ChannelService({ database: context.database, runtime, approvals, components: context.components, logger: context.logger, config: currentConfig, storage: context.storage });
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
      schedule.configChanged();
      const next = currentConfig()?.channels;
      if (channels && !isDeepStrictEqual(next, channelConfig)) void restartChannels();
    });
    return {
      plugin: async (app) => {
        const turns = new RunningTurns();
        await chatRoutes(runtime, sessions, approvals, turns)(app);
        // Doctor sees the model keys as the gateway does: its environment, else the secret store.
        await doctorRoutes({ config: currentConfig, env: modelEnv, secrets: context.secrets })(app);
        await toolRoutes({ tools, approvals, audit, mcp, resumed: (record) => resumedAnswer(record.id, turns, approvals) })(app);
        await channelRoutes(channelControl)(app);
        await setupRoutes({
          config: context.config, secrets: context.secrets, variables: context.environment.variables, modelEnv, channels: channelControl, mcp,
          webChatUsed: () => sessions.list(500, 0).some((session) => session.channel === "web"),
          onModelChanged: () => report(), logger: context.logger,
        })(app);
        await schedule.routes(app);
      },
      async start() {
        mcp.start();
        await startChannelService();
        schedule.start();
      },
      async stop() {
        // Calls waiting for a yes cannot finish once we stop: expire them so their turns end.
        approvals.expireAll();
        await schedule.stop();
        await channels?.stop();
        await runtime.lanes.drain();
        sessions.flushSearchIndex();
        await mcp.close();
      },
    };
  },
};
