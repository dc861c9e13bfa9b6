/**
 * ApprovalBroker on its own, over a real SQLite state database: who may answer, the API path,
 * expiry on node:test's mock timers (setTimeout and Date), the boot sweep of a dead process's
 * approvals, and the "asked again once" rule for unclear replies.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { openDatabase, type Database } from "../../src/state/index.ts";
import { ApprovalBroker, type ApprovalOutcome } from "../../src/tools/approvals/approval-broker.ts";

const START = Date.parse("2026-03-01T09:00:00.000Z");

async function stateDatabase(t: TestContext): Promise<Database> {
  const directory = await mkdtemp(join(tmpdir(), "faraday-approvals-"));
  const database = await openDatabase(join(directory, "faraday.sqlite"));
  t.after(async () => {
    database.close();
    await rm(directory, { recursive: true, force: true });
  });
  return database;
}

/** A broker on a fresh database, with setTimeout and Date under the test's control. */
async function setup(t: TestContext, timeoutMs: () => number = () => 60_000) {
  const database = await stateDatabase(t);
  t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: START });
  const broker = new ApprovalBroker(database, timeoutMs);
  return { database, broker };
}

function ask(broker: ApprovalBroker, overrides: { sessionId?: string; requester?: string; tool?: string } = {}) {
  return broker.request({
    sessionId: overrides.sessionId ?? "session-1",
    agentId: "main",
    channel: "telegram",
    chat: "chat-1",
    requester: overrides.requester ?? "alice",
    tool: overrides.tool ?? "favcrm__cancel_booking",
    arguments: { bookingId: "B-1", token: "***" },
    reason: "policy: ask",
  });
}

/** Settles to the outcome, or to "waiting" if it has not resolved once queued callbacks ran. */
async function outcomeNow(outcome: Promise<ApprovalOutcome>): Promise<ApprovalOutcome | "waiting"> {
  const waiting = Symbol("waiting");
  let settled: ApprovalOutcome | typeof waiting = waiting;
  void outcome.then((value) => (settled = value));
  for (let turn = 0; turn < 10; turn++) await Promise.resolve();
  return settled === waiting ? "waiting" : settled;
}

test("a request is stored pending with its masked arguments and an expiry from the broker's timeout", async (t) => {
  const { broker } = await setup(t, () => 90_000);
  const { record } = ask(broker);
  assert.equal(record.status, "pending");
  assert.equal(record.createdAt, new Date(START).toISOString());
  assert.equal(record.expiresAt, new Date(START + 90_000).toISOString());
  assert.deepEqual(record.arguments, { bookingId: "B-1", token: "***" });
  assert.deepEqual(broker.pending().map((pending) => pending.id), [record.id]);
  assert.deepEqual(broker.pending("session-1").map((pending) => pending.id), [record.id]);
  assert.deepEqual(broker.pending("session-2"), []);
});

test("only the person who asked, in the same session, answers by chat: others are not answers and leave it pending", async (t) => {
  const { broker } = await setup(t);
  const { record, outcome } = ask(broker);
  assert.equal(broker.answerFromChat("session-1", "mallory", "yes"), undefined, "another sender in the same session");
  assert.equal(broker.answerFromChat("session-2", "alice", "yes"), undefined, "the same sender in another session");
  assert.equal(await outcomeNow(outcome), "waiting");
  assert.equal(broker.get(record.id)?.status, "pending");

  const answer = broker.answerFromChat("session-1", "alice", "Yes!");
  assert.equal(answer?.kind, "decided");
  assert.equal(answer.record.status, "approved");
  assert.equal(answer.record.decidedBy, "user:alice");
  assert.equal(answer.record.decidedAt, new Date(START).toISOString());
  assert.deepEqual(await outcome, { status: "approved", decidedBy: "user:alice" });
  assert.equal(broker.answerFromChat("session-1", "alice", "yes"), undefined, "nothing is pending any more");
});

test("a chat no denies; with two pending, the answer goes to the sender's latest", async (t) => {
  const { broker } = await setup(t);
  const first = ask(broker, { tool: "first_tool" });
  t.mock.timers.tick(1_000); // a later created_at, as in a real turn
  const second = ask(broker, { tool: "second_tool" });
  const other = ask(broker, { requester: "bob" });
  const answer = broker.answerFromChat("session-1", "alice", "no");
  assert.equal(answer?.kind, "decided");
  assert.equal(answer.record.id, second.record.id);
  assert.deepEqual(await second.outcome, { status: "denied", decidedBy: "user:alice" });
  assert.equal(await outcomeNow(first.outcome), "waiting");
  assert.equal(await outcomeNow(other.outcome), "waiting", "bob's approval is not alice's to answer");
  assert.deepEqual(broker.pending("session-1").map((record) => record.tool).sort(), ["favcrm__cancel_booking", "first_tool"]);
});

test("the API decides by id, once: yes and no resolve the waiting call; a decided or unknown id is not pending", async (t) => {
  const { broker } = await setup(t);
  const approved = ask(broker);
  const denied = ask(broker, { requester: "bob" });
  assert.equal(broker.decide(approved.record.id, true, "api:owner")?.status, "approved");
  assert.equal(broker.decide(denied.record.id, false, "dashboard")?.status, "denied");
  assert.deepEqual(await approved.outcome, { status: "approved", decidedBy: "api:owner" });
  assert.deepEqual(await denied.outcome, { status: "denied", decidedBy: "dashboard" });
  assert.equal(broker.decide(approved.record.id, false, "api:owner"), undefined, "a second decision changes nothing");
  assert.equal(broker.get(approved.record.id)?.status, "approved");
  assert.equal(broker.decide("no-such-id", true, "api:owner"), undefined);
  // A chat answer after the API decided is not an answer either.
  const third = ask(broker);
  broker.decide(third.record.id, true, "api:owner");
  assert.equal(broker.answerFromChat("session-1", "alice", "no"), undefined);
  assert.equal(broker.get(third.record.id)?.status, "approved");
});

