/**
 * Backups end to end: the built gateway (a child process) with the real Baileys linked to the
 * loopback WhatsApp fake, the CLI's `backup create` while it runs, a wipe, `backup restore`, and
 * a restart that must come back with everything — transcripts, memory, the secret store and the
 * WhatsApp link (no new QR). Also: a restore killed midway, and `--without-secrets`.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { lastUserText } from "../fakes/model-script.ts";
import { startWhatsAppFake } from "../fakes/whatsapp-fake.ts";
import { eventually } from "../helpers/agent-harness.ts";
import { api, cleanEnv, ENTRY, REPO_ROOT, runToExit, startGateway, tempStateDir } from "../helpers/gateway-process.ts";
import { countRows, readArchive } from "./backup-helpers.ts";

const CUSTOMER = "15557654321";
const TRUST = join(REPO_ROOT, "tests/fakes/whatsapp-trust.ts");
const ANTHROPIC_KEY = "fake-anthropic-key-for-backup-tests-0123";
const SECRET_TABLES = ["secrets", "whatsapp_creds", "whatsapp_keys"];

async function workDir(t: TestContext): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), "faraday-backup-"));
  t.after(() => rm(directory, { recursive: true, force: true }));
  return directory;
}

const sha256 = async (path: string) => createHash("sha256").update(await readFile(path)).digest("hex");

/** Every file under the state dir (locks aside) with its hash: "the old state" to compare against. */
async function snapshot(stateDir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const entry of await readdir(stateDir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const name = path.slice(stateDir.length + 1);
    if (name.startsWith("locks")) continue;
    result[name] = await sha256(path);
  }
  return result;
}

