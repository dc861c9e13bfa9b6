import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { eventually } from "../helpers/agent-harness.ts";
import { api, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "console-to-log-token-0123456789ab";

test("an SDK's console.warn (a model deprecation notice) reaches the structured log, not a plain text line", async (t) => {
  // A model the installed @anthropic-ai/sdk warns about, read from the SDK itself.
  // (Not an exported subpath: loaded by file path from the package's folder.)
  const sdkRoot = dirname(createRequire(import.meta.url).resolve("@anthropic-ai/sdk"));
  const { DEPRECATED_MODELS } = createRequire(import.meta.url)(join(sdkRoot, "internal/data/deprecated-models.js")) as { DEPRECATED_MODELS: Record<string, string> };
  const deprecated = Object.keys(DEPRECATED_MODELS)[0]!;
  const fake = await startAnthropicFake();
  t.after(() => fake.close());
  fake.setDefault({ text: "hello" });
  const stateDir = await tempStateDir(t);
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({ agents: { defaults: { model: `anthropic/${deprecated}` } } }));
  const gateway = await startGateway(t, stateDir, { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_API_KEY: "fake-anthropic-key-for-tests", ANTHROPIC_BASE_URL: fake.url } });

  const chat = await api(gateway.url, "/api/chat", { token: TOKEN, method: "POST", body: { text: "hi" } });
  assert.equal(chat.status, 200);
  await eventually(async () => gateway.logs().some((entry) => String(entry.msg).includes("is deprecated")), 5_000, "the deprecation notice is logged");
  const notice = gateway.logs().find((entry) => String(entry.msg).includes("is deprecated"))!;
  assert.equal(notice.level, 40);
  assert.equal(notice.source, "console");
  assert.match(String(notice.msg), new RegExp(`The model '${deprecated}' is deprecated`));
  const plain = `${gateway.stdout()}${gateway.stderr()}`.split("\n").filter((line) => line.trim() !== "" && !line.startsWith("{"));
  assert.deepEqual(plain, [], "every line is a JSON log entry");
});
