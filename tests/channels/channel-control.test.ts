/**
 * Managing channels over HTTP, as the dashboard does: a Telegram token entered through the API
 * is stored in the secret store (never shown again in full) and the channel starts with it;
 * enabling/disabling goes through openclaw.json; revoking takes someone off the allowlist.
 */
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { lastUserText } from "../fakes/model-script.ts";
import { startTelegramFake } from "../fakes/telegram-fake.ts";
import { eventually } from "../helpers/agent-harness.ts";
import { api, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "test-gateway-token-0123456789";

test("a Telegram token entered through the API starts the channel; it is never shown again; enable/disable and revoke work", async (t) => {
  const model = await startAnthropicFake();
  t.after(() => model.close());
  model.setDefault((request) => ({ text: `You said: ${lastUserText(request)}` }));
  const telegram = await startTelegramFake();
  t.after(() => telegram.close());
  const stateDir = await tempStateDir(t);
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({
    agents: { defaults: { model: "anthropic/claude-test" } },
    channels: { telegram: { apiRoot: telegram.url, pollingTimeoutSeconds: 1 } },
  }));
  const gateway = await startGateway(t, stateDir, {
    env: { OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_API_KEY: "fake-anthropic-key-for-tests", ANTHROPIC_BASE_URL: model.url },
    allowUnconfigured: false,
  });
  const channels = async () => (await api(gateway.url, "/api/channels", { token: TOKEN })).json.channels as Array<{ name: string; state: string; enabled: boolean; credential: { source: string | null; hint?: string } }>;
  const telegramState = async () => (await channels()).find((channel) => channel.name === "telegram")!;

  assert.deepEqual((await channels()).map((channel) => channel.name), ["telegram", "discord", "whatsapp"]);
  assert.deepEqual(await telegramState(), { name: "telegram", state: "disabled", reason: "not set up", enabled: false, credential: { source: null } });

  const bad = await api(gateway.url, "/api/channels/telegram", { token: TOKEN, method: "PUT", body: { token: "short" } });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.code, "BAD_REQUEST");
  assert.equal((await api(gateway.url, "/api/channels/sms", { token: TOKEN, method: "PUT", body: { enabled: true } })).status, 404);

  const saved = await api(gateway.url, "/api/channels/telegram", { token: TOKEN, method: "PUT", body: { token: telegram.token } });
  assert.equal(saved.status, 200, JSON.stringify(saved.json));
  assert.deepEqual(saved.json.channel.credential, { source: "secret-store", hint: `…${telegram.token.slice(-4)}` });
  assert.ok(!JSON.stringify(saved.json).includes(telegram.token), "the token is never shown again in full");
  await eventually(async () => (await telegramState()).state === "connected", 15_000, "telegram connected with the stored token");
  assert.equal((await telegramState()).enabled, true);
  // It really is the stored token that talks to Telegram: a DM gets the pairing reply.
  telegram.pushMessage({ chatId: 3003, fromId: 3003, text: "hello" });
  await eventually(() => telegram.sent(3003).length === 1, 10_000, "the pairing reply");
  const code = /pairing code is ([A-Z2-9]{8})/.exec(telegram.sent(3003)[0]!.text)![1]!;
  assert.equal((await api(gateway.url, "/api/pairing/approve", { token: TOKEN, method: "POST", body: { channel: "telegram", code } })).status, 200);
  assert.deepEqual((await api(gateway.url, "/api/pairing", { token: TOKEN })).json.allowed.map((entry: { sender: string }) => entry.sender), ["3003"]);
  const revoked = await api(gateway.url, "/api/pairing/revoke", { token: TOKEN, method: "POST", body: { channel: "telegram", sender: "3003" } });
  assert.equal(revoked.status, 200);
  assert.deepEqual((await api(gateway.url, "/api/pairing", { token: TOKEN })).json.allowed, []);
  assert.equal((await api(gateway.url, "/api/pairing/revoke", { token: TOKEN, method: "POST", body: { channel: "telegram", sender: "3003" } })).status, 404);

  // Off: written to openclaw.json (validated), the channel stops.
  const off = await api(gateway.url, "/api/channels/telegram", { token: TOKEN, method: "PUT", body: { enabled: false } });
  assert.equal(off.status, 200);
  await eventually(async () => (await telegramState()).state === "disabled", 15_000, "telegram disabled");
  assert.equal((await telegramState()).enabled, false);
  const written = JSON.parse(await readFile(join(stateDir, "openclaw.json"), "utf8"));
  assert.equal(written.channels.telegram.enabled, false);
  assert.equal(written.channels.telegram.apiRoot, telegram.url, "the rest of the config is kept");
  assert.ok(!JSON.stringify(written).includes(telegram.token), "the token stays in the secret store, not the file");
  await api(gateway.url, "/api/channels/telegram", { token: TOKEN, method: "PUT", body: { enabled: true } });
  await eventually(async () => (await telegramState()).state === "connected", 15_000, "telegram back on");

  const printed = gateway.stdout() + gateway.stderr();
  assert.ok(!printed.includes(telegram.token), "the token never reaches the log");
});
