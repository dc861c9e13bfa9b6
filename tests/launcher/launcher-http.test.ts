import assert from "node:assert/strict";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { FLY_NO_CAPACITY_ERROR } from "../fakes/fake-flyctl.ts";
import { REPO_ROOT, runToExit } from "../helpers/gateway-process.ts";
import { call, LAUNCH_FORM, readEvents, SECRETS, signIn, startLauncher } from "./launcher-harness.ts";

const STEPS = ["preflight", "app", "volume", "secrets", "fly.toml", "deploy", "health", "version", "config"];

test("the launcher refuses requests without its cookie, for another Host, and cross-origin POSTs", async (t) => {
  const launcher = await startLauncher(t);
  const page = await fetch(`${launcher.base}/`);
  assert.equal(page.status, 200, "the page itself loads without a cookie (it has to, to sign in)");
  const csp = page.headers.get("content-security-policy")!;
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  assert.equal(page.headers.get("x-frame-options"), "DENY");

  const noCookie = await fetch(`${launcher.base}/api/instances`);
  assert.equal(noCookie.status, 401);
  assert.equal(((await noCookie.json()) as { error: { code: string } }).error.code, "AUTH_REQUIRED");
  const forged = await fetch(`${launcher.base}/api/instances`, { headers: { cookie: `faraday_launcher_${launcher.port}=guess` } });
  assert.equal(forged.status, 401);

  const wrongToken = await fetch(`${launcher.base}/api/session`, { method: "POST", headers: { "content-type": "application/json", origin: launcher.base }, body: JSON.stringify({ token: "not-the-token" }) });
  assert.equal(wrongToken.status, 401);
  assert.equal(wrongToken.headers.get("set-cookie"), null);

  const sessionResponse = await fetch(`${launcher.base}/api/session`, { method: "POST", headers: { "content-type": "application/json", origin: launcher.base }, body: JSON.stringify({ token: launcher.token }) });
  const setCookie = sessionResponse.headers.get("set-cookie")!;
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /SameSite=Strict/);
  assert.ok(!setCookie.includes(launcher.token), "the cookie is not the printed token");
  const cookie = setCookie.split(";")[0]!;
  assert.equal((await call(launcher, cookie, "/api/instances")).status, 200);
  // The printed link works once: a copy of it (history, a screen share) buys nothing later.
  const again = await fetch(`${launcher.base}/api/session`, { method: "POST", headers: { "content-type": "application/json", origin: launcher.base }, body: JSON.stringify({ token: launcher.token }) });
  assert.equal(again.status, 401);
  assert.equal(again.headers.get("set-cookie"), null);
  assert.match(((await again.json()) as { error: { message: string } }).error.message, /already used/);

  // DNS rebinding: evil.example resolving to 127.0.0.1 sends its own Host, even with a valid cookie.
  const { request } = await import("node:http");
  const rebound = await new Promise<number>((resolveStatus, reject) => {
    const outgoing = request(`${launcher.base}/api/instances`, { headers: { host: `evil.example:${launcher.port}`, cookie } }, (response) => {
      response.resume();
      resolveStatus(response.statusCode!);
    });
    outgoing.on("error", reject);
    outgoing.end();
  });
  assert.equal(rebound, 421);
  const reboundPage = await new Promise<number>((resolveStatus, reject) => {
    request(`${launcher.base}/`, { headers: { host: "evil.example" } }, (response) => resolveStatus(response.statusCode!)).on("error", reject).end();
  });
  assert.equal(reboundPage, 421, "not even the page is served to another name");

  for (const origin of ["https://evil.example", "null", undefined]) {
    const response = await fetch(`${launcher.base}/api/launch`, {
      method: "POST",
      headers: { cookie, "content-type": "application/json", ...(origin ? { origin } : {}) },
      body: JSON.stringify(LAUNCH_FORM),
    });
    assert.equal(response.status, 403, `Origin ${origin}`);
  }
  const crossSignIn = await fetch(`${launcher.base}/api/session`, { method: "POST", headers: { "content-type": "application/json", origin: "https://evil.example" }, body: JSON.stringify({ token: launcher.token }) });
  assert.equal(crossSignIn.status, 403);
  assert.equal(launcher.fly.invocationsOf("apps create").length, 0, "nothing was launched");
});

