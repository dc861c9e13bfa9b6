import assert from "node:assert/strict";
import { mkdir, writeFile, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { api, runToExit, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "test-gateway-token-0123456789";
const FLY_GUIDE_CONFIG = { agents: { list: [{ id: "main", default: true }] }, channels: { discord: { enabled: true } } };

async function writeConfig(stateDir: string, config: unknown) {
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), typeof config === "string" ? config : JSON.stringify(config));
}

test("an empty state dir with --allow-unconfigured serves /healthz and says the config is missing", async (t) => {
  const stateDir = await tempStateDir(t);
  const gateway = await startGateway(t, stateDir, { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN } });
  const health = await api(gateway.url, "/healthz");
  assert.equal(health.status, 200);
  assert.deepEqual(health.json, { ok: true });
  const status = await api(gateway.url, "/api/status", { token: TOKEN });
  assert.equal(status.status, 200);
  assert.equal(status.json.config.state, "missing");
  const config = status.json.components.find((component: { name: string }) => component.name === "config");
  assert.equal(config.state, "unconfigured");
  assert.match(config.reason, /openclaw\.json/);
  assert.equal((await stat(stateDir)).mode & 0o777, 0o700, "state dir is created 0700");
  const page = await api(gateway.url, "/");
  assert.equal(page.status, 200);
  assert.match(page.text, /Faraday gateway/);
});

test("without a config file and without --allow-unconfigured the gateway exits 2 naming the path and the flag", async (t) => {
  const stateDir = await tempStateDir(t);
  const result = await runToExit(t, ["gateway", "--port", "0", "--state-dir", stateDir]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /CONFIG_MISSING/);
  assert.ok(result.stderr.includes(join(stateDir, "openclaw.json")), result.stderr);
  assert.match(result.stderr, /--allow-unconfigured/);
});

test("a lan bind without a token refuses to start and names OPENCLAW_GATEWAY_TOKEN", async (t) => {
  const stateDir = await tempStateDir(t);
  const result = await runToExit(t, ["gateway", "--port", "0", "--bind", "lan", "--allow-unconfigured", "--state-dir", stateDir]);
  assert.equal(result.code, 4);
  assert.match(result.stderr, /TOKEN_REQUIRED/);
  assert.match(result.stderr, /OPENCLAW_GATEWAY_TOKEN/);
});

test("the Fly guide's command line and config start the gateway on lan with a token from the environment", async (t) => {
  const stateDir = await tempStateDir(t);
  await writeConfig(stateDir, FLY_GUIDE_CONFIG);
  // The exact fly.toml process line, with the state dir from OPENCLAW_STATE_DIR.
  const gateway = await startGateway(t, stateDir, {
    args: ["--bind", "lan"],
    env: { OPENCLAW_GATEWAY_TOKEN: TOKEN, OPENCLAW_STATE_DIR: stateDir },
  });
  const status = await api(gateway.url, "/api/status", { token: TOKEN });
  assert.equal(status.json.config.state, "valid");
  assert.deepEqual(status.json.config.problems, []);
  assert.equal(status.json.auth.tokenSource, "env");
  // Discord is enabled but has no token: the gateway serves and says exactly that.
  const ready = await api(gateway.url, "/readyz");
  assert.equal(ready.status, 503);
  const discord = ready.json.failing.find((component: { name: string }) => component.name === "channel:discord");
  assert.equal(discord.state, "failed");
  assert.match(discord.reason, /DISCORD_BOT_TOKEN/);
});

test("OPENCLAW_STATE_DIR is used when --state-dir is absent", async (t) => {
  const stateDir = await tempStateDir(t);
  await writeConfig(stateDir, FLY_GUIDE_CONFIG);
  const { runCli } = await import("../helpers/gateway-process.ts");
  const gateway = runCli(t, ["gateway", "--port", "0"], { OPENCLAW_STATE_DIR: stateDir, OPENCLAW_GATEWAY_TOKEN: TOKEN });
  const url = await gateway.listening;
  const status = await api(url, "/api/status", { token: TOKEN });
  assert.equal(status.json.stateDir, stateDir);
});

test("an invalid config without the flag exits 2 listing every problem by path", async (t) => {
  const stateDir = await tempStateDir(t);
  await writeConfig(stateDir, { gateway: { port: "eighty" }, channels: { telegram: { dmPolicy: "everyone" } } });
  const result = await runToExit(t, ["gateway", "--port", "0", "--state-dir", stateDir]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /CONFIG_INVALID/);
  assert.match(result.stderr, /gateway\.port: expected number, got string/);
  assert.match(result.stderr, /channels\.telegram\.dmPolicy: expected one of pairing\|allowlist\|open\|disabled/);
});

