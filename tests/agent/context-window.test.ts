/**
 * The context window on its own (`planCompaction`, `cutPoints`, `estimateTokens`): the kept part
 * never splits a tool call from its result, fits the budget when it can, keeps the newest turns,
 * and the edge cases (empty history, one message bigger than the whole budget).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { cutPoints, estimateTokens, planCompaction, renderForSummary } from "../../src/agent/context-window.ts";
import type { ChatMessage, ToolCall } from "../../src/agent/models/model-client.ts";
import type { StoredMessage } from "../../src/agent/sessions/session-store.ts";

/** Numbers the messages in order, as the session store does. */
function history(messages: ChatMessage[]): StoredMessage[] {
  return messages.map((message, index) => ({ ...message, seq: index + 1, createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, index)).toISOString() }));
}

const user = (content: string): ChatMessage => ({ role: "user", content });
const assistant = (content: string, toolCalls?: ToolCall[]): ChatMessage => ({ role: "assistant", content, ...(toolCalls ? { toolCalls } : {}) });
const tool = (toolCallId: string, content: string): ChatMessage => ({ role: "tool", toolCallId, name: "lookup", content });
const sum = (messages: readonly ChatMessage[]) => messages.reduce((total, message) => total + estimateTokens(message), 0);

/** One turn: a question, `calls` tool round-trips, then an answer. */
function turn(index: number, calls: number, size = 40): ChatMessage[] {
  const messages: ChatMessage[] = [user(`question ${index} ${"q".repeat(size)}`)];
  for (let call = 0; call < calls; call++) {
    const id = `call-${index}-${call}`;
    messages.push(assistant("", [{ id, name: "lookup", arguments: { index, call } }]));
    messages.push(tool(id, `result ${index}/${call} ${"r".repeat(size)}`));
  }
  messages.push(assistant(`answer ${index} ${"a".repeat(size)}`));
  return messages;
}

/** Every tool result in `kept` has the assistant message that asked for it in `kept`, before it. */
function assertNoSplitPair(kept: readonly StoredMessage[], label: string): void {
  const asked = new Set<string>();
  for (const message of kept) {
    if (message.role === "assistant") for (const call of message.toolCalls ?? []) asked.add(call.id);
    if (message.role === "tool") assert.ok(asked.has(message.toolCallId), `${label}: tool result ${message.toolCallId} kept without its call`);
  }
  if (kept.length > 0) assert.equal(kept[0]!.role, "user", `${label}: the kept part starts at a user message`);
}

