/**
 * Operations in the dashboard, in a real browser (Debian's Chromium through playwright-core)
 * against the built gateway: "Download backup" on Overview (with and without secrets) and the
 * Logs page (level filter, follow). Screenshots land in test-artifacts/screenshots/.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test, type TestContext } from "node:test";
import type { Browser, Page } from "playwright-core";
import { launchBrowser, screenshot, VIEWPORTS } from "../helpers/browser.ts";
import { api, startGateway, tempStateDir } from "../helpers/gateway-process.ts";
import { readArchive } from "../backup/backup-helpers.ts";

const TOKEN = "ops-browser-test-token-0123456789abcdef";

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(() => browser?.close());

async function setup(t: TestContext) {
  const stateDir = await tempStateDir(t);
  const gateway = await startGateway(t, stateDir, { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN } });
  const context = await browser.newContext({ viewport: VIEWPORTS.desktop, acceptDownloads: true });
  t.after(() => context.close());
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(error.message));
  t.after(() => assert.deepEqual(problems, [], "no console errors, no CSP violations"));
  await page.goto(gateway.url);
  await page.getByLabel("Gateway token").fill(TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  // A gateway without a working model opens on Setup the first time; go on from Overview.
  await page.getByRole("heading", { level: 1, name: /^(Overview|Setup)$/ }).waitFor();
  await page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: /^Overview/ }).click();
  await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
  return { gateway, page, stateDir };
}

async function phoneShot(page: Page, name: string) {
  await page.evaluate(() => (globalThis as any).scrollTo(0, 0));
  await screenshot(page, `dashboard-${name}-desktop`);
  await page.setViewportSize(VIEWPORTS.phone);
  await page.waitForTimeout(100);
  await screenshot(page, `dashboard-${name}-phone`);
  const overflow = await page.evaluate(() => {
    const root = (globalThis as any).document.documentElement;
    return root.scrollWidth - root.clientWidth as number;
  });
  assert.ok(overflow <= 1, `${name} scrolls sideways on a phone by ${overflow}px`);
  await page.setViewportSize(VIEWPORTS.desktop);
}

test("Download backup on Overview saves the gateway's archive; \"Leave secrets out\" downloads one without them", async (t) => {
  const { page } = await setup(t);
  const panel = page.getByRole("region", { name: "Backup" });
  await panel.getByText("This file contains secrets").waitFor();
  await phoneShot(page, "overview-backup");

  const [download] = await Promise.all([page.waitForEvent("download"), panel.getByRole("link", { name: "Download backup" }).click()]);
  assert.match(download.suggestedFilename(), /^faraday-backup-\d{8}-\d{6}\.tar\.gz$/);
  const saved = join(await tempStateDir(t), "..", "full.tar.gz");
  await download.saveAs(saved);
  const files = await readArchive(saved);
  assert.equal(JSON.parse(files.get("manifest.json")!.toString()).withSecrets, true);
  assert.ok(files.has("faraday.sqlite"));

  await panel.getByLabel("Leave secrets out").check();
  await panel.getByText("Without secrets").waitFor();
  const [bare] = await Promise.all([page.waitForEvent("download"), panel.getByRole("link", { name: "Download backup" }).click()]);
  assert.match(bare.suggestedFilename(), /-without-secrets\.tar\.gz$/);
  const bareSaved = join(await tempStateDir(t), "..", "bare.tar.gz");
  await bare.saveAs(bareSaved);
  assert.equal(JSON.parse((await readArchive(bareSaved)).get("manifest.json")!.toString()).withSecrets, false);
});

test("the Logs page lists recent lines, filters by level, and follows new lines as they are logged", async (t) => {
  const { gateway, page } = await setup(t);
  await page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: "Logs" }).click();
  await page.getByRole("heading", { level: 1, name: "Logs" }).waitFor();
  const lines = page.getByRole("list", { name: "Log lines" });
  await lines.getByText("gateway listening").waitFor();
  await page.getByRole("status").filter({ hasText: "Following new lines" }).waitFor();

  // Follow: a line logged now appears without a reload.
  const put = await api(gateway.url, "/api/config", { token: TOKEN, method: "PUT", body: { agents: { list: [{ id: "main", default: true }] } } });
  assert.equal(put.status, 200, put.text);
  await lines.getByText("config replaced through the API").waitFor();
  const html = await page.content();
  assert.ok(!html.includes(TOKEN), "no token on the page");
  await phoneShot(page, "logs");

  // Level filter: warnings and errors only — the info lines go.
  await page.getByLabel("Level").selectOption("warn");
  await page.getByRole("status").filter({ hasText: /No lines at this level yet|Following new lines/ }).waitFor();
  await lines.getByText("gateway listening").waitFor({ state: "detached" });
  assert.equal(await lines.locator(".level-info").count(), 0);

  // Paused: nothing is followed.
  await page.getByLabel("Level").selectOption("");
  await lines.getByText("gateway listening").waitFor();
  await page.getByLabel("Follow").uncheck();
  await page.getByRole("status").filter({ hasText: "Paused" }).waitFor();
});
