import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { FAVCRM_FAKE_DEFAULT_API_KEY, startFavcrmFake } from "../fakes/favcrm-fake.ts";
import { toolResults } from "../fakes/model-script.ts";
import { startTelegramFake, type TelegramParams } from "../fakes/telegram-fake.ts";
import { eventually } from "../helpers/agent-harness.ts";
import { startScheduleHarness } from "./schedule-harness.ts";

const USER = 2002;
const OWNER = 1001;

async function setUp(t: TestContext, options: { start: string; config?: Record<string, unknown>; favcrm?: boolean }) {
  const model = await startAnthropicFake();
  t.after(() => model.close());
  const telegram = await startTelegramFake();
  t.after(() => telegram.close());
  const favcrm = options.favcrm ? await startFavcrmFake() : undefined;
  if (favcrm) t.after(() => favcrm.close());
  const harness = await startScheduleHarness(t, {
    start: options.start,
    config: {
      agents: { defaults: { model: "anthropic/claude-test" } },
      channels: { telegram: { enabled: true, apiRoot: telegram.url, pollingTimeoutSeconds: 1, allowFrom: [USER, OWNER], owners: [OWNER] } },
      ...options.config,
      cron: { timezone: "UTC", ...(options.config?.cron as Record<string, unknown> | undefined) },
    },
    env: {
      ANTHROPIC_API_KEY: "fake-anthropic-key-for-tests", ANTHROPIC_BASE_URL: model.url, TELEGRAM_BOT_TOKEN: telegram.token,
      ...(favcrm ? { FAVCRM_MCP_URL: favcrm.url, FAVCRM_API_KEY: FAVCRM_FAKE_DEFAULT_API_KEY } : {}),
    },
  });
  return { model, telegram, favcrm, ...harness };
}

const texts = (sent: TelegramParams[]): string[] => sent.map((message) => String(message.text));

test("a reminder asked for in a Telegram chat (scripted model) is delivered in that chat at its time, once", async (t) => {
  const { model, telegram, clock } = await setUp(t, { start: "2026-12-04T17:00:00Z" });
  model.enqueue(
    { toolCalls: [{ name: "schedule_create", arguments: { when: "2026-12-04T19:00:00+00:00", message: "Call Amy" } }] },
    (request) => ({ text: `Scheduled: ${toolResults(request).at(-1)!.content}` }),
  );
  model.setDefault({ text: "ordinary reply" });
  telegram.pushMessage({ chatId: USER, fromId: USER, text: "remind me to call Amy at 7pm" });
  await eventually(() => texts(telegram.sent(USER)).some((text) => text.startsWith("Scheduled:")), 15_000, "the confirmation");
  assert.match(texts(telegram.sent(USER)).find((text) => text.startsWith("Scheduled:"))!, /"nextRun":"2026-12-04T19:00:00.000Z"/);

  clock.advanceTo("2026-12-04T18:59:59Z");
  assert.ok(!texts(telegram.sent(USER)).includes("Call Amy"), "not before its time (the claim and store are synchronous)");
  clock.advanceTo("2026-12-04T19:00:00Z");
  await eventually(() => texts(telegram.sent(USER)).includes("Call Amy"), 10_000, "the reminder");
  // A later message's reply is the sentinel: by then a second delivery would have been sent too.
  clock.advanceTo("2026-12-05T19:00:00Z");
  telegram.pushMessage({ chatId: USER, fromId: USER, text: "thanks" });
  await eventually(() => texts(telegram.sent(USER)).includes("ordinary reply"), 15_000, "the later reply");
  assert.equal(texts(telegram.sent(USER)).filter((text) => text === "Call Amy").length, 1);
});

test("a heartbeat with nothing to say sends nothing; one with something to say messages the owner; it is offered read-only tools only", async (t) => {
  const { model, telegram, clock, schedule } = await setUp(t, {
    start: "2026-12-04T10:00:00Z",
    config: { agents: { defaults: { model: "anthropic/claude-test", heartbeat: { every: "30m", activeHours: "08:00-22:00" } } } },
  });
  await schedule.heartbeat.write("main", "- Is any booking today still unconfirmed?");
  model.enqueue({ text: "HEARTBEAT_OK" }, { text: "The 15:00 booking is still unconfirmed." });
  clock.advanceTo("2026-12-04T10:30:00Z");
  await eventually(() => schedule.store.runs("heartbeat:main")[0]?.status === "silent", 15_000, "the silent heartbeat");
  clock.advanceTo("2026-12-04T11:00:00Z");
  await eventually(() => texts(telegram.sent(OWNER)).length > 0, 15_000, "the heartbeat message");
  assert.deepEqual(texts(telegram.sent(OWNER)), ["The 15:00 booking is still unconfirmed."], "the silent one sent nothing");
  assert.equal(telegram.sent(USER).length, 0, "only owners hear the heartbeat");
  const offered = (model.requests[0]!.body.tools as Array<{ name: string }>).map((tool) => tool.name).sort();
  assert.deepEqual(offered, ["memory_read", "memory_search", "schedule_list"]);
  assert.match(JSON.stringify(model.requests[0]!.body.messages), /still unconfirmed\?/, "HEARTBEAT.md reached the model");
  const runs = schedule.store.runs("heartbeat:main");
  assert.ok(runs.every((run) => run.inputTokens > 0), "tokens per heartbeat are recorded");
});

