import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import {
  FLY_NAME_TAKEN_ERROR,
  FLY_NO_CAPACITY_ERROR,
  FLY_NO_PAYMENT_ERROR,
  FLY_NOT_LOGGED_IN_ERROR,
  FLY_UNAUTHORIZED_ERROR,
  installFakeFlyctl,
  secretDigest,
  type FakeFlyctl,
  type FakeFlyctlOptions,
  type FakeVolume,
} from "./fake-flyctl.ts";

/** A fake that misbehaves must fail a test, not hang the file. */
const LIMIT = { timeout: 30_000 };

interface Run {
  stdout: string;
  stderr: string;
  exitCode: number;
}

function fakeFly(t: TestContext, options?: FakeFlyctlOptions): FakeFlyctl {
  const fake = installFakeFlyctl(options);
  t.after(() => fake.cleanup());
  return fake;
}

/**
 * Runs the executable `binary` (found through the fake's PATH) with an argument array, the way
 * the deploy code does. stdin is always closed (after `stdin`, if given).
 */
function run(fake: FakeFlyctl, args: string[], options: { stdin?: string; cwd?: string; env?: Record<string, string>; binary?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      options.binary ?? "flyctl",
      args,
      { env: { ...process.env, ...fake.env, ...options.env }, cwd: options.cwd, timeout: 20_000 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== "number") reject(error);
        else resolve({ stdout, stderr, exitCode: error ? Number(error.code) : 0 });
      },
    );
    child.stdin?.end(options.stdin ?? "");
  });
}

