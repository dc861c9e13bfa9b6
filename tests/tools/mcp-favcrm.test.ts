import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { startFavcrmFake, FAVCRM_FAKE_DEFAULT_API_KEY } from "../fakes/favcrm-fake.ts";
import { toolResults, type RecordedRequest } from "../fakes/model-script.ts";
import { eventually, startAgentHarness } from "../helpers/agent-harness.ts";
import type { ToolNotice } from "../../src/tools/index.ts";

const ANTHROPIC_KEY = "fake-anthropic-key-for-tests";
const MODEL_CONFIG = { agents: { defaults: { model: "anthropic/claude-test" }, list: [{ id: "main", default: true }] } };

/** The `data` of the last tool result the model received (FavCRM: structuredContent {data, summary, renderType}). */
const lastData = (request: RecordedRequest) => JSON.parse(toolResults(request).at(-1)!.content).data;

async function setup(t: TestContext, options: { config?: Record<string, unknown>; withKey?: boolean; approvalTimeoutMs?: number; toolDelayMs?: Record<string, number>; downAtStart?: boolean } = {}) {
  const model = await startAnthropicFake();
  t.after(() => model.close());
  const favcrm = await startFavcrmFake(options.toolDelayMs ? { toolDelayMs: options.toolDelayMs } : {});
  t.after(() => favcrm.close());
  if (options.downAtStart) favcrm.setDown(true);
  const env = {
    ANTHROPIC_API_KEY: ANTHROPIC_KEY,
    ANTHROPIC_BASE_URL: model.url,
    FAVCRM_MCP_URL: favcrm.url,
    ...(options.withKey === false ? {} : { FAVCRM_API_KEY: FAVCRM_FAKE_DEFAULT_API_KEY }),
  };
  const harness = await startAgentHarness(t, { config: options.config ?? MODEL_CONFIG, env, ...(options.approvalTimeoutMs ? { approvalTimeoutMs: options.approvalTimeoutMs } : {}) });
  return { model, favcrm, ...harness };
}

const toolCalled = (favcrm: { calls: Array<{ tool: string }> }, name: string) => favcrm.calls.filter((call) => call.tool === name);

test("a booking walk runs without prompts: create_service → get_available_slots → create_booking → confirm_booking", async (t) => {
  const { model, favcrm, runtime, audit } = await setup(t);
  model.enqueue(
    { toolCalls: [{ name: "favcrm__create_service", arguments: { name: "Haircut", durationMinutes: 30 } }] },
    (request) => ({ toolCalls: [{ name: "favcrm__get_available_slots", arguments: { serviceId: lastData(request).serviceId, date: "2026-12-01" } }] }),
    (request) => {
      const data = lastData(request);
      return { toolCalls: [{ name: "favcrm__create_booking", arguments: { serviceId: data.serviceId, slot: data.slots[0], customerName: "Ada" } }] };
    },
    (request) => ({ toolCalls: [{ name: "favcrm__confirm_booking", arguments: { bookingId: lastData(request).bookingId } }] }),
    { text: "Booked and confirmed." },
  );
  const notices: ToolNotice[] = [];
  const result = await runtime.handle({ channel: "telegram", chat: "owner", sender: "owner", text: "Book Ada for a haircut", onNotice: (notice) => notices.push(notice) });
  assert.equal(result.reply, "Booked and confirmed.");
  assert.deepEqual(notices, [], "no prompts for read-only and safe writes on a trusted server");
  assert.deepEqual(favcrm.calls.map((call) => [call.tool, call.authorized]), [
    ["create_service", true], ["get_available_slots", true], ["create_booking", true], ["confirm_booking", true],
  ]);
  assert.deepEqual(result.toolCalls.map((call) => [call.name, call.decision, call.isError]), [
    ["favcrm__create_service", "auto", false], ["favcrm__get_available_slots", "auto", false],
    ["favcrm__create_booking", "auto", false], ["favcrm__confirm_booking", "auto", false],
  ]);
  const audited = audit.list();
  assert.equal(audited.length, 4);
  assert.deepEqual(audited.map((entry) => entry.outcome), ["ok", "ok", "ok", "ok"]);
  assert.equal(audited[0]!.server, "favcrm");
});

