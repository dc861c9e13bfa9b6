import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { openDatabase, type Database } from "../../src/state/index.ts";
import { SessionStore } from "../../src/agent/sessions/session-store.ts";
import { repairSearchIndex } from "../../src/agent/sessions/search-index-repair.ts";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { lastUserText } from "../fakes/model-script.ts";
import { api, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "test-gateway-token-0123456789";

async function databasePath(t: TestContext) {
  const directory = await mkdtemp(join(tmpdir(), "faraday-search-"));
  t.after(() => rm(directory, { recursive: true, force: true }));
  return join(directory, "faraday.sqlite");
}

/** Every indexable message and every index row, as `session:seq` keys. */
function coverage(database: Database) {
  const messages = (database.prepare("SELECT session_id, seq FROM messages WHERE role != 'tool' AND trim(content) != '' ORDER BY session_id, seq").all() as Array<{ session_id: string; seq: number }>)
    .map((row) => `${row.session_id}:${row.seq}`);
  const indexed = (database.prepare("SELECT session_id, seq FROM messages_fts ORDER BY session_id, seq").all() as Array<{ session_id: string; seq: number }>)
    .map((row) => `${row.session_id}:${row.seq}`);
  return { messages, indexed };
}

test("messages stored but not yet indexed when the process died are indexed at the next start, each once", async (t) => {
  const path = await databasePath(t);
  let database = await openDatabase(path);
  const store = new SessionStore(database);
  const sessions = Array.from({ length: 5 }, (_, index) => store.create({ key: `main:web:${index}`, agentId: "main", channel: "web", chat: String(index) }));
  for (let round = 0; round < 40; round++) {
    await Promise.all(sessions.map((session) => store.appendDurable(session.id, { role: "user", content: `early ${round} kiwi` })));
  }
  store.flushSearchIndex();
  // The burst the kill interrupts: committed, still in the store's index queue.
  for (let round = 0; round < 20; round++) {
    await Promise.all(sessions.map((session) => store.appendDurable(session.id, { role: "user", content: `late ${round} papaya` })));
    await store.appendDurable(sessions[round % 5]!.id, { role: "tool", toolCallId: `c${round}`, name: "t", content: "tool output" });
    await store.appendDurable(sessions[round % 5]!.id, { role: "assistant", content: "  " });
  }
  database.close(); // as after kill -9: the queued index rows are gone
  database = await openDatabase(path);
  t.after(() => database.close());
  const before = coverage(database);
  assert.equal(before.messages.length - before.indexed.length, 100, "the 100 late messages are missing from the index");
  assert.equal(repairSearchIndex(database), 100);
  const after = coverage(database);
  assert.deepEqual(after.indexed, after.messages, "every indexable message indexed exactly once");
  assert.equal(repairSearchIndex(database), 0, "a second start adds nothing");
  const reader = new SessionStore(database);
  assert.equal(reader.search("papaya", 200).length, 100);
  assert.equal(reader.search("kiwi", 500).length, 200);
});

test("an empty index over a transcript with messages is built whole", async (t) => {
  const path = await databasePath(t);
  const database = await openDatabase(path);
  t.after(() => database.close());
  const store = new SessionStore(database);
  const session = store.create({ key: "main:web:x", agentId: "main", channel: "web", chat: "x" });
  for (let index = 0; index < 30; index++) await store.appendDurable(session.id, { role: index % 2 ? "assistant" : "user", content: `line ${index} mango` });
  database.exec("DELETE FROM messages_fts");
  assert.equal(repairSearchIndex(database), 30);
  const { messages, indexed } = coverage(database);
  assert.deepEqual(indexed, messages);
});

test("kill -9 right after a burst of chats: after the restart every message is in the search index", async (t) => {
  const fake = await startAnthropicFake();
  t.after(() => fake.close());
  fake.setDefault((request) => ({ text: `noted ${lastUserText(request)}` }));
  const stateDir = await tempStateDir(t);
  const env = { OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_API_KEY: "fake-anthropic-key-for-tests", ANTHROPIC_BASE_URL: fake.url };
  const first = await startGateway(t, stateDir, { env });
  const replies = await Promise.all(Array.from({ length: 40 }, (_, index) =>
    api(first.url, "/api/chat", { token: TOKEN, method: "POST", body: { text: `burst message ${index}` } })));
  first.kill("SIGKILL");
  await first.exited;
  assert.ok(replies.every((reply) => reply.status === 200));
  const second = await startGateway(t, stateDir, { env });
  second.kill("SIGTERM");
  assert.equal((await second.exited).code, 0);
  const database = await openDatabase(join(stateDir, "faraday.sqlite"), { readOnly: true });
  t.after(() => database.close());
  const { messages, indexed } = coverage(database);
  assert.equal(messages.length, 80);
  assert.deepEqual(indexed, messages);
});
