import type { GatewayExtension } from "../gateway/extension.ts";
import { ToolCatalog } from "../tools/index.ts";
import { AgentRuntime } from "./agent-runtime.ts";
import { chatRoutes } from "./chat-routes.ts";
import { AgentFiles } from "./memory/agent-files.ts";
import { createMemoryTools } from "./memory/memory-tools.ts";
import { resolveModelCandidates } from "./models/index.ts";
import { SessionStore } from "./sessions/session-store.ts";

/**
 * The agent capability: sessions, the loop, memory tools, and the web chat routes. Its
 * component says which model answers, or the one sentence that says how to configure one.
 */
export const agentExtension: GatewayExtension = {
  name: "agent",
  async setup(context) {
    const sessions = new SessionStore(context.database);
    const files = new AgentFiles(context.paths.agents);
    const tools = new ToolCatalog([createMemoryTools(files, sessions)]);
    let lastReport = 0;
    const runtime = new AgentRuntime({
      config: context.config, sessions, files, tools, logger: context.logger, env: context.environment.variables,
      // Refresh usage in the status at most once a second, not on every turn.
      onTurnFinished: () => {
        if (Date.now() - lastReport > 1_000) report();
      },
    });
    const report = () => {
      lastReport = Date.now();
      const state = context.config.current();
      const config = state.state === "valid" ? state.config : undefined;
      const resolved = resolveModelCandidates({
        modelRef: config?.agents?.defaults?.model as Parameters<typeof resolveModelCandidates>[0]["modelRef"],
        providers: config?.models?.providers,
        env: context.environment.variables,
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
    context.config.on("config-changed", report);
    return {
      plugin: chatRoutes(runtime, sessions),
      async stop() {
        await runtime.lanes.drain();
      },
    };
  },
};
