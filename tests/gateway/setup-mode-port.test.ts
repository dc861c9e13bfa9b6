import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { setupModePort } from "../../src/config/index.ts";
import { api, runCli, tempStateDir } from "../helpers/gateway-process.ts";

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test("setup mode listens on gateway.port from an otherwise invalid config", async (t) => {
  const stateDir = await tempStateDir(t);
  await mkdir(stateDir, { recursive: true });
  const port = await freePort();
  await writeFile(join(stateDir, "openclaw.json"), JSON.stringify({ gateway: { port }, channels: { telegram: { dmPolicy: "everyone" } } }));
  const gateway = runCli(t, ["gateway", "--allow-unconfigured", "--state-dir", stateDir], { OPENCLAW_GATEWAY_TOKEN: "setup-mode-port-token-0123456789" });
  const url = await gateway.listening;
  assert.equal(new URL(url).port, String(port));
  assert.equal((await api(url, "/readyz")).status, 503, "still in setup mode");
});

test("setupModePort takes only a valid port that no problem is about", () => {
  assert.equal(setupModePort({ gateway: { port: 8080 } }, [{ path: "channels.telegram.dmPolicy" }]), 8080);
  assert.equal(setupModePort({ gateway: { port: "8080" } }, [{ path: "gateway.port" }]), undefined);
  assert.equal(setupModePort({ gateway: { port: 70000 } }, []), undefined);
  assert.equal(setupModePort({ gateway: { port: 8080 } }, [{ path: "gateway" }]), undefined);
  assert.equal(setupModePort(null, []), undefined);
});
