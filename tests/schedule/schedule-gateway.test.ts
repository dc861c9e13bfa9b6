import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { DatabaseSync } from "node:sqlite";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { startTelegramFake, type TelegramFake } from "../fakes/telegram-fake.ts";
import { eventually } from "../helpers/agent-harness.ts";
import { api, runToExit, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "test-gateway-token-0123456789";
const OWNER = 1001;

async function configure(t: TestContext, telegram: TelegramFake, modelUrl: string) {
  const stateDir = await tempStateDir(t);
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({
    agents: { defaults: { model: "anthropic/claude-test" } },
    channels: { telegram: { enabled: true, apiRoot: telegram.url, pollingTimeoutSeconds: 1, allowFrom: [OWNER], owners: [OWNER] } },
    cron: { timezone: "UTC", catchUpMinutes: 60 },
  }));
  const env = { OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_API_KEY: "fake-anthropic-key-for-tests", ANTHROPIC_BASE_URL: modelUrl, TELEGRAM_BOT_TOKEN: telegram.token };
  return { stateDir, env };
}

test("faraday cron add, list, run, pause and remove work through the running gateway", async (t) => {
  const model = await startAnthropicFake();
  t.after(() => model.close());
  const telegram = await startTelegramFake();
  t.after(() => telegram.close());
  const { stateDir, env } = await configure(t, telegram, model.url);
  await startGateway(t, stateDir, { allowUnconfigured: false, env });
  const cli = (...args: string[]) => runToExit(t, ["cron", ...args, "--json", "--state-dir", stateDir], { OPENCLAW_GATEWAY_TOKEN: TOKEN });

  const added = await cli("add", "daily-note", "--schedule", "0 9 * * *", "--message", "Good morning!");
  assert.equal(added.code, 0, added.stderr);
  assert.equal(JSON.parse(added.stdout).job.deliverTo, "owners");
  const list = JSON.parse((await cli("list")).stdout);
  assert.deepEqual(list.jobs.map((job: { id: string }) => job.id), ["daily-note"]);
  assert.match(list.jobs[0].nextRun, /T09:00:00.000Z$/);

  const run = await cli("run", "daily-note");
  assert.equal(run.code, 0, run.stderr);
  assert.equal(JSON.parse(run.stdout).run.status, "done");
  await eventually(() => telegram.sent(OWNER).some((message) => message.text === "Good morning!"), 10_000, "the run's message");

  assert.equal(JSON.parse((await cli("pause", "daily-note")).stdout).job.paused, true);
  const missing = await cli("remove", "nope");
  assert.equal(missing.code, 1);
  assert.equal(JSON.parse(missing.stdout).error.code, "NOT_FOUND");
  assert.equal((await cli("remove", "daily-note")).code, 0);
  assert.deepEqual(JSON.parse((await cli("list")).stdout).jobs, []);
});

test("kill -9 in the middle of a burst of reminders due at once, and before a claim: each occurrence claimed, stored and sent at most once; all delivered but the one in flight", async (t) => {
  const model = await startAnthropicFake();
  t.after(() => model.close());
  const telegram = await startTelegramFake();
  t.after(() => telegram.close());
  const { stateDir, env } = await configure(t, telegram, model.url);
  const first = await startGateway(t, stateDir, { allowUnconfigured: false, env });
  const count = 300;
  const due = new Date(Date.now() + 6_000).toISOString();
  // One before the burst: the gateway is killed before its claim and it runs once after the restart.
  const early = await api(first.url, "/api/cron", { token: TOKEN, method: "POST", body: { id: "before-claim", schedule: new Date(Date.now() + 60_000).toISOString(), message: "before-claim", deliverTo: { channel: "telegram", chat: String(OWNER) } } });
  assert.equal(early.status, 201, early.text);
  for (let index = 0; index < count; index++) {
    const response = await api(first.url, "/api/cron", { token: TOKEN, method: "POST", body: { id: `burst-${index}`, schedule: due, message: `burst-${index}`, deliverTo: { channel: "telegram", chat: String(OWNER) } } });
    assert.equal(response.status, 201, response.text);
  }
  await eventually(() => telegram.sent(OWNER).length >= 20, 20_000, "the burst under way");
  first.kill("SIGKILL");
  await first.exited;
  const sentAtKill = telegram.sent(OWNER).length;
  assert.ok(sentAtKill < count, `killed mid-burst (${sentAtKill} of ${count} sent)`);

  // The "before-claim" reminder came due while the gateway was down (within catchUpMinutes).
  const database = new DatabaseSync(join(stateDir, "faraday.sqlite"));
  database.exec("UPDATE schedule_jobs SET next_run = next_run - 60000 + 2000 WHERE id = 'before-claim'");
  database.close();
  await new Promise((resolve) => setTimeout(resolve, 2_500));

  await startGateway(t, stateDir, { allowUnconfigured: false, env });
  const unsent = () => {
    const reader = new DatabaseSync(join(stateDir, "faraday.sqlite"), { readOnly: true });
    try {
      return (reader.prepare("SELECT COUNT(*) AS n FROM ingress WHERE sender = 'faraday:outbound' AND status != 'done'").get() as { n: number }).n;
    } finally {
      reader.close();
    }
  };
  // The sentinel: every stored message finished (sent, or skipped as in flight at the kill).
  await eventually(() => telegram.sent(OWNER).some((message) => message.text === "before-claim") && unsent() === 0, 60_000, "every stored message finished");
  const texts = telegram.sent(OWNER).map((message) => message.text as string);
  const repeated = texts.filter((text, index) => texts.indexOf(text) !== index);
  assert.deepEqual(repeated, [], "none sent twice");
  const delivered = new Set(texts.filter((text) => /^burst-\d+$/.test(text))).size;
  assert.ok(delivered >= count - 1, `every reminder delivered but at most the one in flight at the kill (${delivered} of ${count})`);
  assert.equal(texts.filter((text) => text === "before-claim").length, 1);
  const check = new DatabaseSync(join(stateDir, "faraday.sqlite"), { readOnly: true });
  const runs = check.prepare("SELECT job_id, COUNT(*) AS n FROM schedule_runs GROUP BY job_id HAVING n > 1").all();
  const outbound = check.prepare("SELECT COUNT(*) AS n FROM ingress WHERE sender = 'faraday:outbound'").get() as { n: number };
  check.close();
  assert.deepEqual(runs, [], "each occurrence claimed once");
  assert.equal(outbound.n, count + 1, "each stored for sending once");
});