test("backup while running → wipe → restore: transcripts, memory, the secret store and the WhatsApp link all come back; the link reconnects without a new scan", async (t) => {
  const model = await startAnthropicFake();
  t.after(() => model.close());
  model.setDefault((request) => ({ text: `You said: ${lastUserText(request)}` }));
  const fake = await startWhatsAppFake();
  t.after(() => fake.close());
  const work = await workDir(t);
  const stateDir = await tempStateDir(t);
  await mkdir(join(stateDir, "agents", "main"), { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({
    agents: { defaults: { model: "anthropic/claude-test" }, list: [{ id: "main", default: true }] },
    channels: { whatsapp: { enabled: true, webSocketUrl: fake.url, dmPolicy: "allowlist", allowFrom: [`+${CUSTOMER}`] } },
  }));
  const memory = "# Memory\n\n- Ann prefers mornings.\n";
  await writeFile(join(stateDir, "agents", "main", "MEMORY.md"), memory);
  // No OPENCLAW_GATEWAY_TOKEN: the gateway generates one into its secret store, which the backup must carry.
  const env = { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: model.url, NODE_OPTIONS: `--import ${TRUST}` };
  const first = await startGateway(t, stateDir, { env, allowUnconfigured: false });
  const tokenRun = await runToExit(t, ["token", "--state-dir", stateDir]);
  const token = tokenRun.stdout.trim();
  assert.ok(token.length >= 20, tokenRun.stderr);
  const whatsapp = async (url: string) => ((await api(url, "/api/channels", { token })).json.channels as Array<{ name: string; state: string }>).find((entry) => entry.name === "whatsapp")!;
  const login = async (url: string) => (await api(url, "/api/channels/whatsapp/login", { token })).json;

  // Link by QR, as a person would; then a conversation.
  assert.equal((await api(first.url, "/api/channels/whatsapp/login", { token, method: "POST", body: {} })).status, 200);
  await eventually(async () => (await login(first.url)).qr, 15_000, "a QR code");
  await fake.scanQr((await login(first.url)).qr);
  await eventually(async () => (await whatsapp(first.url)).state === "connected", 20_000, "connected");
  await fake.sendText({ from: CUSTOMER, text: "before the backup", pushName: "Ann" });
  await fake.waitForMessage((message) => message.text === "You said: before the backup", 20_000);

  // backup create while the gateway runs; a restore is refused while it does.
  const archive = join(work, "backup.tar.gz");
  const created = await runToExit(t, ["backup", "create", "--state-dir", stateDir, "--out", archive]);
  assert.equal(created.code, 0, created.stderr);
  assert.match(created.stdout, /CONTAINS SECRETS/);
  assert.equal((await stat(archive)).mode & 0o777, 0o600, "the archive is 0600");
  const refused = await runToExit(t, ["backup", "restore", archive, "--state-dir", stateDir]);
  assert.equal(refused.code, 3);
  assert.match(refused.stderr, /LOCK_HELD: .*in use by pid \d+.*stop it, then run `faraday backup restore` again/s);

  const files = await readArchive(archive);
  const manifest = JSON.parse(files.get("manifest.json")!.toString("utf8"));
  assert.equal(manifest.format, "faraday-backup");
  assert.equal(manifest.withSecrets, true);
  assert.deepEqual([...files.keys()].sort(), ["agents/main/MEMORY.md", "faraday.sqlite", "manifest.json", "openclaw.json"]);
  const copy = join(work, "copy.sqlite");
  await writeFile(copy, files.get("faraday.sqlite")!);
  const counts = await countRows(copy, SECRET_TABLES);
  assert.ok(counts.secrets! >= 1 && counts.whatsapp_creds! >= 1 && counts.whatsapp_keys! >= 1, JSON.stringify(counts));

  // --without-secrets: no secret store, no WhatsApp rows — not even in the file's free pages.
  const bare = join(work, "bare.tar.gz");
  const bareRun = await runToExit(t, ["backup", "create", "--state-dir", stateDir, "--out", bare, "--without-secrets", "--json"]);
  assert.equal(bareRun.code, 0, bareRun.stderr);
  assert.equal(JSON.parse(bareRun.stdout).withSecrets, false);
  assert.equal((await stat(bare)).mode & 0o777, 0o600);
  const bareFiles = await readArchive(bare);
  await writeFile(copy, bareFiles.get("faraday.sqlite")!);
  assert.deepEqual(await countRows(copy, SECRET_TABLES), { secrets: 0, whatsapp_creds: 0, whatsapp_keys: 0 });
  assert.equal((await countRows(copy, ["messages"])).messages, 2, "the transcripts are kept");
  assert.ok(!bareFiles.get("faraday.sqlite")!.includes(Buffer.from(token)), "the gateway token is not in the bytes of the copy");
  assert.ok(files.get("faraday.sqlite")!.includes(Buffer.from(token)), "(and it is in the full backup's: the check can fail)");
  assert.equal(JSON.parse(bareFiles.get("manifest.json")!.toString()).withSecrets, false);

  // No secret in anything the CLI printed.
  for (const output of [created.stdout, created.stderr, bareRun.stdout, bareRun.stderr, refused.stdout, refused.stderr]) {
    assert.ok(!output.includes(token) && !output.includes(ANTHROPIC_KEY), "no secret in the CLI output");
  }

  // Stop, wipe, restore.
  first.kill("SIGTERM");
  assert.equal((await first.exited).code, 0);
  await rm(stateDir, { recursive: true, force: true });
  const restored = await runToExit(t, ["backup", "restore", archive, "--state-dir", stateDir]);
  assert.equal(restored.code, 0, restored.stderr);
  assert.match(restored.stdout, /Restored 3 file\(s\)/);
  assert.ok(!restored.stdout.includes(token));
  assert.equal(await readFile(join(stateDir, "agents", "main", "MEMORY.md"), "utf8"), memory);
  assert.ok(!existsSync(join(stateDir, ".restore")), "nothing staged is left behind");

  const qrsBefore = fake.qrRefsIssued;
  const second = await startGateway(t, stateDir, { env, allowUnconfigured: false });
  assert.equal((await runToExit(t, ["token", "--state-dir", stateDir])).stdout.trim(), token, "the secret store came back (the generated gateway token)");
  await eventually(async () => (await whatsapp(second.url)).state === "connected", 20_000, "connected with the restored link");
  assert.equal(fake.qrRefsIssued, qrsBefore, "no QR: the restored creds logged in");
  assert.equal(fake.pairings.length, 1, "one pairing only");
  const sessions = (await api(second.url, "/api/sessions", { token })).json.sessions as Array<{ id: string; channel: string }>;
  const session = sessions.find((entry) => entry.channel === "whatsapp");
  assert.ok(session, JSON.stringify(sessions));
  const messages = (await api(second.url, `/api/sessions/${session.id}/messages`, { token })).json.messages as Array<{ content: string }>;
  assert.deepEqual(messages.map((message) => message.content), ["before the backup", "You said: before the backup"]);
  await fake.sendText({ from: CUSTOMER, text: "after the restore" });
  await fake.waitForMessage((message) => message.text === "You said: after the restore", 20_000);
  assert.deepEqual(fake.errors, []);
});

/** A gateway that has had two conversations, one of them after the backup was taken. */
async function stateWithBackup(t: TestContext) {
  const model = await startAnthropicFake();
  t.after(() => model.close());
  model.setDefault((request) => ({ text: `You said: ${lastUserText(request)}` }));
  const work = await workDir(t);
  const stateDir = await tempStateDir(t);
  const token = "backup-test-gateway-token-0123456789";
  const env = { OPENCLAW_GATEWAY_TOKEN: token, ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: model.url };
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({ agents: { defaults: { model: "anthropic/claude-test" }, list: [{ id: "main", default: true }] } }));
  const gateway = await startGateway(t, stateDir, { env, allowUnconfigured: false });
  assert.equal((await api(gateway.url, "/api/chat", { token, method: "POST", body: { text: "in the backup" } })).status, 200);
  const archive = join(work, "backup.tar.gz");
  assert.equal((await runToExit(t, ["backup", "create", "--state-dir", stateDir, "--out", archive])).code, 0);
  assert.equal((await api(gateway.url, "/api/chat", { token, method: "POST", body: { text: "after the backup" } })).status, 200);
  gateway.kill("SIGTERM");
  assert.equal((await gateway.exited).code, 0);
  const texts = async (url: string) => {
    const sessions = (await api(url, "/api/sessions", { token })).json.sessions as Array<{ id: string }>;
    const all: string[] = [];
    for (const session of sessions) all.push(...((await api(url, `/api/sessions/${session.id}/messages`, { token })).json.messages as Array<{ role: string; content: string }>).filter((message) => message.role === "user").map((message) => message.content));
    return all.sort();
  };
  return { work, stateDir, token, env, archive, texts };
}

