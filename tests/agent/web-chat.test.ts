import assert from "node:assert/strict";
import { test } from "node:test";
import { api, runToExit, startGateway, tempStateDir } from "../helpers/gateway-process.ts";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { lastUserText } from "../fakes/model-script.ts";

const TOKEN = "test-gateway-token-0123456789";
const ANTHROPIC_KEY = "fake-anthropic-key-for-tests";

async function fakeModel(t: import("node:test").TestContext) {
  const fake = await startAnthropicFake();
  t.after(() => fake.close());
  fake.setDefault((request) => ({ text: `You said: ${lastUserText(request)}` }));
  return fake;
}

const envFor = (url: string) => ({ OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: url });

test("POST /api/chat answers with {sessionId, reply, toolCalls, usage}; sessions and transcripts are listed", async (t) => {
  const fake = await fakeModel(t);
  const gateway = await startGateway(t, await tempStateDir(t), { env: envFor(fake.url) });
  const chat = await api(gateway.url, "/api/chat", { token: TOKEN, method: "POST", body: { text: "hello" } });
  assert.equal(chat.status, 200);
  assert.equal(chat.json.reply, "You said: hello");
  assert.deepEqual(chat.json.toolCalls, []);
  assert.ok(chat.json.usage.inputTokens > 0);
  const sessions = await api(gateway.url, "/api/sessions", { token: TOKEN });
  assert.equal(sessions.json.sessions[0].id, chat.json.sessionId);
  const messages = await api(gateway.url, `/api/sessions/${chat.json.sessionId}/messages`, { token: TOKEN });
  assert.deepEqual(messages.json.messages.map((message: { role: string }) => message.role), ["user", "assistant"]);
  assert.equal((await api(gateway.url, "/api/chat", { method: "POST", body: { text: "x" } })).status, 401);
  assert.equal((await api(gateway.url, "/api/chat", { token: TOKEN, method: "POST", body: { text: "" } })).status, 400);
  assert.equal((await api(gateway.url, "/api/chat", { token: TOKEN, method: "POST", body: { text: "x", sessionId: "nope" } })).json.error.code, "SESSION_NOT_FOUND");
  const status = await api(gateway.url, "/api/status", { token: TOKEN });
  const agent = status.json.components.find((component: { name: string }) => component.name === "agent");
  assert.equal(agent.state, "ready");
  assert.match(agent.reason, /anthropic\//);
  assert.ok(!status.text.includes(ANTHROPIC_KEY) && !gateway.stdout().includes(ANTHROPIC_KEY), "the key never shows");
});

test("with Accept: text/event-stream, /api/chat streams delta events then a done event", async (t) => {
  const fake = await fakeModel(t);
  const gateway = await startGateway(t, await tempStateDir(t), { env: envFor(fake.url) });
  const response = await fetch(`${gateway.url}/api/chat`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify({ text: "stream this please" }),
  });
  assert.match(response.headers.get("content-type") ?? "", /text\/event-stream/);
  const body = await response.text();
  const events = body.trim().split("\n\n").map((frame) => ({
    event: /^event: (.+)$/m.exec(frame)![1],
    data: JSON.parse(/^data: (.+)$/m.exec(frame)![1]!),
  }));
  const deltas = events.filter((event) => event.event === "delta");
  assert.ok(deltas.length >= 2, "more than one delta");
  assert.equal(deltas.map((event) => event.data.text).join(""), "You said: stream this please");
  const done = events.at(-1)!;
  assert.equal(done.event, "done");
  assert.equal(done.data.reply, "You said: stream this please");
  assert.ok(fake.requests.at(-1)!.body.stream, "the model was asked to stream");
});

test("after kill -9 and a restart the conversation continues where it was", async (t) => {
  const fake = await fakeModel(t);
  const stateDir = await tempStateDir(t);
  const first = await startGateway(t, stateDir, { env: envFor(fake.url) });
  const one = await api(first.url, "/api/chat", { token: TOKEN, method: "POST", body: { text: "my name is Ada" } });
  first.kill("SIGKILL");
  await first.exited;
  const second = await startGateway(t, stateDir, { env: envFor(fake.url) });
  const two = await api(second.url, "/api/chat", { token: TOKEN, method: "POST", body: { text: "what is my name?", sessionId: one.json.sessionId } });
  assert.equal(two.status, 200);
  assert.equal(two.json.sessionId, one.json.sessionId);
  const sent = JSON.stringify(fake.requests.at(-1)!.body.messages);
  assert.match(sent, /my name is Ada/);
  assert.match(sent, /You said: my name is Ada/);
});

test("faraday chat -m sends one message to the local gateway and prints the reply; --json prints the API object", async (t) => {
  const fake = await fakeModel(t);
  const stateDir = await tempStateDir(t);
  await startGateway(t, stateDir, { env: envFor(fake.url) });
  const printed = await runToExit(t, ["chat", "-m", "hi from the terminal", "--state-dir", stateDir], { OPENCLAW_GATEWAY_TOKEN: TOKEN });
  assert.equal(printed.code, 0, printed.stderr);
  assert.equal(printed.stdout.trim(), "You said: hi from the terminal");
  const json = await runToExit(t, ["chat", "-m", "/status", "--json", "--state-dir", stateDir], { OPENCLAW_GATEWAY_TOKEN: TOKEN });
  const object = JSON.parse(json.stdout);
  assert.match(object.reply, /Agent: main/);
  assert.ok(object.sessionId);
});

test("faraday chat interactively: lines typed in are answered as they stream, in one session, until end of input", async (t) => {
  const fake = await fakeModel(t);
  const stateDir = await tempStateDir(t);
  await startGateway(t, stateDir, { env: envFor(fake.url) });
  const { spawn } = await import("node:child_process");
  const { ENTRY, cleanEnv } = await import("../helpers/gateway-process.ts");
  const child = spawn(process.execPath, [ENTRY, "chat", "--state-dir", stateDir], { env: cleanEnv({ OPENCLAW_GATEWAY_TOKEN: TOKEN }), stdio: ["pipe", "pipe", "pipe"] });
  t.after(() => child.kill("SIGKILL"));
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const waitFor = async (pattern: RegExp) => {
    for (let attempt = 0; attempt < 400 && !pattern.test(output); attempt++) await new Promise((resolve) => setTimeout(resolve, 25));
    assert.match(output, pattern);
  };
  await waitFor(/you> /);
  child.stdin.write("first line\n");
  await waitFor(/assistant> You said: first line/);
  child.stdin.write("second line\n");
  await waitFor(/assistant> You said: second line/);
  child.stdin.end();
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  assert.equal(code, 0);
  // Both lines went to one session: the second request carried the first exchange.
  assert.match(JSON.stringify(fake.requests.at(-1)!.body.messages), /You said: first line/);
});
