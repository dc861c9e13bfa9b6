import assert from "node:assert/strict";
import { test } from "node:test";
import { validateConfig } from "../../src/config/load-config.ts";
import { maskSecret, maskSecrets, restoreMaskedSecrets } from "../../src/config/mask.ts";
import { resolveBindHost, resolvePort, resolveStateDir } from "../../src/config/gateway-options.ts";
import { readEnvironment } from "../../src/config/environment.ts";

test("the Fly guide's config validates as is", async () => {
  const state = await validateConfig({ agents: { list: [{ id: "main", default: true }] }, channels: { discord: { enabled: true } } }, {});
  assert.equal(state.state, "valid");
  assert.deepEqual(state.warnings, []);
});

test("a valid config is frozen", async () => {
  const state = await validateConfig({ gateway: { port: 3000 } }, {});
  assert.equal(state.state, "valid");
  if (state.state !== "valid") return;
  assert.ok(Object.isFrozen(state.config) && Object.isFrozen(state.config.gateway));
});

test("every problem is reported with its path in one pass, unknown keys alongside as warnings", async () => {
  const state = await validateConfig({
    gateway: { port: 70000, bnid: "lan" },
    channels: { telegram: { dmPolicy: "friends", allowFrom: [true] } },
    agents: { list: [{ id: "has space" }] },
  }, {});
  assert.equal(state.state, "invalid");
  assert.deepEqual(state.problems.map((problem) => problem.path).sort(), [
    "agents.list[0].id",
    "channels.telegram.allowFrom[0]",
    "channels.telegram.dmPolicy",
    "gateway.port",
  ]);
  assert.deepEqual(state.warnings.map((warning) => warning.path), ["gateway.bnid"]);
});

test("model references accept provider/model or {primary, fallbacks}", async () => {
  assert.equal((await validateConfig({ agents: { defaults: { model: "anthropic/claude-sonnet-4-5" } } }, {})).state, "valid");
  assert.equal((await validateConfig({ agents: { defaults: { model: { primary: "openai/gpt-5", fallbacks: ["anthropic/claude-haiku-4-5"] } } } }, {})).state, "valid");
  const bad = await validateConfig({ agents: { defaults: { model: "gpt-5" } } }, {});
  assert.equal(bad.state, "invalid");
});

test("${env:NAME} is replaced in any string, including inside longer strings", async () => {
  const state = await validateConfig(
    { mcpServers: { favcrm: { url: "https://api.example.test/mcp", headers: { Authorization: "Bearer ${env:FAV_KEY}" } } } },
    { FAV_KEY: "fav_test_value" },
  );
  assert.equal(state.state, "valid");
  if (state.state === "valid") assert.equal(state.config.mcpServers?.favcrm?.headers?.Authorization, "Bearer fav_test_value");
});

test("secrets are masked as first 8 ... last 4, and restored when a client sends the mask back", () => {
  assert.equal(maskSecret(["sk", "ant", "api03", "abcdefghijklmnop", "9f2c"].join("-")), "sk-ant-a...9f2c");
  assert.equal(maskSecret("short"), "****");
  const raw = { channels: { telegram: { botToken: "123456:abcdefghijklmnopqrstuvwxyz" } }, mcpServers: { x: { headers: { Authorization: "Bearer ${env:KEY}" } } } };
  const masked = maskSecrets(raw) as typeof raw;
  assert.equal(masked.channels.telegram.botToken, "123456:a...wxyz");
  assert.equal(masked.mcpServers.x.headers.Authorization, "Bearer ${env:KEY}", "env references are not secrets");
  assert.deepEqual(restoreMaskedSecrets(masked, raw), raw);
  const changed = restoreMaskedSecrets({ channels: { telegram: { botToken: "new-token-value" } } }, raw) as typeof raw;
  assert.equal(changed.channels.telegram.botToken, "new-token-value", "a new value is taken as given");
});

test("gateway options: bind modes, port precedence, state dir precedence", () => {
  assert.deepEqual(resolveBindHost(undefined), { host: "127.0.0.1", loopback: true });
  assert.deepEqual(resolveBindHost("lan"), { host: "0.0.0.0", loopback: false });
  assert.deepEqual(resolveBindHost("10.1.2.3"), { host: "10.1.2.3", loopback: false });
  assert.throws(() => resolveBindHost("wifi"), { code: "BIND_INVALID" });
  const environment = readEnvironment({ OPENCLAW_GATEWAY_PORT: "4000", OPENCLAW_STATE_DIR: "/srv/state" });
  assert.equal(resolvePort("5000", environment, { gateway: { port: 6000 } }), 5000);
  assert.equal(resolvePort(undefined, environment, { gateway: { port: 6000 } }), 4000);
  assert.equal(resolvePort(undefined, readEnvironment({}), { gateway: { port: 6000 } }), 6000);
  assert.equal(resolvePort(undefined, readEnvironment({}), undefined), 3000);
  assert.equal(resolveStateDir("/flag", environment), "/flag");
  assert.equal(resolveStateDir(undefined, environment), "/srv/state");
  assert.equal(resolveStateDir(undefined, readEnvironment({}), "/work"), "/work/data");
});
