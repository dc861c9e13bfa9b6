import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { lastUserText } from "../fakes/model-script.ts";
import { startTelegramFake, TELEGRAM_FAKE_DEFAULT_TOKEN } from "../fakes/telegram-fake.ts";
import { api, runToExit, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "onboard-test-token-0123456789abcdef";
const MODEL_KEY = "sk-ant-onboard-test-key-0123456789";

test("faraday onboard --non-interactive checks the model key and the Telegram token from its environment, stores them in the secret store, and says hello", async (t) => {
  const model = await startAnthropicFake({ apiKey: MODEL_KEY });
  t.after(() => model.close());
  model.setDefault((request) => ({ text: `Hi! (${lastUserText(request).slice(0, 20)})` }));
  const telegram = await startTelegramFake();
  t.after(() => telegram.close());
  const stateDir = await tempStateDir(t);
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({ channels: { telegram: { apiRoot: telegram.url, pollingTimeoutSeconds: 1 } } }));
  const gateway = await startGateway(t, stateDir, { allowUnconfigured: false, env: { OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_BASE_URL: model.url } });

  const wrong = await runToExit(t, ["onboard", "--non-interactive", "--skip", "telegram,hello", "--json", "--state-dir", stateDir], { OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_API_KEY: "sk-ant-not-the-right-key-000" });
  assert.equal(wrong.code, 1, wrong.stderr);
  const failed = JSON.parse(wrong.stdout).steps.find((step: { step: string }) => step.step === "model");
  assert.equal(failed.outcome, "failed");
  assert.match(failed.detail, /MODEL_AUTH_FAILED: .*invalid x-api-key/, "the provider's own words");
  assert.equal((await api(gateway.url, "/api/setup", { token: TOKEN })).json.model.ready, false, "a refused key is not kept");

  const run = await runToExit(t, ["onboard", "--non-interactive", "--state-dir", stateDir], { OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_API_KEY: MODEL_KEY, TELEGRAM_BOT_TOKEN: TELEGRAM_FAKE_DEFAULT_TOKEN });
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /✓ model: anthropic\/claude-sonnet-5-5 answered: "Hi!/);
  assert.match(run.stdout, /✓ telegram: token accepted: @\w+/);
  assert.match(run.stdout, /– discord: DISCORD_BOT_TOKEN is not set/);
  assert.match(run.stdout, /✓ hello: the agent answered: "Hi! \(Hello!\)"/);
  assert.ok(telegram.calls.some((call) => call.method === "getMe" && call.authorized));
  const setup = (await api(gateway.url, "/api/setup", { token: TOKEN })).json;
  assert.equal(setup.model.keys.anthropic, "secret-store");
  assert.equal(setup.channels.find((channel: { name: string }) => channel.name === "telegram").credential.source, "secret-store");
  const file = await readFile(join(stateDir, "openclaw.json"), "utf8");
  assert.ok(!file.includes(MODEL_KEY) && !file.includes(TELEGRAM_FAKE_DEFAULT_TOKEN), "no credential in openclaw.json");
  assert.ok(!run.stdout.includes(MODEL_KEY) && !gateway.stdout().includes(MODEL_KEY), "no key in the output or the log");
});

test("faraday onboard without a terminal and without --non-interactive says how to run it", async (t) => {
  const stateDir = await tempStateDir(t);
  await startGateway(t, stateDir, { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN } });
  const run = await runToExit(t, ["onboard", "--state-dir", stateDir], { OPENCLAW_GATEWAY_TOKEN: TOKEN });
  assert.equal(run.code, 1);
  assert.match(run.stderr, /--non-interactive/);
});

test("interactive faraday onboard on a terminal: the key is typed without echo, checked, and skipped steps are skipped", async (t) => {
  const { spawn, spawnSync } = await import("node:child_process");
  if (spawnSync("script", ["--version"]).status !== 0) return t.skip("util-linux `script` (a pseudo-terminal) is not installed");
  const model = await startAnthropicFake({ apiKey: MODEL_KEY });
  t.after(() => model.close());
  model.setDefault(() => ({ text: "Hello from the terminal test." }));
  const stateDir = await tempStateDir(t);
  await startGateway(t, stateDir, { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_BASE_URL: model.url } });
  const { ENTRY, cleanEnv } = await import("../helpers/gateway-process.ts");
  // `script` gives the CLI a pseudo-terminal, as a person's shell would.
  const command = [process.execPath, ENTRY, "onboard", "--state-dir", stateDir].map((part) => `'${part}'`).join(" ");
  const child = spawn("script", ["-qefc", command, "/dev/null"], { env: cleanEnv({ OPENCLAW_GATEWAY_TOKEN: TOKEN }), stdio: ["pipe", "pipe", "pipe"] });
  t.after(() => child.kill("SIGKILL"));
  // Listened for from the start: the CLI may finish before the last prompt is matched below.
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const waitFor = async (pattern: RegExp) => {
    for (let attempt = 0; attempt < 400 && !pattern.test(output); attempt++) await new Promise((resolve) => setTimeout(resolve, 25));
    assert.match(output, pattern);
  };
  await waitFor(/Model provider — anthropic or openai \[anthropic\]: /);
  child.stdin.write("\r");
  await waitFor(/Anthropic API key \(hidden; Enter skips\): /);
  child.stdin.write(`${MODEL_KEY}\r`);
  await waitFor(/Model name \(Enter for the default\): /);
  child.stdin.write("\r");
  await waitFor(/✓ model: anthropic\/claude-sonnet-5-5 answered: "Hello from the terminal test\."/);
  for (const prompt of [/Telegram bot token from @BotFather \(hidden; Enter skips\): /, /Discord bot token \(hidden; Enter skips\): /, /FavCRM API key \(fav_mcp_…\) \(hidden; Enter skips\): /]) {
    await waitFor(prompt);
    child.stdin.write("\r");
  }
  await waitFor(/Say hello to the agent now\? \[Y\/n\] /);
  child.stdin.write("n\r");
  await waitFor(/– hello: skipped/);
  assert.equal(await exited, 0, output);
  assert.ok(!output.includes(MODEL_KEY), "the key was not echoed to the terminal");
  assert.match(output, /– telegram: skipped/);
});