async function ok(fake: FakeFlyctl, args: string[], options?: Parameters<typeof run>[2]): Promise<string> {
  const result = await run(fake, args, options);
  assert.equal(result.exitCode, 0, `flyctl ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}

async function createApp(fake: FakeFlyctl, name = "faraday-test"): Promise<void> {
  await ok(fake, ["apps", "create", name, "--org", "personal"]);
}

/** A package directory with a Dockerfile and a fly.toml like the deploy code writes. */
function packageDir(t: TestContext, app: string, region = "iad"): string {
  const dir = mkdtempSync(join(tmpdir(), "fake-flyctl-pkg-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "Dockerfile"), "FROM node:24-slim\n");
  writeFileSync(
    join(dir, "fly.toml"),
    [
      `app = "${app}"`,
      `primary_region = "${region}"`,
      "[env]",
      '  OPENCLAW_STATE_DIR = "/data"',
      "[processes]",
      '  app = "node dist/index.js gateway --port 3000 --bind lan"',
      "[mounts]",
      '  source = "faraday_data"',
      '  destination = "/data"',
      "[http_service]",
      "  internal_port = 3000",
      '  auto_stop_machines = "off"   # chat bots get no inbound HTTP',
      "[[vm]]",
      '  memory = "256mb"',
      "",
    ].join("\n"),
  );
  return dir;
}

test("apps create succeeds once, then fails with the name-taken error; takenNames are taken too", LIMIT, async (t) => {
  const fake = fakeFly(t, { takenNames: ["someone-elses"] });
  const created = JSON.parse(await ok(fake, ["apps", "create", "faraday-a", "--org", "personal", "--json"])) as { Name: string; Hostname: string };
  assert.equal(created.Name, "faraday-a");
  assert.equal(created.Hostname, "faraday-a.fly.dev");

  const again = await run(fake, ["apps", "create", "faraday-a", "--org", "personal", "--json"]);
  assert.equal(again.exitCode, 1);
  assert.equal(again.stderr, FLY_NAME_TAKEN_ERROR + "\n");
  assert.equal(again.stdout, "");

  const taken = await run(fake, ["apps", "create", "someone-elses", "--org", "personal"]);
  assert.equal(taken.exitCode, 1);
  assert.equal(taken.stderr, FLY_NAME_TAKEN_ERROR + "\n");

  const unknownOrg = await run(fake, ["apps", "create", "faraday-b", "--org", "acme"]);
  assert.equal(unknownOrg.exitCode, 1);
  assert.match(unknownOrg.stderr, /^Error: .*acme/);

  assert.deepEqual(Object.keys(fake.state().apps), ["faraday-a"]);
  const listed = JSON.parse(await ok(fake, ["apps", "list", "--json"])) as { Name: string }[];
  assert.deepEqual(listed.map((app) => app.Name), ["faraday-a"]);

  await ok(fake, ["apps", "destroy", "faraday-a", "-y"]);
  assert.deepEqual(fake.state().apps, {});
});

test("volumes create and list speak JSON; -y is required and capacity can run out per region", LIMIT, async (t) => {
  const fake = fakeFly(t, { noCapacityRegions: ["ams"] });
  await createApp(fake);
  const volume = JSON.parse(
    await ok(fake, ["volumes", "create", "faraday_data", "-a", "faraday-test", "-r", "iad", "-s", "3", "-y", "--json"]),
  ) as FakeVolume;
  assert.match(volume.id, /^vol_[a-z0-9]+$/);
  assert.equal(volume.name, "faraday_data");
  assert.equal(volume.region, "iad");
  assert.equal(volume.size_gb, 3);

  const listed = JSON.parse(await ok(fake, ["volumes", "list", "-a", "faraday-test", "--json"])) as FakeVolume[];
  assert.deepEqual(listed.map((v) => [v.id, v.name, v.region, v.size_gb]), [[volume.id, "faraday_data", "iad", 3]]);

  const noYes = await run(fake, ["volumes", "create", "faraday_data", "-a", "faraday-test", "-r", "iad", "-s", "1"]);
  assert.equal(noYes.exitCode, 1);
  assert.match(noYes.stderr, /^Error: yes flag must be specified/);

  const full = await run(fake, ["volumes", "create", "faraday_data", "-a", "faraday-test", "-r", "ams", "-s", "1", "-y", "--json"]);
  assert.equal(full.exitCode, 1);
  assert.equal(full.stderr, FLY_NO_CAPACITY_ERROR + "\n");

  const noApp = await run(fake, ["volumes", "list", "-a", "nope", "--json"]);
  assert.equal(noApp.exitCode, 1);
  assert.match(noApp.stderr, /^Error: Could not find App "nope"/);
  assert.equal(fake.state().apps["faraday-test"]?.volumes.length, 1);
});

test("secrets import reads stdin; list shows names and digests, never values", LIMIT, async (t) => {
  const fake = fakeFly(t);
  await createApp(fake);
  const values = { ANTHROPIC_API_KEY: "sk-ant-abc=def==", TELEGRAM_BOT_TOKEN: "123456:AA-secret-token" };
  const stdin = Object.entries(values).map(([name, value]) => `${name}=${value}`).join("\n") + "\n";
  const imported = await ok(fake, ["secrets", "import", "-a", "faraday-test", "--stage"], { stdin });
  assert.match(imported, /staged/);

  const listed = JSON.parse(await ok(fake, ["secrets", "list", "-a", "faraday-test", "--json"])) as Record<string, string>[];
  assert.deepEqual(listed.map((s) => [s.name, s.status]), [["ANTHROPIC_API_KEY", "Staged"], ["TELEGRAM_BOT_TOKEN", "Staged"]]);
  // flyctl passes on the API's digest: opaque, so neither sha256 nor md5 of the value.
  for (const entry of listed) {
    assert.deepEqual(Object.keys(entry).sort(), ["digest", "name", "status"]);
    const value = values[entry.name as keyof typeof values];
    for (const algorithm of ["sha256", "md5"]) assert.notEqual(entry.digest, createHash(algorithm).update(value).digest("hex"));
  }
  await ok(fake, ["secrets", "list", "-a", "faraday-test"]);

  // The value (with its "=") reached the state intact, staged until a deploy.
  const stored = fake.state().apps["faraday-test"]?.secrets.ANTHROPIC_API_KEY;
  assert.equal(stored?.value, values.ANTHROPIC_API_KEY);
  assert.equal(stored?.staged, true);

  // The fake never prints a value, and nothing put one in an argv.
  const calls = fake.invocations();
  assert.equal(calls.length, 4);
  for (const call of calls) {
    for (const value of Object.values(values)) {
      assert.ok(!call.stdout.includes(value) && !call.stderr.includes(value), `${call.command} printed a secret`);
      assert.ok(!call.argv.some((arg) => arg.includes(value)), `${call.command} had a secret in argv`);
    }
  }
  assert.equal(calls[1]?.stdin, stdin);
});

test("secrets set is recorded with its argv, so a test can catch a secret on the command line", LIMIT, async (t) => {
  const fake = fakeFly(t);
  await createApp(fake);
  await ok(fake, ["secrets", "set", "LEAKY=hunter2", "-a", "faraday-test", "--stage"]);
  const leaks = fake.invocations().filter((call) => call.argv.some((arg) => arg.includes("hunter2")));
  assert.deepEqual(leaks.map((call) => call.command), ["secrets set"]);
  assert.equal(fake.state().apps["faraday-test"]?.secrets.LEAKY?.value, "hunter2");
  assert.notEqual(secretDigest(), secretDigest(), "digests are opaque");
});

test("failNext fails the next matching command once, with the given stderr and exit code", LIMIT, async (t) => {
  const fake = fakeFly(t);
  await createApp(fake);
  fake.failNext("volumes create", { stderr: FLY_NO_PAYMENT_ERROR, exitCode: 2 });
  const args = ["volumes", "create", "faraday_data", "-a", "faraday-test", "-r", "iad", "-s", "1", "-y", "--json"];

  // A different command is not affected.
  await ok(fake, ["volumes", "list", "-a", "faraday-test", "--json"]);
  const failed = await run(fake, args);
  assert.equal(failed.exitCode, 2);
  assert.equal(failed.stderr, FLY_NO_PAYMENT_ERROR + "\n");
  assert.equal(fake.state().apps["faraday-test"]?.volumes.length, 0, "a failed call changes nothing");

  await ok(fake, args);
  assert.equal(fake.state().apps["faraday-test"]?.volumes.length, 1);
  assert.deepEqual(fake.state().failures, []);

  // Aliases match their canonical command; `times` repeats.
  fake.failNext("machines list", { stderr: "Error: boom" }, 2);
  for (let i = 0; i < 2; i++) {
    const result = await run(fake, ["machine", "ls", "-a", "faraday-test", "--json"]);
    assert.deepEqual([result.exitCode, result.stderr], [1, "Error: boom\n"]);
  }
  await ok(fake, ["machines", "list", "-a", "faraday-test", "--json"]);
  assert.deepEqual(
    fake.invocationsOf("machines list").map((call) => call.exitCode),
    [1, 1, 0],
  );
});

test("every invocation is recorded with argv, stdin, the Fly token variables and cwd", LIMIT, async (t) => {
  const fake = fakeFly(t);
  const cwd = mkdtempSync(join(tmpdir(), "fake-flyctl-cwd-"));
  t.after(() => rmSync(cwd, { recursive: true, force: true }));
  await createApp(fake);
  await ok(fake, ["secrets", "import", "-a", "faraday-test"], {
    stdin: "A=1\n",
    cwd,
    env: { FLY_ACCESS_TOKEN: "fo1_org_token", FLY_NO_UPDATE_CHECK: "1" },
    binary: "fly",
  });
  const [first, second] = fake.invocations();
  assert.deepEqual(first?.argv, ["apps", "create", "faraday-test", "--org", "personal"]);
  assert.equal(first?.stdin, "", "commands that do not read stdin record none");
  assert.equal(first?.env.FLY_ACCESS_TOKEN, process.env.FLY_ACCESS_TOKEN);
  assert.deepEqual(second?.argv, ["secrets", "import", "-a", "faraday-test"]);
  assert.equal(second?.stdin, "A=1\n");
  assert.equal(second?.env.FLY_ACCESS_TOKEN, "fo1_org_token");
  assert.equal(second?.env.FLY_NO_UPDATE_CHECK, "1");
  assert.equal(second?.cwd, cwd);
  assert.equal(second?.command, "secrets import");
  assert.ok(!Number.isNaN(Date.parse(second?.at ?? "")));
});

test("ssh console prints the configured output for a matching -C command and records its stdin", LIMIT, async (t) => {
  const fake = fakeFly(t);
  await createApp(fake);
  const noMachine = await run(fake, ["ssh", "console", "-a", "faraday-test", "-C", "true"]);
  assert.equal(noMachine.exitCode, 1, "ssh needs a started machine");
  assert.match(noMachine.stderr, /no started VMs/);

  await ok(fake, ["deploy", packageDir(t, "faraday-test"), "--ha=false", "--strategy", "immediate", "-y"]);
  fake.setSshOutput("doctor --fix", { stdout: '{"ok":true}\n' });
  fake.setSshOutput("cat /data/missing", { stdout: "", stderr: "cat: /data/missing: No such file or directory\n", exitCode: 1 });

  assert.equal(await ok(fake, ["ssh", "console", "-a", "faraday-test", "-C", "node dist/index.js doctor --fix --json"]), '{"ok":true}\n');
  const missing = await run(fake, ["ssh", "console", "-a", "faraday-test", "-C", "cat /data/missing"]);
  assert.deepEqual(missing, { stdout: "", stderr: "cat: /data/missing: No such file or directory\n", exitCode: 1 });
  assert.equal(await ok(fake, ["ssh", "console", "-a", "faraday-test", "-C", "sh -c 'cat > /data/openclaw.json'"], { stdin: '{"a":1}\n' }), "");

  const sessions = fake.state().apps["faraday-test"]?.sshSessions ?? [];
  assert.equal(sessions.length, 3);
  assert.deepEqual(sessions[2]?.argv, ["sh", "-c", "cat > /data/openclaw.json"]);
  assert.equal(sessions[2]?.stdin, '{"a":1}\n');
  assert.equal(fake.invocations().at(-1)?.stdin, '{"a":1}\n');
});

test("whoami fails when not logged in, unless a token is in the environment", LIMIT, async (t) => {
  const fake = fakeFly(t, { loggedIn: false });
  const noTokens = { FLY_ACCESS_TOKEN: "", FLY_API_TOKEN: "" };
  const whoami = await run(fake, ["auth", "whoami"], { env: noTokens });
  assert.deepEqual(whoami, { stdout: "", stderr: FLY_NOT_LOGGED_IN_ERROR + "\n", exitCode: 1 });
  const create = await run(fake, ["apps", "create", "faraday-x", "--org", "personal"], { env: noTokens });
  assert.equal(create.stderr, FLY_NOT_LOGGED_IN_ERROR + "\n");
  assert.equal(await ok(fake, ["version"], { env: noTokens }), "flyctl v0.3.999 linux/amd64 Commit: fake BuildDate: 2025-01-01T00:00:00Z\n");

  assert.equal(await ok(fake, ["auth", "whoami"], { env: { ...noTokens, FLY_API_TOKEN: "fo1_token" } }), "tester@example.com\n");
  fake.setLoggedIn(true);
  assert.deepEqual(JSON.parse(await ok(fake, ["auth", "whoami", "--json"], { env: noTokens })), { email: "tester@example.com" });
});

test("deploy records flags and cwd, starts one machine with the volume, and status reports it", LIMIT, async (t) => {
  const fake = fakeFly(t);
  await createApp(fake);
  const volume = JSON.parse(await ok(fake, ["volumes", "create", "faraday_data", "-a", "faraday-test", "-r", "iad", "-s", "1", "-y", "--json"])) as FakeVolume;
  await ok(fake, ["secrets", "import", "-a", "faraday-test", "--stage"], { stdin: "K=v\n" });
  const dir = packageDir(t, "faraday-test");
  const args = ["deploy", dir, "-a", "faraday-test", "--config", join(dir, "fly.toml"), "--ha=false", "--strategy", "immediate", "--remote-only", "-y", "--wait-timeout", "10m"];
  assert.match(await ok(fake, args, { cwd: tmpdir() }), /Visit your newly deployed app/);

  const state = fake.state();
  const [deploy] = state.deploys;
  assert.equal(deploy?.cwd, tmpdir());
  assert.equal(deploy?.workdir, dir);
  assert.deepEqual([deploy?.flags.ha, deploy?.flags.strategy, deploy?.flags["remote-only"], deploy?.flags["wait-timeout"]], [false, "immediate", true, "10m"]);
  const app = state.apps["faraday-test"];
  assert.equal(app?.machines.length, 1);
  assert.equal(app?.secrets.K?.staged, false, "a deploy applies staged secrets");
  assert.deepEqual(app?.machines[0]?.config.mounts, [{ volume: volume.id, path: "/data", name: "faraday_data" }]);
  assert.equal(app?.volumes[0]?.attached_machine_id, app?.machines[0]?.id);

  const status = JSON.parse(await ok(fake, ["status", "-a", "faraday-test", "--json"])) as {
    Name: string; Status: string; Deployed: boolean; Hostname: string; Machines: { id: string; state: string; region: string; config: { image: string } }[];
  };
  assert.deepEqual([status.Name, status.Status, status.Deployed, status.Hostname], ["faraday-test", "deployed", true, "faraday-test.fly.dev"]);
  assert.deepEqual(status.Machines.map((m) => [m.state, m.region]), [["started", "iad"]]);
  assert.match(status.Machines[0]?.config.image ?? "", /^registry\.fly\.io\/faraday-test:deployment-/);

  // A second deploy updates the machine instead of adding one; stop/restart and logs work.
  await ok(fake, args);
  const id = fake.state().apps["faraday-test"]?.machines[0]?.id ?? "";
  assert.equal(fake.state().apps["faraday-test"]?.machines.length, 1);
  await ok(fake, ["machine", "stop", id, "-a", "faraday-test"]);
  assert.equal(fake.state().apps["faraday-test"]?.machines[0]?.state, "stopped");
  await ok(fake, ["machine", "restart", id, "-a", "faraday-test"]);
  fake.setMachineState("faraday-test", "failed");
  assert.equal(fake.state().apps["faraday-test"]?.machines[0]?.state, "failed");
  fake.appendLogs("faraday-test", ["gateway: listening on :3000"]);
  assert.match(await ok(fake, ["logs", "-a", "faraday-test", "--no-tail"]), /gateway: listening on :3000/);
  const jsonLines = (await ok(fake, ["logs", "-a", "faraday-test", "--no-tail", "--json"])).trim().split("\n").map((line) => JSON.parse(line) as { message: string });
  assert.equal(jsonLines.at(-1)?.message, "gateway: listening on :3000");
});

test("deploy without --ha=false starts two machines; a bool flag never takes the next word", LIMIT, async (t) => {
  const fake = fakeFly(t);
  await createApp(fake);
  const dir = packageDir(t, "faraday-test");
  const spaced = await run(fake, ["deploy", "--ha", "false", "-a", "faraday-test"], { cwd: dir });
  assert.equal(spaced.exitCode, 1, "`--ha false` makes `false` the WORKING_DIRECTORY, as in real flyctl");
  assert.match(spaced.stderr, /chdir false/);
  await ok(fake, ["deploy", "-a", "faraday-test", "-y"], { cwd: dir });
  assert.equal(fake.state().apps["faraday-test"]?.machines.length, 2);
  assert.equal(fake.state().apps["faraday-test"]?.volumes.length, 2, "each machine gets its own volume");
});

test("unknown commands and flags fail like cobra; a missing Dockerfile fails the deploy", LIMIT, async (t) => {
  const fake = fakeFly(t);
  const unknown = await run(fake, ["frobnicate"]);
  assert.deepEqual([unknown.exitCode, unknown.stderr], [1, 'Error: unknown command "frobnicate" for "flyctl"\n']);
  const sub = await run(fake, ["apps", "frob"]);
  assert.match(sub.stderr, /^Error: unknown command "frob" for "flyctl apps"/);
  const flag = await run(fake, ["apps", "list", "--bogus"]);
  assert.deepEqual([flag.exitCode, flag.stderr], [1, "Error: unknown flag: --bogus\n"]);
  assert.equal(fake.invocations()[0]?.command, null);

  await createApp(fake);
  const empty = mkdtempSync(join(tmpdir(), "fake-flyctl-empty-"));
  t.after(() => rmSync(empty, { recursive: true, force: true }));
  const deploy = await run(fake, ["deploy", "-a", "faraday-test"], { cwd: empty });
  assert.equal(deploy.exitCode, 1);
  assert.match(deploy.stderr, /Dockerfile/);
  assert.deepEqual(fake.state().deploys, []);
});

test("parallel calls do not lose state updates (the state file is locked and replaced atomically)", LIMIT, async (t) => {
  const fake = fakeFly(t);
  const names = Array.from({ length: 8 }, (_, i) => `faraday-p${i}`);
  let finished = false;
  const all = Promise.all(names.map((name) => run(fake, ["apps", "create", name, "--org", "personal"]))).finally(() => (finished = true));
  // Readers (state()) take no lock: they must never see a half-written file.
  let reads = 0;
  while (!finished) {
    assert.equal(typeof fake.state().apps, "object");
    reads += 1;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  assert.ok(reads > 0);
  const results = await all;
  assert.deepEqual(results.map((r) => r.exitCode), names.map(() => 0));
  assert.deepEqual(Object.keys(fake.state().apps).sort(), names);
  assert.equal(fake.invocations().length, names.length);
});

test("cleanup removes the temporary directory", LIMIT, () => {
  const fake = installFakeFlyctl();
  assert.ok(existsSync(fake.statePath) && existsSync(join(fake.dir, "flyctl")) && existsSync(join(fake.dir, "fly")));
  fake.cleanup();
  assert.ok(!existsSync(fake.dir) && !existsSync(fake.statePath));
  fake.cleanup();
});

// ---------------------------------------------------------------------------------------------
// The behaviours checked against flyctl's source (see fake-flyctl.mjs's header for the files).

test("secrets import changes values the way flyctl's parser.go does: # cuts, one pair of quotes goes, triple quotes span lines", LIMIT, async (t) => {
  const fake = fakeFly(t);
  await createApp(fake);
  const stdin = [
    "# a comment line",
    "HASH=p@ss#word",
    'QUOTED_HASH="a # b"',
    "NOTE=abc # note",
    'DOUBLE="quoted"',
    "SINGLE='a \"quoted\" # value'",
    "  SPACED  =   value with trailing   ",
    'MULTI="""first',
    "second",
    'third"""',
    'ONE_LINE="""x"""',
    "",
  ].join("\n");
  await ok(fake, ["secrets", "import", "-a", "faraday-test", "--stage"], { stdin });
  const stored = Object.fromEntries(Object.values(fake.state().apps["faraday-test"]!.secrets).map((secret) => [secret.name, secret.value]));
  assert.deepEqual(stored, {
    HASH: "p@ss",
    QUOTED_HASH: "a # b",
    NOTE: "abc",
    DOUBLE: "quoted",
    // Cut at "#" (two double quotes before it, an even count), then no closing ' to strip.
    SINGLE: "'a \"quoted\"",
    SPACED: "value with trailing   ",
    MULTI: "first\nsecond\nthird",
    ONE_LINE: "x",
  });
  const bad = await run(fake, ["secrets", "import", "-a", "faraday-test"], { stdin: "NO_EQUALS_SIGN\n" });
  assert.equal(bad.stderr, "Error: Failed to parse secrets from stdin: Secrets must be provided as NAME=VALUE pairs (NO_EQUALS_SIGN is invalid)\n");
  const empty = await run(fake, ["secrets", "import", "-a", "faraday-test"], { stdin: "# nothing\n" });
  assert.equal(empty.stderr, "Error: requires at least one SECRET=VALUE pair\n");
  // A line over 64 KiB stops bufio.Scanner; parser.go ignores the error, so later lines are lost.
  await ok(fake, ["secrets", "import", "-a", "faraday-test"], { stdin: `BEFORE=1\nHUGE=${"x".repeat(70_000)}\nAFTER=2\n` });
  const after = fake.state().apps["faraday-test"]!.secrets;
  assert.equal(after.BEFORE?.value, "1");
  assert.equal(after.HUGE, undefined);
  assert.equal(after.AFTER, undefined);
});

test("secrets set NAME=- reads the value from a piped stdin, trims surrounding whitespace, refuses more than 64 KiB", LIMIT, async (t) => {
  const fake = fakeFly(t);
  await createApp(fake);
  const value = `p@ss#word "x" 'y' = z`;
  await ok(fake, ["secrets", "set", "EXACT=-", "-a", "faraday-test", "--stage"], { stdin: value });
  await ok(fake, ["secrets", "set", "TRIMMED=-", "-a", "faraday-test", "--stage"], { stdin: `\t ${value} \n` });
  const secrets = fake.state().apps["faraday-test"]!.secrets;
  assert.equal(secrets.EXACT?.value, value, "no parsing: # and quotes are kept");
  assert.equal(secrets.TRIMMED?.value, value, "Go's strings.TrimSpace");
  await ok(fake, ["secrets", "set", "MAX=-", "-a", "faraday-test", "--stage"], { stdin: "x".repeat(64 * 1024) });
  const tooLong = await run(fake, ["secrets", "set", "BIG=-", "-a", "faraday-test", "--stage"], { stdin: "x".repeat(64 * 1024 + 1) });
  assert.equal(tooLong.stderr, "Error: error reading stdin for 'BIG': Input exceeded max length of 65536 bytes\n");
  const malformed = await run(fake, ["secrets", "set", "NOVALUE", "-a", "faraday-test"]);
  assert.equal(malformed.stderr, "Error: could not parse secrets: 'NOVALUE': must be in the format NAME=VALUE\n");
  // stdin that is not a pipe (here /dev/null, a character device): refused, like HasPipedStdin.
  const { execa } = await import("execa");
  const noPipe = await execa("flyctl", ["secrets", "set", "NOSTDIN=-", "-a", "faraday-test"], { env: { ...process.env, ...fake.env }, stdin: "ignore", reject: false });
  assert.equal(noPipe.stderr, "Error: secret `NOSTDIN` expects standard input but none provided");
  assert.equal(fake.state().apps["faraday-test"]!.secrets.NOSTDIN, undefined);
});

