/**
 * What a machine whose `node` is older than 24 sees. Uses an older Node found on the machine
 * (/usr/bin/node: Debian's Node 20 here; FARADAY_TEST_OLD_NODE names another) and skips when
 * there is none. The README's two commands in a fresh clone are in fresh-clone.test.ts.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { cleanEnv, ENTRY, REPO_ROOT } from "../helpers/gateway-process.ts";
import { findOldNode } from "../helpers/old-node.ts";

const oldNode = findOldNode();
const skip = oldNode === undefined ? "no Node older than 24 on this machine (set FARADAY_TEST_OLD_NODE)" : false;

function runOld(args: string[]) {
  return spawnSync(oldNode!, args, { cwd: REPO_ROOT, env: cleanEnv(), encoding: "utf8", timeout: 30_000 });
}

function assertNodeTooOld(result: ReturnType<typeof runOld>): void {
  assert.equal(result.status, 1, result.stderr);
  const version = execFileSync(oldNode!, ["--version"], { encoding: "utf8" }).trim();
  assert.match(result.stderr, /^faraday: NODE_TOO_OLD: Faraday needs Node\.js 24 or newer/);
  assert.ok(result.stderr.includes(`this is Node.js ${version}`), result.stderr);
  assert.match(result.stderr, /Fix: .*npm start/);
  assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
  assert.equal(result.stdout, "");
}

test("`faraday` (bin/faraday.mjs) on an old Node exits 1 with NODE_TOO_OLD, the version and the fix", { skip }, () => {
  assertNodeTooOld(runOld([join(REPO_ROOT, "bin/faraday.mjs"), "doctor"]));
});

test("`node dist/index.js` on an old Node exits 1 with NODE_TOO_OLD before loading node:sqlite", { skip }, () => {
  assert.ok(existsSync(ENTRY), "build first: npx tsc -p tsconfig.json");
  assertNodeTooOld(runOld([ENTRY, "gateway", "--allow-unconfigured", "--port", "0"]));
});

test("the launcher on an old Node runs the command with Node 24 and says so in one line", { skip }, () => {
  const result = runOld([join(REPO_ROOT, "scripts/run-node24.mjs"), "-e", "console.log(process.versions.node.split('.')[0])"]);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout.trim(), "24");
  const lines = result.stderr.split("\n").filter((line) => line.startsWith("faraday:"));
  assert.ok(lines.some((line) => /^faraday: node v\d+\.\d+\.\d+ is older than 24: running with Node\.js v24\./.test(line)), result.stderr);
});

test("the launcher on Node 24 runs the script in-process with its arguments", () => {
  const result = spawnSync(process.execPath, [join(REPO_ROOT, "scripts/run-node24.mjs"), ENTRY, "--version"], { cwd: REPO_ROOT, env: cleanEnv(), encoding: "utf8", timeout: 30_000 });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout.trim(), /^\d+\.\d+\.\d+$/);
  assert.equal(result.stderr, "", "no launcher line when the node is new enough");
});

test("bin/faraday.mjs runs the TypeScript sources on Node 24 (no build needed)", () => {
  const result = spawnSync(process.execPath, [join(REPO_ROOT, "bin/faraday.mjs"), "config", "validate", "--file", join(REPO_ROOT, "deploy/openclaw.example.json")], { cwd: REPO_ROOT, env: cleanEnv(), encoding: "utf8", timeout: 30_000 });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /openclaw\.example\.json is valid/);
});