/** Run a turn that calls cancel_booking on a fresh booking, resolving once the approval prompt is out. */
async function cancelTurn(context: Awaited<ReturnType<typeof setup>>, sender = "owner") {
  const { model, runtime } = context;
  model.enqueue(
    { toolCalls: [{ name: "favcrm__create_service", arguments: { name: "Cut", durationMinutes: 30 } }] },
    (request) => ({ toolCalls: [{ name: "favcrm__get_available_slots", arguments: { serviceId: lastData(request).serviceId, date: "2026-12-02" } }] }),
    (request) => ({ toolCalls: [{ name: "favcrm__create_booking", arguments: { serviceId: lastData(request).serviceId, slot: lastData(request).slots[0], customerName: "Bo" } }] }),
    (request) => ({ toolCalls: [{ name: "favcrm__cancel_booking", arguments: { bookingId: lastData(request).bookingId, idempotencyKey: "k-1" } }] }),
    (request) => ({ text: `Result: ${toolResults(request).at(-1)!.content}` }),
  );
  let notice: ToolNotice | undefined;
  const turn = runtime.handle({ channel: "telegram", chat: "owner-chat", sender, text: "Cancel Bo's booking", onNotice: (value) => (notice = value) });
  await eventually(() => notice !== undefined, 10_000, "the approval prompt");
  return { turn, notice: notice! };
}

test("cancel_booking asks in the same chat, the server receives nothing until YES, then it runs", async (t) => {
  const context = await setup(t);
  const { favcrm, runtime, approvals, audit } = context;
  const { turn, notice } = await cancelTurn(context);
  assert.match(notice.text, /favcrm__cancel_booking/);
  assert.match(notice.text, /bookingId: bk_/);
  assert.match(notice.text, /Reply YES to go ahead or NO to cancel/);
  assert.equal(toolCalled(favcrm, "cancel_booking").length, 0, "nothing sent before the yes");
  assert.equal(approvals.pending().length, 1);

  // Someone else in the same (group) chat says YES: not an approval; it waits its turn in the lane.
  const stranger = runtime.handle({ channel: "telegram", chat: "owner-chat", sender: "someone-else", text: "YES" });
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(approvals.pending().length, 1, "another person's YES is not an approval");
  assert.equal(toolCalled(favcrm, "cancel_booking").length, 0);

  const ack = await runtime.handle({ channel: "telegram", chat: "owner-chat", sender: "owner", text: "yes" });
  assert.match(ack.reply, /Approved/);
  const result = await turn;
  assert.equal(toolCalled(favcrm, "cancel_booking").length, 1);
  assert.match(result.reply, /"status":"cancelled"|cancelled/);
  const entry = audit.list().find((row) => row.tool === "cancel_booking")!;
  assert.equal(entry.decision, "confirm");
  assert.equal(entry.approvedBy, "user:owner");
  assert.equal(entry.outcome, "ok");
  assert.ok(!/Approved/.test((await stranger).reply), "the stranger's message was an ordinary message");
});

test("NO declines: the model is told the user declined, the server never sees the call", async (t) => {
  const context = await setup(t);
  const { favcrm, runtime, model } = context;
  const { turn } = await cancelTurn(context);
  const ack = await runtime.handle({ channel: "telegram", chat: "owner-chat", sender: "owner", text: "NO" });
  assert.match(ack.reply, /Cancelled/);
  const result = await turn;
  assert.equal(toolCalled(favcrm, "cancel_booking").length, 0);
  assert.match(result.reply, /Declined by the user/);
  assert.match(toolResults(model.requests.at(-1)!).at(-1)!.content, /Declined by the user/);
});

test("an approval nobody answers expires and declines", async (t) => {
  const context = await setup(t, { approvalTimeoutMs: 300 });
  const { favcrm, audit } = context;
  const { turn } = await cancelTurn(context);
  const result = await turn;
  assert.match(result.reply, /Declined by the user/);
  assert.equal(toolCalled(favcrm, "cancel_booking").length, 0);
  assert.equal(audit.list().find((row) => row.tool === "cancel_booking")!.outcome, "expired");
});

test("an approval decided through the API runs the call", async (t) => {
  const context = await setup(t);
  const { favcrm, approvals } = context;
  const { turn, notice } = await cancelTurn(context);
  const decided = approvals.decide(notice.approval.id, true, "api");
  assert.equal(decided?.status, "approved");
  await turn;
  assert.equal(toolCalled(favcrm, "cancel_booking").length, 1);
  assert.equal(approvals.decide(notice.approval.id, false, "api"), undefined, "decided once");
});

