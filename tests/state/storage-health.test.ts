import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { SessionStore } from "../../src/agent/sessions/session-store.ts";
import { openDatabase, StorageHealth, isDiskFull, isDatabaseDamaged } from "../../src/state/index.ts";

async function database(t: import("node:test").TestContext) {
  const directory = await mkdtemp(join(tmpdir(), "faraday-storage-"));
  t.after(() => rm(directory, { recursive: true, force: true }));
  const opened = await openDatabase(join(directory, "faraday.sqlite"));
  t.after(() => opened.close());
  return opened;
}

/** SQLite's own limit on the file's pages: past it, every write fails with a real SQLITE_FULL. */
function capPages(database: import("../../src/state/index.ts").Database, extra: number) {
  const { page_count: pages } = database.prepare("PRAGMA page_count").get() as { page_count: number };
  database.exec(`PRAGMA max_page_count = ${pages + extra}`);
}

test("SQLITE_FULL: the search index flush never throws; its batch waits, in order, and goes in once there is room", async (t) => {
  const db = await database(t);
  const reported: unknown[] = [];
  const store = new SessionStore(db, { onBackgroundError: (error) => reported.push(error) });
  const session = store.create({ key: "main:web:1", agentId: "main", channel: "web", chat: "1" });
  await store.appendDurable(session.id, { role: "user", content: "first kiwi" });
  store.flushSearchIndex();
  const big = "papaya ".repeat(3_000);
  await store.appendDurable(session.id, { role: "user", content: `second ${big}` });
  await store.appendDurable(session.id, { role: "assistant", content: `third ${big}` });
  capPages(db, 0);
  assert.equal(store.flushSearchIndex(), false, "not flushed, and no throw");
  assert.equal(reported.length, 1);
  assert.ok(isDiskFull(reported[0]), String(reported[0]));
  assert.equal(db.isTransaction, false, "nothing left open");
  // A caller's write fails with the same error (the turn turns it into one sentence)…
  await assert.rejects(store.appendDurable(session.id, { role: "user", content: big }), (error: unknown) => isDiskFull(error));
  // …and a search still answers from what is indexed.
  assert.equal(store.search("kiwi").length, 1);
  // Space again: the waiting batch goes in, in order; nothing stored was lost.
  db.exec("PRAGMA max_page_count = 1073741823");
  assert.equal(store.flushSearchIndex(), true);
  const indexed = (db.prepare("SELECT seq FROM messages_fts ORDER BY rowid").all() as Array<{ seq: number }>).map((row) => row.seq);
  assert.deepEqual(indexed, [1, 2, 3]);
  assert.deepEqual(store.messagesAfter(session.id, 0).map((message) => message.content.slice(0, 6)), ["first ", "second", "third "]);
});

test("storage health: a full disk starts a probe on the injected clock; the first probe that succeeds reports recovered", async (t) => {
  t.mock.timers.enable({ apis: ["setInterval"] });
  let room = false;
  let probes = 0;
  const health = new StorageHealth({
    probeIntervalMs: 5_000,
    probe: () => {
      probes++;
      if (!room) throw Object.assign(new Error("no space"), { code: "ENOSPC" });
    },
    timers: { setInterval: (callback, ms) => setInterval(callback, ms), clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout) },
  });
  const changes: string[] = [];
  health.on("changed", (condition) => changes.push(condition.state));
  let recovered = 0;
  health.on("recovered", () => recovered++);
  const full = Object.assign(new Error("database or disk is full"), { code: "ERR_SQLITE_ERROR", errcode: 13 });
  assert.equal(health.report(new Error("something else"), "x"), "other");
  assert.equal(health.report(full, "the search index"), "disk_full");
  assert.equal(health.report(full, "agent turn"), "disk_full", "reported once, not per failure");
  assert.deepEqual(changes, ["disk_full"]);
  assert.equal(health.condition.state === "disk_full" && health.condition.what, "the search index");
  t.mock.timers.tick(5_000);
  await Promise.resolve();
  assert.equal(probes, 1);
  assert.equal(health.diskFull, true);
  room = true;
  t.mock.timers.tick(5_000);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(probes, 2);
  assert.deepEqual(changes, ["disk_full", "ok"]);
  assert.equal(recovered, 1);
  t.mock.timers.tick(50_000);
  assert.equal(probes, 2, "the probe stops once the disk has room");
  const damaged = Object.assign(new Error("database disk image is malformed"), { code: "ERR_SQLITE_ERROR", errcode: 11 });
  assert.ok(isDatabaseDamaged(damaged));
  assert.equal(health.report(damaged, "agent turn"), "damaged");
  assert.equal(health.condition.state, "damaged");
  health.close();
});
