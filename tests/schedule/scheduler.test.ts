import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { validateConfig } from "../../src/config/load-config.ts";
import { createLogger } from "../../src/logging/index.ts";
import { MAX_TIMER_MS } from "../../src/schedule/schedule-clock.ts";
import { ScheduleService } from "../../src/schedule/schedule-service.ts";
import { ScheduleStore, type ScheduledJob } from "../../src/schedule/schedule-store.ts";
import { Scheduler, type ScheduledTurn } from "../../src/schedule/scheduler.ts";
import { openDatabase, type Database } from "../../src/state/index.ts";
import { FakeClock } from "../helpers/fake-clock.ts";

type Sent = { channel: string; chat: string; text: string; key: string; at: number };

/** A scheduler on a real SQLite file, with an outbox that records what it would send. */
async function harness(t: TestContext, options: { start: string | number; config?: Record<string, unknown>; database?: Database; turn?: (input: ScheduledTurn) => string }) {
  let database = options.database;
  if (!database) {
    const directory = await mkdtemp(join(tmpdir(), "faraday-schedule-"));
    database = await openDatabase(join(directory, "faraday.sqlite"));
    const opened = database;
    t.after(async () => {
      opened.close();
      await rm(directory, { recursive: true, force: true });
    });
  }
  const validate = async (raw: Record<string, unknown>) => {
    const state = await validateConfig(raw, {}, "/tmp/openclaw.json");
    assert.equal(state.state, "valid", JSON.stringify(state.state === "invalid" ? state.problems : ""));
    return state.state === "valid" ? state.config : undefined;
  };
  let current = await validate(options.config ?? {});
  const config = () => current;
  const setConfig = async (raw: Record<string, unknown>) => {
    current = await validate(raw);
  };
  const clock = new FakeClock(options.start);
  const store = new ScheduleStore(database);
  const sent: Sent[] = [];
  const turns: ScheduledTurn[] = [];
  const logger = createLogger({ level: "silent" });
  const scheduler = new Scheduler({
    store, clock, logger,
    owners: { owners: () => [{ channel: "telegram", chat: "1001", owner: "1001" }], isOwner: () => false },
    turn: async (input) => {
      turns.push(input);
      return { reply: options.turn?.(input) ?? "answer", inputTokens: 10, outputTokens: 2 };
    },
    heartbeatChecklist: async () => "- anything?",
    catchUpMinutes: () => config()?.cron?.catchUpMinutes ?? 60,
    outbox: {
      store: (channel, chat, text, key) => {
        const row = { channel, chat, text, key, at: clock.now() };
        sent.push(row);
        return row;
      },
      send: () => {},
      notify: () => {},
      mayStart: () => undefined,
    },
  });
  const service = new ScheduleService({ store, scheduler, clock, config, logger });
  t.after(() => scheduler.stop());
  return { database, clock, store, scheduler, service, sent, turns, setConfig };
}

const origin = { channel: "telegram", chat: "42", sender: "42", agentId: "main" };
const local = (at: number, timeZone: string) => new Date(at).toLocaleString("en-GB", { timeZone, hour12: false });

for (const [timezone, springForward, fallBack] of [
  ["Europe/London", "2026-03-29", "2026-10-25"],
  ["America/New_York", "2026-03-08", "2026-11-01"],
] as const) {
  test(`a 09:00 daily job in ${timezone} runs once at 09:00 local on both DST change days`, async (t) => {
    for (const day of [springForward, fallBack]) {
      const { clock, scheduler, service, sent } = await harness(t, { start: Date.parse(`${day}T00:00:00Z`) - 2 * 86_400_000, config: { cron: { timezone } } });
      service.createFromChat(origin, { when: "0 9 * * *", message: "stand-up" });
      scheduler.start();
      // From two days before to two days after the change, by the clock's own timers.
      clock.advanceTo(Date.parse(`${day}T00:00:00Z`) + 3 * 86_400_000);
      const times = sent.map((entry) => local(entry.at, timezone));
      assert.equal(new Set(sent.map((entry) => entry.key)).size, sent.length, "no occurrence twice");
      assert.deepEqual(times.map((time) => time.slice(12)), times.map(() => "09:00:00"), `every run at 09:00 local: ${times.join(", ")}`);
      const dayOfChange = new Date(`${day}T12:00:00Z`).toLocaleDateString("en-GB", { timeZone: timezone });
      assert.equal(times.filter((time) => time.startsWith(dayOfChange)).length, 1, `once on ${day}: ${times.join(", ")}`);
      assert.equal(sent.length, 5, "two days before, the day itself, two days after");
      await scheduler.stop();
    }
  });
}