/** A small deterministic generator, so the sweep below is the same on every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

test("an empty history plans nothing", () => {
  assert.deepEqual(cutPoints([]), []);
  assert.deepEqual(planCompaction([], 100), { older: [], kept: [] });
  assert.deepEqual(planCompaction([], 100, true), { older: [], kept: [] });
  assert.equal(renderForSummary([]), "");
});

test("a history within the budget is kept whole", () => {
  const messages = history([...turn(1, 1), ...turn(2, 0)]);
  const plan = planCompaction(messages, sum(messages));
  assert.deepEqual(plan.older, []);
  assert.deepEqual(plan.kept, messages);
  assert.notEqual(plan.kept, messages, "a copy, not the caller's array");
});

test("cut points are the user messages after the first: never between a tool call and its result", () => {
  const messages = history([...turn(1, 2), ...turn(2, 1), ...turn(3, 0)]);
  assert.deepEqual(cutPoints(messages), [6, 10]);
  for (const point of cutPoints(messages)) assert.equal(messages[point]!.role, "user");
});

test("over budget: the newest turns that fit are kept verbatim, the older ones go to the summary", () => {
  const turns = [turn(1, 1), turn(2, 2), turn(3, 0), turn(4, 1)];
  const messages = history(turns.flat());
  const lastTwo = sum(turns[2]!) + sum(turns[3]!);
  // A budget exactly the size of the last two turns keeps exactly them.
  const plan = planCompaction(messages, lastTwo);
  const firstKept = turns[0]!.length + turns[1]!.length;
  assert.deepEqual(plan.kept, messages.slice(firstKept));
  assert.deepEqual(plan.older, messages.slice(0, firstKept));
  assert.ok(sum(plan.kept) <= lastTwo);
  // One token less and only the newest turn fits.
  const smaller = planCompaction(messages, lastTwo - 1);
  assert.deepEqual(smaller.kept, messages.slice(firstKept + turns[2]!.length));
  assert.deepEqual([...smaller.older, ...smaller.kept], messages, "nothing lost, nothing reordered");
});

test("a sweep of histories and budgets: never a split pair, within budget when any turn fits, and the most recent turns possible", () => {
  const random = seeded(17);
  for (let round = 0; round < 60; round++) {
    const turnCount = 1 + Math.floor(random() * 6);
    const messages = history(Array.from({ length: turnCount }, (_, index) => turn(index, Math.floor(random() * 3), 5 + Math.floor(random() * 200))).flat());
    const total = sum(messages);
    for (const fraction of [0.05, 0.2, 0.5, 0.8, 0.99, 1, 1.5]) {
      const budget = Math.floor(total * fraction);
      const label = `round ${round}, ${turnCount} turns, budget ${budget}/${total}`;
      const { older, kept } = planCompaction(messages, budget);
      assert.deepEqual([...older, ...kept], messages, `${label}: older + kept is the history`);
      assertNoSplitPair(kept, label);
      const points = cutPoints(messages);
      const newestTurn = points.at(-1) ?? 0;
      assert.ok(kept.length >= messages.length - newestTurn, `${label}: the newest turn is always kept`);
      if (total <= budget) {
        assert.equal(older.length, 0, label);
        continue;
      }
      if (sum(messages.slice(newestTurn)) <= budget) {
        assert.ok(sum(kept) <= budget, `${label}: kept fits`);
        // Newest turns kept: the next older cut point would not fit.
        const cut = older.length;
        const earlier = [0, ...points].filter((point) => point < cut).at(-1);
        if (earlier !== undefined && earlier > 0) assert.ok(sum(messages.slice(earlier)) > budget, `${label}: one more turn would not fit`);
      } else {
        assert.equal(kept.length, messages.length - newestTurn, `${label}: only the newest turn when even it is over budget`);
      }
    }
  }
});

test("one huge newest message is kept whole even though it alone is over budget", () => {
  const huge = "x".repeat(40_000);
  const messages = history([...turn(1, 1), user(huge)]);
  const plan = planCompaction(messages, 100);
  assert.equal(plan.kept.length, 1);
  assert.equal(plan.kept[0]!.content, huge);
  assert.equal(plan.older.length, messages.length - 1);
  // A single message history has no cut point: kept whole, nothing to summarise.
  const alone = history([user(huge)]);
  assert.deepEqual(planCompaction(alone, 100), { older: [], kept: alone });
});

test("a huge tool result inside the newest turn keeps the whole turn, call and result together", () => {
  const messages = history([...turn(1, 0), user("look it up"), assistant("", [{ id: "big", name: "lookup", arguments: {} }]), tool("big", "y".repeat(50_000)), assistant("done")]);
  const plan = planCompaction(messages, 50);
  assert.deepEqual(plan.kept.map((message) => message.role), ["user", "assistant", "tool", "assistant"]);
  assertNoSplitPair(plan.kept, "huge tool result");
});

test("force (the provider said too long) keeps only the newest turn, even when everything fits the budget", () => {
  const messages = history([...turn(1, 1), ...turn(2, 1)]);
  const plan = planCompaction(messages, 1_000_000, true);
  assert.deepEqual(plan.kept, messages.slice(turn(1, 1).length));
  assertNoSplitPair(plan.kept, "force");
});

test("estimateTokens counts four characters a token plus the tool calls, with a per-message overhead", () => {
  assert.equal(estimateTokens("abcdefgh"), 2);
  assert.equal(estimateTokens("abcdefghi"), 3);
  assert.equal(estimateTokens(user("abcdefgh")), 2 + 4);
  const calls: ToolCall[] = [{ id: "1", name: "lookup", arguments: { q: "a long enough argument to count" } }];
  assert.equal(estimateTokens(assistant("", calls)), Math.ceil(JSON.stringify(calls).length / 4) + 4);
  assert.ok(estimateTokens(assistant("", calls)) > estimateTokens(assistant("")));
});