test("a token Fly refuses gets the API's 401 text; no token at all gets fly-go's ErrNoAuthToken", LIMIT, async (t) => {
  const fake = fakeFly(t, { loggedIn: false, acceptedTokens: ["good-token"] });
  const none = await run(fake, ["auth", "whoami"]);
  assert.equal(none.stderr, FLY_NOT_LOGGED_IN_ERROR + "\n");
  const revoked = await run(fake, ["auth", "whoami"], { env: { FLY_ACCESS_TOKEN: "revoked-token" } });
  assert.deepEqual([revoked.exitCode, revoked.stderr], [1, FLY_UNAUTHORIZED_ERROR + "\n"]);
  assert.match(await ok(fake, ["auth", "whoami"], { env: { FLY_API_TOKEN: "good-token" } }), /tester@example\.com/);
});

test("deploy builds fly.toml's [build].dockerfile, relative to fly.toml's directory, before --dockerfile", LIMIT, async (t) => {
  const fake = fakeFly(t);
  await createApp(fake);
  const pkg = packageDir(t, "faraday-test");
  const elsewhere = mkdtempSync(join(tmpdir(), "fake-flyctl-elsewhere-"));
  t.after(() => rmSync(elsewhere, { recursive: true, force: true }));
  const toml = (extra: string) => writeFileSync(join(elsewhere, "fly.toml"), `app = "faraday-test"\nprimary_region = "iad"\n${extra}`);
  const deployArgs = ["deploy", pkg, "-a", "faraday-test", "--config", join(elsewhere, "fly.toml"), "--dockerfile", join(pkg, "Dockerfile"), "--ha=false", "-y"];

  // fly.toml elsewhere names "Dockerfile": flyctl looks next to fly.toml, not at --dockerfile.
  toml('[build]\n  dockerfile = "Dockerfile"\n');
  const missing = await run(fake, deployArgs, { cwd: elsewhere });
  assert.equal(missing.exitCode, 1);
  assert.equal(missing.stderr, `Error: failed to fetch an image or build from source: dockerfile '${join(elsewhere, "Dockerfile")}' not found\n`);
  // An absolute path does not help: it is joined under fly.toml's directory.
  toml(`[build]\n  dockerfile = "${join(pkg, "Dockerfile")}"\n`);
  assert.match((await run(fake, deployArgs)).stderr, new RegExp(`dockerfile '${join(elsewhere, pkg, "Dockerfile")}' not found`));
  // A Dockerfile next to fly.toml wins over --dockerfile.
  writeFileSync(join(elsewhere, "Dockerfile"), "FROM scratch\n");
  toml('[build]\n  dockerfile = "Dockerfile"\n');
  await ok(fake, deployArgs);
  assert.equal(fake.state().deploys.at(-1)?.dockerfile, join(elsewhere, "Dockerfile"));
  // Without [build], --dockerfile is used.
  toml("");
  await ok(fake, deployArgs);
  assert.equal(fake.state().deploys.at(-1)?.dockerfile, join(pkg, "Dockerfile"));
});

