import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { startFavcrmFake, FAVCRM_FAKE_DEFAULT_API_KEY } from "../fakes/favcrm-fake.ts";
import { toolResults, type RecordedRequest } from "../fakes/model-script.ts";
import { eventually, startAgentHarness } from "../helpers/agent-harness.ts";
import { parseApprovalAnswer, type ToolNotice } from "../../src/tools/index.ts";

/** The six replies the review saw approve a pending cancel_booking. */
const REVIEW_REFUSALS = ["是不是", "好，不要", "好不好", "y 不", "Yes?", "ok 🛑"];

const TABLE: Array<[string, "yes" | "no" | undefined]> = [
  // English
  ["yes", "yes"], ["YES", "yes"], ["  Yes.  ", "yes"], ["yes!!", "yes"], ["y", "yes"], ["OK", "yes"], ["okay!", "yes"],
  ["go ahead", "yes"], ["Go   ahead.", "yes"], ["approve", "yes"], ["sure", "yes"], ["ＹＥＳ", "yes"],
  ["no", "no"], ["No.", "no"], ["NOPE", "no"], ["cancel", "no"], ["stop!", "no"], ["don't", "no"],
  ["yes?", undefined], ["yes, but tomorrow", undefined], ["yes no", undefined], ["no yes", undefined], ["ok but wait", undefined],
  ["yess", undefined], ["yes please cancel everything", undefined], ["not yes", undefined], ["y?", undefined], ["ok...?", undefined],
  ["yes 👍", undefined], ["", undefined], ["   ", undefined], ["?", undefined], ["!", undefined], ["yes\nno", undefined],
  // Chinese
  ["好", "yes"], ["好的", "yes"], ["是", "yes"], ["是的。", "yes"], ["可以", "yes"], ["确认", "yes"], ["好！", "yes"],
  ["不", "no"], ["不要", "no"], ["取消", "no"], ["否", "no"], ["不行！", "no"],
  ["好吗", undefined], ["好吗？", undefined], ["是吗", undefined], ["好，谢谢", undefined], ["不好", undefined], ["可以吗", undefined],
  // Spanish
  ["sí", "yes"], ["Sí.", "yes"], ["si", "yes"], ["vale", "yes"], ["de acuerdo", "yes"], ["no", "no"], ["cancelar", "no"],
  ["¿sí?", undefined], ["sí, pero no", undefined], ["si no", undefined],
  // French
  ["oui", "yes"], ["Oui !", "yes"], ["OUI!", "yes"], ["d'accord", "yes"], ["non", "no"], ["annuler", "no"],
  ["oui ?", undefined], ["oui mais non", undefined], ["non merci, oui", undefined],
  // German
  ["ja", "yes"], ["Ja!", "yes"], ["einverstanden", "yes"], ["nein", "no"], ["Nein.", "no"], ["abbrechen", "no"],
  ["ja?", undefined], ["ja, aber nein", undefined], ["jein", undefined],
  // Portuguese
  ["sim", "yes"], ["Sim.", "yes"], ["não", "no"], ["Não!", "no"], ["nao", "no"], ["sim?", undefined], ["sim, não", undefined],
  // Japanese, Korean
  ["はい", "yes"], ["いいえ", "no"], ["네", "yes"], ["はい？", undefined],
];

test("the six replies from the review are neither a yes nor a no", () => {
  for (const text of REVIEW_REFUSALS) assert.equal(parseApprovalAnswer(text), undefined, JSON.stringify(text));
});

test("only a whole-message yes/no word, optionally followed by . or !, is an answer — in several languages", () => {
  const wrong = TABLE.filter(([text, expected]) => parseApprovalAnswer(text) !== expected)
    .map(([text, expected]) => `${JSON.stringify(text)}: expected ${expected}, got ${parseApprovalAnswer(text)}`);
  assert.deepEqual(wrong, []);
});

const ANTHROPIC_KEY = "fake-anthropic-key-for-tests";
const MODEL_CONFIG = { agents: { defaults: { model: "anthropic/claude-test" }, list: [{ id: "main", default: true }] } };
const lastData = (request: RecordedRequest) => JSON.parse(toolResults(request).at(-1)!.content).data;

