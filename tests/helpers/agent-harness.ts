/**
 * The agent in-process, wired as the gateway wires it (sessions, memory tools, MCP servers,
 * policy, approvals, audit) on a temp state dir, so tests can drive turns and inspect the store.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateConfig } from "../../src/config/load-config.ts";
import { ConfigService } from "../../src/gateway/config-service.ts";
import { createLogger } from "../../src/logging/index.ts";
import { createSecretStore, ensureStateDir, openDatabase } from "../../src/state/index.ts";
import { ApprovalBroker, ToolAudit, ToolCatalog, ToolIndex } from "../../src/tools/index.ts";
import { McpManager } from "../../src/tools/mcp/index.ts";
import { AgentRuntime } from "../../src/agent/agent-runtime.ts";
import { AgentFiles } from "../../src/agent/memory/agent-files.ts";
import { createMemoryTools } from "../../src/agent/memory/memory-tools.ts";
import { SessionStore } from "../../src/agent/sessions/session-store.ts";

/** What the harness needs of a test: somewhere to register its cleanup (the bench passes its own). */
export interface CleanupScope {
  after(cleanup: () => Promise<void>): void;
}

export async function startAgentHarness(
  t: CleanupScope,
  options: {
    config: Record<string, unknown>;
    env: Record<string, string | undefined>;
    approvalTimeoutMs?: number;
    /** false: no working sets, every tool sent on every call (how it was before issue 18; for the bench). */
    workingSet?: boolean;
  },
) {
  const directory = await mkdtemp(join(tmpdir(), "faraday-harness-"));
  const paths = await ensureStateDir(directory);
  const database = await openDatabase(paths.database);
  const state = await validateConfig(options.config, options.env, paths.config);
  assert.equal(state.state, "valid", JSON.stringify(state.problems));
  const config = new ConfigService(state, paths, options.env);
  const secrets = createSecretStore(database);
  const sessions = new SessionStore(database);
  const files = new AgentFiles(paths.agents);
  const memoryTools = createMemoryTools(files, sessions);
  const logger = createLogger({ level: "silent" });
  const mcp = new McpManager({ config: () => (state.state === "valid" ? state.config : undefined), env: options.env, secrets, logger });
  const approvals = new ApprovalBroker(database, () => options.approvalTimeoutMs ?? 60_000);
  const audit = new ToolAudit(database);
  const tools = new ToolCatalog({
    sources: () => [memoryTools, ...mcp.sources()],
    rules: () => (state.state === "valid" ? state.config.tools?.policy ?? [] : []),
    approvals,
    audit,
    ...(options.workingSet === false ? {} : {
      workingSet: { index: new ToolIndex(database), settings: () => (state.state === "valid" ? state.config.tools?.workingSet : undefined) },
    }),
  });
  const runtime = new AgentRuntime({
    config, sessions, files, tools, approvals, logger, env: options.env,
    beforeTurn: () => mcp.warmUp(),
    sleep: async () => {},
  });
  mcp.start();
  t.after(async () => {
    approvals.expireAll();
    await runtime.lanes.drain();
    await mcp.close();
    sessions.flushSearchIndex();
    database.close();
    await rm(directory, { recursive: true, force: true });
  });
  return { runtime, sessions, mcp, approvals, audit, tools, secrets, database, paths };
}

/** Poll until `check()` is true (bounded). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}
