/**
 * The gateway's agent, channels and schedule wired in-process as agent-extension.ts wires them
 * (real ChannelService, real grammY against the Telegram fake, the real model SDK against a model
 * fake, MCP servers behind the policy), with the scheduler on a FakeClock so a test moves time.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { AgentRuntime } from "../../src/agent/agent-runtime.ts";
import { AgentFiles } from "../../src/agent/memory/agent-files.ts";
import { createMemoryTools } from "../../src/agent/memory/memory-tools.ts";
import { SessionStore } from "../../src/agent/sessions/session-store.ts";
import { ChannelService } from "../../src/channels/channel-service.ts";
import { IngressStore, type IngressRow } from "../../src/channels/ingress-store.ts";
import { startChannels } from "../../src/channels/start-channels.ts";
import { validateConfig } from "../../src/config/load-config.ts";
import { ComponentRegistry } from "../../src/gateway/components.ts";
import { ConfigService } from "../../src/gateway/config-service.ts";
import { createLogger } from "../../src/logging/index.ts";
import { setupSchedule } from "../../src/schedule/setup-schedule.ts";
import { createSecretStore, ensureStateDir, openDatabase } from "../../src/state/index.ts";
import { ApprovalBroker, ToolAudit, ToolCatalog } from "../../src/tools/index.ts";
import { McpManager } from "../../src/tools/mcp/index.ts";
import { FakeClock } from "../helpers/fake-clock.ts";

export async function startScheduleHarness(t: TestContext, options: { config: Record<string, unknown>; env: Record<string, string | undefined>; start: string }) {
  const directory = await mkdtemp(join(tmpdir(), "faraday-schedule-"));
  const paths = await ensureStateDir(directory);
  const database = await openDatabase(paths.database);
  const state = await validateConfig(options.config, options.env, paths.config);
  assert.equal(state.state, "valid", JSON.stringify(state.state === "invalid" ? state.problems : ""));
  const currentConfig = () => (state.state === "valid" ? state.config : undefined);
  const config = new ConfigService(state, paths, options.env);
  const secrets = createSecretStore(database);
  const sessions = new SessionStore(database);
  const files = new AgentFiles(paths.agents);
  const logger = createLogger({ level: "silent" });
  const mcp = new McpManager({ config: currentConfig, env: options.env, secrets, logger });
  const approvals = new ApprovalBroker(database, () => 60_000);
  const audit = new ToolAudit(database);
  const clock = new FakeClock(options.start);
  const outbound = new IngressStore(database);
  let channels: ChannelService | undefined;
  let runtime: AgentRuntime | undefined;
  const schedule = setupSchedule({
    database, agentsDir: paths.agents, config: currentConfig, logger, clock,
    channels: {
      store: (channel, chat, text, key) => outbound.addOutbound(channel, chat, text, key),
      send: (row) => channels?.sendStored(row as IngressRow),
      knownChat: (channel, chat) => outbound.hasChat(channel, chat),
      chatsOf: (channel, sender) => outbound.chatsOf(channel, sender),
      notify: (channel, chat, notice) => channels?.notify(channel, chat, notice),
    },
    turn: async (turn) => {
      const result = await runtime!.handle(turn);
      return { reply: result.reply, inputTokens: result.usage.inputTokens, outputTokens: result.usage.outputTokens, ...(result.errorCode ? { errorCode: result.errorCode } : {}) };
    },
  });
  const tools = new ToolCatalog({
    sources: () => [createMemoryTools(files, sessions), schedule.tools, ...mcp.sources()],
    rules: () => currentConfig()?.tools?.policy ?? [],
    approvals, audit,
  });
  runtime = new AgentRuntime({ config, sessions, files, tools, approvals, logger, env: options.env, beforeTurn: () => mcp.warmUp(), sleep: async () => {} });
  mcp.start();
  channels = new ChannelService({ database, runtime, approvals, components: new ComponentRegistry(), logger, config: currentConfig });
  await startChannels({ service: channels, config: currentConfig(), env: options.env, secrets, database, logger });
  channels.resumeUnfinished();
  schedule.start();
  t.after(async () => {
    approvals.expireAll();
    await schedule.stop();
    await channels?.stop();
    await runtime!.lanes.drain();
    await mcp.close();
    sessions.flushSearchIndex();
    database.close();
    await rm(directory, { recursive: true, force: true });
  });
  return { clock, schedule, runtime, sessions, approvals, audit, database, paths, channels };
}
