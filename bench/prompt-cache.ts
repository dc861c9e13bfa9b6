import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateConfig } from "../src/config/load-config.ts";
import { ConfigService } from "../src/gateway/config-service.ts";
import { createLogger } from "../src/logging/index.ts";
import { ensureStateDir, openDatabase } from "../src/state/index.ts";
import { ToolCatalog } from "../src/tools/index.ts";
import type { ToolDescriptor, ToolSource } from "../src/tools/tool-source.ts";
import { AgentRuntime } from "../src/agent/agent-runtime.ts";
import { AgentFiles } from "../src/agent/memory/agent-files.ts";
import { createMemoryTools } from "../src/agent/memory/memory-tools.ts";
import { SessionStore } from "../src/agent/sessions/session-store.ts";
import { simulatePromptCache, startAnthropicFake, type PromptCacheStats } from "../tests/fakes/anthropic-fake.ts";
import { estimateTokens } from "../tests/fakes/model-script.ts";
import { FAVCRM_FAKE_TOOL_NAMES } from "../tests/fakes/favcrm-fake.ts";
import type { BenchContext, BenchModule, BenchResult } from "./bench-module.ts";

const ANTHROPIC_KEY = "fake-anthropic-key-for-the-bench";
/** Sessions, turns each, and how far the clock moves between turns (the date changes mid-run). */
const SESSIONS = 5;
const TURNS_PER_SESSION = 20;
const MINUTES_BETWEEN_TURNS = 97;
/** Tools in the prompt: the first FavCRM names, with booking-shaped schemas (~the size a working set has). */
const TOOLS = 24;

/** A FavCRM-shaped tool: a sentence of description and a few typed arguments. */
function benchTool(name: string): ToolDescriptor {
  return {
    name: `favcrm__${name}`,
    description: `FavCRM ${name.replace(/_/g, " ")}: works on the current company's records; dates are ISO 8601 in the company's time zone, money in minor units.`,
    inputSchema: {
      type: "object",
      properties: {
        serviceId: { type: "string", description: "Service id from list_services" },
        date: { type: "string", description: "Day, YYYY-MM-DD" },
        customer: { type: "object", properties: { name: { type: "string" }, email: { type: "string" }, phone: { type: "string", description: "E.164" } } },
        limit: { type: "integer", minimum: 1, maximum: 100 },
        idempotencyKey: { type: "string" },
      },
    },
    annotations: { readOnlyHint: name.startsWith("list_") || name.startsWith("get_") },
  };
}

/**
 * The prompt-cache hit rate across turns: the real AgentRuntime and the real Anthropic SDK against
 * the Anthropic fake with its prompt-cache SIMULATION (tests/fakes/anthropic-fake.ts: a hit when
 * the bytes up to a `cache_control` breakpoint equal an earlier request's, minimum 1,024 tokens).
 * The clock moves a minute per message and 97 minutes between rounds, so every request's context
 * (date and time) differs; the figure shows the date/time sits after the breakpoint. The same
 * requests replayed with the context in the system prompt show what that placement would cost.
 * In-process, no gateway spawned.
 */