test("a repeating job delivers at each occurrence and a one-off reminder only once", async (t) => {
  const { clock, scheduler, service, sent, store } = await harness(t, { start: "2026-06-01T08:00:00Z", config: { cron: { timezone: "UTC" } } });
  const repeating = service.createFromChat(origin, { when: "*/15 * * * *", message: "drink water" });
  const once = service.createFromChat(origin, { when: "2026-06-01T08:20:00+00:00", message: "call Amy" });
  scheduler.start();
  clock.advanceTo("2026-06-01T09:00:00Z");
  assert.deepEqual(sent.filter((entry) => entry.text === "drink water").map((entry) => new Date(entry.at).toISOString()),
    ["2026-06-01T08:15:00.000Z", "2026-06-01T08:30:00.000Z", "2026-06-01T08:45:00.000Z", "2026-06-01T09:00:00.000Z"]);
  assert.deepEqual(sent.filter((entry) => entry.text === "call Amy").map((entry) => new Date(entry.at).toISOString()), ["2026-06-01T08:20:00.000Z"]);
  assert.equal(store.get(once.id)?.nextRun, null, "a one-off has no next run");
  assert.equal(store.get(repeating.id)?.nextRun, Date.parse("2026-06-01T09:15:00Z"));
  assert.equal(store.runs(repeating.id).length, 4);
});

test("after downtime an occurrence within cron.catchUpMinutes runs once at start; an older one is recorded as missed", async (t) => {
  const first = await harness(t, { start: "2026-06-01T08:00:00Z", config: { cron: { timezone: "UTC", catchUpMinutes: 60 } } });
  const recent = first.service.createFromChat(origin, { when: "2026-06-01T08:30:00Z", message: "recent" });
  const old = first.service.createFromChat(origin, { when: "2026-06-01T08:05:00+00:00", message: "old" });
  const hourly = first.service.createFromChat(origin, { when: "0 * * * *", message: "hourly" });
  // The gateway is down from 08:00 to 09:10: nothing runs.
  first.clock.advanceTo("2026-06-01T09:10:00Z");
  assert.equal(first.sent.length, 0);
  // "Restart": a new scheduler on the same database, at 09:10.
  const second = await harness(t, { start: "2026-06-01T09:10:00Z", database: first.database, config: { cron: { timezone: "UTC", catchUpMinutes: 60 } } });
  second.scheduler.start();
  second.clock.advance(0);
  assert.deepEqual(second.sent.map((entry) => entry.text).sort(), ["hourly", "recent"], "the hourly job runs once (for 09:00), not for 09:00 and 10:00");
  assert.equal(second.store.runs(recent.id)[0]?.trigger, "catch-up");
  const missed = second.store.runs(old.id)[0];
  assert.equal(missed?.status, "missed", "08:05 is 65 minutes late");
  assert.match(missed?.result ?? "", /catchUpMinutes is 60/);
  assert.equal(second.store.get(hourly.id)?.nextRun, Date.parse("2026-06-01T10:00:00Z"));
  second.clock.advanceTo("2026-06-01T10:00:00Z");
  assert.equal(second.sent.filter((entry) => entry.text === "hourly").length, 2);
});

test("a claimed occurrence is never claimed again: two schedulers on one database deliver each reminder once", async (t) => {
  const first = await harness(t, { start: "2026-06-01T08:00:00Z", config: { cron: { timezone: "UTC" } } });
  for (let index = 0; index < 50; index++) first.service.createFromChat({ ...origin, chat: `c${index}` }, { when: "2026-06-01T08:01:00Z", message: `r${index}` });
  const second = await harness(t, { start: "2026-06-01T08:00:00Z", database: first.database, config: { cron: { timezone: "UTC" } } });
  first.scheduler.start();
  second.scheduler.start();
  first.clock.advanceTo("2026-06-01T08:01:00Z");
  second.clock.advanceTo("2026-06-01T08:01:00Z");
  assert.equal(first.sent.length + second.sent.length, 50);
  assert.equal(new Set([...first.sent, ...second.sent].map((entry) => entry.key)).size, 50);
  assert.equal(first.sent.length, 50, "the first to pass claimed all; the second found nothing due");
});

test("a scheduled turn a kill interrupted is recorded as interrupted at the next start and never run again", async (t) => {
  const first = await harness(t, { start: "2026-06-01T08:00:00Z", config: { cron: { timezone: "UTC" } } });
  const job = first.service.createFromChat(origin, { when: "2026-06-01T08:01:00Z", instruction: "summarise bookings" });
  // Claimed, then the process "dies" before the turn finishes: the run row stays `running`.
  const claimed = first.store.claim({ job: first.store.get(job.id) as ScheduledJob, due: Date.parse("2026-06-01T08:01:00Z"), next: null, scheduledAt: Date.parse("2026-06-01T08:01:00Z"), trigger: "due", status: "running", now: Date.parse("2026-06-01T08:01:00Z") });
  assert.equal(claimed, true);
  const second = await harness(t, { start: "2026-06-01T08:02:00Z", database: first.database, config: { cron: { timezone: "UTC" } } });
  second.scheduler.start();
  second.clock.advance(60_000);
  assert.equal(second.turns.length, 0, "not run again");
  assert.equal(second.store.runs(job.id)[0]?.status, "interrupted");
});