test("a restore killed midway (SIGKILL while it reads the archive) leaves the old state intact; the next start discards the half-staged copy", async (t) => {
  const { work, stateDir, env, archive, texts } = await stateWithBackup(t);
  const before = await snapshot(stateDir);
  const fifo = join(work, "archive.fifo");
  execFileSync("mkfifo", [fifo]);
  const child = spawn(process.execPath, [ENTRY, "backup", "restore", fifo, "--state-dir", stateDir], { env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  t.after(() => child.kill("SIGKILL"));
  const writer = await open(fifo, "w");
  const bytes = await readFile(archive);
  await writer.write(bytes.subarray(0, Math.floor(bytes.length / 2)));
  // The sentinel: the restore is inside the archive (the database is being staged).
  await eventually(() => existsSync(join(stateDir, ".restore", "staging", "faraday.sqlite")), 10_000, "the database being staged");
  child.kill("SIGKILL");
  assert.equal((await exited).signal, "SIGKILL");
  await writer.close();
  assert.ok(!existsSync(join(stateDir, ".restore", "staging", ".ready")), "it died before the restore was committed");
  assert.deepEqual(await snapshot(stateDir).then((after) => Object.fromEntries(Object.entries(after).filter(([name]) => !name.startsWith(".restore")))), before, "every old file is byte for byte as it was");

  const gateway = await startGateway(t, stateDir, { env, allowUnconfigured: false });
  assert.deepEqual(await texts(gateway.url), ["after the backup", "in the backup"], "the old state, with what came after the backup");
  assert.ok(!existsSync(join(stateDir, ".restore")), "the half-staged copy was discarded at start");
  assert.ok(gateway.logs().some((line) => /discarded an unfinished restore/.test(String(line.msg))));
  gateway.kill("SIGTERM");
  await gateway.exited;

  // The same archive, whole, restores.
  const restored = await runToExit(t, ["backup", "restore", archive, "--state-dir", stateDir]);
  assert.equal(restored.code, 0, restored.stderr);
  const again = await startGateway(t, stateDir, { env, allowUnconfigured: false });
  assert.deepEqual(await texts(again.url), ["in the backup"]);
});

test("a damaged or foreign archive is refused before anything is touched", async (t) => {
  const { work, stateDir, archive } = await stateWithBackup(t);
  const before = await snapshot(stateDir);
  const bytes = await readFile(archive);
  const cut = join(work, "cut.tar.gz");
  await writeFile(cut, bytes.subarray(0, bytes.length - 40));
  const notGzip = join(work, "notes.tar.gz");
  await writeFile(notGzip, "just some text\n");
  for (const file of [cut, notGzip]) {
    const run = await runToExit(t, ["backup", "restore", file, "--state-dir", stateDir, "--json"]);
    assert.equal(run.code, 1);
    assert.equal(JSON.parse(run.stdout).error.code, "BACKUP_INVALID", run.stdout);
  }
  assert.deepEqual(await snapshot(stateDir), before);
});
