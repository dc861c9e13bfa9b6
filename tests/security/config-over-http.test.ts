/**
 * What a config sent over HTTP (PUT /api/config, which the dashboard's Config page uses) may not
 * do: add or change a program the gateway runs, or turn on the switch that would allow it; and the
 * Telegram webhook secret that the config now requires (filled in when the API sets a URL).
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { validateConfig } from "../../src/config/index.ts";
import { rawRequest } from "./attack-helpers.ts";
import { GATEWAY_TOKEN, startAttackTarget, type AttackTarget } from "./gateway-target.ts";

const TOOL_SERVER = { command: "node", args: ["tools/crm-bridge.js"], env: { MODE: "read-only" }, enabled: false };

async function putConfig(target: AttackTarget, body: unknown, headers: Record<string, string> = { authorization: `Bearer ${GATEWAY_TOKEN}` }) {
  const response = await rawRequest(target.port, "PUT", "/api/config", { "content-type": "application/json", ...headers }, JSON.stringify(body));
  return { status: response.status, json: JSON.parse(response.text) };
}

async function getConfig(target: AttackTarget) {
  const response = await rawRequest(target.port, "GET", "/api/config", { authorization: `Bearer ${GATEWAY_TOKEN}` });
  return JSON.parse(response.text).config as Record<string, any>;
}

const onDisk = async (target: AttackTarget) => readFile(join(target.stateDir, "openclaw.json"), "utf8");

test("PUT /api/config cannot add a program to run (mcp.servers or mcpServers), with the token or the dashboard's cookie: CONFIG_COMMAND_FORBIDDEN, nothing written", async (t) => {
  const target = await startAttackTarget(t, { config: { agents: { list: [{ id: "main", default: true }] } } });
  const before = await onDisk(target);
  const base = await getConfig(target);
  const cookie = await target.signIn();
  const attempts: Array<[string, unknown, Record<string, string> | undefined]> = [
    ["mcp.servers.pwn.command", { ...base, mcp: { servers: { pwn: { command: "sh", args: ["-c", "id > /tmp/pwned"] } } } }, undefined],
    ["mcpServers.pwn.command", { ...base, mcpServers: { pwn: { command: "sh", args: ["-c", "id"] } } }, undefined],
    ["mcp.servers.pwn.command", { ...base, mcp: { servers: { pwn: { type: "stdio", command: "/bin/sh", enabled: false } } } }, { cookie, origin: `http://127.0.0.1:${target.port}` }],
    ["gateway.allowRemoteCommands", { ...base, gateway: { allowRemoteCommands: true } }, undefined],
  ];
  for (const [path, body, headers] of attempts) {
    const response = await putConfig(target, body, headers);
    assert.equal(response.status, 403, JSON.stringify(response.json));
    assert.equal(response.json.error.code, "CONFIG_COMMAND_FORBIDDEN");
    assert.ok(response.json.error.paths.includes(path), `${path} in ${response.json.error.paths}`);
    assert.match(response.json.error.message, /faraday deploy config push/);
    assert.match(response.json.error.message, /gateway\.allowRemoteCommands: true/);
  }
  assert.equal(await onDisk(target), before, "the file on disk is untouched");
  assert.equal((await getConfig(target)).mcp, undefined);
});

test("a server the file on disk already runs passes through a PUT unchanged; changing its command, args or env does not; removing it does", async (t) => {
  const target = await startAttackTarget(t, { config: { agents: { list: [{ id: "main", default: true }] }, mcp: { servers: { crm: TOOL_SERVER } } } });
  const current = await getConfig(target);
  const renamed = await putConfig(target, { ...current, agents: { list: [{ id: "main", default: true, name: "Front desk" }] } });
  assert.equal(renamed.status, 200, JSON.stringify(renamed.json));
  assert.equal(renamed.json.changed, true);
  for (const [key, change] of [["command", { command: "sh" }], ["args", { args: ["-c", "id"] }], ["env", { env: { MODE: "read-only", NODE_OPTIONS: "--require=/tmp/x.js" } }]] as const) {
    const response = await putConfig(target, { ...current, mcp: { servers: { crm: { ...TOOL_SERVER, ...change } } } });
    assert.equal(response.status, 403, key);
    assert.deepEqual(response.json.error.paths, [`mcp.servers.crm.${key}`]);
  }
  const moved = await putConfig(target, { ...current, mcp: {}, mcpServers: { crm: TOOL_SERVER } });
  assert.equal(moved.status, 403, "the same program under another key is a new one");
  const removed = await putConfig(target, { ...current, mcp: { servers: {} } });
  assert.equal(removed.status, 200, "removing a program is always allowed");
  assert.equal(JSON.parse(await onDisk(target)).mcp.servers.crm, undefined);
  const back = await putConfig(target, { ...current });
  assert.equal(back.status, 403, "once removed from the file, putting it back over HTTP is adding it");
});

test("with gateway.allowRemoteCommands: true in the file on disk, the API may add a program; a PUT may turn the switch off but not on again", async (t) => {
  const target = await startAttackTarget(t, { config: { gateway: { allowRemoteCommands: true } } });
  const current = await getConfig(target);
  const added = await putConfig(target, { ...current, mcp: { servers: { crm: TOOL_SERVER } } });
  assert.equal(added.status, 200, JSON.stringify(added.json));
  assert.deepEqual(JSON.parse(await onDisk(target)).mcp.servers.crm, TOOL_SERVER);
  const off = await putConfig(target, { mcp: { servers: { crm: TOOL_SERVER } } });
  assert.equal(off.status, 200, "switching it off (and keeping the server) is fine");
  const on = await putConfig(target, { gateway: { allowRemoteCommands: true }, mcp: { servers: { crm: TOOL_SERVER } } });
  assert.equal(on.status, 403);
  assert.deepEqual(on.json.error.paths, ["gateway.allowRemoteCommands"]);
});

test("a Telegram webhook without a secret is a config problem; set through the API, the gateway makes one and keeps it", async (t) => {
  const missing = await validateConfig({ channels: { telegram: { webhook: { url: "https://bot.example.test/hook" } } } }, {});
  assert.equal(missing.state, "invalid");
  assert.deepEqual(missing.problems.map((problem) => problem.path), ["channels.telegram.webhook.secret"]);
  assert.match(missing.problems[0]!.message, /forged updates/);

  const target = await startAttackTarget(t, { config: { channels: { telegram: { enabled: false } } } });
  const put = await putConfig(target, { channels: { telegram: { enabled: false, webhook: { url: "https://bot.example.test/hook" } } } });
  assert.equal(put.status, 200, JSON.stringify(put.json));
  const secret = JSON.parse(await onDisk(target)).channels.telegram.webhook.secret as string;
  assert.match(secret, /^[0-9a-f]{64}$/, "a random secret in the file");
  const shown = await getConfig(target);
  assert.notEqual(shown.channels.telegram.webhook.secret, secret, "masked on GET");
  assert.equal((await putConfig(target, shown)).status, 200, "the masked value round-trips");
  assert.equal(JSON.parse(await onDisk(target)).channels.telegram.webhook.secret, secret);
  await putConfig(target, { channels: { telegram: { enabled: false, webhook: { url: "https://bot.example.test/other" } } } });
  assert.equal(JSON.parse(await onDisk(target)).channels.telegram.webhook.secret, secret, "a new URL without a secret keeps the current one");
});
