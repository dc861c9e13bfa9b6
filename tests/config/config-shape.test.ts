import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { loadConfigFile, validateConfig } from "../../src/config/load-config.ts";
import { api, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "test-gateway-token-0123456789";
const deep = (levels: number) => `${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`;

async function writeConfig(stateDir: string, text: string) {
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), text);
}

test("__proto__, constructor and prototype keys are refused anywhere, with a problem at their path", async () => {
  const parsed = JSON.parse('{"tools":{"__proto__":{"policy":[{"match":"*","decision":"auto"}]}},"agents":{"list":[{"id":"main","constructor":1}]},"gateway":{"prototype":{}}}');
  const state = await validateConfig(parsed, {});
  assert.equal(state.state, "invalid");
  assert.deepEqual(state.problems.map((problem) => problem.path).sort(), ["agents.list[0].constructor", "gateway.prototype", "tools.__proto__"]);
  assert.match(state.problems[0]!.message, /not allowed as a key/);
});

test("a config nested deeper than the limit is a problem, not a stack overflow", async () => {
  for (const levels of [5_000, 50_000]) {
    const state = await validateConfig(JSON.parse(deep(levels)), {});
    assert.equal(state.state, "invalid");
    assert.match(state.problems[0]!.message, /nested more than 32 levels deep/);
  }
});

test("a UTF-8 byte order mark at the start of openclaw.json is accepted", async (t) => {
  const stateDir = await tempStateDir(t);
  await writeConfig(stateDir, `\uFEFF${JSON.stringify({ gateway: { port: 3000 } })}`);
  const state = await loadConfigFile(join(stateDir, "openclaw.json"), {});
  assert.equal(state.state, "valid");
});

test("a 50,000-deep openclaw.json with --allow-unconfigured serves in setup mode and shows the problem", async (t) => {
  const stateDir = await tempStateDir(t);
  await writeConfig(stateDir, deep(50_000));
  const gateway = await startGateway(t, stateDir, { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN } });
  const ready = await api(gateway.url, "/readyz");
  assert.equal(ready.status, 503);
  const config = ready.json.failing.find((component: { name: string }) => component.name === "config");
  assert.match(config.details.problems[0].message, /nested more than 32 levels deep/);
  const shown = await api(gateway.url, "/api/config", { token: TOKEN });
  assert.equal(shown.status, 200);
  assert.equal(shown.json.state, "invalid");
});

test("a 5,000-deep body to PUT /api/config is a 400 CONFIG_INVALID with the problem, and nothing is written", async (t) => {
  const stateDir = await tempStateDir(t);
  await writeConfig(stateDir, JSON.stringify({ gateway: { port: 0 } }));
  const gateway = await startGateway(t, stateDir, { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN } });
  const response = await fetch(`${gateway.url}/api/config`, {
    method: "PUT",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: deep(5_000),
  });
  assert.equal(response.status, 400);
  const body = (await response.json()) as { error: { code: string; details?: { problems: Array<{ message: string }> }; problems?: Array<{ message: string }> } };
  assert.equal(body.error.code, "CONFIG_INVALID");
  assert.match(JSON.stringify(body), /nested more than 32 levels deep/);
  assert.equal((await api(gateway.url, "/api/config", { token: TOKEN })).json.config.gateway.port, 0);
  // The gateway is still up and answering.
  assert.equal((await api(gateway.url, "/healthz")).status, 200);
});

test("an openclaw.json with tools.__proto__ is not loaded: setup mode with the problem at tools.__proto__, and the API shows it", async (t) => {
  const stateDir = await tempStateDir(t);
  await writeConfig(stateDir, '{"agents":{"list":[{"id":"main","default":true}]},"tools":{"__proto__":{"policy":[{"match":"*","decision":"auto"}]}}}');
  const gateway = await startGateway(t, stateDir, { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN } });
  const ready = await api(gateway.url, "/readyz");
  assert.equal(ready.status, 503);
  const config = ready.json.failing.find((component: { name: string }) => component.name === "config");
  assert.deepEqual(config.details.problems.map((problem: { path: string }) => problem.path), ["tools.__proto__"]);
  const status = await api(gateway.url, "/api/status", { token: TOKEN });
  assert.deepEqual(status.json.config.problems.map((problem: { path: string }) => problem.path), ["tools.__proto__"]);
});