export const promptCacheBench: BenchModule = {
  name: "prompt-cache",
  description: "prompt-cache hit rate across turns with the turn context (date/time) after the cache breakpoint",
  async run(context: BenchContext): Promise<BenchResult> {
    const directory = await mkdtemp(join(tmpdir(), "faraday-bench-cache-"));
    const fake = await startAnthropicFake({ promptCache: { minimumTokens: 1024 }, defaultStep: { text: "Done — anything else?" } });
    try {
      const paths = await ensureStateDir(directory);
      const database = await openDatabase(paths.database);
      const sessions = new SessionStore(database);
      const env = { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: fake.url };
      const state = await validateConfig({ agents: { defaults: { model: "anthropic/claude-bench", timezone: "Asia/Hong_Kong" }, list: [{ id: "main", default: true }] } }, env, paths.config);
      if (state.state !== "valid") throw new Error(`bench config invalid: ${JSON.stringify(state.problems)}`);
      const files = new AgentFiles(paths.agents);
      const crm: ToolSource = {
        name: "favcrm", trusted: true, favcrm: true,
        list: () => FAVCRM_FAKE_TOOL_NAMES.slice(0, TOOLS).map(benchTool),
        call: async () => ({ content: "{}" }),
      };
      const tools = new ToolCatalog({ sources: () => [createMemoryTools(files, sessions), crm] });
      let now = Date.parse("2026-12-04T08:00:00Z");
      const runtime = new AgentRuntime({ config: new ConfigService(state, paths, env), sessions, files, tools, env, now: () => new Date(now), logger: createLogger({ level: "silent" }) });
      const perTurn: Array<{ turn: number; hits: number; requests: number }> = [];
      for (let turn = 0; turn < TURNS_PER_SESSION; turn++) {
        const before = { ...fake.promptCache };
        for (let session = 0; session < SESSIONS; session++) {
          await runtime.handle({ channel: "telegram", chat: `chat-${session}`, sender: `user-${session}`, senderName: `Customer ${session}`, text: `Turn ${turn}: can I book a haircut tomorrow at ${10 + (turn % 8)}:00?` });
          now += 60_000; // each message a minute after the one before
        }
        perTurn.push({ turn, hits: fake.promptCache.hits - before.hits, requests: fake.promptCache.requests - before.requests });
        now += MINUTES_BETWEEN_TURNS * 60_000;
      }
      sessions.flushSearchIndex();
      database.close();
      const { perRequest: _perRequest, ...stats } = fake.promptCache;
      const counterfactual = contextInSystemPrompt(fake.requests.map((request) => request.body as Record<string, unknown>));
      const requestHitRate = stats.hits / stats.requests;
      const tokenHitRate = stats.readTokens / (stats.readTokens + stats.writeTokens + stats.uncachedTokens);
      const cachedShareOfPrefix = stats.readTokens / (stats.readTokens + stats.writeTokens);
      context.log(`prompt cache: ${stats.hits}/${stats.requests} requests hit; read ${stats.readTokens}, written ${stats.writeTokens}, uncached ${stats.uncachedTokens} tokens`);
      return {
        rows: [
          { figure: `prompt-cache hits, requests (${SESSIONS} sessions × ${TURNS_PER_SESSION} turns, a minute between messages, +${MINUTES_BETWEEN_TURNS} min between rounds; simulated cache)`, ours: `${(requestHitRate * 100).toFixed(1)} %`, anchor: "", target: "every request after the first hits", met: stats.hits === stats.requests - 1 },
          { figure: "prompt-cache hits, input tokens read from cache (system + tools of all input)", ours: `${(tokenHitRate * 100).toFixed(1)} %`, anchor: "", target: "" },
          { figure: "for comparison: the same requests with the turn context in the system prompt instead — input tokens read from cache", ours: `${((counterfactual.readTokens / (counterfactual.readTokens + counterfactual.writeTokens + counterfactual.uncachedTokens)) * 100).toFixed(1)} %`, anchor: "", target: "" },
        ],
        data: { counterfactualContextInSystemPrompt: { hits: counterfactual.hits, requests: counterfactual.requests, readTokens: counterfactual.readTokens, writeTokens: counterfactual.writeTokens }, sessions: SESSIONS, turnsPerSession: TURNS_PER_SESSION, tools: TOOLS + 3, minutesBetweenTurns: MINUTES_BETWEEN_TURNS, ...stats, requestHitRate, tokenHitRate, cachedShareOfPrefix, perTurn, simulation: "tests/fakes/anthropic-fake.ts promptCache (prefix bytes at cache_control breakpoints, 4 chars a token, min 1024 tokens)" },
      };
    } finally {
      await fake.close();
      await rm(directory, { recursive: true, force: true });
    }
  },
};

/**
 * The same recorded requests replayed through a fresh simulated cache with the `<turn_context>`
 * block moved from the user message to the end of the system prompt: the hit rate the cache
 * would give had the date and time been put in the cached prefix.
 */
function contextInSystemPrompt(bodies: ReadonlyArray<Record<string, unknown>>): PromptCacheStats {
  const stats: PromptCacheStats = { requests: 0, hits: 0, readTokens: 0, writeTokens: 0, uncachedTokens: 0, perRequest: [] };
  const seen = new Set<string>();
  for (const body of bodies) {
    if (!Array.isArray(body.messages)) continue;
    const copy = structuredClone(body) as { system: Array<{ text: string }>; messages: Array<{ role: string; content: unknown }> };
    const last = copy.messages.findLast((message) => message.role === "user" && Array.isArray(message.content) && (message.content as Array<{ text?: string }>).some((block) => block.text?.startsWith("<turn_context>")));
    if (last && Array.isArray(last.content)) {
      const blocks = last.content as Array<{ text?: string }>;
      const context = blocks.find((block) => block.text?.startsWith("<turn_context>"))!;
      last.content = blocks.filter((block) => block !== context);
      copy.system[0]!.text += `\n\n${context.text}`;
    }
    simulatePromptCache(copy as unknown as Record<string, unknown>, estimateTokens(JSON.stringify(copy)), seen, 1024, stats);
  }
  return stats;
}
