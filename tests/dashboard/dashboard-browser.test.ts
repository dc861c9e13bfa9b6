/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core, headless) against
 * a real gateway on loopback with a fake model, the Telegram fake and the FavCRM MCP fake.
 * Screenshots of every page, desktop and phone width, land in test-artifacts/screenshots/.
 */
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test, type TestContext } from "node:test";
import type { Browser, Page } from "playwright-core";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { FAVCRM_FAKE_DEFAULT_API_KEY, startFavcrmFake } from "../fakes/favcrm-fake.ts";
import { lastUserText } from "../fakes/model-script.ts";
import { startTelegramFake } from "../fakes/telegram-fake.ts";
import { eventually } from "../helpers/agent-harness.ts";
import { launchBrowser, screenshot, VIEWPORTS } from "../helpers/browser.ts";
import { api, runToExit, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "browser-test-token-0123456789abcdef";
const OWNER = 1001;

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(() => browser?.close());

async function setup(t: TestContext) {
  const model = await startAnthropicFake();
  t.after(() => model.close());
  model.setDefault((request) => ({ text: `You said: ${lastUserText(request)}` }));
  const telegram = await startTelegramFake();
  t.after(() => telegram.close());
  const favcrm = await startFavcrmFake();
  t.after(() => favcrm.close());
  const stateDir = await tempStateDir(t);
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({
    agents: { defaults: { model: "anthropic/claude-test" }, list: [{ id: "main", default: true }] },
    channels: { telegram: { enabled: true, apiRoot: telegram.url, pollingTimeoutSeconds: 1, allowFrom: [OWNER] } },
  }, null, 2));
  const gateway = await startGateway(t, stateDir, {
    allowUnconfigured: false,
    env: {
      OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_API_KEY: "fake-anthropic-key-for-tests", ANTHROPIC_BASE_URL: model.url,
      TELEGRAM_BOT_TOKEN: telegram.token, FAVCRM_MCP_URL: favcrm.url, FAVCRM_API_KEY: FAVCRM_FAKE_DEFAULT_API_KEY,
    },
  });
  const telegramState = async () => (await api(gateway.url, "/api/status", { token: TOKEN })).json.components.find((component: { name: string }) => component.name === "channel:telegram")?.state;
  await eventually(async () => (await telegramState()) === "connected", 15_000, "telegram connected");

  const context = await browser.newContext({ viewport: VIEWPORTS.desktop });
  t.after(() => context.close());
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (message) => {
    // The API's 4xx answers (a wrong token, a config problem) are shown on the page: expected here.
    if (message.type() === "error" && !/the server responded with a status of 4\d\d/.test(message.text())) problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(error.message));
  t.after(() => assert.deepEqual(problems, [], "no console errors, no CSP violations"));
  return { model, telegram, favcrm, stateDir, gateway, page };
}

async function signIn(page: Page, url: string) {
  await page.goto(url);
  await page.getByLabel("Gateway token").fill(TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  // A gateway without a model opens on Setup (first run); one with a model on Overview.
  await page.getByRole("heading", { level: 1, name: /^(Overview|Setup)$/ }).waitFor();
}

/** Desktop and phone screenshots of what is on screen now. */
async function shoot(page: Page, name: string) {
  // From the top: a full-page capture of a scrolled page paints the sticky top bar mid-page.
  await page.evaluate(() => (globalThis as any).scrollTo(0, 0));
  await screenshot(page, `dashboard-${name}-desktop`);
  await page.setViewportSize(VIEWPORTS.phone);
  await page.waitForTimeout(100);
  await page.evaluate(() => (globalThis as any).scrollTo(0, 0));
  await screenshot(page, `dashboard-${name}-phone`);
  const overflow = await page.evaluate(() => {
    const root = (globalThis as any).document.documentElement;
    return root.scrollWidth - root.clientWidth as number;
  });
  assert.ok(overflow <= 1, `${name} scrolls sideways on a phone by ${overflow}px`);
  await page.setViewportSize(VIEWPORTS.desktop);
}

// Inside page.evaluate the DOM is reached through globalThis: the tests compile without the DOM library.
/** Every input, textarea and select has a label a screen reader announces. */
async function assertLabelled(page: Page, where: string) {
  const unlabelled = await page.evaluate(() => [...(globalThis as any).document.querySelectorAll("input, textarea, select")]
    .filter((element: any) => element.labels?.length === 0 && !element.getAttribute("aria-label"))
    .map((element: any) => element.outerHTML as string));
  assert.deepEqual(unlabelled, [], `unlabelled fields on ${where}`);
}

async function go(page: Page, route: string, heading: string) {
  await page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: new RegExp(`^${heading}`) }).click();
  await page.getByRole("heading", { level: 1, name: heading }).waitFor();
}