test("faraday launcher refuses to listen anywhere but 127.0.0.1", async (t) => {
  const run = await runToExit(t, ["launcher", "--port", "0", "--bind", "0.0.0.0"]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /BIND_INVALID: the launcher listens on 127\.0\.0\.1 only/);
});

test("a launch streams every step of deployFly as server-sent events, lists the instance, and never shows a secret", async (t) => {
  const launcher = await startLauncher(t);
  const cookie = await signIn(launcher);
  const started = await call(launcher, cookie, "/api/launch", LAUNCH_FORM);
  assert.equal(started.status, 202, started.text);
  const { raw, events } = await readEvents(launcher, cookie, started.json.job);
  const finished = events.filter((event) => event.event === "step" && event.data.status !== "started");
  assert.deepEqual(finished.map((event) => event.data.step), STEPS);
  for (const event of finished) {
    assert.ok(["done", "unchanged", "passed"].includes(event.data.status), `${event.data.step}: ${event.data.status}`);
    assert.equal(typeof event.data.ms, "number");
  }
  const result = events.at(-1)!;
  assert.deepEqual(result.data, { event: "result", ok: true, app: LAUNCH_FORM.app, url: launcher.instance.url });

  // What reached Fly: each secret alone on stdin, exactly; the app in the region with the memory asked for.
  const sets = launcher.fly.invocationsOf("secrets set");
  const stored = launcher.fly.state().apps[LAUNCH_FORM.app]!.secrets;
  for (const [name, value] of [["ANTHROPIC_API_KEY", SECRETS.modelKey], ["TELEGRAM_BOT_TOKEN", SECRETS.telegramToken], ["DISCORD_BOT_TOKEN", SECRETS.discordToken], ["FAVCRM_API_KEY", SECRETS.favcrmKey]] as const) {
    assert.equal(sets.find((call) => call.argv[2] === `${name}=-`)?.stdin, value, `${name} went on stdin`);
    assert.equal(stored[name]?.value, value);
  }
  assert.equal(launcher.fly.invocationsOf("secrets import").length, 0);
  // Built from the package's Dockerfile although fly.toml lives in the launcher's app directory.
  assert.equal(launcher.fly.state().deploys.at(-1)!.dockerfile, join(REPO_ROOT, "Dockerfile"));
  const app = launcher.fly.state().apps[LAUNCH_FORM.app]!;
  assert.equal(app.volumes[0]!.region, "ams");
  assert.equal(launcher.fly.state().deploys.at(-1)!.region, "ams");
  const flyToml = await readFile(join(launcher.home, ".faraday", "launcher", "apps", LAUNCH_FORM.app, "fly.toml"), "utf8");
  assert.match(flyToml, /memory = "512mb"/);
  // The config the gateway got: channels on, no secret in it.
  const pushed = launcher.instance.requests.find((request) => request.method === "PUT" && request.path === "/api/config")!;
  const config = JSON.parse(pushed.body);
  assert.deepEqual(Object.keys(config.channels).sort(), ["discord", "telegram", "whatsapp"]);
  const record = JSON.parse(await readFile(join(launcher.home, ".faraday", "deploys", `${LAUNCH_FORM.app}.json`), "utf8"));
  assert.equal(pushed.authorization, `Bearer ${record.gatewayToken}`, "pushed with the generated gateway token");

  // The launcher's own state: the instance, no secrets, 0600.
  const statePath = join(launcher.home, ".faraday", "launcher.json");
  const stateText = await readFile(statePath, "utf8");
  assert.equal((await stat(statePath)).mode & 0o777, 0o600);
  const listed = JSON.parse(stateText).instances;
  assert.equal(listed.length, 1);
  assert.deepEqual({ app: listed[0].app, region: listed[0].region, url: listed[0].url, ok: listed[0].lastRun.ok }, { app: LAUNCH_FORM.app, region: "ams", url: launcher.instance.url, ok: true });
  assert.ok(listed[0].createdAt);

  const instances = await call(launcher, cookie, "/api/instances");
  assert.equal(instances.json.instances[0].health.state, "healthy");
  assert.equal(instances.json.instances[0].version.deployed, instances.json.instances[0].version.local);
  assert.equal(instances.json.instances[0].version.updateAvailable, false);
  launcher.instance.healthy = false;
  assert.deepEqual((await call(launcher, cookie, "/api/instances")).json.instances[0].health, { state: "unhealthy", detail: "HTTP 503" });
  launcher.instance.healthy = true;

  const link = await call(launcher, cookie, `/api/instances/${LAUNCH_FORM.app}/dashboard-link`, {});
  assert.equal(link.json.url, `${launcher.instance.url}/#token=${encodeURIComponent(record.gatewayToken)}`);

  // Launch again with the same form: unchanged on every step, and nothing that changes Fly.
  const before = launcher.fly.invocations().length;
  const rerun = await call(launcher, cookie, "/api/launch", LAUNCH_FORM);
  const rerunEvents = (await readEvents(launcher, cookie, rerun.json.job)).events;
  const rerunStatus = Object.fromEntries(rerunEvents.filter((event) => event.event === "step" && event.data.status !== "started").map((event) => [event.data.step, event.data.status]));
  assert.deepEqual(rerunStatus, { preflight: "passed", app: "unchanged", volume: "unchanged", secrets: "unchanged", "fly.toml": "unchanged", deploy: "unchanged", health: "passed", version: "passed", config: "unchanged" });
  const changing = ["apps create", "volumes create", "volumes snapshots create", "secrets set", "secrets import", "deploy", "machine restart", "machine start", "ssh console"];
  assert.deepEqual(launcher.fly.invocations().slice(before).filter((invocation) => changing.includes(invocation.command ?? "")).map((invocation) => invocation.argv.join(" ")), []);

  // The scan: no secret value (nor the gateway token) in the stream, the list, the state file, argv, or the terminal.
  const everything = [
    ["SSE stream", raw], ["instance list", instances.text], ["launcher.json", stateText],
    ["launcher stdout", launcher.process.stdout()], ["launcher stderr", launcher.process.stderr()],
    ["flyctl argv", launcher.fly.invocations().map((invocation) => invocation.argv.join(" ")).join("\n")],
    ["pushed config", pushed.body],
  ] as const;
  for (const value of [...Object.values(SECRETS), record.gatewayToken as string]) {
    for (const [where, text] of everything) assert.ok(!text.includes(value), `a secret in the ${where}`);
  }
});

