import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parseEnvFile } from "../../src/deploy/fly/env-file.ts";
import { isNewerVersion } from "../../src/deploy/fly/gateway-version.ts";
import { machineSize } from "../../src/deploy/fly/machine-size.ts";
import { checkSecretValue } from "../../src/deploy/fly/secret-value.ts";
import { pickAppMachine } from "../../src/deploy/fly/app-machine.ts";
import { goTrimSpace } from "../fakes/fake-flyctl/fake-flyctl.mjs";
import { installFakeFlyctl } from "../fakes/fake-flyctl.ts";
import { runToExit } from "../helpers/gateway-process.ts";
import { faradayVersion } from "../../src/version.ts";

test(".env values: quoted ones are literal, bare ones end at a ` #` comment", () => {
  assert.deepEqual(parseEnvFile([
    "# comment",
    "BARE=p@ss#word \"x\"",
    "NOTE=abc # note",
    "SINGLE='a \"quoted\" # value'",
    "DOUBLE=\"line one\\nline two\" # comment",
    "export EXPORTED = spaced out  ",
    "UNCLOSED='half",
    "EMPTY=",
    "not a line",
  ].join("\n")), {
    BARE: "p@ss#word \"x\"",
    NOTE: "abc",
    SINGLE: "a \"quoted\" # value",
    DOUBLE: "line one\nline two",
    EXPORTED: "spaced out",
    UNCLOSED: "'half",
    EMPTY: "",
  });
});

test("a secret value is refused exactly when flyctl's TrimSpace would change it or it is over 64 KiB", () => {
  // Go's unicode.IsSpace, not JavaScript's \s: U+0085 is trimmed by Go, U+FEFF is not.
  for (const edge of [" ", "\t", "\n", "\r", "\u00a0", "\u0085", "\u2003", "\u3000"]) {
    assert.throws(() => checkSecretValue("S", `${edge}value`), /S starts or ends with whitespace/);
    assert.throws(() => checkSecretValue("S", `value${edge}`), /S starts or ends with whitespace/);
    assert.equal(goTrimSpace(`${edge}value${edge}`), "value", "the fake trims the same set");
  }
  assert.equal(goTrimSpace("\ufeffvalue"), "\ufeffvalue");
  checkSecretValue("S", "\ufeffvalue");
  checkSecretValue("S", "inner  spaces\nand lines are kept");
  checkSecretValue("S", "é".repeat(32 * 1024));
  assert.throws(() => checkSecretValue("S", "é".repeat(32 * 1024) + "x"), /S is 65537 bytes/);
  assert.throws(() => checkSecretValue("S", "\ud800broken"), /S is not valid Unicode/);
  assert.throws(() => checkSecretValue("S", ""), /S is empty/);
});

test("machine sizes: 2,048 MB per shared CPU, 256 MB steps, 1/2/4/6/8 CPUs", () => {
  assert.deepEqual([256, 2048, 2304, 4096, 8192, 16384].map((memoryMb) => machineSize(memoryMb).cpus), [1, 1, 2, 2, 4, 8]);
  assert.deepEqual(machineSize(12288), { memoryMb: 12288, cpus: 6 });
  for (const bad of [128, 300, 16640, 1.5]) assert.throws(() => machineSize(bad), /256 to 16384 MB in steps of 256/);
});

test("update available only when the local version is newer", () => {
  assert.equal(isNewerVersion("0.2.0", "0.1.9"), true);
  assert.equal(isNewerVersion("0.10.0", "0.9.0"), true);
  assert.equal(isNewerVersion("1.0.0", "1.0.0-rc.1"), true);
  assert.equal(isNewerVersion("1.0.0-rc.2", "1.0.0-rc.10"), false);
  assert.equal(isNewerVersion("0.1.0", "0.1.0"), false);
  assert.equal(isNewerVersion("0.1.0", "0.2.0"), false);
  assert.equal(isNewerVersion("garbage", "0.1.0"), false);
});

test("the gateway's machine is the app group's started one, whatever machines list puts first", () => {
  const machine = (id: string, state: string, group?: string) => ({ id, state, config: group ? { metadata: { fly_process_group: group } } : {} });
  assert.equal(pickAppMachine([machine("c", "started", "console"), machine("s", "stopped", "app"), machine("a", "started", "app")])?.id, "a");
  assert.equal(pickAppMachine([machine("c", "started", "console"), machine("s", "stopped", "app")])?.id, "s");
  assert.equal(pickAppMachine([machine("d", "destroyed", "app"), machine("c", "started", "console")]), undefined);
  assert.equal(pickAppMachine([machine("x", "started")])?.id, "x", "no group metadata: the default group");
});

test("deploy status shows the deployed version beside the local one and says when an update is available", async (t) => {
  const cwd = await mkdtemp(join(tmpdir(), "faraday-status-"));
  t.after(() => rm(cwd, { recursive: true, force: true }));
  const fly = installFakeFlyctl();
  t.after(() => fly.cleanup());
  fly.update((state) => {
    state.apps["faraday-old"] = { name: "faraday-old", org: "personal", status: "deployed", deployed: true, version: 1, created_at: "", volumes: [], secrets: {}, machines: [], logs: [], sshSessions: [] };
  });
  const server = createServer((request, response) => {
    if (request.url === "/healthz") response.writeHead(200).end("{}");
    else if (request.url === "/api/status" && request.headers.authorization === "Bearer status-token-0123456789") response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ version: "0.0.1" }));
    else response.writeHead(401).end();
  });
  await new Promise<void>((resolveListen) => server.listen(0, "127.0.0.1", resolveListen));
  t.after(() => new Promise<void>((resolveClose) => server.close(() => resolveClose())));
  await writeFile(join(cwd, ".env"), "OPENCLAW_GATEWAY_TOKEN=status-token-0123456789\n");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const env = { ...fly.env, HOME: cwd, FARADAY_HOME: join(cwd, ".faraday") };
  const text = await runToExit(t, ["deploy", "status", "--app", "faraday-old", "--url", url], env, { cwd });
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`version: deployed 0\\.0\\.1, local ${faradayVersion().replaceAll(".", "\\.")} — update available: faraday deploy update --app faraday-old`));
  assert.match(text.stdout, /latest snapshot: none/);
  const json = JSON.parse((await runToExit(t, ["deploy", "status", "--app", "faraday-old", "--url", url, "--json"], env, { cwd })).stdout);
  assert.deepEqual([json.version, json.localVersion, json.updateAvailable], ["0.0.1", faradayVersion(), true]);
});