test("an invalid config with --allow-unconfigured serves in setup mode: /readyz 503 config_invalid with the problems", async (t) => {
  const stateDir = await tempStateDir(t);
  await writeConfig(stateDir, { channels: { telegram: { dmPolicy: "everyone" } } });
  const gateway = await startGateway(t, stateDir, { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN } });
  assert.equal((await api(gateway.url, "/healthz")).status, 200);
  const ready = await api(gateway.url, "/readyz");
  assert.equal(ready.status, 503);
  const failing = ready.json.failing.find((component: { name: string }) => component.name === "config");
  assert.equal(failing.reason, "config_invalid");
  assert.deepEqual(failing.details.problems, [
    { path: "channels.telegram.dmPolicy", message: "expected one of pairing|allowlist|open|disabled" },
  ]);
  // Fixing it over the API makes the gateway ready without a restart.
  const put = await api(gateway.url, "/api/config", { token: TOKEN, method: "PUT", body: { agents: { list: [{ id: "main", default: true }] } } });
  assert.equal(put.status, 200);
  assert.equal((await api(gateway.url, "/readyz")).status, 200);
});

test("a file that is not JSON is a problem with a position, not a crash", async (t) => {
  const stateDir = await tempStateDir(t);
  await writeConfig(stateDir, '{"agents": {"list": [}');
  const result = await runToExit(t, ["gateway", "--port", "0", "--state-dir", stateDir]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /not valid JSON/);
  assert.match(result.stderr, /\(file\): not valid JSON: .*\[\}/, "the message shows where it breaks");
});

test("an unknown key is a warning: the gateway starts and logs the key's path", async (t) => {
  const stateDir = await tempStateDir(t);
  await writeConfig(stateDir, { ...FLY_GUIDE_CONFIG, channels: { discord: { enabled: true, tokne: "x" } }, colour: "blue" });
  const gateway = await startGateway(t, stateDir, { allowUnconfigured: false, env: { OPENCLAW_GATEWAY_TOKEN: TOKEN } });
  const warnings = gateway.logs().filter((line) => line.level === 40 && String(line.msg).startsWith("config:"));
  assert.deepEqual(warnings.map((line) => line.path).sort(), ["channels.discord.tokne", "colour"]);
  const status = await api(gateway.url, "/api/status", { token: TOKEN });
  assert.equal(status.json.config.state, "valid");
  assert.equal(status.json.config.warnings.length, 2);
});

test("${env:NAME} in config strings is resolved, and an unset one is a problem at its path", async (t) => {
  const stateDir = await tempStateDir(t);
  await writeConfig(stateDir, { gateway: { auth: { token: "${env:MY_GATEWAY_TOKEN}" } } });
  const missing = await runToExit(t, ["gateway", "--port", "0", "--state-dir", stateDir]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /gateway\.auth\.token: environment variable MY_GATEWAY_TOKEN is not set/);
  const gateway = await startGateway(t, stateDir, { allowUnconfigured: false, env: { MY_GATEWAY_TOKEN: TOKEN } });
  const status = await api(gateway.url, "/api/status", { token: TOKEN });
  assert.equal(status.status, 200);
  assert.equal(status.json.auth.tokenSource, "config");
});

test("on loopback without a token the gateway generates one, keeps it in the state dir, and `faraday token` prints it", async (t) => {
  const stateDir = await tempStateDir(t);
  const gateway = await startGateway(t, stateDir);
  const printed = await runToExit(t, ["token", "--state-dir", stateDir]);
  assert.equal(printed.code, 0);
  const token = printed.stdout.trim();
  assert.ok(token.length >= 32);
  assert.equal((await api(gateway.url, "/api/status", { token })).status, 200);
  assert.ok(!gateway.stdout().includes(token) && !gateway.stderr().includes(token), "the token is never logged");
  const database = await stat(join(stateDir, "faraday.sqlite"));
  assert.equal(database.mode & 0o777, 0o600, "the secret store is 0600");
});

test("the port comes from --port, then OPENCLAW_GATEWAY_PORT, then gateway.port", async (t) => {
  const stateDir = await tempStateDir(t);
  await writeConfig(stateDir, { gateway: { port: 1 } });
  const { runCli } = await import("../helpers/gateway-process.ts");
  // The environment beats the config's port 1 (which would need root): 0 picks a free port.
  const gateway = runCli(t, ["gateway", "--state-dir", stateDir], { OPENCLAW_GATEWAY_PORT: "0", OPENCLAW_GATEWAY_TOKEN: TOKEN });
  const url = await gateway.listening;
  assert.notEqual(new URL(url).port, "1");
  gateway.kill("SIGTERM");
  assert.equal((await gateway.exited).code, 0);
  const bad = await runToExit(t, ["gateway", "--state-dir", stateDir, "--port", "http"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /PORT_INVALID: --port "http"/);
});

test("the config file is readable by its owner only after the API writes it, and the last good copy is kept", async (t) => {
  const stateDir = await tempStateDir(t);
  await writeConfig(stateDir, FLY_GUIDE_CONFIG);
  const gateway = await startGateway(t, stateDir, { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN } });
  const next = { ...FLY_GUIDE_CONFIG, session: { dmScope: "main" } };
  const put = await api(gateway.url, "/api/config", { token: TOKEN, method: "PUT", body: next });
  assert.equal(put.status, 200);
  assert.deepEqual(JSON.parse(await readFile(join(stateDir, "openclaw.json"), "utf8")), next);
  assert.deepEqual(JSON.parse(await readFile(join(stateDir, "openclaw.json.last-good"), "utf8")), FLY_GUIDE_CONFIG);
  assert.equal((await stat(join(stateDir, "openclaw.json"))).mode & 0o777, 0o600);
});