test("a failing step shows ✗ with the CLI's code and message; Launch again resumes; Update, Repair and Destroy work", async (t) => {
  const launcher = await startLauncher(t);
  const cookie = await signIn(launcher);
  launcher.fly.failNext("volumes create", { stderr: FLY_NO_CAPACITY_ERROR });
  const first = await call(launcher, cookie, "/api/launch", LAUNCH_FORM);
  const failed = await readEvents(launcher, cookie, first.json.job);
  const failure = failed.events.find((event) => event.data.status === "failed")!;
  assert.equal(failure.data.step, "volume");
  assert.equal(failure.data.error.code, "FLY_NO_CAPACITY");
  assert.match(failure.data.error.message, /^Fly has no capacity in region ams right now\. Try a nearby region with --region \(e\.g\. lhr, fra, cdg\)/);
  assert.deepEqual(failed.events.at(-1)!.data, { event: "result", ok: false, app: LAUNCH_FORM.app, error: failure.data.error });
  const afterFailure = (await call(launcher, cookie, "/api/instances")).json.instances;
  assert.equal(afterFailure.length, 1, "listed once the app existed, so it can be destroyed");
  assert.equal(afterFailure[0].lastRun.error.code, "FLY_NO_CAPACITY");

  const again = await call(launcher, cookie, "/api/launch", LAUNCH_FORM);
  assert.equal(again.status, 202, again.text);
  const resumed = await readEvents(launcher, cookie, again.json.job);
  const status = Object.fromEntries(resumed.events.filter((event) => event.event === "step" && event.data.status !== "started").map((event) => [event.data.step, event.data.status]));
  assert.equal(status.app, "unchanged");
  assert.equal(status.volume, "done");
  assert.equal(resumed.events.at(-1)!.data.ok, true);
  assert.equal(launcher.fly.invocationsOf("apps create").length, 1);

  // Update: `deploy update` — redeploys, same region (no second volume), nothing re-imported.
  const deploysBefore = launcher.fly.invocationsOf("deploy").length;
  const setsBefore = launcher.fly.invocationsOf("secrets set").length;
  const update = await call(launcher, cookie, `/api/instances/${LAUNCH_FORM.app}/update`, {});
  assert.equal(update.status, 202, update.text);
  const updated = await readEvents(launcher, cookie, update.json.job);
  assert.equal(updated.events.at(-1)!.data.ok, true, updated.raw);
  assert.equal(launcher.fly.invocationsOf("deploy").length, deploysBefore + 1);
  assert.equal(launcher.fly.state().apps[LAUNCH_FORM.app]!.volumes.length, 1);
  assert.deepEqual(launcher.fly.invocationsOf("secrets set").slice(setsBefore).map((call) => call.argv[2]), ["OPENCLAW_GATEWAY_TOKEN=-"], "update re-sets only the launcher's gateway token (no key again)");
  assert.equal(launcher.fly.invocationsOf("volumes snapshots create").length, 1, "update snapshots the volume first");
  assert.deepEqual(updated.events.filter((event) => event.event === "step" && event.data.status !== "started").map((event) => event.data.step), ["preflight", "app", "volume", "snapshot", "secrets", "fly.toml", "deploy", "health", "version", "config"]);

  // Repair: `deploy unlock` — doctor --fix inside the machine.
  launcher.fly.setSshOutput("doctor --fix", { stdout: JSON.stringify({ healthy: true, checks: [{ name: "lock", status: "ok", detail: "removed the lock of a dead gateway (pid 1)", fixed: true }] }) });
  const repair = await call(launcher, cookie, `/api/instances/${LAUNCH_FORM.app}/repair`, {});
  assert.equal(repair.status, 200, repair.text);
  assert.equal(repair.json.removedDeadLock, true);
  assert.match(launcher.fly.invocationsOf("ssh console").at(-1)!.argv.at(-1)!, /^\/usr\/bin\/setpriv --reuid=node .* \/app\/dist\/index\.js doctor --fix --json/);

  // Destroy: the typed name must match.
  const wrong = await call(launcher, cookie, `/api/instances/${LAUNCH_FORM.app}/destroy`, { confirm: "faraday-launch" });
  assert.equal(wrong.status, 400);
  assert.equal(launcher.fly.invocationsOf("apps destroy").length, 0);
  const destroyed = await call(launcher, cookie, `/api/instances/${LAUNCH_FORM.app}/destroy`, { confirm: LAUNCH_FORM.app });
  assert.equal(destroyed.status, 200, destroyed.text);
  assert.equal(launcher.fly.invocationsOf("apps destroy").length, 1);
  assert.deepEqual((await call(launcher, cookie, "/api/instances")).json.instances, []);
  // Forgotten on this computer: the token's record and the app's working directory.
  await assert.rejects(stat(join(launcher.home, ".faraday", "deploys", `${LAUNCH_FORM.app}.json`)));
  await assert.rejects(stat(join(launcher.home, ".faraday", "launcher", "apps", LAUNCH_FORM.app)));
});

