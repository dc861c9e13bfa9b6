/**
 * WhatsApp "Message yourself": the built gateway with the real Baileys against the loopback
 * WhatsApp fake; the owner types on the linked phone (the fake's `sendOwnText`).
 */
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { lastTurnContext, lastUserText } from "../fakes/model-script.ts";
import { startWhatsAppFake } from "../fakes/whatsapp-fake.ts";
import { eventually } from "../helpers/agent-harness.ts";
import { api, REPO_ROOT, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "test-gateway-token-0123456789";
const CUSTOMER = "15557654321";

async function linkedGateway(t: TestContext, whatsapp: Record<string, unknown> = {}) {
  const model = await startAnthropicFake();
  t.after(() => model.close());
  model.setDefault((request) => ({ text: `You said: ${lastUserText(request)}` }));
  const fake = await startWhatsAppFake();
  t.after(() => fake.close());
  const stateDir = await tempStateDir(t);
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({
    agents: { defaults: { model: "anthropic/claude-test" }, list: [{ id: "main", default: true }] },
    // The owner's own number is in no allowlist: the self chat is admitted as the owner's.
    channels: { whatsapp: { enabled: true, webSocketUrl: fake.url, dmPolicy: "allowlist", allowFrom: [`+${CUSTOMER}`], ...whatsapp } },
  }));
  const env = { OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_API_KEY: "fake-anthropic-key-for-tests", ANTHROPIC_BASE_URL: model.url, NODE_OPTIONS: `--import ${join(REPO_ROOT, "tests/fakes/whatsapp-trust.ts")}` };
  const gateway = await startGateway(t, stateDir, { env, allowUnconfigured: false });
  const login = async () => (await api(gateway.url, "/api/channels/whatsapp/login", { token: TOKEN })).json;
  assert.equal((await api(gateway.url, "/api/channels/whatsapp/login", { token: TOKEN, method: "POST", body: {} })).status, 200);
  await eventually(async () => (await login()).qr !== null, 15_000, "a QR code");
  await fake.scanQr((await login()).qr);
  await eventually(async () => ((await api(gateway.url, "/api/channels", { token: TOKEN })).json.channels as Array<{ name: string; state: string }>).find((entry) => entry.name === "whatsapp")?.state === "connected", 20_000, "connected");
  const modelCalls = () => model.requests.filter((request) => request.body?.messages);
  /** A customer message and its answer: everything sent before it has been handled. */
  const sentinel = async (text: string) => {
    await fake.sendText({ from: CUSTOMER, text });
    await fake.waitForMessage((message) => message.to.startsWith(CUSTOMER) && message.text === `You said: ${text}`, 20_000);
  };
  return { model, fake, modelCalls, sentinel };
}

test("self chat: the owner's note to themselves is answered there as the owner, and the gateway never answers its own reply", async (t) => {
  const { fake, modelCalls, sentinel } = await linkedGateway(t);
  await fake.sendOwnText({ text: "what's on tomorrow?" });
  await eventually(() => fake.phoneCopies.some((message) => message.to === fake.accountJid && message.text === "You said: what's on tomorrow?"), 20_000, "the reply in the self chat");
  const turn = modelCalls()[0]!;
  assert.equal(lastUserText(turn), "what's on tomorrow?");
  assert.match(lastTurnContext(turn), /Channel: whatsapp, direct message/);
  assert.match(lastTurnContext(turn), /\(role: owner\)/);
  // Baileys emits our own reply back as a fromMe message in the self chat: it must not become a turn.
  await sentinel("sentinel after the self chat");
  assert.equal(modelCalls().length, 2, "one turn for the owner, one for the sentinel: no reply to our own reply");
  // (The phone may get more than one copy of one message — one per device entry Baileys addresses.)
  assert.equal(new Set(fake.phoneCopies.filter((message) => message.to === fake.accountJid).map((message) => message.id)).size, 1, "one reply in the self chat");
});

test("the owner's messages in other chats are never prompts", async (t) => {
  const { fake, modelCalls, sentinel } = await linkedGateway(t);
  await fake.sendOwnText({ chat: CUSTOMER, text: "Hi Amy, see you at 3" });
  await sentinel("sentinel after the owner wrote to a customer");
  assert.deepEqual(modelCalls().map(lastUserText), ["sentinel after the owner wrote to a customer"]);
});

test("selfChat: false — the self chat is ignored", async (t) => {
  const { fake, modelCalls, sentinel } = await linkedGateway(t, { selfChat: false });
  await fake.sendOwnText({ text: "note to self" });
  await sentinel("sentinel with self chat off");
  assert.deepEqual(modelCalls().map(lastUserText), ["sentinel with self chat off"]);
  assert.equal(fake.phoneCopies.filter((message) => message.to === fake.accountJid).length, 0);
});
