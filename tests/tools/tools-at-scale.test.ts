import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import OpenAI from "openai";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { FAVCRM_CATALOG_TOOL_NAMES } from "../fakes/favcrm-catalog.ts";
import { startFavcrmFake, FAVCRM_FAKE_DEFAULT_API_KEY, FAVCRM_FAKE_TOOL_NAMES } from "../fakes/favcrm-fake.ts";
import { startOpenAIFake } from "../fakes/openai-fake.ts";
import { toolResults, type ModelFake } from "../fakes/model-script.ts";
import { eventually, startAgentHarness } from "../helpers/agent-harness.ts";
import { BOOKING_WALK_CALLS, BOOKING_WALK_MESSAGE, BOOKING_WALK_REPLY, bookingWalkSteps, sentTools } from "../helpers/booking-walk.ts";
import type { ToolNotice } from "../../src/tools/index.ts";

type Provider = "anthropic" | "openai";

async function setup(t: TestContext, options: { provider?: Provider; catalog?: "core" | "full"; tools?: Record<string, unknown>; workingSet?: boolean } = {}) {
  const provider = options.provider ?? "anthropic";
  const model: ModelFake = provider === "anthropic" ? await startAnthropicFake() : await startOpenAIFake();
  t.after(() => model.close());
  const favcrm = await startFavcrmFake({ catalog: options.catalog ?? "full" });
  t.after(() => favcrm.close());
  const env = {
    ...(provider === "anthropic"
      ? { ANTHROPIC_API_KEY: "fake-anthropic-key-for-tests", ANTHROPIC_BASE_URL: model.url }
      : { OPENAI_API_KEY: "sk-fake-openai-key-for-tests", OPENAI_BASE_URL: model.url }),
    FAVCRM_MCP_URL: favcrm.url,
    FAVCRM_API_KEY: FAVCRM_FAKE_DEFAULT_API_KEY,
  };
  const config = {
    agents: { defaults: { model: provider === "anthropic" ? "anthropic/claude-test" : "openai/gpt-test" }, list: [{ id: "main", default: true }] },
    ...(options.tools ? { tools: options.tools } : {}),
  };
  const harness = await startAgentHarness(t, { config, env, ...(options.workingSet === false ? { workingSet: false } : {}) });
  return { model, favcrm, ...harness };
}

test("the full FavCRM fake serves 165 tools with FavCRM's documented names", async (t) => {
  const { tools, mcp } = await setup(t);
  await mcp.warmUp();
  const favcrmTools = tools.list().filter((tool) => tool.name.startsWith("favcrm__"));
  assert.equal(favcrmTools.length, 165);
  assert.equal(FAVCRM_FAKE_TOOL_NAMES.length + FAVCRM_CATALOG_TOOL_NAMES.length, 165);
  for (const name of ["create_booking", "cancel_booking", "get_available_slots", "list_customers", "refund_payment", "create_campaign", "get_revenue_report", "update_settings"]) {
    assert.ok(favcrmTools.some((tool) => tool.name === `favcrm__${name}`), `${name} is listed`);
  }
  const reschedule = favcrmTools.find((tool) => tool.name === "favcrm__reschedule_booking")!;
  assert.deepEqual((reschedule.inputSchema as { required: string[] }).required, ["bookingId", "start", "idempotencyKey"]);
});

test("the OpenAI fake refuses more than 128 tools the way the API does (array_above_max_length)", async (t) => {
  const fake = await startOpenAIFake();
  t.after(() => fake.close());
  const client = new OpenAI({ apiKey: "sk-test", baseURL: fake.url, maxRetries: 0 });
  const tools = Array.from({ length: 129 }, (_, index) => ({ type: "function" as const, function: { name: `tool_${index}`, parameters: { type: "object" } } }));
  await assert.rejects(
    client.chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "hi" }], tools }),
    (error: InstanceType<typeof OpenAI.APIError>) => {
      assert.equal(error.status, 400);
      assert.equal(error.code, "array_above_max_length");
      assert.equal(error.param, "tools");
      assert.match(error.message, /Expected an array with maximum length 128, but got an array with length 129/);
      return true;
    },
  );
  const accepted = await client.chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "hi" }], tools: tools.slice(0, 128) });
  assert.equal(accepted.choices[0]!.message.content, "ok");
});

test("an OpenAI-provider turn with 165 FavCRM tools connected succeeds and sends at most 40 tools, find_tools first", async (t) => {
  const { model, runtime } = await setup(t, { provider: "openai" });
  model.enqueue({ text: "Hello! How can I help?" });
  const result = await runtime.handle({ channel: "telegram", chat: "owner", sender: "owner", text: "hi" });
  assert.equal(result.errorCode, undefined, result.reply);
  assert.equal(result.reply, "Hello! How can I help?");
  const request = model.requests.at(-1)!;
  assert.equal(request.rejected, undefined);
  const names = sentTools(request);
  assert.ok(names.length <= 40 && names.length <= 128, `${names.length} tools sent`);
  assert.equal(names[0], "find_tools");
  assert.ok(names.includes("memory_search") && names.includes("favcrm__list_my_companies") && names.includes("favcrm__get_plan_status"), names.join(", "));
  assert.ok(!names.includes("favcrm__cancel_booking"), "the catalog is not sent whole");
});

test("without working sets (as before), the same OpenAI turn is refused with array_above_max_length and the person gets a sentence", async (t) => {
  const { model, runtime } = await setup(t, { provider: "openai", workingSet: false });
  const result = await runtime.handle({ channel: "telegram", chat: "owner", sender: "owner", text: "hi" });
  assert.equal(result.errorCode, "MODEL_BAD_REQUEST");
  assert.match(result.reply, /rejected the request/);
  assert.equal(sentTools(model.requests.at(-1)!).length, 168, "165 FavCRM tools and the 3 memory tools");
  assert.match(model.requests.at(-1)!.rejected ?? "", /array too long/);
});