test("a bad form is refused before anything runs, and a taken name never enters the list", async (t) => {
  const launcher = await startLauncher(t);
  const cookie = await signIn(launcher);
  const bad = await call(launcher, cookie, "/api/launch", { ...LAUNCH_FORM, app: "Bad_Name" });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.code, "BAD_REQUEST");
  const noKey = await call(launcher, cookie, "/api/launch", { ...LAUNCH_FORM, modelKey: "" });
  assert.match(noKey.json.error.message, /Anthropic API key is required/);
  const twoLines = await call(launcher, cookie, "/api/launch", { ...LAUNCH_FORM, telegramToken: "a\nFOO=bar" });
  assert.match(twoLines.json.error.message, /one line/);
  assert.equal(launcher.fly.invocations().length, 0);

  launcher.fly.update((state) => void state.takenNames.push("someone-elses-app"));
  const taken = await call(launcher, cookie, "/api/launch", { ...LAUNCH_FORM, app: "someone-elses-app" });
  const events = await readEvents(launcher, cookie, taken.json.job);
  assert.equal(events.events.at(-1)!.data.error.code, "FLY_APP_NAME_TAKEN");
  assert.deepEqual((await call(launcher, cookie, "/api/instances")).json.instances, []);
});

test("organisations come from flyctl; the app is created in the one chosen; Logs shows flyctl logs --no-tail", async (t) => {
  const launcher = await startLauncher(t, { orgs: ["personal", "acme-corp"] });
  const cookie = await signIn(launcher);
  const orgs = await call(launcher, cookie, "/api/orgs");
  assert.deepEqual(orgs.json.orgs.map((org: { slug: string }) => org.slug), ["personal", "acme-corp"]);
  const badOrg = await call(launcher, cookie, "/api/launch", { ...LAUNCH_FORM, org: "Not An Org" });
  assert.equal(badOrg.status, 400);
  const started = await call(launcher, cookie, "/api/launch", { ...LAUNCH_FORM, org: "acme-corp" });
  const run = await readEvents(launcher, cookie, started.json.job);
  assert.equal(run.events.at(-1)!.data.ok, true, run.raw);
  assert.deepEqual(launcher.fly.invocationsOf("apps create")[0]!.argv.slice(3, 5), ["--org", "acme-corp"]);
  assert.equal(launcher.fly.state().apps[LAUNCH_FORM.app]!.org, "acme-corp");
  assert.equal((await call(launcher, cookie, "/api/instances")).json.instances[0].org, "acme-corp");

  launcher.fly.appendLogs(LAUNCH_FORM.app, ["gateway: telegram connected"]);
  const logs = await call(launcher, cookie, `/api/instances/${LAUNCH_FORM.app}/logs`);
  assert.equal(logs.status, 200, logs.text);
  assert.match(logs.json.text, /gateway: telegram connected/);
  assert.deepEqual(launcher.fly.invocationsOf("logs").at(-1)!.argv, ["logs", "-a", LAUNCH_FORM.app, "--no-tail"]);
  // 16 GB is more than 8 shared CPUs carry: refused before anything runs.
  const tooBig = await call(launcher, cookie, "/api/launch", { ...LAUNCH_FORM, app: "faraday-too-big", memoryMb: 32768 });
  assert.equal(tooBig.status, 400);
});

