/**
 * `deploy backup` and `deploy restore` against a real gateway on loopback (standing in for
 * https://APP.fly.dev) and the fake flyctl, from a working directory that is not the repo root.
 * The token comes from the deploy record (~/.faraday/deploys/APP.json), as after `deploy fly`.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { installFakeFlyctl } from "../fakes/fake-flyctl.ts";
import { lastUserText } from "../fakes/model-script.ts";
import { api, runToExit, startGateway, tempStateDir } from "../helpers/gateway-process.ts";
import { readArchive } from "./backup-helpers.ts";

const APP = "faraday-backup-test";
const TOKEN = "deploy-backup-gateway-token-0123456789";
const MODEL_KEY = "fake-anthropic-key-deploy-backup-0123";

async function setup(t: TestContext) {
  const model = await startAnthropicFake();
  t.after(() => model.close());
  model.setDefault((request) => ({ text: `You said: ${lastUserText(request)}` }));
  const cwd = await mkdtemp(join(tmpdir(), "faraday-deploy-backup-"));
  t.after(() => rm(cwd, { recursive: true, force: true }));
  const fly = installFakeFlyctl();
  t.after(() => fly.cleanup());
  const faradayHome = join(cwd, ".faraday");
  await mkdir(join(faradayHome, "deploys"), { recursive: true });
  await writeFile(join(faradayHome, "deploys", `${APP}.json`), JSON.stringify({ app: APP, gatewayToken: TOKEN }), { mode: 0o600 });
  const env = { ...fly.env, HOME: cwd, FARADAY_HOME: faradayHome };
  const stateDir = await tempStateDir(t);
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({ agents: { defaults: { model: "anthropic/claude-test" }, list: [{ id: "main", default: true }] } }));
  const gatewayEnv = { OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_API_KEY: MODEL_KEY, ANTHROPIC_BASE_URL: model.url };
  const gateway = await startGateway(t, stateDir, { env: gatewayEnv, allowUnconfigured: false });
  // A machine for the app, made the way `deploy fly` makes it.
  await writeFile(join(cwd, "openclaw.json"), JSON.stringify({ agents: { defaults: { model: "anthropic/claude-test" }, list: [{ id: "main", default: true }] } }));
  await writeFile(join(cwd, ".env"), `ANTHROPIC_API_KEY=${MODEL_KEY}\nOPENCLAW_GATEWAY_TOKEN=${TOKEN}\n`);
  const deployed = await runToExit(t, ["deploy", "fly", "--app", APP, "--url", gateway.url, "--json"], env, { cwd });
  assert.equal(deployed.code, 0, deployed.stdout + deployed.stderr);
  await rm(join(cwd, ".env"));
  const texts = async (url: string) => {
    const sessions = (await api(url, "/api/sessions", { token: TOKEN })).json.sessions as Array<{ id: string }>;
    const all: string[] = [];
    for (const session of sessions) all.push(...((await api(url, `/api/sessions/${session.id}/messages`, { token: TOKEN })).json.messages as Array<{ role: string; content: string }>).filter((message) => message.role === "user").map((message) => message.content));
    return all.sort();
  };
  return { cwd, fly, env, stateDir, gatewayEnv, gateway, texts };
}

test("deploy backup downloads the gateway's archive (0600); deploy restore uploads one, restarts the machine, and the gateway applies it at start-up", async (t) => {
  const { cwd, fly, env, stateDir, gatewayEnv, gateway, texts } = await setup(t);
  assert.equal((await api(gateway.url, "/api/chat", { token: TOKEN, method: "POST", body: { text: "in the backup" } })).status, 200);

  const backup = await runToExit(t, ["deploy", "backup", "--app", APP, "--url", gateway.url, "--out", "remote.tar.gz", "--json"], env, { cwd });
  assert.equal(backup.code, 0, backup.stderr);
  const result = JSON.parse(backup.stdout);
  assert.equal(result.file, join(cwd, "remote.tar.gz"));
  assert.equal(result.withSecrets, true);
  assert.equal((await stat(result.file)).mode & 0o777, 0o600);
  const files = await readArchive(result.file);
  assert.ok(files.has("faraday.sqlite") && files.has("openclaw.json"));
  assert.ok(!backup.stdout.includes(TOKEN) && !backup.stderr.includes(TOKEN));

  assert.equal((await api(gateway.url, "/api/chat", { token: TOKEN, method: "POST", body: { text: "after the backup" } })).status, 200);
  const restartsBefore = fly.invocationsOf("machine restart").length;

  // A damaged file is refused by the gateway: nothing staged, no restart.
  const bytes = await readFile(result.file);
  await writeFile(join(cwd, "cut.tar.gz"), bytes.subarray(0, bytes.length - 50));
  const refused = await runToExit(t, ["deploy", "restore", "--app", APP, "--url", gateway.url, "cut.tar.gz", "--json"], env, { cwd });
  assert.equal(refused.code, 1);
  assert.equal(JSON.parse(refused.stdout).error.code, "BACKUP_INVALID");
  assert.equal(fly.invocationsOf("machine restart").length, restartsBefore, "no restart for a refused upload");
  assert.deepEqual((await api(gateway.url, "/api/backup/restore", { token: TOKEN })).json, { pending: false, staging: false });

  const restore = await runToExit(t, ["deploy", "restore", "--app", APP, "--url", gateway.url, "remote.tar.gz", "--json"], env, { cwd });
  assert.equal(restore.code, 0, restore.stdout + restore.stderr);
  const restored = JSON.parse(restore.stdout);
  const restarts = fly.invocationsOf("machine restart");
  assert.equal(restarts.length, restartsBefore + 1);
  const machineId = fly.state().apps[APP]!.machines[0]!.id;
  assert.deepEqual(restarts.at(-1)!.argv, ["machine", "restart", machineId, "-a", APP]);
  assert.equal(restored.restartedMachine, machineId);
  assert.deepEqual((await api(gateway.url, "/api/backup/restore", { token: TOKEN })).json, { pending: true, staging: false });
  assert.deepEqual(await texts(gateway.url), ["after the backup", "in the backup"], "staged only: the running gateway's state is unchanged");

  // What the machine restart does on Fly: the gateway stops and starts again on the same volume.
  gateway.kill("SIGINT");
  assert.equal((await gateway.exited).code, 0);
  const restarted = await startGateway(t, stateDir, { env: gatewayEnv, allowUnconfigured: false });
  assert.deepEqual(await texts(restarted.url), ["in the backup"]);
  assert.ok(restarted.logs().some((line) => line.msg === "restored the state dir from the uploaded backup"));
  for (const invocation of fly.invocations()) assert.ok(!invocation.argv.join(" ").includes(TOKEN), "no token on a flyctl command line");
});

test("POST /api/backup/restore is bounded, refuses a config that would run a new program, and needs the token", async (t) => {
  const { cwd, env, stateDir, gatewayEnv, gateway } = await setup(t);
  const backup = await runToExit(t, ["deploy", "backup", "--app", APP, "--url", gateway.url, "--out", "b.tar.gz"], env, { cwd });
  assert.equal(backup.code, 0, backup.stderr);
  assert.match(backup.stdout, /CONTAINS SECRETS/);
  const archive = await readFile(join(cwd, "b.tar.gz"));
  const upload = (url: string, body: Buffer, token?: string) => fetch(`${url}/api/backup/restore`, {
    method: "POST", body, headers: { "content-type": "application/gzip", ...(token ? { authorization: `Bearer ${token}` } : {}) },
  });
  assert.equal((await upload(gateway.url, archive)).status, 401);

  // A backup whose config adds a stdio MCP server (a program to run) is refused over HTTP.
  const local = await tempStateDir(t);
  await mkdir(local, { recursive: true });
  const { DatabaseSync } = await import("node:sqlite");
  const { MIGRATIONS, migrate } = await import("../../src/state/index.ts");
  const database = new DatabaseSync(join(local, "faraday.sqlite"));
  migrate(database, MIGRATIONS);
  database.close();
  await writeFile(join(local, "openclaw.json"), JSON.stringify({ mcp: { servers: { shell: { command: "/bin/sh", args: ["-c", "id"] } } } }));
  const withProgram = join(cwd, "program.tar.gz");
  assert.equal((await runToExit(t, ["backup", "create", "--state-dir", local, "--out", withProgram])).code, 0);
  const programResponse = await upload(gateway.url, await readFile(withProgram), TOKEN);
  assert.equal(programResponse.status, 403);
  assert.equal(((await programResponse.json()) as { error: { code: string } }).error.code, "BACKUP_NOT_ALLOWED");

  // A staged restore can be dropped before the next start.
  const staged = await upload(gateway.url, archive, TOKEN);
  assert.equal(staged.status, 200, await staged.clone().text());
  assert.equal(((await staged.json()) as { pending: boolean }).pending, true);
  assert.deepEqual((await api(gateway.url, "/api/backup/restore", { token: TOKEN, method: "DELETE" })).json, { ok: true, dropped: true });
  assert.deepEqual((await api(gateway.url, "/api/backup/restore", { token: TOKEN })).json, { pending: false, staging: false });
  assert.ok(!existsSync(join(stateDir, ".restore")));

  // A size bound: a gateway that takes at most 1 KiB.
  gateway.kill("SIGTERM");
  await gateway.exited;
  const small = await startGateway(t, stateDir, { env: { ...gatewayEnv, FARADAY_RESTORE_MAX_BYTES: "1024" }, allowUnconfigured: false });
  const tooLarge = await upload(small.url, archive, TOKEN);
  assert.equal(tooLarge.status, 413);
  assert.equal(((await tooLarge.json()) as { error: { code: string } }).error.code, "BACKUP_TOO_LARGE");
  assert.deepEqual((await api(small.url, "/api/backup/restore", { token: TOKEN })).json, { pending: false, staging: false });
});
