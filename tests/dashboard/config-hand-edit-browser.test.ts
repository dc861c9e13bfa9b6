/**
 * Hand edits of openclaw.json as the dashboard shows them: a save from the Config page over a
 * file edited since it was opened is refused and shows both; an invalid hand edit puts a banner
 * on every page. Real browser, real gateway.
 */
import assert from "node:assert/strict";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Browser } from "playwright-core";
import { eventually } from "../helpers/agent-harness.ts";
import { launchBrowser, screenshot, VIEWPORTS } from "../helpers/browser.ts";
import { api, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "hand-edit-test-token-0123456789abcdef";
const ORIGINAL = { agents: { list: [{ id: "main", default: true }] }, session: { dmScope: "per-peer" } };

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(() => browser?.close());

async function editorSave(file: string, content: unknown) {
  await writeFile(`${file}.swp-save`, typeof content === "string" ? content : JSON.stringify(content, null, 2));
  await rename(`${file}.swp-save`, file);
}

test("Config refuses a save over a file edited by hand since it was opened, showing both; an invalid hand edit shows a banner on every page", async (t) => {
  const stateDir = await tempStateDir(t);
  await mkdir(stateDir, { recursive: true });
  const file = join(stateDir, "openclaw.json");
  await writeFile(file, JSON.stringify(ORIGINAL, null, 2));
  const gateway = await startGateway(t, stateDir, { allowUnconfigured: false, env: { OPENCLAW_GATEWAY_TOKEN: TOKEN } });
  const context = await browser.newContext({ viewport: VIEWPORTS.desktop });
  t.after(() => context.close());
  const page = await context.newPage();
  await page.goto(`${gateway.url}/#config`);
  await page.getByLabel("Gateway token").fill(TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { level: 1, name: "Config" }).waitFor();
  const editor = page.locator("#config-editor");
  await eventually(async () => (await editor.inputValue()).includes("per-peer"), 10_000, "the editor shows the file");

  await editorSave(file, { ...ORIGINAL, session: { dmScope: "main" } });
  await eventually(async () => (await api(gateway.url, "/api/config", { token: TOKEN })).json.config.session.dmScope === "main", 10_000, "the hand edit applied");
  await editor.fill((await editor.inputValue()).replace('"main", "default": true', '"main", "default": true, "name": "Mine"').replace('"default": true\n', '"default": true,\n        "name": "Mine"\n'));
  await page.getByRole("button", { name: "Check and save" }).click();
  await page.getByRole("alert").filter({ hasText: "changed on disk after you opened it" }).waitFor();
  const compare = page.locator(".compare");
  await compare.getByRole("heading", { name: "On disk now" }).waitFor();
  assert.match(await compare.locator("section").first().innerText(), /"dmScope": "main"/);
  assert.match(await compare.locator("section").nth(1).innerText(), /"dmScope": "per-peer"/);
  await screenshot(page, "config-changed-on-disk-desktop");

  await editorSave(file, { ...ORIGINAL, session: { dmScope: "everyone" } });
  await page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: /^Overview/ }).click();
  const banner = page.locator("#config-banner");
  await banner.getByText(/openclaw\.json was edited but has 1 problem\(s\) \(session\.dmScope/).waitFor({ timeout: 15_000 });
  await page.setViewportSize(VIEWPORTS.phone);
  await screenshot(page, "config-hand-edit-banner-phone");
  await page.setViewportSize(VIEWPORTS.desktop);
  await banner.getByRole("link", { name: "Open Config" }).click();
  await page.getByText("This file was edited by hand and is not running").waitFor();
  assert.match(await editor.inputValue(), /"everyone"/, "the editor shows the file as written");
});
