/**
 * The Config page when there is no openclaw.json yet: it starts from a small valid starter (not a
 * bare {}), and "Insert example" adds a section where it is missing without overwriting anything.
 * Real gateway, Debian's Chromium.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test, type TestContext } from "node:test";
import type { Browser } from "playwright-core";
import { launchBrowser, screenshot, VIEWPORTS } from "../helpers/browser.ts";
import { startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "config-examples-token-0123456789ab";

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(() => browser?.close());

test("Config without a file starts from a starter; Insert example adds Telegram once and saving writes it", async (t: TestContext) => {
  const stateDir = await tempStateDir(t);
  const gateway = await startGateway(t, stateDir, { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN } });
  const context = await browser.newContext({ viewport: VIEWPORTS.desktop });
  t.after(() => context.close());
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(message.text());
  });

  await page.goto(gateway.url);
  await page.getByLabel("Gateway token").fill(TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  // A gateway without a working model opens on Setup the first time; go on from Overview.
  await page.getByRole("heading", { level: 1, name: /^(Overview|Setup)$/ }).waitFor();
  await page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: /^Overview/ }).click();
  await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
  await page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: /^Config/ }).click();
  await page.locator("#config-editor:not([readonly])").waitFor();
  const editor = page.locator("#config-editor");
  assert.deepEqual(JSON.parse(await editor.inputValue()), { agents: { list: [{ id: "main", default: true }] } });
  await page.getByText("Below is a starter").waitFor();

  const examples = page.getByRole("group", { name: "Insert example" });
  await examples.getByRole("button", { name: "Telegram" }).click();
  await page.getByRole("status").filter({ hasText: "Added channels.telegram" }).waitFor();
  const withTelegram = JSON.parse(await editor.inputValue());
  assert.deepEqual(withTelegram.channels, { telegram: { enabled: true, dmPolicy: "pairing" } });
  assert.deepEqual(withTelegram.agents, { list: [{ id: "main", default: true }] }, "the starter is kept");
  const selected = await editor.evaluate((element: any) => element.value.slice(element.selectionStart, element.selectionEnd) as string);
  assert.match(selected, /"telegram"/, "the inserted section is selected");

  await examples.getByRole("button", { name: "Telegram" }).click();
  await page.getByRole("alert").filter({ hasText: "channels.telegram is already set; edit it in place" }).waitFor();

  await examples.getByRole("button", { name: "Local model (Ollama)" }).click();
  assert.equal(JSON.parse(await editor.inputValue()).agents.defaults.model, "local/*");
  // From the top: a full-page capture of a scrolled page paints the sticky top bar mid-page.
  await page.evaluate(() => (globalThis as any).scrollTo(0, 0));
  await screenshot(page, "dashboard-config-examples-desktop");
  await page.setViewportSize(VIEWPORTS.phone);
  await page.evaluate(() => (globalThis as any).scrollTo(0, 0));
  await screenshot(page, "dashboard-config-examples-phone");
  const overflow = await page.evaluate(() => {
    const root = (globalThis as any).document.documentElement;
    return (root.scrollWidth - root.clientWidth) as number;
  });
  assert.ok(overflow <= 1, `scrolls sideways on a phone by ${overflow}px`);
  await page.setViewportSize(VIEWPORTS.desktop);

  await page.getByRole("button", { name: "Check and save" }).click();
  await page.getByRole("status").filter({ hasText: "Saved and applied." }).waitFor();
  const written = JSON.parse(await readFile(join(stateDir, "openclaw.json"), "utf8"));
  assert.deepEqual(written.channels.telegram, { enabled: true, dmPolicy: "pairing" });
  assert.deepEqual(written.models.providers.local, { baseUrl: "http://127.0.0.1:11434/v1" });
  assert.deepEqual(problems, [], "no console errors, no CSP violations");
});