test("sign in with the token; every page renders, labelled, on desktop and phone widths", async (t) => {
  const { gateway, page } = await setup(t);
  await page.goto(gateway.url);
  await page.getByLabel("Gateway token").waitFor();
  await assertLabelled(page, "sign-in");
  await shoot(page, "sign-in");
  await page.getByLabel("Gateway token").fill("wrong-token");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").filter({ hasText: "not the gateway token" }).waitFor();
  await page.getByLabel("Gateway token").fill(TOKEN);
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  await page.getByText("anthropic/claude-test").first().waitFor();
  const html = await page.content();
  assert.ok(!html.includes(TOKEN), "the token is not in the page after signing in");
  await shoot(page, "overview");

  for (const [route, heading] of [["setup", "Setup"], ["channels", "Channels"], ["people", "People"], ["approvals", "Approvals"], ["chat", "Chat"], ["sessions", "Sessions"], ["tools", "Tools"], ["config", "Config"]] as const) {
    await go(page, route, heading);
    if (route === "tools") await page.getByText("list_services").first().waitFor({ timeout: 15_000 });
    if (route === "config") await page.locator("#config-editor").waitFor();
    await assertLabelled(page, route);
    await shoot(page, route);
  }

  // Keyboard only: the skip link comes first, the nav is reachable, and a reload keeps the session.
  await page.reload();
  await page.getByRole("heading", { level: 1, name: "Config" }).waitFor();
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => (globalThis as any).document.activeElement?.textContent), "Skip to content");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => (globalThis as any).document.activeElement?.textContent?.trim()), "Overview");
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();

  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("Gateway token").waitFor();
  const status = await page.evaluate(async () => (await fetch("/api/status")).status);
  assert.equal(status, 401, "signed out means signed out");
});

