import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { api, runToExit, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "test-gateway-token-0123456789";
const env = { OPENCLAW_GATEWAY_TOKEN: TOKEN };

test("a second gateway on the same state dir exits with LOCK_HELD (code 3) naming the holder", async (t) => {
  const stateDir = await tempStateDir(t);
  const first = await startGateway(t, stateDir, { env });
  const second = await runToExit(t, ["gateway", "--port", "0", "--allow-unconfigured", "--state-dir", stateDir], env);
  assert.equal(second.code, 3);
  assert.match(second.stderr, /LOCK_HELD/);
  assert.match(second.stderr, new RegExp(`pid ${first.pid} on host \\S+ since \\d{4}-`));
  assert.equal((await api(first.url, "/healthz")).status, 200, "the first gateway is untouched");
});

test("after kill -9 the next start reclaims the lock at once, without waiting for it to go stale", async (t) => {
  const stateDir = await tempStateDir(t);
  const first = await startGateway(t, stateDir, { env });
  first.kill("SIGKILL");
  await first.exited;
  assert.ok(existsSync(join(stateDir, "locks", "gateway.lock")), "kill -9 leaves the lock behind");
  const second = await startGateway(t, stateDir, { env });
  const reclaimed = second.logs().find((line) => line.msg === "reclaimed the state lock from a dead gateway");
  assert.ok(reclaimed, second.stdout());
  assert.equal(reclaimed.previousPid, first.pid);
  assert.match(String(reclaimed.reason), /not running|pid reused/);
  assert.equal((await api(second.url, "/healthz")).status, 200);
});

test("a lock whose pid was reused by another live process is reclaimed (container pid-1 case)", async (t) => {
  const stateDir = await tempStateDir(t);
  const first = await startGateway(t, stateDir, { env });
  first.kill("SIGKILL");
  await first.exited;
  // Point the dead owner's record at a live pid (this test runner) with another start time:
  // exactly what a restarted container looks like, where the new process is pid 1 again.
  const ownerPath = join(stateDir, "locks", "owner.json");
  const owner = JSON.parse(await readFile(ownerPath, "utf8"));
  await writeFile(ownerPath, JSON.stringify({ ...owner, pid: process.pid, processStartTime: "1" }));
  const second = await startGateway(t, stateDir, { env });
  const reclaimed = second.logs().find((line) => line.msg === "reclaimed the state lock from a dead gateway");
  assert.ok(reclaimed, second.stdout());
  assert.match(String(reclaimed.reason), /pid reused/);
});

test("SIGTERM exits 0 and releases the lock", async (t) => {
  const stateDir = await tempStateDir(t);
  const gateway = await startGateway(t, stateDir, { env });
  gateway.kill("SIGTERM");
  const { code } = await gateway.exited;
  assert.equal(code, 0);
  assert.ok(!existsSync(join(stateDir, "locks", "gateway.lock")), "lock directory removed");
  assert.ok(!existsSync(join(stateDir, "locks", "owner.json")), "owner record removed");
  assert.ok(gateway.logs().some((line) => line.msg === "gateway stopped"));
  const again = await startGateway(t, stateDir, { env });
  assert.ok(!again.logs().some((line) => line.msg === "reclaimed the state lock from a dead gateway"), "a clean stop leaves nothing to reclaim");
});

test("SIGTERM the moment /healthz first answers still stops gracefully with exit 0", async (t) => {
  const stateDir = await tempStateDir(t);
  const { runCli } = await import("../helpers/gateway-process.ts");
  const { createServer } = await import("node:net");
  const port = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address() as { port: number };
      server.close(() => resolve(address.port));
    });
  });
  const gateway = runCli(t, ["gateway", "--port", String(port), "--allow-unconfigured", "--state-dir", stateDir], env);
  for (let attempt = 0; attempt < 2000; attempt++) {
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((response) => response.ok, () => false);
    if (ok) break;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  gateway.kill("SIGTERM");
  const { code, signal } = await gateway.exited;
  assert.deepEqual({ code, signal }, { code: 0, signal: null });
  assert.ok(!existsSync(join(stateDir, "locks", "gateway.lock")), "lock released");
});

test("SIGINT exits 0 too", async (t) => {
  const gateway = await startGateway(t, await tempStateDir(t), { env });
  gateway.kill("SIGINT");
  assert.equal((await gateway.exited).code, 0);
});

test("doctor --fix removes a dead owner's lock and leaves a live one alone", async (t) => {
  const stateDir = await tempStateDir(t);
  const live = await startGateway(t, stateDir, { env });
  const withLive = await runToExit(t, ["doctor", "--fix", "--json", "--state-dir", stateDir]);
  const liveLock = JSON.parse(withLive.stdout).checks.find((check: { name: string }) => check.name === "lock");
  assert.equal(liveLock.status, "ok");
  assert.match(liveLock.detail, new RegExp(`live gateway: pid ${live.pid}`));
  assert.ok(!liveLock.fixed);
  assert.ok(existsSync(join(stateDir, "locks", "gateway.lock")), "a live owner's lock stays");
  assert.equal((await api(live.url, "/healthz")).status, 200);

  live.kill("SIGKILL");
  await live.exited;
  const report = await runToExit(t, ["doctor", "--json", "--state-dir", stateDir]);
  assert.equal(report.code, 1);
  const deadLock = JSON.parse(report.stdout).checks.find((check: { name: string }) => check.name === "lock");
  assert.equal(deadLock.status, "fail");
  assert.match(deadLock.detail, /dead owner/);

  const fixed = await runToExit(t, ["doctor", "--fix", "--json", "--state-dir", stateDir]);
  const fixedLock = JSON.parse(fixed.stdout).checks.find((check: { name: string }) => check.name === "lock");
  assert.equal(fixedLock.fixed, true);
  assert.ok(!existsSync(join(stateDir, "locks", "gateway.lock")));
  assert.equal(fixed.code, 0);
});

test("doctor --fix leaves a fresh lock owned by another host alone (it cannot prove that owner dead)", async (t) => {
  const stateDir = await tempStateDir(t);
  await mkdir(join(stateDir, "locks", "gateway.lock"), { recursive: true });
  await writeFile(join(stateDir, "locks", "owner.json"), JSON.stringify({
    pid: 1, hostname: "some-other-machine", bootId: "x", processStartTime: "1", startedAt: new Date().toISOString(), version: "0.1.0",
  }));
  const fixed = await runToExit(t, ["doctor", "--fix", "--json", "--state-dir", stateDir]);
  const lock = JSON.parse(fixed.stdout).checks.find((check: { name: string }) => check.name === "lock");
  assert.equal(lock.status, "ok");
  assert.match(lock.detail, /some-other-machine/);
  assert.ok(existsSync(join(stateDir, "locks", "gateway.lock")));
  const start = await runToExit(t, ["gateway", "--port", "0", "--allow-unconfigured", "--state-dir", stateDir], env);
  assert.equal(start.code, 3, "and the gateway does not steal it either");
});
