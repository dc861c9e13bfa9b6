import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { openDatabase } from "../../src/state/database.ts";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { lastUserText } from "../fakes/model-script.ts";
import { api, startGateway } from "../helpers/gateway-process.ts";
import { smallDisk } from "../helpers/small-disk.ts";

const TOKEN = "test-gateway-token-0123456789";
const DISK_BYTES = 8 * 1024 * 1024;

async function fakeModel(t: import("node:test").TestContext) {
  const fake = await startAnthropicFake();
  t.after(() => fake.close());
  fake.setDefault((request) => ({ text: `You said: ${lastUserText(request)}` }));
  return { OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_API_KEY: "fake-anthropic-key-for-tests", ANTHROPIC_BASE_URL: fake.url };
}

/**
 * Poll (bounded) until `check` holds; returns its last value. A refused connection counts as
 * "not yet": leaving setup mode closes its listener a moment before the full app listens.
 */
async function until<T>(what: string, read: () => Promise<T>, check: (value: T) => boolean, attempts = 150): Promise<T> {
  const attempt = () => read().catch((error: unknown) => ({ refused: String(error) }) as T);
  let value = await attempt();
  for (let count = 0; count < attempts && !check(value); count++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = await attempt();
  }
  assert.ok(check(value), `${what}: ${JSON.stringify(value)}`);
  return value;
}

const chat = (url: string, text: string, sessionId?: string) =>
  api(url, "/api/chat", { token: TOKEN, method: "POST", body: { text, ...(sessionId ? { sessionId } : {}) } });

test("the disk fills up during a chat: the gateway stays up, /readyz says DISK_FULL and how to grow the volume, chats get one sentence, and writing resumes when space returns", async (t) => {
  const disk = await smallDisk(t, DISK_BYTES);
  if (!disk) return;
  const env = await fakeModel(t);
  const stateDir = join(disk.path, "state");
  const gateway = await startGateway(t, stateDir, { env });
  const first = await chat(gateway.url, "remember the pineapple");
  assert.equal(first.json.reply, "You said: remember the pineapple");
  // Filled before the search index is written (it lags by up to 200 ms): that write fails first,
  // from a timer — the crash the review found.
  await disk.fill();
  const ready = await until("readyz turns 503 DISK_FULL", () => api(gateway.url, "/readyz"), (response) => (response as { status?: number }).status === 503);
  assert.equal(ready.json.code, "DISK_FULL");
  const database = ready.json.failing.find((component: { name: string }) => component.name === "database");
  assert.match(database.reason, /fly volumes extend <volume-id> --size <GB>/);
  assert.equal(gateway.child.exitCode, null, "still running");
  const full = gateway.logs().find((line) => line.code === "DISK_FULL");
  assert.equal(full?.failedWrite, "the search index");

  const refused = await chat(gateway.url, "are you there?", first.json.sessionId);
  assert.equal(refused.status, 200);
  assert.equal(refused.json.errorCode, "DISK_FULL");
  assert.match(refused.json.reply, /^I can't answer right now because the gateway's disk is full[^.]*\.$/, "one sentence");
  const putConfig = await api(gateway.url, "/api/config", { token: TOKEN, method: "PUT", body: { session: { dmScope: "main" } } });
  assert.equal(putConfig.status, 507);
  assert.equal(putConfig.json.error.code, "DISK_FULL");

  await disk.free();
  await until("readyz is 200 again", () => api(gateway.url, "/readyz"), (response) => (response as { status?: number }).status === 200);
  const again = await chat(gateway.url, "and the mango", first.json.sessionId);
  assert.equal(again.json.reply, "You said: and the mango");
  const messages = await api(gateway.url, `/api/sessions/${first.json.sessionId}/messages`, { token: TOKEN });
  assert.deepEqual(messages.json.messages.map((message: { content: string }) => message.content), [
    "remember the pineapple", "You said: remember the pineapple", "and the mango", "You said: and the mango",
  ]);
  gateway.kill("SIGTERM");
  assert.equal((await gateway.exited).code, 0);
  // The search index caught up with everything stored, including what waited for space.
  const reader = await openDatabase(join(stateDir, "faraday.sqlite"), { readOnly: true });
  t.after(() => reader.close());
  const indexed = (reader.prepare("SELECT content FROM messages_fts ORDER BY rowid").all() as Array<{ content: string }>).map((row) => row.content);
  assert.deepEqual(indexed, ["remember the pineapple", "You said: remember the pineapple", "and the mango", "You said: and the mango"]);
});

test("starting on a full disk serves in setup mode (/readyz 503 DISK_FULL) instead of exiting, and starts fully once there is space", async (t) => {
  const disk = await smallDisk(t, DISK_BYTES);
  if (!disk) return;
  const env = await fakeModel(t);
  const stateDir = join(disk.path, "state");
  const before = await startGateway(t, stateDir, { env });
  const first = await chat(before.url, "keep this");
  before.kill("SIGTERM");
  assert.equal((await before.exited).code, 0);
  await disk.fill();

  const gateway = await startGateway(t, stateDir, { env });
  assert.equal((await api(gateway.url, "/healthz")).status, 200);
  const ready = await api(gateway.url, "/readyz");
  assert.equal(ready.status, 503);
  assert.equal(ready.json.code, "DISK_FULL");
  assert.match(ready.json.failing[0].reason, /fly volumes extend/);
  assert.equal(gateway.child.exitCode, null, "not exited");

  await disk.free();
  await until("readyz is 200 once the database opens", () => api(gateway.url, "/readyz"), (response) => (response as { status?: number }).status === 200);
  const messages = await api(gateway.url, `/api/sessions/${first.json.sessionId}/messages`, { token: TOKEN });
  assert.deepEqual(messages.json.messages.map((message: { content: string }) => message.content), ["keep this", "You said: keep this"]);
  assert.equal((await chat(gateway.url, "hello again", first.json.sessionId)).json.reply, "You said: hello again");
});

test("a gateway waiting for disk space stops on SIGTERM with exit 0", async (t) => {
  const disk = await smallDisk(t, DISK_BYTES);
  if (!disk) return;
  const stateDir = join(disk.path, "state");
  const before = await startGateway(t, stateDir, { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN } });
  before.kill("SIGTERM");
  await before.exited;
  await disk.fill();
  const gateway = await startGateway(t, stateDir, { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN } });
  assert.equal((await api(gateway.url, "/readyz")).json.code, "DISK_FULL");
  gateway.kill("SIGTERM");
  assert.equal((await gateway.exited).code, 0);
});
