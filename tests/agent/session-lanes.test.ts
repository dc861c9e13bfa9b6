/**
 * SessionLanes on its own: order inside a lane, lanes side by side, a failed turn does not block
 * the lane, and a drained lane leaves nothing behind. No timers: every "has not run yet" is
 * checked while the work before it is held open by a gate the test releases.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SessionLanes } from "../../src/agent/sessions/session-lanes.ts";

/** A lane that never empties would hang drain(): fail instead. */
const BOUNDED = { timeout: 5_000 };

/** A promise the test resolves by hand. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Let every already-settled promise callback run (a few microtask turns; no timers). */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 10; turn++) await Promise.resolve();
}

test("work in one session runs strictly in order, one at a time, and each caller gets its own result", BOUNDED, async () => {
  const lanes = new SessionLanes();
  const log: string[] = [];
  const first = gate();
  const one = lanes.run("s1", async () => {
    log.push("one:start");
    await first.promise;
    log.push("one:end");
    return 1;
  });
  const two = lanes.run("s1", async () => {
    log.push("two:start");
    log.push("two:end");
    return 2;
  });
  const three = lanes.run("s1", async () => {
    log.push("three");
    return 3;
  });
  await settle();
  assert.deepEqual(log, ["one:start"], "the second turn waits for the first");
  first.open();
  assert.deepEqual(await Promise.all([one, two, three]), [1, 2, 3]);
  assert.deepEqual(log, ["one:start", "one:end", "two:start", "two:end", "three"]);
});

test("different sessions run side by side: a held turn in one lane does not hold another", BOUNDED, async () => {
  const lanes = new SessionLanes();
  const held = gate();
  const log: string[] = [];
  const slow = lanes.run("s1", async () => {
    log.push("s1:start");
    await held.promise;
    log.push("s1:end");
  });
  // The sentinel: s2's turn completes while s1's is still held open.
  await lanes.run("s2", async () => {
    log.push("s2");
  });
  assert.deepEqual(log, ["s1:start", "s2"]);
  await settle();
  assert.equal(lanes.pending, 1, "only s1's lane is still busy");
  held.open();
  await slow;
  assert.deepEqual(log, ["s1:start", "s2", "s1:end"]);
});

test("a turn that throws rejects its own caller only; the next turn in the lane still runs", BOUNDED, async () => {
  const lanes = new SessionLanes();
  const failing = lanes.run("s1", async () => {
    throw new Error("model exploded");
  });
  const syncThrow = lanes.run("s1", () => {
    throw new Error("thrown before any await");
  });
  const next = lanes.run("s1", async () => "answered");
  await assert.rejects(failing, /model exploded/);
  await assert.rejects(syncThrow, /thrown before any await/);
  assert.equal(await next, "answered");
});

test("lanes are removed once they drain: many sessions leave no entry behind", BOUNDED, async () => {
  const lanes = new SessionLanes();
  const runs: Array<Promise<unknown>> = [];
  for (let index = 0; index < 200; index++) {
    const key = `session-${index % 50}`;
    runs.push(index % 7 === 0 ? lanes.run(key, async () => { throw new Error("boom"); }).catch(() => "failed") : lanes.run(key, async () => index));
  }
  assert.equal(lanes.pending, 50, "one lane per busy session, however many turns it has queued");
  await Promise.all(runs);
  await settle();
  assert.equal(lanes.pending, 0, "no lane is kept after its last turn");
  // A lane re-created after cleanup still orders its work.
  const log: number[] = [];
  await Promise.all([1, 2, 3].map((value) => lanes.run("session-0", async () => void log.push(value))));
  assert.deepEqual(log, [1, 2, 3]);
  await settle();
  assert.equal(lanes.pending, 0);
});

test("drain() waits for queued work, including work queued behind a running turn, and then refuses new work", BOUNDED, async () => {
  const lanes = new SessionLanes();
  const held = gate();
  const done: string[] = [];
  const first = lanes.run("s1", async () => {
    await held.promise;
    done.push("first");
  });
  const second = lanes.run("s1", async () => void done.push("second"));
  let drained = false;
  const draining = lanes.drain().then(() => (drained = true));
  await settle();
  assert.equal(drained, false, "drain waits for the held turn");
  await assert.rejects(lanes.run("s2", async () => "late"), /stopping/);
  held.open();
  await draining;
  await Promise.all([first, second]);
  assert.deepEqual(done, ["first", "second"]);
  assert.equal(lanes.pending, 0);
});
