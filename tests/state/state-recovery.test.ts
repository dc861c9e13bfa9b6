import assert from "node:assert/strict";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { api, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "test-gateway-token-0123456789";

test("temporary files a killed writer left (config, last-good, lock owner, memory) are removed at start; other files stay", async (t) => {
  const stateDir = await tempStateDir(t);
  await mkdir(join(stateDir, "locks"), { recursive: true });
  await mkdir(join(stateDir, "agents", "main"), { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({ gateway: { port: 0 } }));
  // Named as writeFileAtomic and backupFile name them, by a writer (pid 4242) killed mid-write.
  const leftovers = [
    join(stateDir, ".openclaw.json.4242.0a1b2c3d.tmp"),
    join(stateDir, "openclaw.json.last-good.4242.3.tmp"),
    join(stateDir, "locks", ".owner.json.4242.deadbeef.tmp"),
    join(stateDir, "agents", "main", ".MEMORY.md.4242.00ff00ff.tmp"),
  ];
  const kept = [join(stateDir, "notes.tmp"), join(stateDir, "agents", "main", "MEMORY.md"), join(stateDir, ".openclaw.json.tmp")];
  for (const path of [...leftovers, ...kept]) await writeFile(path, '{"half": ');
  const gateway = await startGateway(t, stateDir, { env: { OPENCLAW_GATEWAY_TOKEN: TOKEN } });
  const names = async (directory: string) => (await readdir(directory)).filter((name) => name.endsWith(".tmp"));
  assert.deepEqual(await names(stateDir), [".openclaw.json.tmp", "notes.tmp"]);
  assert.deepEqual(await names(join(stateDir, "locks")), []);
  assert.deepEqual(await names(join(stateDir, "agents", "main")), []);
  assert.deepEqual((await readdir(join(stateDir, "agents", "main"))), ["MEMORY.md"]);
  const removed = gateway.logs().find((line) => line.msg === "removed temporary files a stopped writer left behind");
  assert.deepEqual([...(removed?.files as string[])].sort(), [...leftovers].sort());
  assert.equal((await api(gateway.url, "/api/config", { token: TOKEN })).json.state, "valid");
});
