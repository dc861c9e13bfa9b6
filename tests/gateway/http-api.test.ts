import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { api, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "test-gateway-token-0123456789";

test("/api/* answers 401 without a token and with a wrong one, 200 with the right one", async (t) => {
  const gateway = await startGateway(t, await tempStateDir(t), { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN } });
  const none = await api(gateway.url, "/api/status");
  assert.equal(none.status, 401);
  assert.equal(none.json.error.code, "AUTH_REQUIRED");
  const wrong = await api(gateway.url, "/api/status", { token: "not-the-token" });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.json.error.code, "AUTH_INVALID");
  assert.match(wrong.json.error.message, /OPENCLAW_GATEWAY_TOKEN/);
  const right = await api(gateway.url, "/api/status", { token: TOKEN });
  assert.equal(right.status, 200);
  assert.equal(right.json.name, "faraday");
  assert.ok(!right.text.includes(TOKEN), "status never carries the token");
  assert.equal((await api(gateway.url, "/metrics")).status, 401, "/metrics needs the token too");
  assert.equal((await api(gateway.url, "/api/no-such-route", { token: TOKEN })).json.error.code, "NOT_FOUND");
});

test("repeated failed sign-ins from one address get 429 for their wrong guesses; the right token still gets through", async (t) => {
  const gateway = await startGateway(t, await tempStateDir(t), { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN } });
  const statuses: number[] = [];
  for (let attempt = 0; attempt < 12; attempt++) {
    statuses.push((await api(gateway.url, "/api/status", { token: `guess-${attempt}` })).status);
  }
  assert.deepEqual(statuses.slice(0, 10), Array(10).fill(401));
  assert.deepEqual(statuses.slice(10), [429, 429]);
  const limited = await api(gateway.url, "/api/status", { token: "one-more-guess" });
  assert.equal(limited.status, 429);
  assert.equal(limited.json.error.code, "AUTH_RATE_LIMITED");
  assert.ok(Number(limited.headers.get("retry-after")) > 0);
  const owner = await api(gateway.url, "/api/status", { token: TOKEN });
  assert.equal(owner.status, 200, "a valid credential is never refused by the limiter");
  assert.equal((await api(gateway.url, "/api/status")).status, 401, "no credential at all is told to send one, not 429");
  assert.equal((await api(gateway.url, "/healthz")).status, 200, "health is never rate limited");
});

test("/metrics serves Prometheus text with component readiness", async (t) => {
  const gateway = await startGateway(t, await tempStateDir(t), { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN } });
  await api(gateway.url, "/healthz");
  const metrics = await api(gateway.url, "/metrics", { token: TOKEN });
  assert.equal(metrics.status, 200);
  assert.match(metrics.headers.get("content-type") ?? "", /text\/plain/);
  assert.match(metrics.text, /^process_resident_memory_bytes \d+$/m);
  assert.match(metrics.text, /^faraday_component_ready\{component="database",state="ready"\} 1$/m);
  assert.match(metrics.text, /^faraday_http_requests_total\{method="GET",route="\/healthz",status="200"\} 1$/m);
});

test("PUT /api/config round-trips: secrets masked on GET, kept when sent back masked, problems listed by path", async (t) => {
  const stateDir = await tempStateDir(t);
  await mkdir(stateDir, { recursive: true });
  const botToken = "123456:telegram-bot-token-for-tests-only";
  const original = { channels: { telegram: { enabled: true, botToken } }, agents: { list: [{ id: "main", default: true }] } };
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify(original));
  const gateway = await startGateway(t, stateDir, { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN } });

  const got = await api(gateway.url, "/api/config", { token: TOKEN });
  assert.equal(got.status, 200);
  assert.equal(got.json.state, "valid");
  assert.ok(!got.text.includes(botToken), "GET /api/config masks secrets");
  assert.equal(got.json.config.channels.telegram.botToken, "123456:t...only");

  const unchanged = await api(gateway.url, "/api/config", { token: TOKEN, method: "PUT", body: got.json.config });
  assert.equal(unchanged.status, 200);
  assert.equal(unchanged.json.changed, false, "sending the masked config back changes nothing");

  const edited = structuredClone(got.json.config);
  edited.channels.telegram.dmPolicy = "open";
  const put = await api(gateway.url, "/api/config", { token: TOKEN, method: "PUT", body: edited });
  assert.equal(put.status, 200);
  assert.equal(put.json.changed, true);
  const { readFile } = await import("node:fs/promises");
  const written = JSON.parse(await readFile(join(stateDir, "openclaw.json"), "utf8"));
  assert.equal(written.channels.telegram.botToken, botToken, "the real secret is kept, not its mask");
  assert.equal(written.channels.telegram.dmPolicy, "open");

  const invalid = await api(gateway.url, "/api/config", {
    token: TOKEN,
    method: "PUT",
    body: { agents: { list: [{ id: "main" }, { id: "main" }] }, session: { dmScope: "everyone" } },
  });
  assert.equal(invalid.status, 400);
  assert.equal(invalid.json.error.code, "CONFIG_INVALID");
  assert.deepEqual(invalid.json.error.problems.map((problem: { path: string }) => problem.path).sort(), [
    "agents.list[1].id",
    "session.dmScope",
  ]);
  const after = JSON.parse(await readFile(join(stateDir, "openclaw.json"), "utf8"));
  assert.equal(after.channels.telegram.dmPolicy, "open", "an invalid PUT writes nothing");
  assert.ok(!gateway.stdout().includes(botToken) && !gateway.stderr().includes(botToken), "the bot token is never logged");

  const notObject = await api(gateway.url, "/api/config", { token: TOKEN, method: "PUT", body: [1, 2] });
  assert.equal(notObject.status, 400);
});
