import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { installFakeFlyctl, FLY_NAME_TAKEN_ERROR, FLY_NO_CAPACITY_ERROR, FLY_NO_PAYMENT_ERROR, FLY_UNAUTHORIZED_ERROR, type Invocation } from "../fakes/fake-flyctl.ts";
import { api, REPO_ROOT, runToExit, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

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

/** flyctl commands that change something on Fly: a rerun with the same input runs none of them. */
const MUTATING = ["apps create", "apps destroy", "volumes create", "volumes destroy", "volumes snapshots create", "secrets set", "secrets import", "secrets unset", "secrets deploy", "deploy", "machine restart", "machine start", "machine stop", "ssh console"];
const mutatingCalls = (calls: Invocation[]) => calls.filter((call) => call.command !== null && MUTATING.includes(call.command)).map((call) => call.argv.join(" "));

const events = (stdout: string) => stdout.trim().split("\n").map((line) => JSON.parse(line) as { event: string; step?: string; status?: string; error?: { code: string; message: string }; token?: string });
const finalStatus = (stdout: string) => Object.fromEntries(events(stdout).filter((event) => event.event === "step" && event.status !== "started").map((event) => [event.step, event.status]));

test("a full deploy from nothing, run outside the repo: app, volume, secrets on stdin, fly.toml, the package's Dockerfile, health, version, config pushed through the API", async (t) => {
  const { cwd, fly, env } = await workspace(t);
  const gateway = await target(t);
  const run = await deploy(t, cwd, env, ["--url", gateway.url, "--region", "ams"]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.deepEqual(finalStatus(run.stdout), { preflight: "passed", app: "done", volume: "done", secrets: "done", "fly.toml": "done", deploy: "done", health: "passed", version: "passed", config: "done" });
  const state = fly.state();
  assert.ok(JSON.stringify(state).includes("faraday_data"));
  // One `secrets set NAME=- --stage` per secret, the value alone on stdin (never `secrets import`, whose parser changes values).
  const sets = fly.invocationsOf("secrets set");
  assert.deepEqual(sets.map((call) => call.argv.slice(0, 3)).sort(), [["secrets", "set", "ANTHROPIC_API_KEY=-"], ["secrets", "set", "OPENCLAW_GATEWAY_TOKEN=-"]]);
  assert.equal(sets.find((call) => call.argv[2] === "ANTHROPIC_API_KEY=-")!.stdin, ANTHROPIC_SECRET);
  assert.ok(sets.every((call) => call.argv.includes("--stage")));
  assert.equal(fly.invocationsOf("secrets import").length, 0);
  assert.equal(state.apps["faraday-test"]!.secrets.ANTHROPIC_API_KEY!.value, ANTHROPIC_SECRET);
  // Built from the package's Dockerfile although fly.toml is in another directory (flyctl reads
  // [build].dockerfile relative to fly.toml before --dockerfile; the rendered fly.toml has none).
  const built = state.deploys.at(-1)!;
  assert.equal(built.dockerfile, join(REPO_ROOT, "Dockerfile"));
  assert.equal(built.cwd, cwd);
  assert.equal(built.configPath, join(cwd, "fly.toml"));
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

  assert.doesNotMatch(flyToml, /^\[build\]/m);

  // The rerun with the same input: unchanged on every step, and no flyctl call that changes anything.
  const before = fly.invocations().length;
  const again = await deploy(t, cwd, env, ["--url", gateway.url, "--region", "ams"]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(finalStatus(again.stdout), { preflight: "passed", app: "unchanged", volume: "unchanged", secrets: "unchanged", "fly.toml": "unchanged", deploy: "unchanged", health: "passed", version: "passed", config: "unchanged" });
  const rerun = fly.invocations().slice(before);
  assert.ok(rerun.length > 0);
  assert.deepEqual(mutatingCalls(rerun), [], "the rerun changed nothing on Fly");
  // Change detection lives in the local 0600 record, not in Fly's (opaque) digests.
  const { stat } = await import("node:fs/promises");
  const recordPath = join(cwd, ".faraday", "deploys", "faraday-test.json");
  assert.equal((await stat(recordPath)).mode & 0o777, 0o600);
  const record = JSON.parse(await readFile(recordPath, "utf8"));
  assert.deepEqual(Object.keys(record.secretHashes).sort(), ["ANTHROPIC_API_KEY", "OPENCLAW_GATEWAY_TOKEN"]);
  assert.ok(!JSON.stringify(record.secretHashes).includes(ANTHROPIC_SECRET));

  // One changed value: only that secret is set again, then one deploy.
  await writeFile(join(cwd, ".env"), `ANTHROPIC_API_KEY=${ANTHROPIC_SECRET}-rotated\nOPENCLAW_GATEWAY_TOKEN=${GATEWAY_TOKEN}\n`);
  const third = fly.invocations().length;
  const rotated = await deploy(t, cwd, env, ["--url", gateway.url, "--region", "ams"]);
  assert.equal(rotated.code, 0, rotated.stdout);
  assert.deepEqual(mutatingCalls(fly.invocations().slice(third)).map((call) => call.split(" ").slice(0, 3).join(" ")), ["secrets set ANTHROPIC_API_KEY=-", `deploy ${REPO_ROOT} -a`]);
  assert.equal(fly.state().apps["faraday-test"]!.secrets.ANTHROPIC_API_KEY!.value, `${ANTHROPIC_SECRET}-rotated`);
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
  // By absolute path, as the gateway's user (ssh console runs as root, with no working directory).
  const ssh = fly.invocationsOf("ssh console")[0]!;
  assert.equal(ssh.argv.at(-1), "/usr/bin/setpriv --reuid=node --regid=node --init-groups /usr/local/bin/node /app/dist/index.js doctor --fix --json --state-dir /data");
  const appMachine = fly.state().apps["faraday-test"]!.machines[0]!.id;
  assert.equal(ssh.argv[ssh.argv.indexOf("--machine") + 1], appMachine);
  assert.deepEqual(fly.invocationsOf("machine restart")[0]!.argv.slice(0, 3), ["machine", "restart", appMachine]);
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
  await writeFile(join(cwd, "openclaw.json"), "{}");
  const pull = await runToExit(t, ["deploy", "config", "pull", ...app, "--url", gateway.url], env, { cwd });
  assert.match(pull.stdout, /^wrote .*openclaw\.json/);
  assert.equal(JSON.parse(await readFile(join(cwd, "openclaw.json"), "utf8")).session.dmScope, "per-peer", "pull writes ./openclaw.json");
  assert.equal(JSON.parse((await runToExit(t, ["deploy", "config", "pull", ...app, "--url", gateway.url, "-o", "-"], env, { cwd })).stdout).session.dmScope, "per-peer", "-o - prints it");
  await runToExit(t, ["deploy", "config", "pull", ...app, "--url", gateway.url, "-o", "pulled.json"], env, { cwd });
  assert.equal(JSON.parse(await readFile(join(cwd, "pulled.json"), "utf8")).session.dmScope, "per-peer");

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
  // … after a snapshot of the volume, and checks the version that answers is the one it built.
  const volumeId = fly.state().apps["faraday-test"]!.volumes[0]!.id;
  const snapshotCall = fly.invocations().findIndex((call) => call.command === "volumes snapshots create");
  const deployCall = fly.invocations().findLastIndex((call) => call.command === "deploy");
  assert.ok(snapshotCall >= 0 && snapshotCall < deployCall, "the snapshot comes before the deploy");
  assert.equal(fly.invocations()[snapshotCall]!.argv[3], volumeId);
  const updateStatus = finalStatus(update.stdout);
  assert.deepEqual([updateStatus.snapshot, updateStatus.deploy, updateStatus.version], ["done", "done", "passed"]);
  const afterUpdate = JSON.parse((await runToExit(t, ["deploy", "status", ...app, "--url", gateway.url, "--json"], env, { cwd })).stdout);
  assert.equal(afterUpdate.latestSnapshot.status, "created");
  assert.equal(afterUpdate.version, afterUpdate.localVersion);
  assert.equal(afterUpdate.updateAvailable, false);

  const refused = await runToExit(t, ["deploy", "destroy", ...app], env, { cwd });
  assert.notEqual(refused.code, 0, "without --yes and without the typed name nothing is destroyed");
  assert.equal(fly.invocationsOf("apps destroy").length, 0);
  const recordPath = join(cwd, ".faraday", "deploys", "faraday-test.json");
  await readFile(recordPath);
  const destroyed = await runToExit(t, ["deploy", "destroy", ...app, "--yes"], env, { cwd });
  assert.equal(destroyed.code, 0, destroyed.stderr);
  assert.equal(fly.invocationsOf("apps destroy").length, 1);
  await assert.rejects(readFile(recordPath), "the deploy record (with the gateway token) is gone");
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
  const tokenSet = fly.invocationsOf("secrets set").find((call) => call.argv[2] === "OPENCLAW_GATEWAY_TOKEN=-")!;
  assert.equal(tokenSet.stdin, record.gatewayToken, "the generated token is what Fly stores");
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
  fly.failNext("secrets set", { stderr: `Error: could not parse line ANTHROPIC_API_KEY=${ANTHROPIC_SECRET}` });
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
  const staged = /^([0-9a-f]{64})$/.exec(fly.invocations().find((invocation) => invocation.argv.includes("TELEGRAM_WEBHOOK_SECRET=-"))!.stdin);
  assert.ok(staged, "a generated secret staged on stdin");
  assert.ok(!run.stdout.includes(staged[1]!) && !run.stderr.includes(staged[1]!), "never printed");
  const pushed = await api(gateway.url, "/api/config", { token: GATEWAY_TOKEN });
  assert.equal(pushed.json.config.channels.telegram.webhook.secret, "${env:TELEGRAM_WEBHOOK_SECRET}", "the file names the secret, never holds it");
  const again = await deploy(t, cwd, env, ["--url", gateway.url]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(finalStatus(again.stdout).secrets, "unchanged", "the same secret the second time");
  assert.equal(fly.invocations().filter((invocation) => invocation.argv.includes("TELEGRAM_WEBHOOK_SECRET=-")).length, 1);
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

test("secrets reach Fly exactly as the .env means them: #, inner quotes and spaces survive", async (t) => {
  const { cwd, fly, env } = await workspace(t);
  const gateway = await target(t);
  const tricky = {
    BARE_HASH: `p@ss#word "x"`,
    SINGLE_QUOTED: `a "quoted" # value`,
    DOUBLE_QUOTED: "it's = fine #1",
    SPACES_INSIDE: "one two  three",
  };
  await writeFile(join(cwd, ".env"), [
    `ANTHROPIC_API_KEY=${ANTHROPIC_SECRET}`,
    `OPENCLAW_GATEWAY_TOKEN=${GATEWAY_TOKEN}`,
    `BARE_HASH=p@ss#word "x"`,
    `SINGLE_QUOTED='a "quoted" # value'   # a comment after the quotes`,
    `DOUBLE_QUOTED="it's = fine #1"`,
    `export SPACES_INSIDE=one two  three # trailing comment`,
    "",
  ].join("\n"));
  const run = await deploy(t, cwd, env, ["--url", gateway.url]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const stored = fly.state().apps["faraday-test"]!.secrets;
  for (const [name, value] of Object.entries(tricky)) assert.equal(stored[name]?.value, value, name);
  // What `secrets import` would have stored for the same lines (its parser cuts at #, strips quotes):
  // the reason the deploy does not use it.
  const { parseSecretLines } = await import("../fakes/fake-flyctl/fake-flyctl.mjs");
  assert.deepEqual(Object.fromEntries(parseSecretLines(`BARE_HASH=${tricky.BARE_HASH}\nSINGLE_QUOTED=${tricky.SINGLE_QUOTED}\n`)), { BARE_HASH: "p@ss", SINGLE_QUOTED: 'a "quoted"' });
  for (const invocation of fly.invocations()) {
    for (const value of Object.values(tricky)) assert.ok(!invocation.argv.join(" ").includes(value), "a secret on the command line");
  }
});

test("a value Fly cannot store exactly is refused before anything changes, naming the secret", async (t) => {
  const { cwd, fly, env } = await workspace(t);
  const cases: Array<[string, RegExp]> = [
    [`PADDED="  padded value  "`, /PADDED starts or ends with whitespace/],
    [`HUGE=${"x".repeat(64 * 1024 + 1)}`, /HUGE is 65537 bytes; flyctl takes secret values up to 65536 bytes/],
  ];
  for (const [line, message] of cases) {
    await writeFile(join(cwd, ".env"), `ANTHROPIC_API_KEY=${ANTHROPIC_SECRET}\n${line}\n`);
    const run = await deploy(t, cwd, env, []);
    assert.notEqual(run.code, 0);
    const failure = events(run.stdout).find((event) => event.status === "failed")!;
    assert.equal(failure.step, "preflight");
    assert.equal(failure.error!.code, "DEPLOY_SECRET_INVALID");
    assert.match(failure.error!.message, message);
    assert.ok(!failure.error!.message.includes("padded value"), "the value itself is not shown");
  }
  assert.deepEqual(mutatingCalls(fly.invocations()), [], "nothing was changed on Fly");
  // Exactly 64 KiB goes through.
  await writeFile(join(cwd, ".env"), `ANTHROPIC_API_KEY=${ANTHROPIC_SECRET}\nOPENCLAW_GATEWAY_TOKEN=${GATEWAY_TOKEN}\nBIG=${"y".repeat(64 * 1024)}\n`);
  const big = await deploy(t, cwd, env, ["--url", "http://127.0.0.1:9", "--health-timeout", "1"]);
  assert.equal(finalStatus(big.stdout).secrets, "done", big.stdout);
  assert.equal(fly.state().apps["faraday-test"]!.secrets.BIG!.value.length, 64 * 1024);
});

test("a new user's mistakes get their own codes: bad app name, missing or broken --config, revoked token, memory per shared CPU; each error printed once", async (t) => {
  const { cwd, fly, env } = await workspace(t);
  const badName = await runToExit(t, ["deploy", "fly", "--app", "Bad_Name"], env, { cwd });
  assert.equal(badName.code, 2);
  assert.match(badName.stdout, /FLY_APP_NAME_INVALID: app name "Bad_Name": use 3–63 lowercase letters/);
  assert.equal(badName.stderr, "", "the failed step printed it; it is not printed again");
  assert.equal((badName.stdout.match(/FLY_APP_NAME_INVALID/g) ?? []).length, 1);

  const missing = await deploy(t, cwd, env, ["--config", "./missing.json"]);
  assert.equal(events(missing.stdout).find((event) => event.status === "failed")!.error!.code, "CONFIG_MISSING");
  await writeFile(join(cwd, "broken.json"), "{ not json");
  const broken = await deploy(t, cwd, env, ["--config", "broken.json"]);
  assert.equal(events(broken.stdout).find((event) => event.status === "failed")!.error!.code, "CONFIG_INVALID");

  fly.update((state) => void (state.auth.acceptedTokens = ["the-valid-token"]));
  const revoked = await deploy(t, cwd, { ...env, FLY_ACCESS_TOKEN: "a-revoked-token" }, []);
  const revokedError = events(revoked.stdout).find((event) => event.status === "failed")!.error!;
  assert.equal(fly.invocationsOf("auth whoami").at(-1)!.stderr, FLY_UNAUTHORIZED_ERROR + "\n");
  assert.equal(revokedError.code, "FLY_NOT_LOGGED_IN");
  assert.match(revokedError.message, /401/);
  fly.update((state) => void (state.auth.acceptedTokens = null));

  const odd = await deploy(t, cwd, env, ["--memory", "3000"]);
  assert.match(events(odd.stdout).find((event) => event.status === "failed")!.error!.message, /256 to 16384 MB in steps of 256/);
  assert.deepEqual(mutatingCalls(fly.invocations()), []);
  // 4 GB: fly.toml asks for 2 shared CPUs, which the fake (like Fly) accepts.
  const large = await deploy(t, cwd, env, ["--memory", "4096", "--url", "http://127.0.0.1:9", "--health-timeout", "1"]);
  assert.equal(finalStatus(large.stdout).deploy, "done", large.stdout);
  assert.deepEqual(fly.state().apps["faraday-test"]!.machines[0]!.config.guest, { cpu_kind: "shared", cpus: 2, memory_mb: 4096 });
});

test("--dry-run does not show a token the real run would not use", async (t) => {
  const { cwd, env } = await workspace(t, { token: false });
  const run = await runToExit(t, ["deploy", "fly", "--app", "faraday-test", "--dry-run"], env, { cwd });
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /OPENCLAW_GATEWAY_TOKEN \(generated on the real run\)/);
  assert.match(run.stdout, /Gateway token: \(generated on the first real run\)/);
  await assert.rejects(readFile(join(cwd, ".faraday", "deploys", "faraday-test.json")), "a dry run writes no record");
});

test("deploy unlock picks the app group's started machine, never simply the first listed", async (t) => {
  const { cwd, fly, env } = await workspace(t);
  const gateway = await target(t);
  assert.equal((await deploy(t, cwd, env, ["--url", gateway.url])).code, 0);
  const appMachine = fly.state().apps["faraday-test"]!.machines[0]!.id;
  const consoleMachine = fly.addMachine("faraday-test", { state: "started", processGroup: "console" });
  const stopped = fly.addMachine("faraday-test", { state: "stopped" });
  fly.setSshOutput("doctor --fix", { stdout: JSON.stringify({ healthy: true, checks: [{ name: "lock", status: "ok", detail: "held by a live gateway", fixed: false }] }) });
  const run = await runToExit(t, ["deploy", "unlock", "--app", "faraday-test", "--url", "http://127.0.0.1:9", "--json"], env, { cwd });
  assert.equal(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout);
  assert.equal(result.machine, appMachine);
  assert.equal(result.restartedMachine, appMachine);
  assert.equal(fly.state().apps["faraday-test"]!.sshSessions.at(-1)!.machineId, appMachine);
  for (const other of [consoleMachine, stopped]) assert.ok(!fly.invocations().some((call) => call.argv.includes(other)), `never touched ${other}`);
});

test("deploy update --all updates every app in the launcher's list, one at a time, and stops at the first failure", async (t) => {
  const { cwd, fly, env } = await workspace(t);
  const gateway = await target(t);
  // Two apps launched earlier (their records and working directories as the launcher leaves them).
  for (const app of ["faraday-one", "faraday-two", "faraday-three"]) {
    const run = await runToExit(t, ["deploy", "fly", "--app", app, "--url", gateway.url, "--json"], env, { cwd: await launcherDir(cwd, app) });
    assert.equal(run.code, 0, run.stdout);
  }
  await writeFile(join(cwd, ".faraday", "launcher.json"), JSON.stringify({ version: 1, instances: ["faraday-one", "faraday-two", "faraday-three"].map((app) => ({ app, region: "iad", memoryMb: 256, url: gateway.url, createdAt: new Date().toISOString() })) }));
  const deploysBefore = fly.invocationsOf("deploy").length;
  const all = await runToExit(t, ["deploy", "update", "--all", "--json"], env, { cwd });
  assert.equal(all.code, 0, all.stdout + all.stderr);
  const deployed = fly.invocationsOf("deploy").slice(deploysBefore).map((call) => call.argv[call.argv.indexOf("-a") + 1]);
  assert.deepEqual(deployed, ["faraday-one", "faraday-two", "faraday-three"], "one at a time, in the list's order");
  assert.deepEqual(events(all.stdout).at(-1), { event: "result", ok: true, updated: ["faraday-one", "faraday-two", "faraday-three"] });

  fly.failNext("deploy", { stderr: "Error: failed to fetch an image or build from source: boom" });
  const failing = await runToExit(t, ["deploy", "update", "--all"], env, { cwd });
  assert.notEqual(failing.code, 0);
  assert.match(failing.stdout, /Stopped at faraday-one\. Updated: none\. Not tried: faraday-two, faraday-three\./);
  assert.equal(fly.invocationsOf("deploy").length, deploysBefore + 4, "nothing after the failure was tried");
});

async function launcherDir(cwd: string, app: string): Promise<string> {
  const { mkdir, copyFile } = await import("node:fs/promises");
  const dir = join(cwd, ".faraday", "launcher", "apps", app);
  await mkdir(dir, { recursive: true });
  await copyFile(join(cwd, ".env"), join(dir, ".env"));
  return dir;
}