test("an unanswered approval expires at its timeout, not a millisecond before, and can no longer be answered", async (t) => {
  const { broker } = await setup(t, () => 60_000);
  const { record, outcome } = ask(broker);
  t.mock.timers.tick(59_999);
  assert.equal(await outcomeNow(outcome), "waiting");
  assert.equal(broker.get(record.id)?.status, "pending");
  t.mock.timers.tick(1);
  assert.deepEqual(await outcome, { status: "expired", decidedBy: null });
  const expired = broker.get(record.id);
  assert.equal(expired?.status, "expired");
  assert.equal(expired.decidedAt, new Date(START + 60_000).toISOString());
  assert.equal(broker.answerFromChat("session-1", "alice", "yes"), undefined);
  assert.equal(broker.decide(record.id, true, "api:owner"), undefined);
  assert.equal(broker.get(record.id)?.status, "expired");
});

test("a decided call is not expired when its timeout passes later", async (t) => {
  const { broker } = await setup(t, () => 60_000);
  const { record, outcome } = ask(broker);
  broker.decide(record.id, true, "api:owner");
  t.mock.timers.tick(120_000);
  assert.deepEqual(await outcome, { status: "approved", decidedBy: "api:owner" });
  assert.equal(broker.get(record.id)?.status, "approved");
});

test("the timeout is read at each request, so a config change applies to the next approval", async (t) => {
  let timeout = 60_000;
  const { broker } = await setup(t, () => timeout);
  const first = ask(broker);
  timeout = 5_000;
  const second = ask(broker, { requester: "bob" });
  assert.equal(second.record.expiresAt, new Date(START + 5_000).toISOString());
  t.mock.timers.tick(5_000);
  assert.deepEqual(await second.outcome, { status: "expired", decidedBy: null });
  assert.equal(await outcomeNow(first.outcome), "waiting");
  t.mock.timers.tick(55_000);
  assert.deepEqual(await first.outcome, { status: "expired", decidedBy: null });
});

test("expireAll (shutdown) ends every waiting call as expired", async (t) => {
  const { broker } = await setup(t);
  const calls = [ask(broker), ask(broker, { requester: "bob" }), ask(broker, { sessionId: "session-2" })];
  broker.expireAll();
  for (const call of calls) {
    assert.deepEqual(await call.outcome, { status: "expired", decidedBy: null });
    assert.equal(broker.get(call.record.id)?.status, "expired");
  }
  assert.deepEqual(broker.pending(), []);
});

test("at boot, approvals a dead process left pending are expired; decided ones are left as they were", async (t) => {
  const database = await stateDatabase(t);
  t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: START });
  const previous = new ApprovalBroker(database);
  const orphan = ask(previous);
  const decided = ask(previous, { requester: "bob" });
  previous.decide(decided.record.id, false, "api:owner");
  // The process dies here (its waiters die with it); a new one opens the same state.
  t.mock.timers.tick(30_000);
  const next = new ApprovalBroker(database);
  const swept = next.get(orphan.record.id);
  assert.equal(swept?.status, "expired");
  assert.equal(swept.decidedBy, null);
  assert.equal(swept.decidedAt, new Date(START + 30_000).toISOString());
  assert.equal(next.get(decided.record.id)?.status, "denied");
  assert.deepEqual(next.pending(), []);
  assert.equal(next.answerFromChat("session-1", "alice", "yes"), undefined, "nothing waits in this process");
  assert.equal(next.decide(orphan.record.id, true, "api:owner"), undefined);
});

test("an unclear reply is answered 'unclear' once; later unclear replies are not answers; a clear one still decides", async (t) => {
  const { broker } = await setup(t);
  const { record, outcome } = ask(broker);
  const first = broker.answerFromChat("session-1", "alice", "yes, but tomorrow");
  assert.equal(first?.kind, "unclear");
  assert.equal(first.record.id, record.id);
  assert.equal(first.record.status, "pending");
  assert.equal(broker.answerFromChat("session-1", "alice", "what does this do?"), undefined, "asked again only once");
  assert.equal(broker.answerFromChat("session-1", "mallory", "hmm"), undefined, "another sender's unclear text is not an answer");
  assert.equal(await outcomeNow(outcome), "waiting");
  const decided = broker.answerFromChat("session-1", "alice", "ok");
  assert.equal(decided?.kind, "decided");
  assert.deepEqual(await outcome, { status: "approved", decidedBy: "user:alice" });

  // The next approval gets its own ask-again.
  const next = ask(broker);
  assert.equal(broker.answerFromChat("session-1", "alice", "maybe")?.kind, "unclear");
  assert.equal(broker.answerFromChat("session-1", "alice", "maybe")?.kind, undefined);
  broker.decide(next.record.id, false, "api:owner");
  assert.deepEqual(await next.outcome, { status: "denied", decidedBy: "api:owner" });
});