test("a small catalog is sent whole, without find_tools (no change for small setups)", async (t) => {
  const { model, runtime } = await setup(t, { catalog: "core" });
  model.enqueue({ text: "hi" });
  await runtime.handle({ channel: "telegram", chat: "owner", sender: "owner", text: "hello" });
  const names = sentTools(model.requests.at(-1)!);
  assert.equal(names.length, FAVCRM_FAKE_TOOL_NAMES.length + 3, "every FavCRM tool plus the three memory tools");
  assert.ok(!names.includes("find_tools"));
});

for (const provider of ["anthropic", "openai"] as const) {
  test(`${provider}/*: a booking walk through find_tools — found tools are offered in the next round and FavCRM receives the calls`, async (t) => {
    const { model, favcrm, runtime, tools } = await setup(t, { provider });
    model.enqueue(...bookingWalkSteps());
    const result = await runtime.handle({ channel: "telegram", chat: "owner", sender: "owner", text: BOOKING_WALK_MESSAGE });
    assert.match(result.reply, BOOKING_WALK_REPLY);
    assert.deepEqual(favcrm.calls.map((call) => call.tool), ["list_services", "get_available_slots", "create_booking"]);
    assert.deepEqual(result.toolCalls.map((call) => [call.name, call.decision, call.isError]), BOOKING_WALK_CALLS.map((name) => [name, "auto", false]));
    assert.ok(model.requests.every((request) => sentTools(request).length <= 40 && request.rejected === undefined));
    assert.ok(tools.workingSets!.active(result.sessionId).includes("favcrm__create_booking"));
  });
}

test("the working set decays: a found tool unused for decayTurns turns is no longer sent; using it keeps it", async (t) => {
  const { model, runtime } = await setup(t, { tools: { workingSet: { decayTurns: 2 } } });
  const turn = (text: string) => runtime.handle({ channel: "telegram", chat: "owner", sender: "owner", text });
  model.enqueue(
    { toolCalls: [{ name: "find_tools", arguments: { query: "refund payment", limit: 2 } }] },
    { text: "found" },
  );
  await turn("how do I refund?");
  assert.ok(sentTools(model.requests.at(-1)!).includes("favcrm__refund_payment"));

  // Turns 2 and 3 do not use it: still sent (2 turns of grace).
  for (const text of ["thanks", "anything else?"]) {
    model.enqueue({ text: "ok" });
    await turn(text);
    assert.ok(sentTools(model.requests.at(-1)!).includes("favcrm__refund_payment"), `still offered at "${text}"`);
  }
  // Turn 4: unused for more than 2 turns → gone, while the core stays.
  model.enqueue({ text: "ok" });
  await turn("bye");
  const names = sentTools(model.requests.at(-1)!);
  assert.ok(!names.includes("favcrm__refund_payment"), "decayed");
  assert.ok(names.includes("find_tools") && names.includes("memory_read"));

  // Turn 5 finds two tools; turn 6 calls one of them, which refreshes only that one.
  model.enqueue(
    { toolCalls: [{ name: "find_tools", arguments: { query: "refund payment list refunds", limit: 2 } }] },
    { text: "found" },
  );
  await turn("refunds?");
  assert.ok(["favcrm__refund_payment", "favcrm__list_refunds"].every((name) => sentTools(model.requests.at(-1)!).includes(name)));
  model.enqueue({ toolCalls: [{ name: "favcrm__list_refunds", arguments: {} }] }, { text: "none" });
  await turn("list them");
  model.enqueue({ text: "ok" });
  await turn("turn 7");
  model.enqueue({ text: "ok" });
  await turn("turn 8");
  const turn8 = sentTools(model.requests.at(-1)!);
  assert.ok(!turn8.includes("favcrm__refund_payment"), "found in turn 5, never used: gone in turn 8");
  assert.ok(turn8.includes("favcrm__list_refunds"), "called in turn 6: still there in turn 8");
});

test("policy stays per real tool: cancel_booking found through find_tools still asks, and FavCRM sees nothing before YES", async (t) => {
  const { model, favcrm, runtime } = await setup(t);
  model.enqueue(
    { toolCalls: [{ name: "find_tools", arguments: { query: "cancel booking" } }] },
    (request) => {
      assert.ok(sentTools(request).includes("favcrm__cancel_booking"));
      return { toolCalls: [{ name: "favcrm__cancel_booking", arguments: { bookingId: "bk_1", idempotencyKey: "k-1" } }] };
    },
    (request) => ({ text: toolResults(request).at(-1)!.content }),
  );
  let notice: ToolNotice | undefined;
  const turn = runtime.handle({ channel: "telegram", chat: "owner", sender: "owner", text: "cancel bk_1", onNotice: (value) => (notice = value) });
  await eventually(() => notice !== undefined, 10_000, "the approval prompt");
  assert.match(notice!.text, /favcrm__cancel_booking/);
  assert.equal(favcrm.calls.filter((call) => call.tool === "cancel_booking").length, 0);
  const answer = await runtime.handle({ channel: "telegram", chat: "owner", sender: "owner", text: "NO" });
  assert.match(answer.reply, /Cancelled/);
  const result = await turn;
  assert.match(result.reply, /Declined by the user/);
  assert.equal(favcrm.calls.filter((call) => call.tool === "cancel_booking").length, 0);
  assert.deepEqual(result.toolCalls.map((call) => [call.name, call.decision]), [["find_tools", "auto"], ["favcrm__cancel_booking", "confirm"]]);
});