test("deploy refuses more than 2,048 MB per shared CPU, as the Machines API does", LIMIT, async (t) => {
  const fake = fakeFly(t);
  await createApp(fake);
  const pkg = packageDir(t, "faraday-test");
  const vm = (memory: string, cpus: number) => writeFileSync(join(pkg, "fly.toml"), `app = "faraday-test"\nprimary_region = "iad"\n[[vm]]\n  memory = "${memory}"\n  cpu_kind = "shared"\n  cpus = ${cpus}\n`);
  vm("4096mb", 1);
  const refused = await run(fake, ["deploy", "-a", "faraday-test", "--ha=false", "-y"], { cwd: pkg });
  assert.equal(refused.stderr, "Error: invalid machine config: For shared VMs with 1 CPUs, 4096MiB of memory is too high\n");
  vm("4gb", 2);
  await ok(fake, ["deploy", "-a", "faraday-test", "--ha=false", "-y"], { cwd: pkg });
  assert.deepEqual(fake.state().apps["faraday-test"]?.machines[0]?.config.guest, { cpu_kind: "shared", cpus: 2, memory_mb: 4096 });
  vm("300mb", 1);
  assert.match((await run(fake, ["deploy", "-a", "faraday-test", "-y"], { cwd: pkg })).stderr, /300MiB of memory is not valid/);
});

