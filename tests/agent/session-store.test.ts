import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { openDatabase } from "../../src/state/index.ts";
import { SessionStore } from "../../src/agent/sessions/session-store.ts";

const usage = { inputTokens: 11, outputTokens: 7, cacheReadTokens: 3, cacheWriteTokens: 0 };

async function twoStores(t: TestContext) {
  const directory = await mkdtemp(join(tmpdir(), "faraday-sessions-"));
  t.after(() => rm(directory, { recursive: true, force: true }));
  const path = join(directory, "faraday.sqlite");
  const database = await openDatabase(path);
  const store = new SessionStore(database);
  t.after(() => {
    store.flushSearchIndex();
    database.close();
  });
  /** What a fresh process would read from disk now. */
  const disk = async () => {
    const reader = await openDatabase(path, { readOnly: true });
    try {
      return new SessionStore(reader);
    } finally {
      t.after(() => reader.close());
    }
  };
  return { store, disk };
}

test("the in-memory session rows and transcript tails always equal what is on disk", async (t) => {
  const { store, disk } = await twoStores(t);
  const session = store.create({ key: "main:test:1", agentId: "main", channel: "test", chat: "1" });
  // Warm both caches, then write through every kind of change.
  assert.deepEqual(store.messagesAfter(session.id, 0), []);
  store.append(session.id, { role: "user", content: "first" });
  store.appendReply(session.id, usage, "anthropic/claude-test", {
    role: "assistant",
    content: "",
    toolCalls: [{ id: "t1", name: "memory_read", arguments: { nested: { value: 1 } } }],
  });
  store.append(session.id, { role: "tool", toolCallId: "t1", name: "memory_read", content: "result", isError: true });
  store.appendReply(session.id, usage, "anthropic/claude-test", { role: "assistant", content: "done" });
  store.append(session.id, { role: "user", content: "second" });

  let reader = await disk();
  assert.deepEqual(store.get(session.id), reader.get(session.id));
  assert.deepEqual(store.messagesAfter(session.id, 0), reader.messagesAfter(session.id, 0));
  assert.deepEqual(store.messagesAfter(session.id, 2), reader.messagesAfter(session.id, 2));
  assert.deepEqual(store.lastMessage(session.id), reader.lastMessage(session.id));
  assert.equal(store.get(session.id)!.messageCount, 5);
  assert.deepEqual(store.get(session.id)!.usage, { inputTokens: 22, outputTokens: 14, cacheReadTokens: 6, turns: 2 });

  // Compaction moves the window's start; the cached tail follows.
  store.setSummary(session.id, "they said first", 3);
  reader = await disk();
  assert.deepEqual(store.get(session.id), reader.get(session.id));
  assert.deepEqual(store.messagesAfter(session.id, 3), reader.messagesAfter(session.id, 3));
  assert.deepEqual(store.messagesAfter(session.id, 0), reader.messagesAfter(session.id, 0), "a read from before the summary still sees everything");

  // /new retires the cached row too.
  const fresh = store.reset(store.get(session.id)!);
  reader = await disk();
  assert.equal(store.get(session.id)!.active, false);
  assert.deepEqual(store.get(session.id), reader.get(session.id));
  assert.deepEqual(store.get(fresh.id), reader.get(fresh.id));
  assert.equal(store.lastMessage(fresh.id), undefined);
});

test("a caller changing what it appended or read does not change the cached transcript", async (t) => {
  const { store, disk } = await twoStores(t);
  const session = store.create({ key: "main:test:2", agentId: "main", channel: "test", chat: "2" });
  store.messagesAfter(session.id, 0);
  const calls = [{ id: "t1", name: "memory_write", arguments: { content: "x" } as Record<string, unknown> }];
  store.appendReply(session.id, usage, "anthropic/claude-test", { role: "assistant", content: "", toolCalls: calls });
  calls[0]!.arguments.content = "changed";
  const read = store.messagesAfter(session.id, 0);
  read.pop();
  const reader = await disk();
  assert.deepEqual(store.messagesAfter(session.id, 0), reader.messagesAfter(session.id, 0));
});

test("many sessions: the caches stay bounded and a miss reads the disk", async (t) => {
  const { store, disk } = await twoStores(t);
  const ids: string[] = [];
  for (let index = 0; index < 700; index += 1) {
    const session = store.create({ key: `main:test:${index}`, agentId: "main", channel: "test", chat: String(index) });
    ids.push(session.id);
    store.append(session.id, { role: "user", content: `hello ${index}` });
    store.appendReply(session.id, usage, "anthropic/claude-test", { role: "assistant", content: `echo ${index}` });
  }
  const reader = await disk();
  for (const id of [ids[0]!, ids[350]!, ids[699]!]) {
    assert.deepEqual(store.get(id), reader.get(id));
    assert.deepEqual(store.messagesAfter(id, 0), reader.messagesAfter(id, 0));
    assert.deepEqual(store.lastMessage(id), reader.lastMessage(id));
  }
});

test("group commit: durable appends from many sessions in one tick are all on disk when they resolve", async (t) => {
  const { store, disk } = await twoStores(t);
  const sessions = Array.from({ length: 20 }, (_, index) => store.create({ key: `main:test:g${index}`, agentId: "main", channel: "test", chat: `g${index}` }));
  const seqs = await Promise.all(sessions.flatMap((session) => [
    store.appendDurable(session.id, { role: "user", content: `hello ${session.chat}` }),
  ]));
  assert.deepEqual(seqs, sessions.map(() => 1));
  let reader = await disk();
  for (const session of sessions) {
    assert.deepEqual(reader.messagesAfter(session.id, 0).map((message) => message.content), [`hello ${session.chat}`]);
  }
  const replies = sessions.map((session) => store.appendReplyDurable(session.id, usage, "anthropic/claude-test", { role: "assistant", content: `echo ${session.chat}` }));
  // A read of a session with a write still waiting commits it first: reads never go back in time.
  assert.equal(store.lastMessage(sessions[3]!.id)?.content, "echo g3");
  assert.deepEqual(await Promise.all(replies), sessions.map(() => 2));
  reader = await disk();
  for (const session of sessions) {
    assert.deepEqual(store.get(session.id), reader.get(session.id));
    assert.deepEqual(store.messagesAfter(session.id, 0), reader.messagesAfter(session.id, 0));
  }
});

test("group commit: a write that fails rejects only its own caller; the others are written", async (t) => {
  const { store, disk } = await twoStores(t);
  const good = store.create({ key: "main:test:ok", agentId: "main", channel: "test", chat: "ok" });
  const results = await Promise.allSettled([
    store.appendDurable(good.id, { role: "user", content: "kept" }),
    store.appendDurable("no-such-session", { role: "user", content: "lost" }),
    store.appendReplyDurable(good.id, usage, "anthropic/claude-test", { role: "assistant", content: "also kept" }),
  ]);
  assert.deepEqual(results.map((result) => result.status), ["fulfilled", "rejected", "fulfilled"]);
  const reader = await disk();
  assert.deepEqual(reader.messagesAfter(good.id, 0).map((message) => message.content), ["kept", "also kept"]);
  assert.deepEqual(store.messagesAfter(good.id, 0), reader.messagesAfter(good.id, 0));
  assert.deepEqual(store.get(good.id), reader.get(good.id));
});
