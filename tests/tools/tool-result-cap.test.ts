import assert from "node:assert/strict";
import { test } from "node:test";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { startFavcrmFake, FAVCRM_FAKE_DEFAULT_API_KEY } from "../fakes/favcrm-fake.ts";
import { toolResults } from "../fakes/model-script.ts";
import { startAgentHarness } from "../helpers/agent-harness.ts";
import { capToolResult, MAX_TOOL_RESULT_CHARS } from "../../src/tools/index.ts";

test("a huge MCP result reaches the model, the transcript and the turn's result cut to the cap, with a note that it was cut", async (t) => {
  const model = await startAnthropicFake();
  t.after(() => model.close());
  const favcrm = await startFavcrmFake();
  t.after(() => favcrm.close());
  const env = { ANTHROPIC_API_KEY: "fake-anthropic-key-for-tests", ANTHROPIC_BASE_URL: model.url, FAVCRM_MCP_URL: favcrm.url, FAVCRM_API_KEY: FAVCRM_FAKE_DEFAULT_API_KEY };
  const { runtime, sessions } = await startAgentHarness(t, { config: { agents: { defaults: { model: "anthropic/claude-test" } } }, env });
  const characters = 4_000_000;
  model.enqueue({ toolCalls: [{ name: "favcrm__large_export", arguments: { characters } }] }, { text: "That export is big." });

  const result = await runtime.handle({ channel: "web", chat: "web", text: "Export everything" });
  assert.equal(result.reply, "That export is big.");
  assert.equal(favcrm.calls.filter((call) => call.tool === "large_export").length, 1);

  const sent = toolResults(model.requests.at(-1)!);
  assert.equal(sent.length, 1);
  assert.ok(sent[0]!.content.length <= MAX_TOOL_RESULT_CHARS, `the model received ${sent[0]!.content.length} characters`);
  assert.ok(sent[0]!.content.length > MAX_TOOL_RESULT_CHARS - 1_000, "and most of the cap is used");
  assert.match(sent[0]!.content, /^\{"data":\{"rows":"rrrr/);
  assert.match(sent[0]!.content, /\[Cut by the gateway: the tool returned 4,000,0\d\d characters/);
  assert.ok(model.requests.at(-1)!.rawBody.length < 2 * MAX_TOOL_RESULT_CHARS, "the whole request stays small");

  const stored = sessions.messagesAfter(result.sessionId, 0).find((message) => message.role === "tool")!;
  assert.ok(stored.content.length <= MAX_TOOL_RESULT_CHARS, `the transcript stored ${stored.content.length} characters`);
  assert.match(stored.content, /Cut by the gateway/);
  assert.ok(result.toolCalls[0]!.result.length <= MAX_TOOL_RESULT_CHARS);
});

test("capToolResult: unchanged within the cap, never longer than the cap, never splits a surrogate pair", () => {
  assert.equal(capToolResult("short", 100), "short");
  const exact = "x".repeat(100);
  assert.equal(capToolResult(exact, 100), exact);
  for (let limit = 250; limit < 260; limit++) {
    const cut = capToolResult("😀".repeat(500), limit);
    assert.ok(cut.length <= limit);
    assert.ok(!/[\ud800-\udbff](?![\udc00-\udfff])/.test(cut), `no lone high surrogate at limit ${limit}`);
    assert.match(cut, /Cut by the gateway: the tool returned 1,000 characters/);
  }
});