test("10,000 reminders keep one timer; one 60 days away arms a timer of at most 2^31-1 ms", async (t) => {
  const { clock, scheduler, service, store } = await harness(t, { start: "2026-06-01T08:00:00Z", config: { cron: { timezone: "UTC" } } });
  service.createFromChat(origin, { when: "2026-07-31T08:00:00Z", message: "far away" });
  scheduler.start();
  assert.deepEqual(clock.pending(), [MAX_TIMER_MS]);
  for (let index = 0; index < 10_000; index++) {
    store.put({ id: `bulk-${index}`, source: "api", kind: "message", spec: { kind: "once", at: Date.parse("2026-06-02T08:00:00Z") + index }, schedule: "x", agentId: null, text: "x", deliverTo: { channel: "telegram", chat: "1" }, model: null, origin: null, enabled: true, nextRun: Date.parse("2026-06-02T08:00:00Z") + index }, clock.now());
  }
  scheduler.arm();
  assert.deepEqual(clock.pending(), [86_400_000], "one timer, for the earliest");
});

test("an instruction runs an agent turn as the chat that made it and delivers its answer; a heartbeat answering HEARTBEAT_OK sends nothing", async (t) => {
  const { clock, scheduler, service, sent, turns, store } = await harness(t, {
    start: "2026-06-01T08:00:00Z",
    config: { cron: { timezone: "UTC" }, agents: { defaults: { heartbeat: { every: "30m" } } } },
    turn: (input) => (input.readOnlyTools ? "HEARTBEAT_OK" : "3 bookings today"),
  });
  service.syncConfig();
  service.createFromChat(origin, { when: "2026-06-01T08:10:00Z", instruction: "list today's bookings" });
  scheduler.start();
  clock.advanceTo("2026-06-01T08:31:00Z");
  await scheduler.stop();
  assert.equal(turns.filter((turn) => !turn.readOnlyTools).length, 1);
  const turn = turns.find((entry) => !entry.readOnlyTools)!;
  assert.deepEqual([turn.channel, turn.chat, turn.sender], ["telegram", "42", "42"]);
  assert.match(turn.text, /list today's bookings/);
  assert.deepEqual(sent.map((entry) => [entry.chat, entry.text]), [["42", "3 bookings today"]]);
  assert.equal(turns.filter((entry) => entry.readOnlyTools).length, 1, "one heartbeat at 08:30");
  assert.equal(store.runs("heartbeat:main")[0]?.status, "silent");
});

test("the heartbeat waits outside its active hours and runs every interval inside them", async (t) => {
  const { clock, scheduler, service, turns, store } = await harness(t, {
    start: "2026-06-01T21:00:00Z",
    config: { cron: { timezone: "Europe/London" }, agents: { defaults: { heartbeat: { every: "30m", activeHours: "08:00-22:00" } } } },
    turn: () => "HEARTBEAT_OK",
  });
  service.syncConfig();
  scheduler.start();
  // 22:00 London (BST) is 21:00 UTC: the next heartbeat is 08:00 London the next morning.
  assert.equal(store.get("heartbeat:main")?.nextRun, Date.parse("2026-06-02T07:00:00Z"));
  clock.advanceTo("2026-06-02T08:10:00Z");
  await scheduler.stop();
  assert.deepEqual(store.runs("heartbeat:main").map((run) => new Date(run.scheduledAt).toISOString()).reverse(),
    ["2026-06-02T07:00:00.000Z", "2026-06-02T07:30:00.000Z", "2026-06-02T08:00:00.000Z"]);
  assert.equal(turns.length, 3);
});

test("cron.jobs follow the config: a new job is added, a changed schedule is rescheduled from now, an unchanged one keeps its next run, a removed one is dropped", async (t) => {
  const job = (id: string, schedule: string) => ({ id, schedule, instruction: `do ${id}`, deliverTo: "owners" });
  const base = { cron: { timezone: "UTC", jobs: [job("keep", "0 9 * * *"), job("change", "0 10 * * *"), job("drop", "0 11 * * *")] } };
  const { service, store, clock, setConfig } = await harness(t, { start: "2026-06-01T08:00:00Z", config: base });
  service.syncConfig();
  assert.deepEqual(store.list().map((entry) => entry.id).sort(), ["change", "drop", "keep"]);
  clock.advanceTo("2026-06-01T08:30:00Z");
  await setConfig({ cron: { timezone: "UTC", jobs: [job("keep", "0 9 * * *"), job("change", "0 12 * * *"), job("new", "0 13 * * *")] } });
  service.syncConfig();
  assert.deepEqual(store.list().map((entry) => entry.id).sort(), ["change", "keep", "new"]);
  assert.equal(store.get("keep")?.nextRun, Date.parse("2026-06-01T09:00:00Z"));
  assert.equal(store.get("change")?.nextRun, Date.parse("2026-06-01T12:00:00Z"));
  assert.equal(store.get("new")?.nextRun, Date.parse("2026-06-01T13:00:00Z"));
  assert.equal(store.get("new")?.source, "config");
});
