import { startAnthropicFake } from "../tests/fakes/anthropic-fake.ts";
import { startFavcrmFake, FAVCRM_FAKE_DEFAULT_API_KEY, type FavcrmFake } from "../tests/fakes/favcrm-fake.ts";
import type { ModelFake } from "../tests/fakes/model-script.ts";
import { startOpenAIFake } from "../tests/fakes/openai-fake.ts";
import { startAgentHarness } from "../tests/helpers/agent-harness.ts";
import { BOOKING_WALK_CALLS, BOOKING_WALK_MESSAGE, BOOKING_WALK_REPLY, bookingWalkSteps, sentTools } from "../tests/helpers/booking-walk.ts";
import type { BenchContext, BenchModule, BenchResult, BenchRow } from "./bench-module.ts";

type Provider = "anthropic" | "openai";
const SIMPLE_TURNS = 3;
/** The issue's target: a simple turn with the working set costs at most this share of sending everything. */
const TARGET_SHARE = 0.2;

interface SimpleTurn {
  provider: Provider;
  workingSet: boolean;
  /** Input tokens as the fake model counts them: ceil(request body characters / 4), the same for both providers. */
  inputTokens: number[];
  toolsSent: number;
  requestBytes: number;
  /** Set when the provider refused the request (OpenAI with more than 128 tools). */
  refused?: string;
}

interface Walk {
  provider: Provider;
  ok: boolean;
  reply: string;
  calls: string[];
  favcrmCalls: string[];
  modelCalls: number;
  maxToolsSent: number;
  inputTokens: number;
}

/**
 * Tools at scale, in-process: the agent wired as the gateway wires it (tests/helpers/agent-harness.ts:
 * real MCP client, real model SDKs) against the FavCRM fake's full 165-tool catalog and the
 * loopback Anthropic and OpenAI fakes. Input tokens of a simple turn ("hi") with every tool sent
 * (working sets off, as before issue 18) vs the working set; OpenAI with every tool (refused over
 * 128); and the booking walk through find_tools on anthropic/* and openai/*. Token counts are the
 * fakes' own estimate, request body characters / 4, applied the same way to every request.
 */
export const toolsBench: BenchModule = {
  name: "tools",
  description: "tools at scale: input tokens per simple turn, all 165 FavCRM tools vs the working set; booking walk through find_tools",
  async run(context: BenchContext): Promise<BenchResult> {
    const cleanups: Array<() => Promise<void>> = [];
    const scope = { after: (cleanup: () => Promise<void>) => void cleanups.push(cleanup) };
    try {
      const favcrm = await startFavcrmFake({ catalog: "full" });
      cleanups.push(() => favcrm.close());
      const models = { anthropic: await startAnthropicFake(), openai: await startOpenAIFake() };
      cleanups.push(() => models.anthropic.close(), () => models.openai.close());
      const start = (provider: Provider, workingSet: boolean) => startAgentHarness(scope, {
        config: { agents: { defaults: { model: provider === "anthropic" ? "anthropic/claude-bench" : "openai/gpt-bench" }, list: [{ id: "main", default: true }] } },
        env: {
          ANTHROPIC_API_KEY: "fake-anthropic-key-for-the-bench", ANTHROPIC_BASE_URL: models.anthropic.url,
          OPENAI_API_KEY: "sk-fake-openai-key-for-the-bench", OPENAI_BASE_URL: models.openai.url,
          FAVCRM_MCP_URL: favcrm.url, FAVCRM_API_KEY: FAVCRM_FAKE_DEFAULT_API_KEY,
        },
        workingSet,
      });

      const simple: SimpleTurn[] = [];
      for (const provider of ["anthropic", "openai"] as const) {
        for (const workingSet of [false, true]) {
          const harness = await start(provider, workingSet);
          await harness.mcp.warmUp();
          simple.push(await simpleTurns(models[provider], harness.runtime, provider, workingSet));
          context.log(`${provider}, ${workingSet ? "working set" : "all tools"}: ${describeSimple(simple.at(-1)!)}`);
        }
      }
      const walks: Walk[] = [];
      for (const provider of ["anthropic", "openai"] as const) {
        const harness = await start(provider, true);
        walks.push(await bookingWalk(models[provider], favcrm, harness.runtime, provider));
        context.log(`booking walk on ${provider}/*: ${walks.at(-1)!.ok ? "ok" : `FAILED (${walks.at(-1)!.reply})`}`);
      }
      return { rows: rowsFor(simple, walks), data: { tokenEstimate: "request body characters / 4 (the fakes' estimateTokens)", catalogTools: 165, simple, walks } };
    } finally {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    }
  },
};

type Runtime = Awaited<ReturnType<typeof startAgentHarness>>["runtime"];