test("a direct customer send is denied and never reaches the server; the model is pointed at request_send_approval", async (t) => {
  const { model, favcrm, runtime } = await setup(t);
  model.enqueue(
    { toolCalls: [{ name: "favcrm__send_whatsapp_message", arguments: { to: "+85212345678", message: "Hi!" } }] },
    (request) => ({ text: toolResults(request).at(-1)!.content }),
  );
  const result = await runtime.handle({ channel: "telegram", chat: "c", sender: "owner", text: "message the customer" });
  assert.equal(toolCalled(favcrm, "send_whatsapp_message").length, 0);
  assert.match(result.reply, /request_send_approval/);
  assert.equal(result.toolCalls[0]!.decision, "deny");
});

test("tools.policy can make a read-only tool need confirmation", async (t) => {
  const { model, favcrm, runtime } = await setup(t, {
    config: { ...MODEL_CONFIG, tools: { policy: [{ match: "favcrm__list_*", decision: "deny" }] } },
  });
  model.enqueue({ toolCalls: [{ name: "favcrm__list_services", arguments: {} }] }, { text: "ok" });
  const result = await runtime.handle({ channel: "web", chat: "w", text: "list services" });
  assert.equal(result.toolCalls[0]!.decision, "deny");
  assert.equal(toolCalled(favcrm, "list_services").length, 0);
});

test("a hung tool times out into an error result instead of hanging the turn", async (t) => {
  const { model, runtime } = await setup(t, {
    config: { ...MODEL_CONFIG, mcp: { servers: { favcrm: { timeoutMs: 300 } } } },
    toolDelayMs: { slow_report: 30_000 },
  });
  model.enqueue({ toolCalls: [{ name: "favcrm__slow_report", arguments: {} }] }, (request) => ({ text: toolResults(request).at(-1)!.content }));
  const result = await runtime.handle({ channel: "web", chat: "w", text: "run the slow report" });
  assert.match(result.reply, /timed out/);
});

test("a server that is down at start has no tools and the model is told; when it comes up its tools appear without a restart", async (t) => {
  const { favcrm, mcp, model, runtime, tools } = await setup(t, { downAtStart: true });
  const connection = mcp.connection("favcrm")!;
  await eventually(() => connection.status.state === "reconnecting", 10_000, "the first failed connect");
  assert.equal(tools.list().filter((tool) => tool.name.startsWith("favcrm__")).length, 0, "tools withdrawn");
  model.enqueue({ text: "sorry" });
  await runtime.handle({ channel: "web", chat: "w", text: "list my services" });
  assert.match(JSON.stringify(model.requests.at(-1)!.body.system), /favcrm tools: /, "the system prompt says FavCRM is unavailable");
  favcrm.setDown(false);
  await eventually(() => connection.status.state === "connected", 15_000, "the reconnect after backoff");
  assert.ok(tools.list().some((tool) => tool.name === "favcrm__list_services"));
});

test("without a FavCRM key the signup tools are offered without connecting; the first call connects", async (t) => {
  const { model, favcrm, runtime, tools, approvals } = await setup(t, { withKey: false });
  model.enqueue({ text: "hello" });
  await runtime.handle({ channel: "web", chat: "w", text: "hi" });
  assert.deepEqual(tools.list().filter((tool) => tool.name.startsWith("favcrm__")).map((tool) => tool.name), [
    "favcrm__register_organisation_request", "favcrm__register_organisation_verify",
  ]);
  assert.equal(favcrm.httpRequests, 0, "no connection (and no MCP SDK loaded) for a user who never signs up");
  model.enqueue(
    { toolCalls: [{ name: "favcrm__register_organisation_request", arguments: { email: "o@example.test", organisationName: "S", industry: "beauty", country: "HK", timezone: "Asia/Hong_Kong" } }] },
    (request) => ({ text: toolResults(request).at(-1)!.content }),
  );
  let notice: ToolNotice | undefined;
  const turn = runtime.handle({ channel: "web", chat: "w", sender: "web", text: "sign me up", onNotice: (value) => (notice = value) });
  await eventually(() => notice !== undefined, 10_000, "approval to send the email");
  approvals.decide(notice!.approval.id, true, "api");
  const result = await turn;
  assert.match(result.reply, /requestId/);
  assert.equal(favcrm.calls.filter((call) => call.tool === "register_organisation_request").length, 1);
});
