import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { FLY_NO_CAPACITY_ERROR } from "../fakes/fake-flyctl.ts";
import { launchBrowser, screenshot, VIEWPORTS } from "../helpers/browser.ts";
import { LAUNCH_FORM, SECRETS, startLauncher, type LauncherUnderTest } from "./launcher-harness.ts";

const STEP_COUNT = 9;
const UPDATE_STEP_COUNT = 10;

/** Open the launcher: with the printed link (it signs in, once), or with the cookies of a signed-in browser. */
async function openPage(browser: Browser, launcher: LauncherUnderTest, viewport: { width: number; height: number }, cookies?: Awaited<ReturnType<BrowserContext["cookies"]>>) {
  const context = await browser.newContext({ viewport });
  if (cookies) await context.addCookies(cookies);
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(error.message));
  await page.goto(cookies ? `${launcher.base}/` : launcher.signInUrl);
  await page.locator("#launch-form").waitFor();
  return { context, page, problems };
}

async function fillForm(page: Page, app: string) {
  await page.getByLabel("App name", { exact: true }).fill(app);
  await page.getByLabel("Region").selectOption("ams");
  await page.getByLabel("Memory").selectOption("512");
  await page.getByLabel("Anthropic API key").fill(SECRETS.modelKey);
  await page.getByLabel("Telegram bot token").fill(SECRETS.telegramToken);
  await page.getByLabel("Discord bot token").fill(SECRETS.discordToken);
  await page.getByLabel(/WhatsApp/).check();
  await page.getByLabel("FavCRM API key").fill(SECRETS.favcrmKey);
}

