/**
 * The README's two commands in a fresh clone, with an older Node first on PATH (Debian's Node 20
 * at /usr/bin/node here): `npm install` (as `npm ci`) must succeed with engine warnings only,
 * `npm start` must re-run itself with Node 24 and answer /healthz, and `npm test` must go through
 * the same launcher. The full suite takes minutes, so `npm test` runs here with its test list
 * cut down to one small file (the script's command is otherwise the one package.json has).
 * Skips when no older Node is installed.
 *
 * The clone is a copy of the files git tracks (plus untracked, unignored ones) — what
 * `git clone` gives, working-tree edits included — without dist/ or node_modules/.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { REPO_ROOT } from "../helpers/gateway-process.ts";
import { findOldNode } from "../helpers/old-node.ts";

const oldNode = findOldNode();
const npmCli = spawnSync("npm", ["--version"], { encoding: "utf8" }).status === 0;
const skip = oldNode === undefined ? "no Node older than 24 on this machine" : !npmCli ? "no npm on PATH" : false;

test("README's commands in a fresh clone with an old Node first on PATH: npm ci, npm start answers /healthz, faraday is on PATH without a build, npm test runs on Node 24", { skip, timeout: 15 * 60_000 }, async (t) => {
  const scratch = await mkdtemp(join(tmpdir(), "faraday-fresh-clone-"));
  t.after(() => rm(scratch, { recursive: true, force: true }));
  const clone = join(scratch, "faraday");
  const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: REPO_ROOT, encoding: "utf8" })
    .split("\0")
    .filter((file) => file !== "" && !file.startsWith("dist/") && !file.startsWith("node_modules/"));
  for (const file of files) {
    await mkdir(dirname(join(clone, file)), { recursive: true });
    await cp(join(REPO_ROOT, file), join(clone, file)).catch(() => {}); // deleted in the working tree
  }

  // PATH: a folder with only the old node first, then the rest minus any folder holding Node 24.
  const oldBin = join(scratch, "old-node-bin");
  await mkdir(oldBin);
  await symlink(oldNode!, join(oldBin, "node"));
  const rest = (process.env.PATH ?? "").split(":").filter((folder) => folder !== dirname(process.execPath) && !folder.includes("faraday-node"));
  const environment: NodeJS.ProcessEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(OPENCLAW_|FARADAY_(?!NODE_CACHE)|ANTHROPIC_|OPENAI_|TELEGRAM_|DISCORD_|FAVCRM_|npm_|NODE_OPTIONS$|NODE_TEST_CONTEXT$)/.test(key))),
    PATH: [oldBin, ...rest].join(":"),
    npm_config_update_notifier: "false",
    npm_config_fund: "false",
    npm_config_audit: "false",
    FAVCRM_MCP_URL: "http://127.0.0.1:9/mcp",
  };
  delete environment.npm_config_engine_strict;
  const oldVersion = execFileSync(oldNode!, ["--version"], { encoding: "utf8" }).trim();
  assert.equal(execFileSync("node", ["--version"], { env: environment, encoding: "utf8" }).trim(), oldVersion, "the old node is first on PATH");

  // 1. npm install (npm ci: the lock file as is; the npm cache makes it quick).
  const install = spawnSync("npm", ["ci", "--prefer-offline"], { cwd: clone, env: environment, encoding: "utf8", timeout: 10 * 60_000 });
  assert.equal(install.status, 0, `npm ci failed on ${oldVersion}:\n${install.stdout}\n${install.stderr}`);

  // 2. npm start: re-runs with Node 24 and serves (port and state dir from the environment).
  const stateDir = join(scratch, "state");
  const started = performance.now();
  const server = spawn("npm", ["start"], {
    cwd: clone,
    env: { ...environment, OPENCLAW_GATEWAY_PORT: "0", OPENCLAW_STATE_DIR: stateDir },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group: npm, the shell, the launcher and the gateway end together
  });
  let output = "";
  server.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  server.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const exited = new Promise<number | string>((resolve) => server.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")));
  let running = true;
  void exited.then(() => (running = false));
  t.after(() => {
    if (running && server.pid !== undefined) process.kill(-server.pid, "SIGKILL");
  });
  let url: string | undefined;
  for (let attempt = 0; attempt < 600 && running && url === undefined; attempt += 1) {
    url = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"gateway listening"/.exec(output)?.[1];
    if (url === undefined) await sleep(50);
  }
  assert.ok(url, `npm start did not listen:\n${output}`);
  const health = await fetch(`${url}/healthz`);
  assert.equal(health.status, 200);
  t.diagnostic(`npm start -> /healthz 200 after ${Math.round(performance.now() - started)} ms (timing targets live in npm run bench)`);
  assert.match(output, new RegExp(`faraday: node ${oldVersion.replace(/\./g, "\\.")} is older than 24: running with Node\\.js v24\\.`));
  assert.doesNotMatch(output, /EBADENGINE.*\n.*npm error|No such built-in module/);
  // SIGTERM to the whole process group, as a process manager stops a service: the gateway gets it
  // directly and again from the launcher, and must still stop gracefully (exit code 0).
  process.kill(-server.pid!, "SIGTERM");
  await exited;
  for (let attempt = 0; attempt < 200 && !/"exitCode":0,"msg":"gateway stopped"/.test(output); attempt += 1) await sleep(50);
  assert.match(output, /"exitCode":0,"msg":"gateway stopped"/, `the gateway did not stop cleanly on SIGTERM:\n${output.slice(-2000)}`);

  // SIGTERM to npm alone (`kill NPM_PID`): npm's `sh -c` does not pass it on, so the launcher
  // notices it was orphaned and stops the gateway itself.
  const second = spawn("npm", ["start"], {
    cwd: clone,
    env: { ...environment, OPENCLAW_GATEWAY_PORT: "0", OPENCLAW_STATE_DIR: join(scratch, "state-2") },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let secondOutput = "";
  second.stdout.setEncoding("utf8").on("data", (chunk: string) => (secondOutput += chunk));
  second.stderr.setEncoding("utf8").on("data", (chunk: string) => (secondOutput += chunk));
  t.after(() => {
    try {
      process.kill(-second.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  });
  for (let attempt = 0; attempt < 600 && !/"msg":"gateway listening"/.test(secondOutput); attempt += 1) await sleep(50);
  assert.match(secondOutput, /"msg":"gateway listening"/, secondOutput);
  process.kill(second.pid!, "SIGTERM");
  for (let attempt = 0; attempt < 200 && !/"exitCode":0,"msg":"gateway stopped"/.test(secondOutput); attempt += 1) await sleep(50);
  assert.match(secondOutput, /"exitCode":0,"msg":"gateway stopped"/, `the gateway outlived npm:\n${secondOutput.slice(-2000)}`);

  // The `faraday` command from the clone, still without a build (no dist/ yet): `npm install -g .`
  // into a scratch prefix and `npx faraday`. On the old Node it refuses with NODE_TOO_OLD; with
  // Node 24 first on PATH it runs.
  assert.ok(!existsSync(join(clone, "dist")), "npm start built nothing");
  const prefix = join(scratch, "global");
  const globalInstall = spawnSync("npm", ["install", "-g", "."], { cwd: clone, env: { ...environment, npm_config_prefix: prefix }, encoding: "utf8", timeout: 120_000 });
  assert.equal(globalInstall.status, 0, globalInstall.stderr);
  const linked = join(prefix, "bin", "faraday");
  const onOld = spawnSync(linked, ["--version"], { env: environment, encoding: "utf8", timeout: 30_000 });
  assert.equal(onOld.status, 1);
  assert.match(onOld.stderr, /NODE_TOO_OLD/);
  const node24Environment = { ...environment, PATH: `${dirname(process.execPath)}:${environment.PATH}` };
  const version = (JSON.parse(await readFile(join(clone, "package.json"), "utf8")) as { version: string }).version;
  const onNew = spawnSync(linked, ["--version"], { env: node24Environment, encoding: "utf8", timeout: 30_000 });
  assert.equal(onNew.status, 0, onNew.stderr);
  assert.equal(onNew.stdout.trim(), version);
  const npx = spawnSync("npx", ["faraday", "--version"], { cwd: clone, env: node24Environment, encoding: "utf8", timeout: 60_000 });
  assert.equal(npx.status, 0, npx.stderr);
  assert.equal(npx.stdout.trim(), version);

  // 3. npm test: package.json's command with the test list cut to one small file.
  const manifest = JSON.parse(await readFile(join(clone, "package.json"), "utf8")) as { scripts: Record<string, string> };
  const testScript = manifest.scripts.test!;
  assert.match(testScript, /node scripts\/run-node24\.mjs --test .*"tests\/\*\*\/\*\.test\.ts"$/, "npm test goes through the launcher");
  await writeFile(join(clone, "tests", "launcher-smoke.test.ts"), [
    'import assert from "node:assert/strict";',
    'import { test } from "node:test";',
    'test("runs on Node 24", () => assert.equal(process.versions.node.split(".")[0], "24"));',
    "",
  ].join("\n"));
  manifest.scripts.test = testScript.replace('"tests/**/*.test.ts"', "tests/launcher-smoke.test.ts");
  await writeFile(join(clone, "package.json"), JSON.stringify(manifest, null, 2));
  const testRun = spawnSync("npm", ["test"], { cwd: clone, env: environment, encoding: "utf8", timeout: 10 * 60_000 });
  assert.equal(testRun.status, 0, `npm test failed:\n${testRun.stdout}\n${testRun.stderr}`);
  const testOutput = `${testRun.stdout}\n${testRun.stderr}`;
  assert.match(testOutput, /runs on Node 24/);
  assert.match(testOutput, /is older than 24: running with Node\.js v24\./);
});
