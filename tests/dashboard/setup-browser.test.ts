/**
 * First run in a real browser: a fresh gateway (no model, no channel) opens the dashboard on
 * Setup; a model key is checked against the Anthropic fake (a wrong one shows the provider's own
 * error), a Telegram token against the Telegram fake (grammY getMe), then the first hello.
 * Desktop and phone screenshots land in test-artifacts/screenshots/.
 */
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { lastUserText } from "../fakes/model-script.ts";
import { startTelegramFake, TELEGRAM_FAKE_DEFAULT_TOKEN } from "../fakes/telegram-fake.ts";
import { eventually } from "../helpers/agent-harness.ts";
import { launchBrowser, screenshot, VIEWPORTS } from "../helpers/browser.ts";
import { api, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "setup-test-token-0123456789abcdef";
const MODEL_KEY = "sk-ant-setup-test-key-0123456789";

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(() => browser?.close());

async function shoot(page: Page, name: string) {
  await page.evaluate(() => (globalThis as any).scrollTo(0, 0));
  await screenshot(page, `setup-${name}-desktop`);
  await page.setViewportSize(VIEWPORTS.phone);
  await page.waitForTimeout(100);
  await page.evaluate(() => (globalThis as any).scrollTo(0, 0));
  await screenshot(page, `setup-${name}-phone`);
  const overflow = await page.evaluate(() => {
    const root = (globalThis as any).document.documentElement;
    return root.scrollWidth - root.clientWidth as number;
  });
  assert.ok(overflow <= 1, `${name} scrolls sideways on a phone by ${overflow}px`);
  await page.setViewportSize(VIEWPORTS.desktop);
}

test("a fresh gateway opens on Setup; the model key and the Telegram token are checked live and kept out of openclaw.json; the first hello is answered", async (t) => {
  const model = await startAnthropicFake({ apiKey: MODEL_KEY });
  t.after(() => model.close());
  model.setDefault((request) => ({ text: `Hello there! (you wrote: ${lastUserText(request).slice(0, 40)})` }));
  const telegram = await startTelegramFake();
  t.after(() => telegram.close());
  const stateDir = await tempStateDir(t);
  await mkdir(stateDir, { recursive: true });
  // Only where the fake Telegram lives: no model, no token, nothing enabled.
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({ channels: { telegram: { apiRoot: telegram.url, pollingTimeoutSeconds: 1 } } }, null, 2));
  const gateway = await startGateway(t, stateDir, { allowUnconfigured: false, env: { OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_BASE_URL: model.url } });

  const context = await browser.newContext({ viewport: VIEWPORTS.desktop });
  t.after(() => context.close());
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error" && !/the server responded with a status of 4\d\d/.test(message.text())) problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(error.message));

  await page.goto(gateway.url);
  await page.getByLabel("Gateway token").fill(TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { level: 1, name: "Setup" }).waitFor();
  await page.getByText("No model works yet").waitFor();
  await shoot(page, "fresh");

  // Skip moves on to the next step and stays on Setup.
  await page.getByRole("button", { name: "Skip for now" }).first().click();
  await eventually(async () => (await page.evaluate(() => (globalThis as any).document.activeElement?.id)) === "setup-step-2", 5_000, "focus on step 2");
  await page.getByRole("heading", { level: 1, name: "Setup" }).waitFor();
  // A wrong key: the provider's own error, nothing stored.
  await page.getByLabel("Model API key").fill("sk-ant-wrong-key-000000000");
  await page.getByRole("button", { name: "Check and save" }).first().click();
  await page.getByRole("alert").filter({ hasText: "invalid x-api-key" }).waitFor();
  assert.equal((await api(gateway.url, "/api/setup", { token: TOKEN })).json.model.ready, false);

  await page.getByLabel("Model API key").fill(MODEL_KEY);
  await page.getByRole("button", { name: "Check and save" }).first().click();
  await page.getByRole("status").filter({ hasText: "anthropic/claude-sonnet-5-5 answered: “Hello there!" }).waitFor();
  const checkCall = model.requests.at(-1)!;
  assert.match(lastUserText(checkCall), /first test call/);
  assert.equal(checkCall.headers["x-api-key"] ?? checkCall.headers.authorization?.replace(/^Bearer /, ""), MODEL_KEY, "the check went to the provider with the key entered");

  await page.getByLabel("Telegram bot token").fill("123456:wrong-token-for-the-fake-aaaaaaaaaa");
  await page.getByRole("button", { name: "Check and connect Telegram" }).click();
  await page.getByRole("alert").filter({ hasText: "Telegram answered 401" }).waitFor();
  await page.getByLabel("Telegram bot token").fill(TELEGRAM_FAKE_DEFAULT_TOKEN);
  await page.getByRole("button", { name: "Check and connect Telegram" }).click();
  await page.getByRole("status").filter({ hasText: /Telegram accepted the token: @\w+/ }).waitFor();
  assert.ok(telegram.calls.some((call) => call.method === "getMe" && call.authorized), "getMe reached the fake with the right token");
  await eventually(async () => (await api(gateway.url, "/api/channels", { token: TOKEN })).json.channels.find((channel: { name: string }) => channel.name === "telegram").state === "connected", 15_000, "telegram connected");

  await page.locator(".setup-step h3", { hasText: "Telegram" }).getByText("connected").waitFor({ timeout: 10_000 });
  await page.getByRole("button", { name: "Say hello" }).click();
  await page.locator(".bubble.assistant", { hasText: "Hello there!" }).waitFor();
  await shoot(page, "done");

  // The key went to the secret store, not to the config file, the API or the log.
  const file = await readFile(join(stateDir, "openclaw.json"), "utf8");
  assert.ok(!file.includes(MODEL_KEY) && !file.includes(TELEGRAM_FAKE_DEFAULT_TOKEN), "no credential in openclaw.json");
  for (const path of ["/api/setup", "/api/status", "/api/config", "/api/channels"]) {
    const answer = await api(gateway.url, path, { token: TOKEN });
    assert.ok(!answer.text.includes(MODEL_KEY) && !answer.text.includes(TELEGRAM_FAKE_DEFAULT_TOKEN), `no credential in ${path}`);
  }
  assert.ok(!gateway.stdout().includes(MODEL_KEY) && !gateway.stdout().includes(TELEGRAM_FAKE_DEFAULT_TOKEN), "no credential in the log");
  const setup = (await api(gateway.url, "/api/setup", { token: TOKEN })).json;
  assert.equal(setup.model.ready, true);
  assert.equal(setup.model.keys.anthropic, "secret-store");
  assert.equal(setup.chat.used, true);

  // The Overview no longer asks for setup, and counts model calls as model calls.
  await page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: /^Overview/ }).click();
  await page.getByText("Model calls today").waitFor();
  assert.equal(await page.getByText("Needs setup — no model").count(), 0);
  assert.deepEqual(problems, [], "no console errors");
});