async function simpleTurns(model: ModelFake, runtime: Runtime, provider: Provider, workingSet: boolean): Promise<SimpleTurn> {
  const inputTokens: number[] = [];
  let toolsSent = 0;
  let requestBytes = 0;
  for (let turn = 0; turn < SIMPLE_TURNS; turn++) {
    // The fake's default step answers ("ok"): nothing is left queued when a request is refused.
    const before = model.requests.length;
    // A fresh chat each time: the first turn of a conversation, the cheapest there is.
    const result = await runtime.handle({ channel: "telegram", chat: `bench-${provider}-${workingSet}-${turn}`, sender: "owner", text: "hi" });
    const request = model.requests[before]!;
    if (request.rejected) return { provider, workingSet, inputTokens, toolsSent: sentTools(request).length, requestBytes: Buffer.byteLength(request.rawBody), refused: request.rejected };
    if (result.errorCode) throw new Error(`${provider} simple turn failed: ${result.reply}`);
    inputTokens.push(result.usage.inputTokens);
    toolsSent = sentTools(request).length;
    requestBytes = Buffer.byteLength(request.rawBody);
  }
  return { provider, workingSet, inputTokens, toolsSent, requestBytes };
}

async function bookingWalk(model: ModelFake, favcrm: FavcrmFake, runtime: Runtime, provider: Provider): Promise<Walk> {
  const before = model.requests.length;
  const favcrmBefore = favcrm.calls.length;
  model.enqueue(...bookingWalkSteps());
  const result = await runtime.handle({ channel: "telegram", chat: `bench-walk-${provider}`, sender: "owner", text: BOOKING_WALK_MESSAGE });
  const requests = model.requests.slice(before);
  const calls = result.toolCalls.map((call) => call.name);
  const favcrmCalls = favcrm.calls.slice(favcrmBefore).map((call) => call.tool);
  const ok = BOOKING_WALK_REPLY.test(result.reply) && calls.join() === BOOKING_WALK_CALLS.join() && favcrmCalls.join() === "list_services,get_available_slots,create_booking";
  return {
    provider, ok, reply: result.reply, calls, favcrmCalls, modelCalls: requests.length,
    maxToolsSent: Math.max(...requests.map((request) => sentTools(request).length)), inputTokens: result.usage.inputTokens,
  };
}

function describeSimple(turn: SimpleTurn): string {
  return turn.refused ? `refused (${turn.refused.slice(0, 80)}…) with ${turn.toolsSent} tools` : `${turn.inputTokens[0]} input tokens, ${turn.toolsSent} tools, ${turn.requestBytes} bytes`;
}

function rowsFor(simple: SimpleTurn[], walks: Walk[]): BenchRow[] {
  const find = (provider: Provider, workingSet: boolean) => simple.find((turn) => turn.provider === provider && turn.workingSet === workingSet)!;
  const tokens = (turn: SimpleTurn) => turn.inputTokens[0] ?? 0;
  const rows: BenchRow[] = [];
  const allAnthropic = find("anthropic", false);
  const setAnthropic = find("anthropic", true);
  const share = tokens(setAnthropic) / tokens(allAnthropic);
  rows.push(
    { figure: "simple turn, 165 tools, all sent (anthropic/*): input tokens", ours: `${tokens(allAnthropic)} (${allAnthropic.toolsSent} tools)`, anchor: "", target: "" },
    { figure: "simple turn, working set (anthropic/*): input tokens", ours: `${tokens(setAnthropic)} (${setAnthropic.toolsSent} tools)`, anchor: "", target: "" },
    { figure: "working set / all tools (input tokens)", ours: `${(share * 100).toFixed(1)} %`, anchor: "", target: `≤ ${TARGET_SHARE * 100} %`, met: share <= TARGET_SHARE },
  );
  const allOpenAI = find("openai", false);
  const setOpenAI = find("openai", true);
  rows.push(
    { figure: "simple turn, 165 tools, all sent (openai/*)", ours: allOpenAI.refused ? `refused: 400 array_above_max_length (${allOpenAI.toolsSent} tools)` : `${tokens(allOpenAI)} tokens`, anchor: "", target: "" },
    { figure: "simple turn, working set (openai/*): input tokens", ours: setOpenAI.refused ? "refused" : `${tokens(setOpenAI)} (${setOpenAI.toolsSent} tools)`, anchor: "", target: "≤ 128 tools, accepted", met: !setOpenAI.refused && setOpenAI.toolsSent <= 128 },
  );
  for (const walk of walks) {
    rows.push({
      figure: `booking walk through find_tools (${walk.provider}/*)`,
      ours: walk.ok ? `ok: ${walk.modelCalls} model calls, ≤ ${walk.maxToolsSent} tools each, ${walk.inputTokens} input tokens` : `FAILED: ${walk.reply.slice(0, 60)}`,
      anchor: "",
      target: "succeeds",
      met: walk.ok,
    });
  }
  return rows;
}