async function setup(t: TestContext) {
  const model = await startAnthropicFake();
  t.after(() => model.close());
  const favcrm = await startFavcrmFake();
  t.after(() => favcrm.close());
  const env = { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: model.url, FAVCRM_MCP_URL: favcrm.url, FAVCRM_API_KEY: FAVCRM_FAKE_DEFAULT_API_KEY };
  const harness = await startAgentHarness(t, { config: MODEL_CONFIG, env });
  model.enqueue(
    { toolCalls: [{ name: "favcrm__create_service", arguments: { name: "Cut", durationMinutes: 30 } }] },
    (request) => ({ toolCalls: [{ name: "favcrm__get_available_slots", arguments: { serviceId: lastData(request).serviceId, date: "2026-12-02" } }] }),
    (request) => ({ toolCalls: [{ name: "favcrm__create_booking", arguments: { serviceId: lastData(request).serviceId, slot: lastData(request).slots[0], customerName: "Bo" } }] }),
    (request) => ({ toolCalls: [{ name: "favcrm__cancel_booking", arguments: { bookingId: lastData(request).bookingId, idempotencyKey: "k-1" } }] }),
    (request) => ({ text: `Result: ${toolResults(request).at(-1)!.content}` }),
  );
  const notices: ToolNotice[] = [];
  const turn = harness.runtime.handle({ channel: "telegram", chat: "owner-chat", sender: "owner", text: "Cancel Bo's booking", onNotice: (notice) => notices.push(notice) });
  await eventually(() => notices.length === 1, 10_000, "the approval prompt");
  return { model, favcrm, turn, notices, ...harness };
}

test("none of the review's six replies approves a pending cancel_booking: the first is asked again once, with the approval; NO then declines", async (t) => {
  const { favcrm, runtime, approvals, turn, notices } = await setup(t);
  const chat = { channel: "telegram", chat: "owner-chat", sender: "owner" };
  const [first, ...rest] = REVIEW_REFUSALS;

  // Through handle() (the web chat's way): the reply asks again, and the notice carries the approval for the buttons.
  const again = await runtime.handle({ ...chat, text: first!, onNotice: (notice) => notices.push(notice) });
  assert.match(again.reply, /did not take that as an answer/);
  assert.match(again.reply, /favcrm__cancel_booking/);
  assert.match(again.reply, /Reply with just YES to go ahead or NO to cancel/);
  assert.equal(notices.length, 2, "asked again through the notice (buttons where the platform has them)");
  assert.equal(notices[1]!.approval.id, notices[0]!.approval.id);
  assert.equal(approvals.pending().length, 1);

  // Through answerApproval() (the channels' way): asked once already, so these are not answers at all.
  for (const text of rest) {
    assert.equal(runtime.answerApproval({ ...chat, text }), undefined, JSON.stringify(text));
    assert.equal(approvals.pending().length, 1, `${JSON.stringify(text)} left the approval pending`);
  }
  assert.equal(favcrm.calls.filter((call) => call.tool === "cancel_booking").length, 0, "the server never saw cancel_booking");

  const no = runtime.answerApproval({ ...chat, text: "No." });
  assert.match(no!.reply, /Cancelled/);
  assert.equal(no!.askAgain, undefined);
  const result = await turn;
  assert.match(result.reply, /Declined by the user/);
  assert.equal(favcrm.calls.filter((call) => call.tool === "cancel_booking").length, 0);
});

test("through a channel, a first reply that is not an answer gets the approval back once; after that only a clear yes decides", async (t) => {
  const { runtime, approvals, notices, favcrm } = await setup(t);
  const chat = { channel: "telegram", chat: "owner-chat", sender: "owner" };
  const answered = runtime.answerApproval({ ...chat, text: "ok 🛑" });
  assert.ok(answered?.askAgain, "asked again");
  assert.equal(answered.askAgain.approval.id, notices[0]!.approval.id);
  assert.equal(approvals.pending().length, 1);
  for (const text of REVIEW_REFUSALS) assert.equal(runtime.answerApproval({ ...chat, text }), undefined);
  const yes = runtime.answerApproval({ ...chat, text: "Yes!" });
  assert.match(yes!.reply, /Approved/);
  await eventually(() => favcrm.calls.some((call) => call.tool === "cancel_booking"), 10_000, "cancel_booking after the clear yes");
});