test("the Overview of a gateway without a model says Needs setup — no model, not Ready", async (t) => {
  const stateDir = await tempStateDir(t);
  const gateway = await startGateway(t, stateDir, { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN } });
  const context = await browser.newContext({ viewport: VIEWPORTS.desktop });
  t.after(() => context.close());
  const page = await context.newPage();
  await page.goto(`${gateway.url}/#overview`);
  await page.getByLabel("Gateway token").fill(TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
  await page.getByText("Needs setup — no model").waitFor();
  assert.equal(await page.locator(".stat-value", { hasText: /^Ready$/ }).count(), 0);
});

test("Setup's WhatsApp step shows the live link QR from the login API, and says linked once the phone scans it", async (t) => {
  const { startWhatsAppFake } = await import("../fakes/whatsapp-fake.ts");
  const fake = await startWhatsAppFake();
  t.after(() => fake.close());
  const stateDir = await tempStateDir(t);
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({ channels: { whatsapp: { webSocketUrl: fake.url } } }));
  // The child trusts the fake's certificate root, as tests/channels/whatsapp-channel.test.ts does.
  const trust = join(import.meta.dirname, "..", "fakes", "whatsapp-trust.ts");
  const gateway = await startGateway(t, stateDir, { allowUnconfigured: false, env: { OPENCLAW_GATEWAY_TOKEN: TOKEN, NODE_OPTIONS: `--import ${trust}` } });
  const context = await browser.newContext({ viewport: VIEWPORTS.desktop });
  t.after(() => context.close());
  const page = await context.newPage();
  await page.goto(`${gateway.url}/#setup`);
  await page.getByLabel("Gateway token").fill(TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { level: 1, name: "Setup" }).waitFor();
  await page.getByRole("button", { name: "Show the WhatsApp QR code" }).click();
  const qr = page.getByRole("img", { name: "WhatsApp link QR code" });
  await qr.waitFor({ timeout: 20_000 });
  assert.match((await qr.getAttribute("src")) ?? "", /^data:image\/png;base64,/);
  await screenshot(page, "setup-whatsapp-qr-desktop");
  const status = (await api(gateway.url, "/api/channels/whatsapp/login", { token: TOKEN })).json;
  await fake.scanQr(status.qr);
  await page.getByText(/^WhatsApp is linked/).waitFor({ timeout: 20_000 });
});
