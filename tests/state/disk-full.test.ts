import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { openDatabase } from "../../src/state/database.ts";
import { isDiskFull } from "../../src/state/storage-errors.ts";
import { IngressStore } from "../../src/channels/ingress-store.ts";
import { createSettingsAuthStore } from "../../src/http/auth-store.ts";
import { ApprovalBroker } from "../../src/tools/approvals/approval-broker.ts";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { lastUserText } from "../fakes/model-script.ts";
import { startTelegramFake } from "../fakes/telegram-fake.ts";
import { eventually } from "../helpers/agent-harness.ts";
import { api, startGateway } from "../helpers/gateway-process.ts";
import { smallDisk } from "../helpers/small-disk.ts";

const TOKEN = "test-gateway-token-0123456789";
const OWNER = 1001;
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
  const refused = await chat(gateway.url, "anyone there?", first.json.sessionId);
  assert.equal(refused.json.errorCode, "DISK_FULL");
  assert.match(refused.json.reply, /^I can't answer right now because the gateway's disk is full[^.]*\.$/);

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

test("Telegram messages on a full disk: the sender is told once, in one sentence, and both are answered once there is space", async (t) => {
  const disk = await smallDisk(t, DISK_BYTES);
  if (!disk) return;
  const env = await fakeModel(t);
  const telegram = await startTelegramFake();
  t.after(() => telegram.close());
  const stateDir = join(disk.path, "state");
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({
    agents: { list: [{ id: "main", default: true }] },
    channels: { telegram: { enabled: true, apiRoot: telegram.url, pollingTimeoutSeconds: 1, allowFrom: [OWNER] } },
  }));
  const gateway = await startGateway(t, stateDir, { env: { ...env, TELEGRAM_BOT_TOKEN: telegram.token }, allowUnconfigured: false });
  telegram.pushMessage({ chatId: OWNER, fromId: OWNER, text: "before" });
  await eventually(() => telegram.sent(OWNER).length === 1, 15_000, "the first answer");
  await disk.fill();
  telegram.pushMessage({ chatId: OWNER, fromId: OWNER, text: "during" });
  await eventually(() => telegram.sent(OWNER).length === 2, 15_000, "the disk-full sentence");
  assert.match(telegram.sent(OWNER)[1]!.text, /^I can't answer right now because the gateway's disk is full[^.]*\.$/);
  const ready = await until("readyz turns 503 DISK_FULL", () => api(gateway.url, "/readyz"), (response) => (response as { status?: number }).status === 503);
  assert.equal((ready as { json: { code: string } }).json.code, "DISK_FULL");
  // A second message while full: whether it could not be stored (the adapter restarts, Telegram
  // delivers it again) or stored but not answered, the chat is not told twice.
  const failures = () => gateway.logs().filter((line) => line.msg === "a turn could not be saved; its reply is the one-sentence explanation" ||
    (line.msg === "channel connection lost; restarting it alone" && /disk is full/.test(String(line.err)))).length;
  const before = failures();
  telegram.pushMessage({ chatId: OWNER, fromId: OWNER, text: "during again" });
  await eventually(() => failures() > before, 20_000, "the second message failing for lack of space");
  assert.equal(telegram.sent(OWNER).length, 2, "told once");
  await disk.free();
  await eventually(() => ["You said: during", "You said: during again"].every((text) => telegram.sent(OWNER).some((message) => message.text === text)), 30_000, "both answered after space returned");
  assert.equal(telegram.sent(OWNER).filter((message) => /disk is full/.test(message.text)).length, 1, "the sentence was sent once");
});

test("on a real full disk, writes read back with get() throw instead of reporting a row that was not written: an inbound message, a one-time sign-in code", async (t) => {
  const disk = await smallDisk(t, 2 * 1024 * 1024);
  if (!disk) return;
  const database = await openDatabase(join(disk.path, "faraday.sqlite"));
  t.after(() => database.close());
  const ingress = new IngressStore(database);
  const auth = createSettingsAuthStore(database);
  const message = (id: string) => ({ channel: "telegram", account: "1", chat: "7", chatType: "dm" as const, sender: "7", text: `hello ${id}`, platformId: `7:${id}`, addressedToBot: true });
  assert.ok(ingress.add(message("1")));
  const { code } = auth.createLoginCode();
  await disk.fill();
  assert.throws(() => ingress.add(message("2")), (error: unknown) => isDiskFull(error), "not stored, so not acknowledged");
  assert.throws(() => auth.consumeLoginCode(code), (error: unknown) => isDiskFull(error));
  await disk.free();
  assert.ok(ingress.add(message("2")), "stored once there is space");
  assert.equal(auth.consumeLoginCode(code), true, "the code was never used");
  assert.equal(auth.consumeLoginCode(code), false, "and is used once");
  assert.deepEqual(ingress.unfinished().map((row) => row.message.text), ["hello 1", "hello 2"]);
});

test("an approval that expires on a full disk ends its turn as expired instead of throwing from its timer", async (t) => {
  const disk = await smallDisk(t, 2 * 1024 * 1024);
  if (!disk) return;
  const database = await openDatabase(join(disk.path, "faraday.sqlite"));
  t.after(() => database.close());
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const broker = new ApprovalBroker(database, () => 60_000);
  const asked = { sessionId: "s", agentId: "main", channel: "web", chat: "web", requester: "web", tool: "favcrm__cancel_booking", arguments: { id: 1 }, reason: "destructive" };
  const first = broker.request(asked);
  const second = broker.request(asked);
  await disk.fill();
  assert.doesNotThrow(() => t.mock.timers.tick(60_000));
  assert.deepEqual(await first.outcome, { status: "expired", decidedBy: null });
  assert.deepEqual(await second.outcome, { status: "expired", decidedBy: null });
  await disk.free();
  assert.doesNotThrow(() => broker.expireAll());
});

test("a first start on a full disk (no database yet) also serves in setup mode, then creates the database once there is space", async (t) => {
  const disk = await smallDisk(t, DISK_BYTES);
  if (!disk) return;
  await disk.fill();
  const gateway = await startGateway(t, join(disk.path, "state"), { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN } });
  const ready = await api(gateway.url, "/readyz");
  assert.equal(ready.status, 503);
  assert.equal(ready.json.code, "DISK_FULL");
  await disk.free();
  await until("readyz is 200 once the database is created", () => api(gateway.url, "/readyz"), (response) => (response as { status?: number }).status === 200);
  assert.equal((await api(gateway.url, "/api/status", { token: TOKEN })).json.ready, true);
});