test("the one-time link signs in and leaves no code in the address bar", async (t) => {
  const { gateway, stateDir, page } = await setup(t);
  const linked = await runToExit(t, ["token", "--link", "--state-dir", stateDir], { OPENCLAW_GATEWAY_TOKEN: TOKEN });
  const link = linked.stdout.trim();
  assert.match(link, /#code=/);
  await page.goto(link);
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  assert.equal(new URL(page.url()).hash, "");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("Gateway token").waitFor();
  await page.goto(link);
  await page.getByRole("alert").filter({ hasText: "used up or expired" }).waitFor();
  await page.goto(`${gateway.url}/#token=${TOKEN}`);
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  assert.ok(!page.url().includes(TOKEN), "the launcher's #token= is wiped from the address bar");
});

test("Channels shows each channel's state and reason as the gateway reports it", async (t) => {
  const { gateway, page } = await setup(t);
  await signIn(page, gateway.url);
  await go(page, "channels", "Channels");
  const telegram = page.locator('[data-channel="telegram"]');
  await telegram.getByText("connected", { exact: true }).waitFor();
  const reported = (await api(gateway.url, "/api/channels", { token: TOKEN })).json.channels as Array<{ name: string; state: string; reason: string }>;
  for (const channel of reported) {
    const card = page.locator(`[data-channel="${channel.name}"]`);
    await card.getByText(channel.state.replace(/_/g, " "), { exact: true }).waitFor();
    if (channel.reason) await card.getByText(channel.reason, { exact: true }).waitFor();
  }
  await page.locator('[data-channel="whatsapp"]').waitFor();
  await page.locator('[data-channel="discord"]').waitFor();
  assert.equal(await page.getByLabel("Telegram bot token").getAttribute("type"), "password");
  await shoot(page, "channels-connected");
});

test("approving a pairing request on People admits the person, and Telegram tells them", async (t) => {
  const { gateway, telegram, page } = await setup(t);
  await signIn(page, gateway.url);
  telegram.pushMessage({ chatId: 2002, fromId: 2002, text: "hello?", firstName: "Ada" });
  await eventually(() => telegram.sent(2002).length === 1, 10_000, "the pairing reply");
  const code = /[A-HJ-NP-Z2-9]{8}/.exec(telegram.sent(2002)[0]!.text)![0];
  await go(page, "people", "People");
  const request = page.locator(`[data-pairing="${code}"]`);
  await request.waitFor();
  await page.locator('[data-count="people"]').getByText("1").waitFor();
  await shoot(page, "people-pending");
  await request.getByRole("button", { name: /^Approve/ }).click();
  await page.getByRole("status").filter({ hasText: "can now talk to the assistant" }).waitFor();
  await page.locator('[data-allowed="2002"]').waitFor();
  assert.equal(await page.locator(`[data-pairing="${code}"]`).count(), 0);
  await eventually(() => telegram.sent(2002).some((message) => /approved/i.test(message.text)), 10_000, "the approval message");
  await shoot(page, "people-approved");
  telegram.pushMessage({ chatId: 2002, fromId: 2002, text: "now?" });
  await eventually(() => telegram.sent(2002).some((message) => message.text === "You said: now?"), 10_000, "an answer to the admitted person");
});

test("People makes an admitted person an owner and removes them again", async (t) => {
  const { gateway, telegram, page } = await setup(t);
  await signIn(page, gateway.url);
  telegram.pushMessage({ chatId: 2003, fromId: 2003, text: "hello?", firstName: "Olive" });
  await eventually(() => telegram.sent(2003).length === 1, 10_000, "the pairing reply");
  const code = /[A-HJ-NP-Z2-9]{8}/.exec(telegram.sent(2003)[0]!.text)![0];
  await go(page, "people", "People");
  await page.locator(`[data-pairing="${code}"]`).getByRole("button", { name: /as an owner$/ }).click();
  await page.getByRole("status").filter({ hasText: "as an owner" }).waitFor();
  const owner = page.locator('[data-owner="telegram:2003"]');
  await owner.getByText("set here").waitFor();
  assert.deepEqual((await api(gateway.url, "/api/pairing", { token: TOKEN })).json.owners.map((entry: { sender: string }) => entry.sender), ["2003"]);
  await shoot(page, "people-owner");
  await owner.getByRole("button", { name: /^Remove 2003 as owner/ }).click();
  await page.locator('[data-owner="telegram:2003"]').waitFor({ state: "detached" });
  await page.locator('[data-allowed="2003"]').getByRole("button", { name: /^Make Olive/ }).waitFor();
  assert.deepEqual((await api(gateway.url, "/api/pairing", { token: TOKEN })).json.owners, []);
});

test("approving a pending tool call on Approvals runs the tool, and only then", async (t) => {
  const { gateway, model, favcrm, page } = await setup(t);
  await signIn(page, gateway.url);
  model.enqueue(
    { toolCalls: [{ name: "favcrm__void_invoice", arguments: { invoiceId: "inv_1001", reason: "duplicate" } }] },
    () => ({ text: "Invoice voided." }),
  );
  const turn = fetch(`${gateway.url}/api/chat`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify({ text: "void invoice inv_1001" }),
  }).then((response) => response.text());
  await go(page, "approvals", "Approvals");
  const pending = page.locator("[data-approval]");
  await pending.waitFor({ timeout: 15_000 });
  await pending.getByText("favcrm__void_invoice").waitFor();
  await pending.getByText('"invoiceId": "inv_1001"').waitFor();
  await shoot(page, "approvals-pending");
  assert.equal(favcrm.calls.filter((call) => call.tool === "void_invoice").length, 0, "nothing reaches the server before the yes");
  await pending.getByRole("button", { name: "Approve favcrm__void_invoice" }).click();
  await page.getByRole("status").filter({ hasText: "runs now" }).waitFor();
  await eventually(() => favcrm.calls.filter((call) => call.tool === "void_invoice").length === 1, 10_000, "the tool call reached FavCRM");
  assert.match(await turn, /event: done/);
  const row = page.locator("#tool-calls tr", { hasText: "void_invoice" });
  await row.getByText("api", { exact: true }).waitFor({ timeout: 10_000 });
  await row.getByText(/^ok/).waitFor();
  await shoot(page, "approvals-done");
});

