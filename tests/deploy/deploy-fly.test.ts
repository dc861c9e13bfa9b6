import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { installFakeFlyctl, FLY_NAME_TAKEN_ERROR, FLY_NO_CAPACITY_ERROR, FLY_NO_PAYMENT_ERROR } from "../fakes/fake-flyctl.ts";
import { api, runToExit, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const GATEWAY_TOKEN = "deploy-test-gateway-token-0123456789";
const ANTHROPIC_SECRET = "fake-anthropic-secret-value-for-deploy-tests";
const CONFIG = { agents: { defaults: { model: "anthropic/claude-test" }, list: [{ id: "main", default: true }] }, session: { dmScope: "main" } };

async function workspace(t: TestContext, options: { token?: boolean } = {}) {
  const cwd = await mkdtemp(join(tmpdir(), "faraday-deploy-"));
  t.after(() => rm(cwd, { recursive: true, force: true }));
  await writeFile(join(cwd, "openclaw.json"), JSON.stringify(CONFIG));
  await writeFile(join(cwd, ".env"), `ANTHROPIC_API_KEY=${ANTHROPIC_SECRET}\n${options.token === false ? "" : `OPENCLAW_GATEWAY_TOKEN=${GATEWAY_TOKEN}\n`}`);
  const fly = installFakeFlyctl();
  t.after(() => fly.cleanup());
  const env = { ...fly.env, HOME: cwd, FARADAY_HOME: join(cwd, ".faraday") };
  return { cwd, fly, env };
}

/** The gateway the deploy talks to: a real one on loopback, standing in for https://APP.fly.dev. */
async function target(t: TestContext) {
  return startGateway(t, await tempStateDir(t), { env: { OPENCLAW_GATEWAY_TOKEN: GATEWAY_TOKEN } });
}

const deploy = (t: TestContext, cwd: string, env: Record<string, string>, extra: string[]) =>
  runToExit(t, ["deploy", "fly", "--app", "faraday-test", "--json", ...extra], env, { cwd });

const events = (stdout: string) => stdout.trim().split("\n").map((line) => JSON.parse(line) as { event: string; step?: string; status?: string; error?: { code: string; message: string }; token?: string });
const finalStatus = (stdout: string) => Object.fromEntries(events(stdout).filter((event) => event.event === "step" && event.status !== "started").map((event) => [event.step, event.status]));

test("a full deploy from nothing: app, volume, secrets on stdin, fly.toml, deploy, health, config pushed through the API", async (t) => {
  const { cwd, fly, env } = await workspace(t);
  const gateway = await target(t);
  const run = await deploy(t, cwd, env, ["--url", gateway.url, "--region", "ams"]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.deepEqual(finalStatus(run.stdout), { preflight: "done", app: "done", volume: "done", secrets: "done", "fly.toml": "done", deploy: "done", health: "unchanged", config: "done" });
  const state = fly.state();
  assert.ok(JSON.stringify(state).includes("faraday_data"));
  assert.equal(fly.invocationsOf("secrets import").length, 1);
  assert.match(fly.invocationsOf("secrets import")[0]!.stdin, /ANTHROPIC_API_KEY=/);
  assert.equal(fly.invocationsOf("secrets set").length, 0, "never `secrets set` (argv)");
  for (const invocation of fly.invocations()) {
    const argv = invocation.argv.join(" ");
    assert.ok(!argv.includes(ANTHROPIC_SECRET) && !argv.includes(GATEWAY_TOKEN), `a secret on the command line: ${argv}`);
  }
  assert.ok(!run.stdout.includes(ANTHROPIC_SECRET) && !run.stdout.includes(GATEWAY_TOKEN) && !run.stderr.includes(GATEWAY_TOKEN), "no secret in the output");
  const result = events(run.stdout).at(-1)!;
  assert.equal(result.event, "result");
  assert.equal(result.token, "deploy-t...6789", "the token is masked");
  const flyToml = await readFile(join(cwd, "fly.toml"), "utf8");
  assert.match(flyToml, /app = "faraday-test"/);
  assert.match(flyToml, /primary_region = "ams"/);
  const pushed = await api(gateway.url, "/api/config", { token: GATEWAY_TOKEN });
  assert.equal(pushed.json.config.session.dmScope, "main", "the config reached the gateway through PUT /api/config");

  const again = await deploy(t, cwd, env, ["--url", gateway.url, "--region", "ams"]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(finalStatus(again.stdout), { preflight: "done", app: "unchanged", volume: "unchanged", secrets: "unchanged", "fly.toml": "unchanged", deploy: "unchanged", health: "unchanged", config: "unchanged" });
  for (const command of ["apps create", "volumes create", "secrets import", "deploy"]) {
    assert.equal(fly.invocationsOf(command).length, 1, `${command} ran only in the first deploy`);
  }
});

test("a failure at the volume step says what to do, and the rerun resumes there", async (t) => {
  const { cwd, fly, env } = await workspace(t);
  const gateway = await target(t);
  fly.failNext("volumes create", { stderr: FLY_NO_CAPACITY_ERROR });
  const failed = await deploy(t, cwd, env, ["--url", gateway.url]);
  assert.notEqual(failed.code, 0);
  const error = events(failed.stdout).find((event) => event.status === "failed")!;
  assert.equal(error.step, "volume");
  assert.equal(error.error!.code, "FLY_NO_CAPACITY");
  assert.match(error.error!.message, /--region .*ewr/);
  const resumed = await deploy(t, cwd, env, ["--url", gateway.url]);
  assert.equal(resumed.code, 0, resumed.stdout);
  const status = finalStatus(resumed.stdout);
  assert.equal(status.app, "unchanged");
  assert.equal(status.volume, "done");
  assert.equal(fly.invocationsOf("apps create").length, 1);
});

test("--dry-run prints the plan with secrets hidden and changes nothing", async (t) => {
  const { cwd, fly, env } = await workspace(t);
  const run = await deploy(t, cwd, env, ["--dry-run"]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const status = finalStatus(run.stdout);
  for (const step of ["app", "volume", "secrets", "fly.toml", "deploy"]) assert.equal(status[step], "planned", step);
  assert.ok(!run.stdout.includes(ANTHROPIC_SECRET));
  for (const command of ["apps create", "volumes create", "secrets import", "deploy"]) assert.equal(fly.invocationsOf(command).length, 0, command);
  await assert.rejects(readFile(join(cwd, "fly.toml")), "no fly.toml written");
});

test("known failures become clear messages: name taken, no payment method, not logged in, flyctl missing, missing secret, health timeout", async (t) => {
  const { cwd, fly, env } = await workspace(t);
  const codeOf = (stdout: string) => events(stdout).find((event) => event.status === "failed")?.error;
  fly.failNext("apps create", { stderr: FLY_NAME_TAKEN_ERROR });
  const taken = codeOf((await deploy(t, cwd, env, [])).stdout)!;
  assert.equal(taken.code, "FLY_APP_NAME_TAKEN");
  assert.match(taken.message, /--app faraday-test-/);

  fly.failNext("apps create", { stderr: FLY_NO_PAYMENT_ERROR });
  assert.equal(codeOf((await deploy(t, cwd, env, [])).stdout)!.code, "FLY_NO_PAYMENT_METHOD");

  fly.setLoggedIn(false);
  const notLoggedIn = codeOf((await deploy(t, cwd, env, [])).stdout)!;
  assert.equal(notLoggedIn.code, "FLY_NOT_LOGGED_IN");
  assert.match(notLoggedIn.message, /flyctl auth login/);
  fly.setLoggedIn(true);

  const missing = await runToExit(t, ["deploy", "fly", "--app", "faraday-test", "--json"], { ...env, PATH: join(process.execPath, "..") }, { cwd });
  assert.equal(codeOf(missing.stdout)!.code, "FLYCTL_MISSING");

  await writeFile(join(cwd, "openclaw.json"), JSON.stringify({ channels: { discord: { enabled: true } } }));
  const secret = codeOf((await deploy(t, cwd, env, [])).stdout)!;
  assert.equal(secret.code, "DEPLOY_SECRET_MISSING");
  assert.match(secret.message, /DISCORD_BOT_TOKEN/);
  await writeFile(join(cwd, "openclaw.json"), JSON.stringify(CONFIG));

  const first = await deploy(t, cwd, env, ["--url", "http://127.0.0.1:9", "--health-timeout", "1"]);
  assert.equal(codeOf(first.stdout)!.code, "FLY_HEALTH_TIMEOUT");
  fly.appendLogs("faraday-test", ["gateway crashed: something useful to read"]);
  const timeout = await deploy(t, cwd, env, ["--url", "http://127.0.0.1:9", "--health-timeout", "2"]);
  const health = codeOf(timeout.stdout)!;
  assert.equal(health.code, "FLY_HEALTH_TIMEOUT");
  assert.match(health.message, /something useful to read/);
});

test("deploy unlock runs doctor --fix inside the machine: a dead owner's lock is removed, a live one is not; an unhealthy gateway is restarted", async (t) => {
  const { cwd, fly, env } = await workspace(t);
  const gateway = await target(t);
  await deploy(t, cwd, env, ["--url", gateway.url]);
  // What doctor --fix --json really prints for a state dir whose gateway was killed -9 …
  const deadDir = await tempStateDir(t);
  const dead = await startGateway(t, deadDir, { env: { OPENCLAW_GATEWAY_TOKEN: GATEWAY_TOKEN } });
  dead.kill("SIGKILL");
  await dead.exited;
  const deadReport = await runToExit(t, ["doctor", "--fix", "--json", "--state-dir", deadDir]);
  fly.setSshOutput("doctor --fix", { stdout: deadReport.stdout });
  const unlocked = await runToExit(t, ["deploy", "unlock", "--app", "faraday-test", "--url", "http://127.0.0.1:9", "--json"], env, { cwd });
  assert.equal(unlocked.code, 0, unlocked.stderr);
  const result = JSON.parse(unlocked.stdout);
  assert.equal(result.removedDeadLock, true);
  assert.ok(result.restartedMachine, "the unhealthy gateway's machine was restarted");
  assert.equal(fly.invocationsOf("ssh console")[0]!.argv.at(-1), "node dist/index.js doctor --fix --json");
  // … and for a live gateway (the target's own state dir): refused, no restart since it is healthy.
  const liveReport = await runToExit(t, ["doctor", "--fix", "--json", "--state-dir", JSON.parse((await api(gateway.url, "/api/status", { token: GATEWAY_TOKEN })).text).stateDir]);
  fly.setSshOutput("doctor --fix", { stdout: liveReport.stdout });
  const live = JSON.parse((await runToExit(t, ["deploy", "unlock", "--app", "faraday-test", "--url", gateway.url, "--json"], env, { cwd })).stdout);
  assert.equal(live.removedDeadLock, false);
  assert.match(live.lock.detail, /live gateway/);
  assert.equal(live.restartedMachine, null);
});

test("the other commands: status, logs, config push (API, then ssh fallback) and pull, update redeploys, destroy", async (t) => {
  const { cwd, fly, env } = await workspace(t);
  const gateway = await target(t);
  assert.equal((await deploy(t, cwd, env, ["--url", gateway.url])).code, 0);
  const app = ["--app", "faraday-test"];

  const status = await runToExit(t, ["deploy", "status", ...app, "--url", gateway.url, "--json"], env, { cwd });
  assert.equal(status.code, 0, status.stderr);
  const parsed = JSON.parse(status.stdout);
  assert.equal(parsed.healthy, true);
  assert.equal(parsed.machines[0].state, "started");
  assert.equal(parsed.volumes[0].name, "faraday_data");
  assert.match(parsed.version, /^\d+\.\d+\.\d+/);

  fly.appendLogs("faraday-test", ["a line from the machine"]);
  assert.match((await runToExit(t, ["deploy", "logs", ...app], env, { cwd })).stdout, /a line from the machine/);

  await writeFile(join(cwd, "openclaw.json"), JSON.stringify({ ...CONFIG, session: { dmScope: "per-peer" } }));
  const pushed = await runToExit(t, ["deploy", "config", "push", ...app, "--url", gateway.url, "--json"], env, { cwd });
  assert.equal(JSON.parse(pushed.stdout).status, "done", pushed.stderr);
  const pulled = JSON.parse((await runToExit(t, ["deploy", "config", "pull", ...app, "--url", gateway.url], env, { cwd })).stdout);
  assert.equal(pulled.session.dmScope, "per-peer");

  // The API unreachable: the file goes over ssh console on stdin, through an explicit shell.
  const fallback = await runToExit(t, ["deploy", "config", "push", ...app, "--url", "http://127.0.0.1:9", "--json"], env, { cwd });
  assert.equal(fallback.code, 0, fallback.stderr);
  const ssh = fly.invocationsOf("ssh console").at(-1)!;
  assert.match(ssh.argv.at(-1)!, /^sh -c '.*mv \/data\/openclaw\.json\.tmp \/data\/openclaw\.json'$/);
  assert.equal(JSON.parse(ssh.stdin).session.dmScope, "per-peer");

  const deploysBefore = fly.invocationsOf("deploy").length;
  const update = await runToExit(t, ["deploy", "update", ...app, "--url", gateway.url, "--json"], env, { cwd });
  assert.equal(update.code, 0, update.stdout);
  assert.equal(fly.invocationsOf("deploy").length, deploysBefore + 1, "update redeploys even when nothing changed");

  const refused = await runToExit(t, ["deploy", "destroy", ...app], env, { cwd });
  assert.notEqual(refused.code, 0, "without --yes and without the typed name nothing is destroyed");
  assert.equal(fly.invocationsOf("apps destroy").length, 0);
  const destroyed = await runToExit(t, ["deploy", "destroy", ...app, "--yes"], env, { cwd });
  assert.equal(destroyed.code, 0, destroyed.stderr);
  assert.equal(fly.invocationsOf("apps destroy").length, 1);
});

test("without a token in .env one is generated, kept 0600 on this computer, masked in the output, and reused on the next run", async (t) => {
  const { cwd, fly, env } = await workspace(t, { token: false });
  const run = await deploy(t, cwd, env, ["--dry-run"]);
  assert.equal(run.code, 0, run.stdout);
  const real = await deploy(t, cwd, env, ["--url", "http://127.0.0.1:9", "--health-timeout", "1"]);
  assert.equal(events(real.stdout).find((event) => event.status === "failed")?.error?.code, "FLY_HEALTH_TIMEOUT");
  const { stat } = await import("node:fs/promises");
  const recordPath = join(cwd, ".faraday", "deploys", "faraday-test.json");
  const record = JSON.parse(await readFile(recordPath, "utf8"));
  assert.ok(record.gatewayToken.length >= 32);
  assert.equal((await stat(recordPath)).mode & 0o777, 0o600);
  assert.match(fly.invocationsOf("secrets import")[0]!.stdin, /^OPENCLAW_GATEWAY_TOKEN=/m);
  assert.ok(!real.stdout.includes(record.gatewayToken));
  const again = await deploy(t, cwd, env, ["--url", "http://127.0.0.1:9", "--health-timeout", "1"]);
  assert.equal(finalStatus(again.stdout).secrets, "unchanged", "the same token, not a new one");
});

test("a fly.toml faraday did not write is not overwritten without --force", async (t) => {
  const { cwd, env } = await workspace(t);
  const gateway = await target(t);
  await writeFile(join(cwd, "fly.toml"), 'app = "my-own"\n');
  const refused = await deploy(t, cwd, env, ["--url", gateway.url]);
  assert.equal(events(refused.stdout).find((event) => event.status === "failed")?.error?.code, "DEPLOY_FLY_TOML_EXISTS");
  assert.equal(await readFile(join(cwd, "fly.toml"), "utf8"), 'app = "my-own"\n');
  const forced = await deploy(t, cwd, env, ["--url", gateway.url, "--force"]);
  assert.equal(forced.code, 0, forced.stdout);
  assert.match(await readFile(join(cwd, "fly.toml"), "utf8"), /^# Rendered by `faraday deploy fly`/);
});

test("an error flyctl prints with a secret in it is shown with the secret masked", async (t) => {
  const { cwd, fly, env } = await workspace(t);
  const gateway = await target(t);
  fly.failNext("secrets import", { stderr: `Error: could not parse line ANTHROPIC_API_KEY=${ANTHROPIC_SECRET}` });
  const run = await deploy(t, cwd, env, ["--url", gateway.url]);
  assert.notEqual(run.code, 0);
  assert.ok(!run.stdout.includes(ANTHROPIC_SECRET) && !run.stderr.includes(ANTHROPIC_SECRET), "the secret is masked");
  assert.match(run.stdout, /fake-ant\.\.\.ests/);
});

test("`deploy update` keeps the region and memory the app was launched with (no second volume elsewhere)", async (t) => {
  const { cwd, fly, env } = await workspace(t);
  const gateway = await target(t);
  assert.equal((await deploy(t, cwd, env, ["--url", gateway.url, "--region", "ams", "--memory", "512"])).code, 0);
  const update = await runToExit(t, ["deploy", "update", "--app", "faraday-test", "--url", gateway.url, "--json"], env, { cwd });
  assert.equal(update.code, 0, update.stdout + update.stderr);
  assert.equal(fly.invocationsOf("volumes create").length, 1, "the ams volume is reused");
  const flyToml = await readFile(join(cwd, "fly.toml"), "utf8");
  assert.match(flyToml, /primary_region = "ams"/);
  assert.match(flyToml, /memory = "512mb"/);
});

test("a Telegram webhook URL without a secret: the deploy generates TELEGRAM_WEBHOOK_SECRET, stages it on Fly, points the config at it, and reuses it on the rerun", async (t) => {
  const { cwd, fly, env } = await workspace(t);
  await writeFile(join(cwd, "openclaw.json"), JSON.stringify({ ...CONFIG, channels: { telegram: { enabled: false, webhook: { url: "https://faraday-test.fly.dev/channels/telegram/webhook" } } } }));
  // The stand-in for the deployed gateway needs the variable to exist, as the Fly secret will on the machine.
  const gateway = await startGateway(t, await tempStateDir(t), { env: { OPENCLAW_GATEWAY_TOKEN: GATEWAY_TOKEN, TELEGRAM_WEBHOOK_SECRET: "stand-in-value" } });
  const run = await deploy(t, cwd, env, ["--url", gateway.url]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const staged = /^TELEGRAM_WEBHOOK_SECRET=([0-9a-f]{64})$/m.exec(fly.invocationsOf("secrets import")[0]!.stdin);
  assert.ok(staged, "a generated secret staged on stdin");
  assert.ok(!run.stdout.includes(staged[1]!) && !run.stderr.includes(staged[1]!), "never printed");
  const pushed = await api(gateway.url, "/api/config", { token: GATEWAY_TOKEN });
  assert.equal(pushed.json.config.channels.telegram.webhook.secret, "${env:TELEGRAM_WEBHOOK_SECRET}", "the file names the secret, never holds it");
  const again = await deploy(t, cwd, env, ["--url", gateway.url]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(finalStatus(again.stdout).secrets, "unchanged", "the same secret the second time");
  assert.equal(fly.invocationsOf("secrets import").length, 1);
});

test("config push of an MCP server with a command: the gateway refuses it over HTTP, so it goes over ssh console and the machine restarts to read it", async (t) => {
  const { cwd, fly, env } = await workspace(t);
  const gateway = await target(t);
  assert.equal((await deploy(t, cwd, env, ["--url", gateway.url])).code, 0);
  const server = { command: "node", args: ["tools/bridge.js"], enabled: false };
  await writeFile(join(cwd, "openclaw.json"), JSON.stringify({ ...CONFIG, mcp: { servers: { bridge: server } } }));
  const pushed = await runToExit(t, ["deploy", "config", "push", "--app", "faraday-test", "--url", gateway.url, "--json"], env, { cwd });
  assert.equal(pushed.code, 0, pushed.stdout + pushed.stderr);
  assert.match(JSON.parse(pushed.stdout).detail, /ssh console .* restarted/);
  const ssh = fly.invocationsOf("ssh console").at(-1)!;
  assert.deepEqual(JSON.parse(ssh.stdin).mcp.servers.bridge, server);
  assert.equal(fly.invocationsOf("machine restart").length, 1);
  const live = await api(gateway.url, "/api/config", { token: GATEWAY_TOKEN });
  assert.equal(live.json.config.mcp, undefined, "the API itself wrote nothing");
});
