import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir, hostname } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { writeFileAtomic } from "../../src/state/atomic-write.ts";
import { judgeLiveness, currentProcessIdentity } from "../../src/state/process-identity.ts";
import { openDatabase, migrate } from "../../src/state/database.ts";
import { MIGRATIONS } from "../../src/state/migrations.ts";
import { createSecretStore } from "../../src/state/secret-store.ts";
import { acquireStateLock, inspectStateLock } from "../../src/state/state-lock.ts";
import { FailureLimiter } from "../../src/http/auth.ts";

async function tempDir(t: import("node:test").TestContext) {
  const directory = await mkdtemp(join(tmpdir(), "faraday-unit-"));
  t.after(() => rm(directory, { recursive: true, force: true }));
  return directory;
}

test("an atomic write leaves no temp file and replaces content whole", async (t) => {
  const directory = await tempDir(t);
  const path = join(directory, "file.json");
  await writeFileAtomic(path, "one");
  await writeFileAtomic(path, "two", { mode: 0o600 });
  assert.equal(await readFile(path, "utf8"), "two");
  assert.deepEqual(await readdir(directory), ["file.json"]);
});

test("liveness: a running process is alive; a dead pid, a reused pid, or a new boot are provably dead", async () => {
  const self = currentProcessIdentity();
  assert.equal(judgeLiveness(self, self).alive, true);
  const child = spawn(process.execPath, ["-e", ""]);
  const deadPid = child.pid!;
  await new Promise((resolve) => child.once("exit", resolve));
  const dead = judgeLiveness({ ...self, pid: deadPid }, self);
  assert.equal(dead.alive, false);
  const reused = judgeLiveness({ ...self, processStartTime: "12345" }, self);
  assert.deepEqual([reused.alive, (reused as { provable: boolean }).provable], [false, true]);
  assert.match(reused.reason, /pid reused/);
  const rebooted = judgeLiveness({ ...self, bootId: "another-boot" }, self);
  assert.match(rebooted.reason, /rebooted/);
  const remote = judgeLiveness({ ...self, hostname: `${hostname()}-other` }, self);
  assert.deepEqual([remote.alive, (remote as { provable: boolean }).provable], [false, false]);
});

test("the state lock: taken once, refused to a second taker, free after release", async (t) => {
  const directory = await tempDir(t);
  const lock = await acquireStateLock(directory, { version: "test" });
  assert.equal((await inspectStateLock(directory)).state, "held");
  await assert.rejects(acquireStateLock(directory, { version: "test" }), { code: "LOCK_HELD" });
  await lock.release();
  assert.equal((await inspectStateLock(directory)).state, "free");
});

test("migrations run once, in order, and a database from a newer Faraday is refused", async (t) => {
  const directory = await tempDir(t);
  const database = await openDatabase(join(directory, "db.sqlite"));
  const journal = database.prepare("PRAGMA journal_mode").get() as { journal_mode: string };
  assert.equal(journal.journal_mode, "wal");
  const newest = MIGRATIONS.at(-1)!.version;
  const extra = [...MIGRATIONS, { version: newest + 1, name: "next", sql: "CREATE TABLE a_next (x)" }];
  assert.equal(migrate(database, extra), 1, "the shipped ones were applied by openDatabase");
  assert.equal(migrate(database, extra), 0);
  assert.throws(() => migrate(database, MIGRATIONS), { code: "DATABASE_FAILED" }, "a newer database is refused");
  database.close();
});

test("the secret store keeps values and lists only names", async (t) => {
  const directory = await tempDir(t);
  const database = await openDatabase(join(directory, "db.sqlite"));
  const secrets = createSecretStore(database);
  secrets.set("telegram.botToken", "value-1");
  secrets.set("telegram.botToken", "value-2");
  assert.equal(secrets.get("telegram.botToken"), "value-2");
  assert.deepEqual(secrets.names(), ["telegram.botToken"]);
  assert.equal(secrets.delete("telegram.botToken"), true);
  assert.equal(secrets.get("telegram.botToken"), undefined);
  database.close();
});

test("the failure limiter limits one address per window and forgets it afterwards; memory is bounded", () => {
  let now = 0;
  const limiter = new FailureLimiter({ maxFailures: 3, windowMs: 1000, maxAddresses: 2, now: () => now });
  for (let index = 0; index < 3; index++) limiter.recordFailure("a");
  assert.equal(limiter.retryAfterSeconds("a"), 1);
  assert.equal(limiter.retryAfterSeconds("b"), 0);
  now = 1000;
  assert.equal(limiter.retryAfterSeconds("a"), 0);
  limiter.recordFailure("b");
  limiter.recordFailure("c");
  limiter.recordFailure("d");
  assert.equal(limiter.retryAfterSeconds("b"), 0);
});
