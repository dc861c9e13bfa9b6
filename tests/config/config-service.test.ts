import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadConfigFile } from "../../src/config/load-config.ts";
import { ConfigService } from "../../src/gateway/config-service.ts";
import { ensureStateDir } from "../../src/state/index.ts";

test("the start-up last-good copy and an immediate update take turns: no failure, and last-good is the file as it was", async (t) => {
  const directory = await mkdtemp(join(tmpdir(), "faraday-config-"));
  t.after(() => rm(directory, { recursive: true, force: true }));
  const paths = await ensureStateDir(directory);
  const original = { agents: { list: [{ id: "main", default: true }] } };
  await writeFile(paths.config, JSON.stringify(original));
  const service = new ConfigService(await loadConfigFile(paths.config, {}), paths, {});
  // What start-up does (not awaited) and a PUT /api/config arriving in the same moment, ten times over.
  for (let round = 0; round < 10; round += 1) {
    const before = JSON.parse(await readFile(paths.config, "utf8"));
    const next = { ...original, session: { dmScope: round % 2 === 0 ? "main" : "per-peer" } };
    const [, result] = await Promise.all([service.keepLastGood(), service.update(next)]);
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.deepEqual(JSON.parse(await readFile(paths.configLastGood, "utf8")), before, `round ${round}: last-good is the file before the update`);
    assert.deepEqual(JSON.parse(await readFile(paths.config, "utf8")), next);
  }
});
