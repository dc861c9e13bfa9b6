import assert from "node:assert/strict";
import { test } from "node:test";
import type { TurnResult } from "../../src/agent/agent-runtime.ts";
import { RunningTurn, RunningTurns } from "../../src/agent/running-turn.ts";
import type { ApprovalRecord, ToolNotice } from "../../src/tools/index.ts";

const result = (reply: string): TurnResult => ({ sessionId: "s1", agentId: "main", reply, toolCalls: [], usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0 }, model: null });
const notice = (id: string): ToolNotice => ({ type: "approval-requested", text: `approve ${id}?`, approval: { id, sessionId: "s1" } as ApprovalRecord });

/** A turn driven by hand: `ask` emits a notice, `finish` ends it. */
function manualTurn() {
  let ask!: (notice: ToolNotice) => void;
  let finish!: (value: TurnResult) => void;
  let fail!: (error: Error) => void;
  const turn = new RunningTurn(({ onNotice }) => {
    ask = onNotice;
    return new Promise<TurnResult>((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });
  });
  return { turn, ask: (value: ToolNotice) => ask(value), finish: (value: TurnResult) => finish(value), fail: (error: Error) => fail(error) };
}

test("a running turn's next step is its pause for a pending approval, then (after the answer) its result; answered questions are skipped", async () => {
  const pending = new Set<string>();
  const { turn, ask, finish } = manualTurn();
  const first = turn.next((id) => pending.has(id));
  pending.add("a1");
  ask(notice("a1"));
  const paused = await first;
  assert.equal(paused.kind, "paused");
  assert.equal(paused.kind === "paused" && paused.notice.approval.id, "a1");
  // Two questions at once; the first is answered before anyone asks for the next step.
  pending.delete("a1");
  pending.add("a3");
  ask(notice("a2"));
  ask(notice("a3"));
  const next = await turn.next((id) => pending.has(id));
  assert.equal(next.kind === "paused" && next.notice.approval.id, "a3", "a2 was no longer pending");
  pending.delete("a3");
  const last = turn.next((id) => pending.has(id));
  finish(result("done"));
  const done = await last;
  assert.equal(done.kind === "done" && done.result.reply, "done");
});

test("a turn that throws ends in a failed step; a stream attached gets its notices, and detaching it leaves the reply to whoever resumes it", async () => {
  const { turn, ask, fail } = manualTurn();
  const seen: string[] = [];
  const stream = { delta: () => {}, notice: (value: ToolNotice) => seen.push(value.approval.id) };
  turn.attach(stream);
  assert.equal(turn.streamOpen, true);
  ask(notice("b1"));
  turn.detach(stream);
  assert.equal(turn.streamOpen, false);
  ask(notice("b2"));
  assert.deepEqual(seen, ["b1"]);
  fail(new Error("boom"));
  const step = await turn.finished();
  assert.equal(step.kind, "failed");
});

test("the turn that asked keeps its approval: a later turn repeating the question does not take it over, and a finished turn is forgotten", async () => {
  const turns = new RunningTurns();
  const asking = manualTurn();
  const repeating = manualTurn();
  turns.track("c1", asking.turn);
  turns.track("c1", repeating.turn);
  assert.equal(turns.forApproval("c1"), asking.turn);
  asking.finish(result("over"));
  await asking.turn.finished();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(turns.forApproval("c1"), undefined);
});
