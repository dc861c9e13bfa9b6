/**
 * The Schedule page in a real browser (Debian's Chromium through playwright-core) against the
 * built gateway: jobs with their next run and last result, Run now, Pause/Resume, and the
 * heartbeat checklist saved to agents/main/HEARTBEAT.md.
 */
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Browser } from "playwright-core";
import { launchBrowser, screenshot, VIEWPORTS } from "../helpers/browser.ts";
import { api, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "schedule-browser-test-token-0123456789";

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(() => browser?.close());

test("the Schedule page lists jobs with their next run, runs one now, pauses it, and saves the heartbeat checklist", async (t) => {
  const stateDir = await tempStateDir(t);
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({
    channels: { telegram: { enabled: false, owners: [1001] } },
    cron: { timezone: "UTC", jobs: [{ id: "morning-bookings", schedule: "0 9 * * 1-5", instruction: "List today's bookings.", deliverTo: "owners" }] },
  }));
  const gateway = await startGateway(t, stateDir, { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN } });
  const added = await api(gateway.url, "/api/cron", { token: TOKEN, method: "POST", body: { id: "tea-break", schedule: "30 15 * * *", message: "Tea break!", deliverTo: "owners" } });
  assert.equal(added.status, 201, added.text);

  const context = await browser.newContext({ viewport: VIEWPORTS.desktop });
  t.after(() => context.close());
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(error.message));
  await page.goto(gateway.url);
  await page.getByLabel("Gateway token").fill(TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  // A gateway without a working model opens on Setup the first time; go on from Overview.
  await page.getByRole("heading", { level: 1, name: /^(Overview|Setup)$/ }).waitFor();
  await page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: /^Overview/ }).click();
  await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
  await page.getByRole("link", { name: "Schedule" }).click();
  await page.getByRole("heading", { name: "Schedule", level: 1 }).waitFor();

  const tea = page.locator('tr[data-job="tea-break"]');
  await tea.waitFor();
  assert.match(await tea.innerText(), /30 15 \* \* \*/);
  assert.match(await page.locator('tr[data-job="morning-bookings"]').innerText(), /instruction · config · to the owners[\s\S]*0 9 \* \* 1-5/);
  assert.match(await tea.innerText(), /never run/);

  await page.getByRole("button", { name: "Run tea-break now" }).click();
  await page.getByText("Ran tea-break: done").waitFor();
  await tea.getByText(/queued for telegram:1001/).waitFor();
  const runs = await api(gateway.url, "/api/cron/tea-break", { token: TOKEN });
  assert.equal(runs.json.runs[0].trigger, "manual");

  await page.getByRole("button", { name: "Pause tea-break" }).click();
  await page.getByRole("button", { name: "Resume tea-break" }).waitFor();
  assert.equal((await api(gateway.url, "/api/cron/tea-break", { token: TOKEN })).json.job.paused, true);
  await screenshot(page, "dashboard-schedule-desktop");

  await page.getByLabel(/HEARTBEAT\.md/).fill("- Any booking today still unconfirmed?");
  await page.getByRole("button", { name: "Save checklist" }).click();
  await page.getByText("Heartbeat checklist saved.").waitFor();
  assert.equal(await readFile(join(stateDir, "agents", "main", "HEARTBEAT.md"), "utf8"), "- Any booking today still unconfirmed?");

  await page.setViewportSize(VIEWPORTS.phone);
  await page.waitForTimeout(100);
  await screenshot(page, "dashboard-schedule-phone");
  const overflow = await page.evaluate(() => {
    const root = (globalThis as any).document.documentElement;
    return root.scrollWidth - root.clientWidth as number;
  });
  assert.ok(overflow <= 1, `the Schedule page scrolls sideways on a phone by ${overflow}px`);
  assert.deepEqual(problems, [], "no console errors, no CSP violations");
});