test("Update all updates every instance with the same live steps, stops at the first failure, and checks the new version answers", async (t) => {
  const launcher = await startLauncher(t);
  const cookie = await signIn(launcher);
  for (const app of ["faraday-all-one", "faraday-all-two", "faraday-all-three"]) {
    const started = await call(launcher, cookie, "/api/launch", { ...LAUNCH_FORM, app });
    assert.equal((await readEvents(launcher, cookie, started.json.job)).events.at(-1)!.data.ok, true);
  }
  // An older version answers: the list says an update is available.
  launcher.instance.oldVersionUntilNextDeploy(launcher.fly, "0.0.1");
  const listed = (await call(launcher, cookie, "/api/instances")).json.instances;
  assert.ok(listed.every((instance: { version: { deployed: string; updateAvailable: boolean } }) => instance.version.deployed === "0.0.1" && instance.version.updateAvailable));

  const deploysBefore = launcher.fly.invocationsOf("deploy").length;
  const all = await call(launcher, cookie, "/api/update-all", {});
  assert.equal(all.status, 202, all.text);
  assert.deepEqual(all.json.apps, ["faraday-all-one", "faraday-all-two", "faraday-all-three"]);
  const { events } = await readEvents(launcher, cookie, all.json.job, 120_000);
  assert.deepEqual(events.filter((event) => event.event === "app").map((event) => event.data.app), all.json.apps);
  for (const app of all.json.apps) {
    const steps = events.filter((event) => event.event === "step" && event.data.app === app && event.data.status !== "started").map((event) => event.data.step);
    assert.deepEqual(steps, ["preflight", "app", "volume", "snapshot", "secrets", "fly.toml", "deploy", "health", "version", "config"], app);
  }
  assert.deepEqual(events.at(-1)!.data, { event: "result", batch: true, ok: true, updated: all.json.apps });
  const deployed = launcher.fly.invocationsOf("deploy").slice(deploysBefore).map((call) => call.argv[call.argv.indexOf("-a") + 1]);
  assert.deepEqual(deployed, all.json.apps, "one at a time, in order");
  assert.equal((await call(launcher, cookie, "/api/instances")).json.instances[0].version.updateAvailable, false);

  // The new machine never answers: the first update fails at the version check and the rest are not tried.
  launcher.instance.version = "0.0.1";
  const second = await call(launcher, cookie, "/api/update-all", {});
  const failed = await readEvents(launcher, cookie, second.json.job, 120_000);
  const result = failed.events.at(-1)!.data;
  assert.equal(result.ok, false);
  assert.equal(result.app, "faraday-all-one");
  assert.equal(result.error.code, "DEPLOY_VERSION_MISMATCH");
  assert.match(result.error.message, /answers version 0\.0\.1, but this deploy built/);
  assert.deepEqual(result.skipped, ["faraday-all-two", "faraday-all-three"]);
  assert.equal(launcher.fly.invocationsOf("deploy").length, deploysBefore + 4);
  const instances = (await call(launcher, cookie, "/api/instances")).json.instances;
  assert.equal(instances.find((instance: { app: string }) => instance.app === "faraday-all-one").lastRun.error.code, "DEPLOY_VERSION_MISMATCH");
});

