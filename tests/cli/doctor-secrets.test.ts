import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { startOpenAIFake } from "../fakes/openai-fake.ts";
import { cleanEnv, ENTRY, REPO_ROOT, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

/**
 * `faraday ARGS` with `input` on stdin and a clean environment; resolves when it exits. Async:
 * the fakes answer from this process, so it must not block.
 */
function faraday(args: string[], input = "", env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [ENTRY, ...args], { cwd: REPO_ROOT, env: cleanEnv(env), stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  child.stdin.end(input);
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  return new Promise((resolve) => child.once("close", (code) => {
    clearTimeout(timer);
    resolve({ code, stdout, stderr });
  }));
}

test("secrets set reads the value from stdin, list shows names and masked hints only, remove deletes", async (t: TestContext) => {
  const stateDir = await tempStateDir(t);
  const value = "123456789:AAE-telegram-bot-token-for-test-9f2c";
  const set = await faraday(["secrets", "set", "telegram.botToken", "--state-dir", stateDir], `${value}\n`);
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /stored telegram\.botToken \(12345678\.\.\.9f2c\)/);

  const list = await faraday(["secrets", "list", "--json", "--state-dir", stateDir]);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(JSON.parse(list.stdout), { secrets: [{ name: "telegram.botToken", hint: "12345678...9f2c", purpose: "Telegram bot token (TELEGRAM_BOT_TOKEN and channels.telegram.botToken come first)" }] });
  for (const output of [set.stdout, set.stderr, list.stdout, list.stderr]) assert.ok(!output.includes(value), "the value is never printed");

  const typo = await faraday(["secrets", "set", "telegram.botToke", "--state-dir", stateDir], "x-value\n");
  assert.equal(typo.code, 0);
  assert.match(typo.stderr, /the gateway does not read "telegram\.botToke" — did you mean telegram\.botToken\?/);

  assert.equal((await faraday(["secrets", "remove", "telegram.botToken", "--state-dir", stateDir])).code, 0);
  const again = await faraday(["secrets", "remove", "telegram.botToken", "--state-dir", stateDir]);
  assert.equal(again.code, 1);
  assert.match(again.stdout, /no secret named telegram\.botToken/);
  const empty = await faraday(["secrets", "set", "discord.token", "--state-dir", stateDir], "");
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /BAD_REQUEST: no value for discord\.token on stdin/);
});

test("a misspelt config key gets a did-you-mean from the keys known at that path", async (t: TestContext) => {
  const stateDir = await tempStateDir(t);
  const file = join(stateDir, "..", "typo.json");
  await writeFile(file, JSON.stringify({ agents: { defaults: { modle: "anthropic/x" } }, channels: { telegram: { dmPolcy: "open" } }, gatway: {}, zzzzzz: 1 }));
  const result = await faraday(["config", "validate", "--file", file]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /agents\.defaults\.modle: unknown key, ignored: did you mean "model"\?/);
  assert.match(result.stderr, /channels\.telegram\.dmPolcy: unknown key, ignored: did you mean "dmPolicy"\?/);
  assert.match(result.stderr, /gatway: unknown key, ignored: did you mean "gateway"\?/);
  assert.match(result.stderr, /zzzzzz: unknown key, ignored \(check the spelling\)/);
});

test("doctor asks the running gateway: its credentials, its components, and the model checked with its key", async (t: TestContext) => {
  const fake = await startOpenAIFake({ apiKey: "sk-gateway-side-key-000001", models: ["llama3.1"] });
  t.after(() => fake.close());
  const stateDir = await tempStateDir(t);
  await startGateway(t, stateDir, { env: { OPENAI_API_KEY: "sk-gateway-side-key-000001", OPENAI_BASE_URL: fake.url } });

  // The CLI's own environment has no model key at all: what counts is the gateway's.
  const result = await faraday(["doctor", "--state-dir", stateDir]);
  assert.match(result.stdout, /✓ gateway: running at http:\/\/127\.0\.0\.1:\d+ \(version /);
  assert.match(result.stdout, /✓ credentials: as the gateway sees them — environment: OPENAI_API_KEY=sk-gatew\.\.\.0001; secret store: gateway\.token=/);
  assert.match(result.stdout, /✓ model: openai\/llama3\.1 \(the only model its server lists; set agents\.defaults\.model to pin it\)/);
  assert.ok(!result.stdout.includes("sk-gateway-side-key-000001"));
  const listed = fake.requests.filter((request) => request.path === "/v1/models");
  assert.equal(listed.length, 1);
  assert.equal(listed[0]?.headers.authorization, "Bearer sk-gateway-side-key-000001");

  const offline = await faraday(["doctor", "--offline", "--state-dir", stateDir]);
  assert.match(offline.stdout, /model: openai\/\*; not checked \(--offline\)/);
  assert.equal(fake.requests.filter((request) => request.path === "/v1/models").length, 1, "--offline sends nothing to the provider");
});

test("doctor's model line names the rejected key's source (Anthropic base URL with /v1, wrong key) and fails", async (t: TestContext) => {
  const fake = await startAnthropicFake({ apiKey: "sk-ant-the-right-key-00001" });
  t.after(() => fake.close());
  const stateDir = await tempStateDir(t);
  await startGateway(t, stateDir, { env: { ANTHROPIC_API_KEY: "sk-ant-a-wrong-key-000009", ANTHROPIC_BASE_URL: `${fake.url}/v1` } });
  const result = await faraday(["doctor", "--state-dir", stateDir]);
  assert.equal(result.code, 1);
  assert.match(result.stdout, /✗ model: anthropic\/claude-sonnet-5-5: .*ANTHROPIC_API_KEY/);
  assert.match(fake.requests[0]?.path ?? "", /^\/v1\/models(\?|$)/, "one cheap request, at /v1/models (not /v1/v1/models)");
  assert.ok(!result.stdout.includes("sk-ant-a-wrong-key-000009"));
});

test("doctor without a gateway checks the model with this shell's environment and says so", async (t: TestContext) => {
  const stateDir = await tempStateDir(t);
  const result = await faraday(["doctor", "--state-dir", stateDir]);
  assert.match(result.stdout, /! model: No model is configured: set ANTHROPIC_API_KEY or OPENAI_API_KEY, or OPENAI_BASE_URL .* \(no gateway running: checked with this shell's environment\)/);
});
