import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test, type TestContext } from "node:test";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { lastUserText } from "../fakes/model-script.ts";
import { cleanEnv, ENTRY, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "chat-pipe-gateway-token-0123456789";

test("several lines piped to `faraday chat` are one message, not only the first line", async (t: TestContext) => {
  const fake = await startAnthropicFake();
  t.after(() => fake.close());
  fake.setDefault((request) => ({ text: `You said: ${lastUserText(request)}` }));
  const stateDir = await tempStateDir(t);
  await startGateway(t, stateDir, { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_API_KEY: "fake-anthropic-key-for-tests", ANTHROPIC_BASE_URL: fake.url } });

  const child = spawn(process.execPath, [ENTRY, "chat", "--state-dir", stateDir], { env: cleanEnv({ OPENCLAW_GATEWAY_TOKEN: TOKEN }), stdio: ["pipe", "pipe", "pipe"] });
  t.after(() => child.kill("SIGKILL"));
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  child.stdin.end("Please book a table.\nFour people, 8 pm.\nName: Ada\n");

  assert.equal(await exited, 0, output);
  const asked = fake.requests.filter((request) => request.path === "/v1/messages");
  assert.equal(asked.length, 1, "one model call for the whole input");
  assert.equal(lastUserText(asked[0]!), "Please book a table.\nFour people, 8 pm.\nName: Ada");
  assert.match(output, /assistant> You said: Please book a table\.\nFour people, 8 pm\.\nName: Ada/);
});