test("volume snapshots: create schedules one, list shows them oldest first; machines list shows every machine", LIMIT, async (t) => {
  const fake = fakeFly(t);
  await createApp(fake);
  const volume = JSON.parse(await ok(fake, ["volumes", "create", "faraday_data", "-a", "faraday-test", "-r", "iad", "-y", "--json"])) as FakeVolume;
  assert.equal(await ok(fake, ["volumes", "snapshots", "create", volume.id, "-a", "faraday-test"]), `Scheduled to snapshot volume ${volume.id}\n`);
  await ok(fake, ["vol", "snaps", "create", volume.id]);
  const listed = JSON.parse(await ok(fake, ["volumes", "snapshots", "ls", volume.id, "-a", "faraday-test", "--json"])) as Array<Record<string, unknown>>;
  assert.equal(listed.length, 2);
  assert.deepEqual(Object.keys(listed[0]!).sort(), ["created_at", "digest", "id", "retention_days", "size", "status", "volume_size"]);
  assert.ok(String(listed[0]!.created_at) <= String(listed[1]!.created_at));
  assert.equal(fake.invocationsOf("volumes snapshots create").length, 2);
  const unknown = await run(fake, ["volumes", "snapshots", "create", "vol_nope", "-a", "faraday-test"]);
  assert.equal(unknown.exitCode, 1);

  const pkg = packageDir(t, "faraday-test");
  await ok(fake, ["deploy", "-a", "faraday-test", "--ha=false", "-y"], { cwd: pkg });
  const extra = fake.addMachine("faraday-test", { state: "started", processGroup: "console" });
  const machines = JSON.parse(await ok(fake, ["machines", "list", "-a", "faraday-test", "--json"])) as Array<{ id: string; config: { metadata: Record<string, string> } }>;
  assert.deepEqual(machines.map((machine) => machine.config.metadata.fly_process_group), ["console", "app"]);
  assert.equal(machines[0]!.id, extra);
  // ssh console without --machine takes the first started machine, whatever its group.
  await ok(fake, ["ssh", "console", "-a", "faraday-test", "-C", "true"]);
  assert.equal(fake.state().apps["faraday-test"]!.sshSessions.at(-1)!.machineId, extra);
  await ok(fake, ["ssh", "console", "-a", "faraday-test", "--process-group", "app", "-C", "true"]);
  assert.equal(fake.state().apps["faraday-test"]!.sshSessions.at(-1)!.machineId, machines[1]!.id);
});
