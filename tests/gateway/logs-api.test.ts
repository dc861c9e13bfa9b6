/**
 * The gateway's in-memory log: `GET /api/logs` (JSON, `since`, `level`) and its SSE follow, on the
 * built gateway; the logger's value scrubbing and the ring buffer in process.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { createLogger, LogBuffer, secretValuesFrom } from "../../src/logging/index.ts";
import { api, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "logs-test-gateway-token-0123456789";
const MODEL_KEY = "sk-ant-logs-test-secret-value-9f2c";

test("a secret value from the environment is replaced in every line, whatever field holds it; token-like keys are redacted", () => {
  const printed: string[] = [];
  const kept = new LogBuffer(10);
  const logger = createLogger({
    destination: new Writable({ write(chunk, _encoding, done) { printed.push(String(chunk)); done(); } }),
    pretty: false,
    tee: (line) => kept.push(line),
    redactValues: secretValuesFrom({ ANTHROPIC_API_KEY: MODEL_KEY, OPENCLAW_GATEWAY_TOKEN: TOKEN, HOME: "/home/someone-long-enough" }),
  });
  logger.warn({ err: new Error(`upstream said: bad key ${MODEL_KEY}`), detail: `quoted "${TOKEN}"` }, `failed with ${MODEL_KEY}`);
  logger.info({ token: "some-other-token-value", headers: { authorization: "Bearer abc" } }, "keys");
  logger.info({ home: "/home/someone-long-enough" }, "not a secret");
  const all = printed.join("") + JSON.stringify(kept.query());
  assert.ok(!all.includes(MODEL_KEY) && !all.includes(TOKEN) && !all.includes("some-other-token-value"), all);
  const [first, second, third] = kept.query();
  assert.equal(first!.msg, "failed with [redacted]");
  assert.match(JSON.stringify(first!.fields), /bad key \[redacted\]/);
  assert.equal(second!.fields.token, "[redacted]");
  assert.equal(third!.fields.home, "/home/someone-long-enough", "only secret-named variables are scrubbed");
  assert.equal(printed.length, 3, "stdout got the same lines");
});

test("the ring keeps the newest lines: since, level and limit select from them", () => {
  const buffer = new LogBuffer(3);
  for (let index = 1; index <= 5; index++) buffer.push(JSON.stringify({ level: index % 2 ? 30 : 50, time: new Date(0).toISOString(), msg: `line ${index}` }) + "\n");
  assert.deepEqual(buffer.query().map((entry) => [entry.seq, entry.msg]), [[3, "line 3"], [4, "line 4"], [5, "line 5"]]);
  assert.deepEqual(buffer.query({ since: 3 }).map((entry) => entry.seq), [4, 5]);
  assert.deepEqual(buffer.query({ level: "error" }).map((entry) => entry.msg), ["line 4"]);
  assert.deepEqual(buffer.query({ limit: 1 }).map((entry) => entry.seq), [5]);
  assert.equal(buffer.last, 5);
});

test("GET /api/logs returns the gateway's recent lines, redacted; ?follow=1 streams a new line as it is logged", async (t) => {
  const gateway = await startGateway(t, await tempStateDir(t), { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_API_KEY: MODEL_KEY, ANTHROPIC_BASE_URL: "http://127.0.0.1:9" } });
  assert.equal((await api(gateway.url, "/api/logs")).status, 401, "authenticated");
  // A turn whose model is unreachable: a warning line about it.
  await api(gateway.url, "/api/chat", { token: TOKEN, method: "POST", body: { text: "hello" } });
  const answer = await api(gateway.url, "/api/logs", { token: TOKEN });
  assert.equal(answer.status, 200);
  const lines = answer.json.lines as Array<{ seq: number; level: string; msg: string }>;
  assert.ok(lines.some((line) => line.msg === "gateway listening"), JSON.stringify(lines.map((line) => line.msg)));
  assert.ok(!answer.text.includes(MODEL_KEY) && !answer.text.includes(TOKEN), "no secret in /api/logs");
  assert.equal(answer.json.capacity, 2000);
  const warnings = await api(gateway.url, "/api/logs?level=warn", { token: TOKEN });
  assert.ok((warnings.json.lines as Array<{ level: string }>).every((line) => line.level === "warn" || line.level === "error" || line.level === "fatal"));
  assert.equal((await api(gateway.url, `/api/logs?since=${answer.json.next}`, { token: TOKEN })).json.lines.length, 0, "nothing new since `next`");
  assert.equal((await api(gateway.url, "/api/logs?level=loud", { token: TOKEN })).status, 400);

  const controller = new AbortController();
  t.after(() => controller.abort());
  const response = await fetch(`${gateway.url}/api/logs?follow=1&since=${answer.json.next}`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: controller.signal });
  assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let received = "";
  const readUntil = async (pattern: RegExp) => {
    const deadline = Date.now() + 10_000;
    while (!pattern.test(received)) {
      if (Date.now() > deadline) throw new Error(`no ${pattern} in ${received}`);
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended: ${received}`);
      received += value;
    }
  };
  await readUntil(/event: ready/);
  const put = await api(gateway.url, "/api/config", { token: TOKEN, method: "PUT", body: { agents: { list: [{ id: "main", default: true }] } } });
  assert.equal(put.status, 200, put.text);
  await readUntil(/"msg":"config replaced through the API"/);
  const event = received.split("\n\n").find((frame) => frame.includes("config replaced through the API"))!;
  assert.match(event, /^event: log\nid: \d+\ndata: \{/);
  assert.ok(!received.includes(MODEL_KEY) && !received.includes(TOKEN));
  controller.abort();
});