test("a scheduled turn whose tool needs a yes asks the owner in Telegram, and runs it after the owner's yes", async (t) => {
  const { model, telegram, clock, favcrm } = await setUp(t, {
    start: "2026-12-04T08:00:00Z",
    favcrm: true,
    config: { cron: { jobs: [{ id: "void-duplicates", schedule: "0 9 * * *", instruction: "Void invoice inv_9, it is a duplicate.", deliverTo: "owners" }] } },
  });
  model.enqueue(
    { toolCalls: [{ name: "favcrm__void_invoice", arguments: { invoiceId: "inv_9", reason: "duplicate" } }] },
    (request) => ({ text: `Done: ${toolResults(request).at(-1)!.content.slice(0, 40)}` }),
  );
  clock.advanceTo("2026-12-04T09:00:00Z");
  await eventually(() => texts(telegram.sent(OWNER)).some((text) => /Approval needed/.test(text)), 15_000, "the approval prompt to the owner");
  assert.equal(favcrm!.calls.filter((call) => call.tool === "void_invoice").length, 0, "nothing voided before the yes");
  telegram.pushMessage({ chatId: OWNER, fromId: OWNER, text: "yes" });
  await eventually(() => texts(telegram.sent(OWNER)).some((text) => text.startsWith("Done:")), 15_000, "the job's answer");
  assert.equal(favcrm!.calls.filter((call) => call.tool === "void_invoice").length, 1);
});

test("a direct customer send inside a scheduled turn is still denied (FavCRM's request_send_approval rule)", async (t) => {
  const { model, telegram, clock, favcrm, schedule } = await setUp(t, {
    start: "2026-12-04T08:00:00Z",
    favcrm: true,
    config: { cron: { jobs: [{ id: "remind-customers", schedule: "0 9 * * *", instruction: "Remind tomorrow's customers of their bookings.", deliverTo: "owners" }] } },
  });
  model.enqueue(
    { toolCalls: [{ name: "favcrm__send_message", arguments: { to: "cus_1", message: "See you tomorrow!" } }] },
    (request) => ({ text: `Could not send: ${toolResults(request).at(-1)!.content}` }),
  );
  clock.advanceTo("2026-12-04T09:00:00Z");
  await eventually(() => schedule.store.runs("remind-customers")[0]?.status === "done", 15_000, "the run");
  assert.equal(favcrm!.calls.filter((call) => call.tool === "send_message").length, 0, "never reached FavCRM");
  await eventually(() => texts(telegram.sent(OWNER)).some((text) => text.startsWith("Could not send")), 10_000, "the answer to the owner");
  assert.match(texts(telegram.sent(OWNER)).find((text) => text.startsWith("Could not send"))!, /request_send_approval/);
});

test("a job for a chat that never wrote in is refused; once that chat has written, it is delivered", async (t) => {
  const { telegram, clock, schedule, model } = await setUp(t, { start: "2026-12-04T08:00:00Z" });
  model.setDefault({ text: "hello back" });
  const job = schedule.service()!.add({ id: "promo", schedule: "0 9 * * *", message: "Our spring offer!", deliverTo: { channel: "telegram", chat: String(USER) } });
  clock.advanceTo("2026-12-04T09:00:00Z");
  const refused = schedule.store.runs(job.id)[0];
  assert.equal(refused?.status, "refused");
  assert.match(refused?.result ?? "", /never wrote to this gateway/);
  telegram.pushMessage({ chatId: USER, fromId: USER, text: "hi" });
  await eventually(() => texts(telegram.sent(USER)).includes("hello back"), 15_000, "the reply");
  clock.advanceTo("2026-12-05T09:00:00Z");
  await eventually(() => texts(telegram.sent(USER)).includes("Our spring offer!"), 10_000, "the delivery");
});

test("a scheduled instruction that comes due while an approval is pending in its chat runs as an instruction, not as an answer", async (t) => {
  const { model, telegram, clock, favcrm } = await setUp(t, { start: "2026-12-04T08:00:00Z", favcrm: true });
  // The owner: with owners configured, only an owner's own confirm-level calls are asked in their own chat.
  model.enqueue(
    { toolCalls: [{ name: "schedule_create", arguments: { when: "2026-12-04T08:30:00Z", instruction: "Tell me today's weather." } }] },
    { text: "Scheduled." },
    { toolCalls: [{ name: "favcrm__void_invoice", arguments: { invoiceId: "inv_9", reason: "duplicate" } }] },
    (request) => ({ text: `Done: ${toolResults(request).at(-1)!.content.slice(0, 30)}` }),
    { text: "Sunny all day." },
  );
  telegram.pushMessage({ chatId: OWNER, fromId: OWNER, text: "at 8:30 tell me the weather" });
  await eventually(() => texts(telegram.sent(OWNER)).includes("Scheduled."), 15_000, "the confirmation");
  telegram.pushMessage({ chatId: OWNER, fromId: OWNER, text: "void invoice inv_9" });
  await eventually(() => texts(telegram.sent(OWNER)).some((text) => /Approval needed/.test(text)), 15_000, "the approval prompt");
  clock.advanceTo("2026-12-04T08:30:00Z");
  telegram.pushMessage({ chatId: OWNER, fromId: OWNER, text: "yes" });
  await eventually(() => texts(telegram.sent(OWNER)).includes("Sunny all day."), 15_000, "the scheduled answer");
  assert.equal(favcrm!.calls.filter((call) => call.tool === "void_invoice").length, 1);
  assert.ok(!texts(telegram.sent(OWNER)).some((text) => /did not take that as an answer/.test(text)), "the instruction was not taken for an unclear answer");
});