test("in a real browser: fill the form, watch a failed step and then every step turn ✓, open the dashboard signed in", async (t) => {
  const launcher = await startLauncher(t);
  const browser = await launchBrowser();
  t.after(() => browser.close());

  // Desktop.
  const { context, page, problems } = await openPage(browser, launcher, VIEWPORTS.desktop);
  assert.equal(new URL(page.url()).hash, "", "the sign-in token is dropped from the address bar");
  // Every input and select has a label; the key fields are password fields.
  const unlabelled = await page.$$eval("input, select", (fields: any[]) => fields.filter((field) => !field.id || !(globalThis as any).document.querySelector(`label[for="${field.id}"]`)).map((field) => field.outerHTML));
  assert.deepEqual(unlabelled, []);
  for (const id of ["model-key", "telegram-token", "discord-token", "favcrm-key"]) assert.equal(await page.getAttribute(`#${id}`, "type"), "password", id);
  await screenshot(page, "launcher-empty-desktop");
  // Keyboard: Tab walks through every field to the Launch button.
  await page.locator("#app-name").focus();
  const reached: string[] = [];
  for (let i = 0; i < 12; i++) {
    reached.push(await page.evaluate(() => (globalThis as any).document.activeElement?.id ?? ""));
    await page.keyboard.press("Tab");
  }
  for (const id of ["app-name", "region", "memory", "org", "provider-anthropic", "model-key", "telegram-token", "discord-token", "whatsapp", "favcrm-key", "launch-button"]) {
    assert.ok(reached.includes(id), `Tab reaches #${id} (reached: ${reached.join(", ")})`);
  }

  await fillForm(page, LAUNCH_FORM.app);
  launcher.fly.failNext("volumes create", { stderr: FLY_NO_CAPACITY_ERROR });
  await page.getByRole("button", { name: "Launch" }).click();
  const failedStep = page.locator('.step[data-step="volume"].failed');
  await failedStep.waitFor();
  assert.match(await failedStep.locator(".error").innerText(), /^FLY_NO_CAPACITY: Fly has no capacity in region ams right now\. Try a nearby region with --region/);
  assert.equal(await page.locator(".step.ok").count(), 2, "preflight and app passed");
  await page.locator("#outcome.failed").waitFor();
  assert.match(await page.locator("#outcome").innerText(), /FLY_NO_CAPACITY at the volume step/);
  await screenshot(page, "launcher-failed-desktop");

  // Launch again (the form kept its values): it resumes, every step turns ✓.
  await page.getByRole("button", { name: "Launch" }).click();
  await page.locator("#outcome.ok").waitFor({ timeout: 60_000 });
  assert.equal(await page.locator(".step.ok").count(), STEP_COUNT);
  assert.equal(await page.locator(".step.failed").count(), 0);
  for (const time of await page.locator(".step .time").allInnerTexts()) assert.match(time, /^\d+\.\d s$/);
  assert.equal(await page.locator("#outcome-url").getAttribute("href"), launcher.instance.url);
  assert.equal(await page.locator("#model-key").inputValue(), "", "the key fields are cleared after a launch");
  await page.locator(`.instance[data-app="${LAUNCH_FORM.app}"] [data-health="healthy"]`).waitFor();
  await screenshot(page, "launcher-launched-desktop");

  // Open the dashboard: a new tab on the instance with the gateway token in the fragment.
  const record = JSON.parse(await readFile(join(launcher.home, ".faraday", "deploys", `${LAUNCH_FORM.app}.json`), "utf8"));
  const [dashboard] = await Promise.all([context.waitForEvent("page"), page.locator("#outcome").getByRole("button", { name: "Open the dashboard" }).click()]);
  await dashboard.waitForLoadState();
  assert.equal(dashboard.url(), `${launcher.instance.url}/#token=${encodeURIComponent(record.gatewayToken)}`);
  assert.equal(await dashboard.locator("h1").innerText(), "Instance dashboard");
  const dashboardRequest = launcher.instance.requests.filter((request) => request.path === "/").at(-1)!;
  assert.ok(!JSON.stringify(dashboardRequest).includes(record.gatewayToken), "the token stays in the fragment, never sent to the server");
  await dashboard.close();

  // Logs: the machine's recent lines, in the card.
  launcher.fly.appendLogs(LAUNCH_FORM.app, ["gateway: whatsapp linked"]);
  const card = page.locator(`.instance[data-app="${LAUNCH_FORM.app}"]`);
  await card.locator('[data-action="logs"]').click();
  await card.locator(".logs").waitFor();
  assert.match(await card.locator(".logs").innerText(), /gateway: whatsapp linked/);

  // An older version answers: the card says so; Update all shows the update's live steps.
  launcher.instance.oldVersionUntilNextDeploy(launcher.fly, "0.0.1");
  await page.getByRole("button", { name: "Refresh" }).click();
  await card.locator('[data-update="available"]').waitFor();
  await screenshot(page, "launcher-update-available-desktop");
  await page.getByRole("button", { name: "Update all" }).click();
  // The launch's outcome is still on screen until the update's first event: wait for the update's own.
  await page.locator("#progress-title", { hasText: /^Updated 1 instance$/ }).waitFor({ timeout: 60_000 });
  await page.locator("#outcome.ok").waitFor();
  assert.equal(await page.locator(".step.ok").count(), UPDATE_STEP_COUNT, (await page.locator(".step").evaluateAll((rows: any[]) => rows.map((row) => `${row.dataset.step}:${row.className}:${row.textContent}`))).join("\n"));
  assert.match(await page.locator("#progress-title").innerText(), /^Updated 1 instance$/);
  await page.getByRole("button", { name: "Refresh" }).click();
  await card.locator('[data-update="available"]').waitFor({ state: "detached" });

  // Destroy asks for the typed name.
  await page.locator(`.instance[data-app="${LAUNCH_FORM.app}"] [data-action="destroy"]`).click();
  const dialog = page.locator("#destroy-dialog");
  await dialog.waitFor();
  await page.getByLabel("Type the app name to confirm").fill("faraday-launch");
  assert.equal(await page.locator("#destroy-go").isDisabled(), true);
  await page.getByLabel("Type the app name to confirm").fill(LAUNCH_FORM.app);
  await screenshot(page, "launcher-destroy-desktop");
  await page.locator("#destroy-go").click();
  await page.locator("#instances-empty").waitFor();
  assert.equal(launcher.fly.invocationsOf("apps destroy").length, 1);
  assert.deepEqual(problems, [], "no script errors and no CSP violations");
  const cookies = await context.cookies();
  await context.close();

  // The printed link was used up by the first sign-in: another browser gets the signed-out notice.
  const second = await browser.newContext();
  const reused = await second.newPage();
  await reused.goto(launcher.signInUrl);
  await reused.locator("#signed-out").waitFor();
  assert.match(await reused.locator("#signed-out").innerText(), /already used/);
  await second.close();

  // Phone width: the same flow fits and works.
  const phone = await openPage(browser, launcher, VIEWPORTS.phone, cookies);
  await screenshot(phone.page, "launcher-empty-phone");
  await fillForm(phone.page, "faraday-phone-test");
  await phone.page.getByRole("button", { name: "Launch" }).click();
  await phone.page.locator("#outcome.ok").waitFor({ timeout: 60_000 });
  assert.equal(await phone.page.locator(".step.ok").count(), STEP_COUNT);
  await phone.page.locator('.instance[data-app="faraday-phone-test"] [data-health="healthy"]').waitFor();
  const overflow = await phone.page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth - (globalThis as any).document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `no sideways scrolling on a phone (${overflow}px too wide)`);
  await screenshot(phone.page, "launcher-launched-phone");
  assert.deepEqual(phone.problems, []);

  // Nothing secret in what the page was sent (the launcher's log and the fake's argv are checked in the HTTP tests).
  for (const value of Object.values(SECRETS)) assert.ok(!launcher.process.stdout().includes(value));
});
