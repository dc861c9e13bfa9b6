/**
 * A gateway started by a person at a terminal prints a one-time dashboard sign-in link; one run
 * as a service (stdout/stderr not a TTY: Fly, systemd, these tests' pipes) never prints it.
 * The terminal is a real pseudo-terminal from util-linux `script`.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { eventually } from "../helpers/agent-harness.ts";
import { cleanEnv, ENTRY, REPO_ROOT, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "sign-in-link-test-token-0123456789";

test("at a terminal the gateway prints a one-time sign-in link that works once; in a log it never does", async (t) => {
  const stateDir = await tempStateDir(t);
  const command = [process.execPath, ENTRY, "gateway", "--port", "0", "--state-dir", stateDir, "--allow-unconfigured"].map((word) => `'${word}'`).join(" ");
  const child = spawn("script", ["-qfec", command, "/dev/null"], { cwd: REPO_ROOT, env: cleanEnv({ OPENCLAW_GATEWAY_TOKEN: TOKEN }), stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const exited = new Promise((resolve) => child.once("exit", resolve));
  t.after(async () => {
    child.kill("SIGTERM");
    await exited;
  });
  await eventually(() => /Dashboard: (http:\/\/127\.0\.0\.1:\d+)\/#code=([A-Za-z0-9_-]+)/.test(output), 15_000, "the sign-in link");
  const [, url, code] = /Dashboard: (http:\/\/127\.0\.0\.1:\d+)\/#code=([A-Za-z0-9_-]+)/.exec(output)!;
  assert.ok(!output.includes(TOKEN), "the link carries a one-time code, not the gateway token");

  const login = () => fetch(`${url}/auth/login`, { method: "POST", headers: { "content-type": "application/json", origin: url! }, body: JSON.stringify({ code }) });
  const first = await login();
  assert.equal(first.status, 200, await first.text());
  assert.match(first.headers.get("set-cookie") ?? "", /faraday_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict/);
  assert.equal((await login()).status, 401, "a one-time code works once");

  // The same gateway with its output going to a pipe (a service's log): no link, no code.
  const service = await startGateway(t, await tempStateDir(t), { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN } });
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.ok(!/#code=/.test(service.stdout() + service.stderr()));
});