test("Chat streams the reply as it arrives", async (t) => {
  const { gateway, model, page } = await setup(t);
  await signIn(page, gateway.url);
  model.enqueue({ text: "Streaming arrives in three parts, one after another.", chunkDelayMs: 700 });
  await go(page, "chat", "Chat");
  await page.getByLabel("Message").fill("tell me something");
  await page.keyboard.press("Enter");
  const reply = page.locator(".bubble.assistant").last();
  await reply.getByText("Streaming", { exact: false }).waitFor();
  assert.equal(await reply.evaluate((element) => element.classList.contains("pending")), true, "part of the reply is shown while the rest is still coming");
  const partial = await reply.textContent();
  assert.ok(partial && partial.length < "Streaming arrives in three parts, one after another.".length, partial ?? "");
  await page.locator(".bubble.assistant:not(.pending)", { hasText: "one after another." }).waitFor();
  await page.getByText(/^Session [0-9a-f]{8}/).waitFor();
  model.enqueue({ text: "Second answer." });
  await page.getByLabel("Message").fill("and again");
  await page.getByRole("button", { name: "Send" }).click();
  await page.locator(".bubble.assistant", { hasText: "Second answer." }).waitFor();
  const sessions = (await api(gateway.url, "/api/sessions", { token: TOKEN })).json.sessions.filter((session: { channel: string }) => session.channel === "web");
  assert.equal(sessions.length, 1, "the second message continued the same session");
  await shoot(page, "chat-conversation");
  await go(page, "sessions", "Sessions");
  await page.getByRole("link", { name: sessions[0].id.slice(0, 8) }).click();
  await page.getByText("Second answer.").waitFor();
  await shoot(page, "session-transcript");
});

test("Chat: a pending approval card comes back after leaving the page, no empty bubble sits above it, and a typed YES approves like the button", async (t) => {
  const { gateway, model, favcrm, page } = await setup(t);
  await signIn(page, gateway.url);
  model.enqueue(
    { toolCalls: [{ name: "favcrm__void_invoice", arguments: { invoiceId: "inv_1001", reason: "duplicate" } }] },
    () => ({ text: "Invoice voided." }),
  );
  await go(page, "chat", "Chat");
  await page.getByLabel("Message").fill("void invoice inv_1001");
  await page.keyboard.press("Enter");
  const card = page.getByRole("group", { name: "Approval for favcrm__void_invoice" });
  await card.waitFor({ timeout: 15_000 });
  assert.equal(await page.locator(".bubble.assistant").count(), 0, "no empty assistant bubble above the card");
  await go(page, "overview", "Overview");
  await go(page, "chat", "Chat");
  await card.waitFor();
  await page.locator(".bubble.user", { hasText: "void invoice inv_1001" }).waitFor();
  await shoot(page, "chat-approval-restored");
  assert.equal(favcrm.calls.filter((call) => call.tool === "void_invoice").length, 0, "nothing ran before the yes");
  await page.getByLabel("Message").fill("YES");
  await page.getByRole("button", { name: "Send" }).click();
  await page.locator(".bubble.assistant", { hasText: "Invoice voided." }).waitFor({ timeout: 10_000 });
  await card.getByText("Answered in the chat.").waitFor();
  assert.equal(favcrm.calls.filter((call) => call.tool === "void_invoice").length, 1);
  // The answer is below the card, not above it.
  const order = await page.evaluate(() => {
    const log = (globalThis as any).document.querySelector(".chat-log");
    return [...log.children].map((element: any) => element.className as string);
  });
  assert.ok(order.indexOf("approval-card") < order.lastIndexOf("bubble assistant"), order.join(","));
  await shoot(page, "chat-approval-answered");

  // The Deny button of a card restored after leaving the page: the answer comes back with the decision.
  model.enqueue(
    { toolCalls: [{ name: "favcrm__void_invoice", arguments: { invoiceId: "inv_1002", reason: "typo" } }] },
    () => ({ text: "Fine, I left invoice inv_1002 alone." }),
  );
  await page.getByLabel("Message").fill("void invoice inv_1002");
  await page.getByRole("button", { name: "Send" }).click();
  await page.getByRole("group", { name: "Approval for favcrm__void_invoice" }).getByText('"invoiceId": "inv_1002"').waitFor({ timeout: 15_000 });
  await go(page, "sessions", "Sessions");
  await go(page, "chat", "Chat");
  const second = page.getByRole("group", { name: "Approval for favcrm__void_invoice" }).filter({ hasText: "inv_1002" });
  await second.getByRole("button", { name: "Deny" }).click();
  await second.getByText("Denied.").waitFor();
  await page.locator(".bubble.assistant", { hasText: "Fine, I left invoice inv_1002 alone." }).waitFor({ timeout: 10_000 });
  assert.equal(favcrm.calls.filter((call) => call.tool === "void_invoice").length, 1, "a no runs nothing");
});

