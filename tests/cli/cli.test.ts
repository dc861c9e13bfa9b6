import assert from "node:assert/strict";
import { mkdir, writeFile, readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { REPO_ROOT, runToExit, tempStateDir } from "../helpers/gateway-process.ts";

test("--version prints the package version", async (t) => {
  const { version } = JSON.parse(await readFile(join(REPO_ROOT, "package.json"), "utf8"));
  const result = await runToExit(t, ["--version"]);
  assert.equal(result.code, 0);
  assert.equal(result.stdout.trim(), version);
});

test("--help works on every command", async (t) => {
  for (const command of [[], ["gateway"], ["doctor"], ["config"], ["config", "validate"], ["config", "schema"], ["token"]]) {
    const result = await runToExit(t, [...command, "--help"]);
    assert.equal(result.code, 0, `${command.join(" ")} --help`);
    assert.match(result.stdout, /Usage: faraday/);
  }
  const gatewayHelp = await runToExit(t, ["gateway", "--help"]);
  for (const flag of ["--port", "--bind", "--allow-unconfigured", "--state-dir"]) assert.ok(gatewayHelp.stdout.includes(flag), flag);
});

test("config validate exits 0 for the Fly guide's config and 2 with every problem by path", async (t) => {
  const stateDir = await tempStateDir(t);
  await mkdir(stateDir, { recursive: true });
  const file = join(stateDir, "openclaw.json");
  await writeFile(file, JSON.stringify({ agents: { list: [{ id: "main", default: true }] }, channels: { discord: { enabled: true } } }));
  const ok = await runToExit(t, ["config", "validate", "--state-dir", stateDir]);
  assert.equal(ok.code, 0);
  assert.match(ok.stdout, /is valid/);

  await writeFile(file, JSON.stringify({
    agents: { defaults: { model: "claude" }, list: [{ id: "main", default: true }, { id: "x", default: true }] },
    bindings: [{ agentId: "ghost", match: { channel: "telegram" } }],
    unknownThing: 1,
  }));
  const bad = await runToExit(t, ["config", "validate", "--json", "--state-dir", stateDir]);
  assert.equal(bad.code, 2);
  const report = JSON.parse(bad.stdout);
  assert.equal(report.valid, false);
  assert.deepEqual(report.problems.map((problem: { path: string }) => problem.path).sort(), [
    "agents.defaults.model",
    "agents.list",
    "bindings[0].agentId",
  ]);
  assert.deepEqual(report.warnings, [{ path: "unknownThing", message: "unknown key, ignored (check the spelling)" }]);
  const human = await runToExit(t, ["config", "validate", "--file", file]);
  assert.equal(human.code, 2);
  assert.match(human.stderr, /agents\.defaults\.model: /);
  assert.match(human.stderr, /warning: unknownThing/);
});

test("config schema prints a JSON Schema that describes openclaw.json", async (t) => {
  const result = await runToExit(t, ["config", "schema"]);
  assert.equal(result.code, 0);
  const schema = JSON.parse(result.stdout);
  assert.match(schema.$schema, /json-schema\.org/);
  assert.equal(schema.type, "object");
  for (const key of ["gateway", "agents", "channels", "models", "mcp", "tools", "$schema"]) assert.ok(key in schema.properties, key);
  assert.deepEqual(schema.properties.channels.properties.telegram.properties.dmPolicy.enum, ["pairing", "allowlist", "open", "disabled"]);
});

test("doctor --json reports credentials masked and never prints a secret", async (t) => {
  const stateDir = await tempStateDir(t);
  // Shaped like a real key (built, so no key-like literal sits in the repository), obviously fake.
  const anthropicKey = ["sk", "ant", "api03", "faketestkey", "abcdefghijklmnop", "9f2c"].join("-");
  // --offline: the model check would otherwise ask api.anthropic.com with this fake key.
  const result = await runToExit(t, ["doctor", "--json", "--offline", "--state-dir", stateDir], {
    ANTHROPIC_API_KEY: anthropicKey,
    OPENCLAW_GATEWAY_TOKEN: "gateway-token-for-doctor-test-xyz",
  });
  assert.ok(!result.stdout.includes(anthropicKey) && !result.stderr.includes(anthropicKey));
  assert.ok(!result.stdout.includes("gateway-token-for-doctor-test-xyz"));
  const report = JSON.parse(result.stdout);
  const credentials = report.checks.find((check: { name: string }) => check.name === "credentials");
  assert.match(credentials.detail, /ANTHROPIC_API_KEY=sk-ant-a\.\.\.9f2c/);
  const names = report.checks.map((check: { name: string }) => check.name);
  assert.deepEqual(names, ["node", "stateDir", "config", "database", "credentials", "model", "mcp:favcrm"], "no lock check before the dir exists");
  assert.equal(report.healthy, true, "a not-yet-created state dir is a warning, not a failure");
  assert.equal(result.code, 0);
});

test("doctor exits 1 and shows the problems when the config is invalid", async (t) => {
  const stateDir = await tempStateDir(t);
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({ session: { dmScope: "all" } }));
  const result = await runToExit(t, ["doctor", "--state-dir", stateDir]);
  assert.equal(result.code, 1);
  assert.match(result.stdout, /✗ config: .* 1 problem/);
  assert.match(result.stdout, /session\.dmScope: expected one of per-peer\|main/);
});

test("an unknown command is a usage error, not a crash", async (t) => {
  const result = await runToExit(t, ["gatewya"]);
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /unknown command/);
});
