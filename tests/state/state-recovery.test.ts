import assert from "node:assert/strict";
import { mkdir, open, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { openDatabase } from "../../src/state/database.ts";
import { api, runToExit, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "test-gateway-token-0123456789";

test("temporary files a killed writer left (config, last-good, lock owner, memory) are removed at start; other files stay", async (t) => {
  const stateDir = await tempStateDir(t);
  await mkdir(join(stateDir, "locks"), { recursive: true });
  await mkdir(join(stateDir, "agents", "main"), { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({ gateway: { port: 0 } }));
  // Named as writeFileAtomic and backupFile name them, by a writer (pid 4242) killed mid-write.
  const leftovers = [
    join(stateDir, ".openclaw.json.4242.0a1b2c3d.tmp"),
    join(stateDir, "openclaw.json.last-good.4242.3.tmp"),
    join(stateDir, "locks", ".owner.json.4242.deadbeef.tmp"),
    join(stateDir, "locks", "owner.json.reclaim-4242-0badc0de"),
    join(stateDir, "agents", "main", ".MEMORY.md.4242.00ff00ff.tmp"),
  ];
  const kept = [join(stateDir, "notes.tmp"), join(stateDir, "agents", "main", "MEMORY.md"), join(stateDir, ".openclaw.json.tmp")];
  for (const path of [...leftovers, ...kept]) await writeFile(path, '{"half": ');
  const gateway = await startGateway(t, stateDir, { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN } });
  // The gateway's own start-up copy of the config goes through a temporary too: wait for it.
  for (let attempt = 0; attempt < 100 && !(await readdir(stateDir)).includes("openclaw.json.last-good"); attempt++) await new Promise((resolve) => setTimeout(resolve, 20));
  const names = async (directory: string) => (await readdir(directory)).filter((name) => name.endsWith(".tmp"));
  assert.deepEqual(await names(stateDir), [".openclaw.json.tmp", "notes.tmp"]);
  assert.deepEqual((await readdir(join(stateDir, "locks"))).filter((name) => name.includes(".tmp") || name.includes("reclaim")), []);
  assert.deepEqual(await names(join(stateDir, "agents", "main")), []);
  assert.deepEqual((await readdir(join(stateDir, "agents", "main"))), ["MEMORY.md"]);
  const removed = gateway.logs().find((line) => line.msg === "removed temporary files a stopped writer left behind");
  assert.deepEqual([...(removed?.files as string[])].sort(), [...leftovers].sort());
  assert.equal((await api(gateway.url, "/api/config", { token: TOKEN })).json.state, "valid");
});

/** Overwrite whole pages of a SQLite file, as a bad disk or a torn copy would. */
async function damagePages(path: string, pages: readonly number[], pageSize = 4096) {
  const handle = await open(path, "r+");
  try {
    for (const page of pages) await handle.write(Buffer.alloc(pageSize, 0x5a), 0, pageSize, (page - 1) * pageSize);
  } finally {
    await handle.close();
  }
}

/** A real gateway database with some content, closed cleanly; returns the root page of each table. */
async function seededDatabase(stateDir: string): Promise<{ path: string; roots: Map<string, number> }> {
  await mkdir(stateDir, { recursive: true });
  const path = join(stateDir, "faraday.sqlite");
  const database = await openDatabase(path);
  database.exec("INSERT INTO sessions (id, key, agent_id, channel, chat, created_at, updated_at) VALUES ('s1', 'main:web:1', 'main', 'web', '1', 'x', 'x')");
  const insert = database.prepare("INSERT INTO messages (session_id, seq, role, content, created_at) VALUES ('s1', ?, 'user', ?, 'x')");
  for (let seq = 1; seq <= 500; seq++) insert.run(seq, `message ${seq} `.repeat(30));
  database.prepare("INSERT INTO settings (key, value, updated_at) VALUES ('k', 'v', 'x')").run();
  const roots = new Map((database.prepare("SELECT name, rootpage FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string; rootpage: number }>).map((row) => [row.name, row.rootpage]));
  database.close();
  return { path, roots };
}

test("a database with damaged pages stops start-up with DATABASE_FAILED (exit 5) naming the file and the way out, no stack trace", async (t) => {
  for (const damaged of ["tables", "schema"] as const) {
    const stateDir = await tempStateDir(t);
    const { path, roots } = await seededDatabase(stateDir);
    // "tables": every table's root page but the migrations table (the schema still reads);
    // "schema": page 2 on, where the schema continues and the first tables start.
    const pages = damaged === "schema" ? [2, 3, 4] : [...roots].filter(([name]) => name !== "schema_migrations" && !name.startsWith("sqlite_") && !name.startsWith("messages_fts_")).map(([, page]) => page);
    await damagePages(path, pages);
    const result = await runToExit(t, ["gateway", "--port", "0", "--state-dir", stateDir, "--allow-unconfigured"], { OPENCLAW_GATEWAY_TOKEN: TOKEN });
    assert.equal(result.code, 5, `${damaged}: ${result.stderr}`);
    assert.match(result.stderr, /DATABASE_FAILED: the database .*faraday\.sqlite is damaged/);
    assert.match(result.stderr, /restore the file from a backup/);
    assert.match(result.stderr, /move it aside/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
  }
});

test("damaged pages met while running: the chat gets one sentence and /readyz turns 503 DATABASE_FAILED naming the way out", async (t) => {
  const stateDir = await tempStateDir(t);
  const { path, roots } = await seededDatabase(stateDir);
  await damagePages(path, [roots.get("sessions")!]);
  const gateway = await startGateway(t, stateDir, { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN } });
  assert.equal((await api(gateway.url, "/readyz")).status, 200, "nothing read the damaged page yet");
  const chat = await api(gateway.url, "/api/chat", { token: TOKEN, method: "POST", body: { text: "hello", sessionId: "s1" } });
  assert.equal(chat.status, 200);
  assert.equal(chat.json.errorCode, "DATABASE_FAILED");
  assert.match(chat.json.reply, /^I can't answer right now because the gateway's database is damaged[^.]*\.$/);
  const ready = await api(gateway.url, "/readyz");
  assert.equal(ready.status, 503);
  assert.equal(ready.json.code, "DATABASE_FAILED");
  assert.match(ready.json.failing[0].reason, /faraday\.sqlite is damaged .*restore the file from a backup/);
  assert.equal(gateway.child.exitCode, null);
});