test("Config shows a validation problem at its path and line, and writes nothing", async (t) => {
  const { gateway, stateDir, page } = await setup(t);
  await signIn(page, gateway.url);
  const before = await readFile(join(stateDir, "openclaw.json"), "utf8");
  await go(page, "config", "Config");
  const editor = page.locator("#config-editor");
  // Editable only once the file is shown (it is read-only while /api/config loads).
  await page.locator("#config-editor:not([readonly])").waitFor();
  const text = await editor.inputValue();
  assert.match(text, /"pollingTimeoutSeconds": 1/);
  const broken = text.replace('"pollingTimeoutSeconds": 1', '"pollingTimeoutSeconds": 1,\n      "dmPolicy": "sometimes"');
  assert.notEqual(broken, text);
  await editor.fill(broken);
  await page.getByRole("button", { name: "Check and save" }).click();
  const problem = page.locator('button.problem[data-path="channels.telegram.dmPolicy"]');
  await problem.waitFor();
  const expectedLine = broken.split("\n").findIndex((line) => line.includes('"dmPolicy"')) + 1;
  await problem.getByText(`line ${expectedLine}`).waitFor();
  await page.locator(".gutter .bad-line", { hasText: String(expectedLine) }).waitFor();
  await page.getByRole("alert").filter({ hasText: "nothing was written" }).waitFor();
  await problem.click();
  const selected = await editor.evaluate((element: any) => element.value.slice(element.selectionStart, element.selectionEnd));
  assert.match(selected, /"dmPolicy": "sometimes"/, "clicking the problem selects its line");
  await shoot(page, "config-problem");
  assert.equal(await readFile(join(stateDir, "openclaw.json"), "utf8"), before, "nothing written on a problem");

  await editor.fill(broken.replace('"sometimes"', '"sometimes",'));
  await page.getByRole("button", { name: "Check and save" }).click();
  await page.getByRole("heading", { name: "This is not valid JSON" }).waitFor();
  await page.locator(".gutter .bad-line").first().waitFor();

  await editor.fill(broken.replace('"sometimes"', '"open"'));
  await page.getByRole("button", { name: "Check and save" }).click();
  await page.getByRole("status").filter({ hasText: "Saved and applied." }).waitFor();
  assert.equal(JSON.parse(await readFile(join(stateDir, "openclaw.json"), "utf8")).channels.telegram.dmPolicy, "open");
});

test("WhatsApp: Start linking shows the live QR; once the phone scans it the card says linked, and Unlink unlinks", async (t) => {
  const { startWhatsAppFake } = await import("../fakes/whatsapp-fake.ts");
  const fake = await startWhatsAppFake();
  t.after(() => fake.close());
  const stateDir = await tempStateDir(t);
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({
    agents: { list: [{ id: "main", default: true }] },
    channels: { whatsapp: { enabled: true, webSocketUrl: fake.url } },
  }));
  // The child trusts the fake's certificate root, as tests/channels/whatsapp-channel.test.ts does.
  const trust = join(import.meta.dirname, "..", "fakes", "whatsapp-trust.ts");
  const gateway = await startGateway(t, stateDir, { allowUnconfigured: false, env: { OPENCLAW_GATEWAY_TOKEN: TOKEN, NODE_OPTIONS: `--import ${trust}` } });
  const context = await browser.newContext({ viewport: VIEWPORTS.desktop });
  t.after(() => context.close());
  const page = await context.newPage();
  await signIn(page, gateway.url);
  await go(page, "channels", "Channels");
  const card = page.locator('[data-channel="whatsapp"]');
  await card.getByText("Not linked to a phone.").waitFor();
  assert.equal(await card.getByRole("button", { name: "Unlink" }).isVisible(), false, "nothing to unlink yet");
  await card.getByRole("button", { name: "Start linking" }).click();
  const qr = card.getByRole("img", { name: "WhatsApp link QR code" });
  await qr.waitFor({ timeout: 20_000 });
  assert.match((await qr.getAttribute("src")) ?? "", /^data:image\/png;base64,/);
  await shoot(page, "channels-whatsapp-qr");
  const status = (await api(gateway.url, "/api/channels/whatsapp/login", { token: TOKEN })).json;
  await fake.scanQr(status.qr);
  await card.getByText(/^WhatsApp is linked/).waitFor({ timeout: 20_000 });
  await card.getByText(/^Linked as /).waitFor({ timeout: 20_000 });
  await shoot(page, "channels-whatsapp-linked");
  page.once("dialog", (dialog) => void dialog.accept());
  await card.getByRole("button", { name: "Unlink" }).click();
  await card.getByText("WhatsApp unlinked.").waitFor();
  await card.getByText("Not linked to a phone.").waitFor({ timeout: 10_000 });
});
