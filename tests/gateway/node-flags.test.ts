import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { parse as parseToml } from "smol-toml";
import { planNodeFlags } from "../../src/node-flags.ts";
import { api, REPO_ROOT, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "test-gateway-token-0123456789";

/** The command line a running process was started with (Linux). */
async function commandLine(pid: number): Promise<string[]> {
  return (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0").filter((word) => word !== "");
}

test("planNodeFlags: supported V8 flags and --name=value options Node takes are applied; anything else is ignored", () => {
  const allowed = new Set(["--max-old-space-size", "--require"]);
  const plan = planNodeFlags(" --optimize-for-size  --optimise-for-size --max-old-space-size=96 --require ./x.js --no-concurrent-recompilation ", ["--no-concurrent-recompilation"], allowed);
  assert.deepEqual(plan.wanted, ["--optimize-for-size", "--max-old-space-size=96", "--no-concurrent-recompilation"]);
  assert.deepEqual(plan.missing, ["--optimize-for-size", "--max-old-space-size=96"], "flags the process already runs with are not applied again");
  assert.deepEqual(plan.ignored, ["--optimise-for-size", "--require", "./x.js"], "a typo, and options taking a separate value, are never applied");
  assert.deepEqual(planNodeFlags(undefined, []), { wanted: [], missing: [], ignored: [] });
});

test("the gateway started with fly.toml's [env] runs with FARADAY_NODE_FLAGS applied, in the same process", async (t) => {
  const fly = parseToml(await readFile(`${REPO_ROOT}/fly.toml`, "utf8")) as { env: Record<string, string> };
  const { NODE_OPTIONS, FARADAY_NODE_FLAGS } = fly.env;
  assert.ok(NODE_OPTIONS && FARADAY_NODE_FLAGS, "fly.toml sets both");
  const gateway = await startGateway(t, await tempStateDir(t), { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN, NODE_OPTIONS, FARADAY_NODE_FLAGS } });
  assert.equal((await api(gateway.url, "/healthz")).status, 200);
  // process.execve keeps the PID: the process we spawned is the gateway, now with the flags.
  const words = await commandLine(gateway.pid);
  for (const flag of FARADAY_NODE_FLAGS.split(" ")) assert.ok(words.includes(flag), `${flag} in ${words.join(" ")}`);
  const script = words.findIndex((word) => word.endsWith("dist/index.js"));
  assert.ok(words.indexOf("--optimize-for-size") < script, "node options come before the script");
  assert.equal(words[script + 1], "gateway", "the script's arguments are unchanged");
  const listening = gateway.logs().find((line) => line.msg === "gateway listening");
  assert.deepEqual(listening?.nodeFlags, FARADAY_NODE_FLAGS.split(" "));
  assert.equal(gateway.logs().filter((line) => line.level === 40 || line.level === "warn").length, 0, gateway.stdout());
  assert.equal(gateway.stderr(), "", "no warning from Node either");
});

test("a FARADAY_NODE_FLAGS typo is skipped with NODE_FLAGS_IGNORED; the gateway still starts with the rest", async (t) => {
  const gateway = await startGateway(t, await tempStateDir(t), { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN, FARADAY_NODE_FLAGS: "--optimise-for-size --no-concurrent-recompilation" } });
  assert.equal((await api(gateway.url, "/healthz")).status, 200);
  const words = await commandLine(gateway.pid);
  assert.ok(words.includes("--no-concurrent-recompilation"));
  assert.ok(!words.includes("--optimise-for-size"), "a word node would reject never reaches its command line");
  const warning = gateway.logs().find((line) => line.code === "NODE_FLAGS_IGNORED");
  assert.ok(warning, gateway.stdout());
  assert.deepEqual(warning.ignored, ["--optimise-for-size"]);
  assert.match(String(warning.msg), /fly\.toml \[env\]/);
});
