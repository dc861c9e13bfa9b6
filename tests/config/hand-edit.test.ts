import assert from "node:assert/strict";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { eventually } from "../helpers/agent-harness.ts";
import { api, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "test-gateway-token-0123456789";

const ORIGINAL = { agents: { list: [{ id: "main", default: true }] }, session: { dmScope: "per-peer" } };

async function setup(t: TestContext) {
  const stateDir = await tempStateDir(t);
  const file = join(stateDir, "openclaw.json");
  await mkdir(stateDir, { recursive: true });
  await writeFile(file, JSON.stringify(ORIGINAL, null, 2));
  const gateway = await startGateway(t, stateDir, { allowUnconfigured: false, env: { OPENCLAW_GATEWAY_TOKEN: TOKEN } });
  return { stateDir, file, gateway };
}

/** Save the way editors do: write a temp file next to it, then rename it over the original. */
async function editorSave(file: string, content: string) {
  await writeFile(`${file}.tmp-edit`, content);
  await rename(`${file}.tmp-edit`, file);
}

test("a valid hand edit of openclaw.json is applied while the gateway runs: a log line, the last-good copy, GET /api/config says applied", async (t) => {
  const { file, gateway } = await setup(t);
  const before = await api(gateway.url, "/api/config", { token: TOKEN });
  assert.equal(before.json.applied, true);
  const edited = { ...ORIGINAL, session: { dmScope: "main" } };
  await editorSave(file, JSON.stringify(edited, null, 2));
  await eventually(() => gateway.stdout().includes("openclaw.json changed on disk: applied"), 10_000, "the applied log line");
  const after = await api(gateway.url, "/api/config", { token: TOKEN });
  assert.equal(after.json.applied, true);
  assert.equal(after.json.config.session.dmScope, "main");
  assert.notEqual(after.json.version, before.json.version);
  assert.equal(after.headers.get("etag"), `"${after.json.version}"`);
  assert.deepEqual(JSON.parse(await readFile(`${file}.last-good`, "utf8")), ORIGINAL, "last-good is the config that ran before the edit");
  const status = await api(gateway.url, "/api/status", { token: TOKEN });
  assert.deepEqual(status.json.config.file, { version: after.json.version, applied: true, problems: [] });
});

test("an invalid hand edit keeps the running config; /api/status, /readyz and GET /api/config show its problems; fixing the file applies it", async (t) => {
  const { file, gateway } = await setup(t);
  await editorSave(file, JSON.stringify({ ...ORIGINAL, session: { dmScope: "everyone" } }, null, 2));
  let status: Awaited<ReturnType<typeof api>> | undefined;
  await eventually(async () => {
    status = await api(gateway.url, "/api/status", { token: TOKEN });
    return status.json.config.file.applied === false;
  }, 10_000, "the hand edit reported as not applied");
  assert.equal(status!.json.config.state, "valid", "the running config stays");
  assert.equal(status!.json.config.file.problems[0].path, "session.dmScope");
  assert.match(gateway.stdout(), /openclaw\.json changed on disk but has 1 problem\(s\); still running the previous config/);
  const ready = await api(gateway.url, "/readyz");
  assert.equal(ready.status, 200, "still ready: it runs the previous config");
  const component = ready.json.components.find((entry: { name: string }) => entry.name === "config");
  assert.equal(component.state, "degraded");
  assert.equal(component.details.problems[0].path, "session.dmScope");
  const config = await api(gateway.url, "/api/config", { token: TOKEN });
  assert.equal(config.json.applied, false);
  assert.equal(config.json.config.session.dmScope, "everyone", "the file as written");
  assert.equal(config.json.fileProblems[0].path, "session.dmScope");

  await editorSave(file, "{ not json");
  await eventually(async () => /not valid JSON/.test(JSON.stringify((await api(gateway.url, "/api/status", { token: TOKEN })).json.config.file.problems)), 10_000, "the JSON problem");

  await editorSave(file, JSON.stringify({ ...ORIGINAL, session: { dmScope: "main" } }, null, 2));
  await eventually(async () => (await api(gateway.url, "/api/status", { token: TOKEN })).json.config.file.applied === true, 10_000, "the fixed file applied");
  const fixed = await api(gateway.url, "/readyz");
  assert.equal(fixed.json.components.find((entry: { name: string }) => entry.name === "config").state, "ready");
});

test("a dashboard save based on an older version than the file is refused with 409 CONFIG_CHANGED_ON_DISK showing the file; without a version scripts still save", async (t) => {
  const { file, gateway } = await setup(t);
  const opened = await api(gateway.url, "/api/config", { token: TOKEN });
  const handEdit = { ...ORIGINAL, session: { dmScope: "main" } };
  await editorSave(file, JSON.stringify(handEdit, null, 2));
  await eventually(() => gateway.stdout().includes("openclaw.json changed on disk: applied"), 10_000, "the hand edit applied");
  const mine = { ...ORIGINAL, session: { dmScope: "per-peer" }, agents: { list: [{ id: "main", default: true, name: "Mine" }] } };
  const stale = await api(gateway.url, "/api/config", { token: TOKEN, method: "PUT", body: mine, headers: { "if-match": `"${opened.json.version}"` } });
  assert.equal(stale.status, 409);
  assert.equal(stale.json.error.code, "CONFIG_CHANGED_ON_DISK");
  assert.deepEqual(stale.json.error.onDisk, handEdit);
  assert.equal(stale.json.error.baseVersion, opened.json.version);
  assert.deepEqual(JSON.parse(await readFile(file, "utf8")), handEdit, "nothing was written");

  const current = await api(gateway.url, "/api/config", { token: TOKEN });
  const fresh = await api(gateway.url, `/api/config?baseVersion=${current.json.version}`, { token: TOKEN, method: "PUT", body: mine });
  assert.equal(fresh.status, 200, fresh.text);
  const script = await api(gateway.url, "/api/config", { token: TOKEN, method: "PUT", body: ORIGINAL });
  assert.equal(script.status, 200);
  assert.deepEqual(JSON.parse(await readFile(file, "utf8")), ORIGINAL);
});