test("a gateway that refuses the launcher's token: the message says what to do in the launcher (no .env), and Update puts the token back", async (t) => {
  const launcher = await startLauncher(t);
  const cookie = await signIn(launcher);
  const started = await call(launcher, cookie, "/api/launch", LAUNCH_FORM);
  assert.equal((await readEvents(launcher, cookie, started.json.job)).events.at(-1)!.data.ok, true);
  const record = JSON.parse(await readFile(join(launcher.home, ".faraday", "deploys", `${LAUNCH_FORM.app}.json`), "utf8"));
  // Someone changes the secret with flyctl; the new machine refuses the launcher's token.
  launcher.fly.update((state) => void (state.apps[LAUNCH_FORM.app]!.secrets.OPENCLAW_GATEWAY_TOKEN!.value = "changed-elsewhere"));
  launcher.instance.refuseTokensUnlessFlyHas(launcher.fly, LAUNCH_FORM.app);
  const again = await call(launcher, cookie, "/api/launch", LAUNCH_FORM);
  const refused = (await readEvents(launcher, cookie, again.json.job)).events.at(-1)!.data;
  assert.equal(refused.ok, false);
  assert.equal(refused.error.code, "AUTH_INVALID");
  assert.doesNotMatch(refused.error.message, /\.env/);
  assert.match(refused.error.message, /Press Update/);
  const update = await call(launcher, cookie, `/api/instances/${LAUNCH_FORM.app}/update`, {});
  const updated = await readEvents(launcher, cookie, update.json.job);
  assert.equal(updated.events.at(-1)!.data.ok, true, updated.raw);
  assert.equal(launcher.fly.state().apps[LAUNCH_FORM.app]!.secrets.OPENCLAW_GATEWAY_TOKEN!.value, record.gatewayToken);
});
