/**
 * The restore's swap, in process: a committed restore interrupted halfway through moving files is
 * finished by the next recovery (never a mix of old and new); an uncommitted one is discarded;
 * archives with paths outside the state dir are refused.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createReadStream, existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test, type TestContext } from "node:test";
import { createGzip } from "node:zlib";
import { prepareBackup, recoverRestore, stageRestore, writeBackupFile } from "../../src/backup/index.ts";
import { TAR_END, tarHeader, tarPadding } from "../../src/backup/tar.ts";
import { openDatabase } from "../../src/state/index.ts";

async function stateDir(t: TestContext, label: string): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), `faraday-swap-${label}-`));
  t.after(() => rm(directory, { recursive: true, force: true }));
  const database = await openDatabase(join(directory, "faraday.sqlite"));
  database.prepare("INSERT INTO settings (key, value, updated_at) VALUES ('which', ?, 'now')").run(label);
  database.close();
  await writeFile(join(directory, "openclaw.json"), JSON.stringify({ label }));
  await mkdir(join(directory, "agents", "main"), { recursive: true });
  await writeFile(join(directory, "agents", "main", "MEMORY.md"), `memory of ${label}\n`);
  return directory;
}

async function which(directory: string): Promise<string> {
  const database = await openDatabase(join(directory, "faraday.sqlite"));
  try {
    return (database.prepare("SELECT value FROM settings WHERE key = 'which'").get() as { value: string }).value;
  } finally {
    database.close();
  }
}

async function archiveOf(t: TestContext, directory: string): Promise<string> {
  const prepared = await prepareBackup({ stateDir: directory, version: "test", withSecrets: true });
  const path = join(directory, "..", `${Date.now()}-${Math.random().toString(36).slice(2)}.tar.gz`);
  t.after(() => rm(path, { force: true }));
  await writeBackupFile(prepared, path);
  await prepared.dispose();
  return path;
}

test("a committed restore interrupted while the old files were being moved aside is finished by the next recovery", async (t) => {
  const source = await stateDir(t, "new");
  const target = await stateDir(t, "old");
  await stageRestore(target, createReadStream(await archiveOf(t, source)));
  assert.equal(await which(target), "old", "staging touches nothing live");
  // Killed after moving the database aside and before anything else.
  await mkdir(join(target, ".restore", "previous"), { recursive: true });
  await rename(join(target, "faraday.sqlite"), join(target, ".restore", "previous", "faraday.sqlite"));

  const recovery = await recoverRestore(target);
  assert.equal(recovery.outcome, "applied");
  assert.equal(await which(target), "new");
  assert.deepEqual(JSON.parse(await readFile(join(target, "openclaw.json"), "utf8")), { label: "new" });
  assert.equal(await readFile(join(target, "agents", "main", "MEMORY.md"), "utf8"), "memory of new\n");
  assert.ok(!existsSync(join(target, ".restore")));
});

test("a committed restore interrupted while the new files were being moved in is finished too", async (t) => {
  const source = await stateDir(t, "new");
  const target = await stateDir(t, "old");
  await stageRestore(target, createReadStream(await archiveOf(t, source)));
  // Killed after every old file went aside (.old-out written) and the database came in.
  await mkdir(join(target, ".restore", "previous"), { recursive: true });
  for (const name of ["faraday.sqlite", "openclaw.json", "agents"]) await rename(join(target, name), join(target, ".restore", "previous", name));
  await writeFile(join(target, ".restore", ".old-out"), "");
  await rename(join(target, ".restore", "staging", "faraday.sqlite"), join(target, "faraday.sqlite"));

  assert.equal((await recoverRestore(target)).outcome, "applied");
  assert.equal(await which(target), "new");
  assert.deepEqual(JSON.parse(await readFile(join(target, "openclaw.json"), "utf8")), { label: "new" });
  assert.equal(await readFile(join(target, "agents", "main", "MEMORY.md"), "utf8"), "memory of new\n");
});

test("a staged restore that was never committed is discarded and the old state stays", async (t) => {
  const source = await stateDir(t, "new");
  const target = await stateDir(t, "old");
  await stageRestore(target, createReadStream(await archiveOf(t, source)));
  await rm(join(target, ".restore", "staging", ".ready"));
  assert.equal((await recoverRestore(target)).outcome, "discarded");
  assert.equal(await which(target), "old");
  assert.deepEqual(JSON.parse(await readFile(join(target, "openclaw.json"), "utf8")), { label: "old" });
  assert.equal((await recoverRestore(target)).outcome, "none");
});

test("an archive whose manifest names a path outside the state dir is refused, and nothing is written", async (t) => {
  const target = await stateDir(t, "old");
  const evil = Buffer.from("owned\n");
  const manifest = Buffer.from(JSON.stringify({
    format: "faraday-backup", formatVersion: 1, faradayVersion: "x", createdAt: new Date().toISOString(), withSecrets: true, schemaVersion: 1,
    files: [{ path: "../escaped.md", size: evil.length, sha256: "0".repeat(64) }, { path: "faraday.sqlite", size: 0, sha256: "0".repeat(64) }],
  }));
  const mtime = new Date();
  const tar = Buffer.concat([
    tarHeader({ name: "manifest.json", size: manifest.length, mode: 0o600, mtime }), manifest, tarPadding(manifest.length),
    tarHeader({ name: "../escaped.md", size: evil.length, mode: 0o600, mtime }), evil, tarPadding(evil.length), TAR_END,
  ]);
  await assert.rejects(stageRestore(target, Readable.from([tar]).pipe(createGzip())), { code: "BACKUP_INVALID", message: /does not restore: "\.\.\/escaped\.md"/ });
  assert.ok(!existsSync(join(target, "..", "escaped.md")));
  assert.ok(!existsSync(join(target, ".restore")));
  assert.equal(await which(target), "old");
});

test("the archive is a standard gzip'd ustar: GNU tar lists and extracts it to the same bytes", async (t) => {
  const source = await stateDir(t, "plain");
  // A path longer than ustar's 100-byte name field goes through the prefix field.
  const longAgent = "a".repeat(60);
  await mkdir(join(source, "agents", longAgent), { recursive: true });
  await writeFile(join(source, "agents", longAgent, `${"n".repeat(60)}.md`), "long path\n");
  const archive = await archiveOf(t, source);
  const listed = execFileSync("tar", ["-tzf", archive], { encoding: "utf8" }).trim().split("\n");
  assert.deepEqual(listed, ["manifest.json", "faraday.sqlite", "openclaw.json", `agents/${longAgent}/${"n".repeat(60)}.md`, "agents/main/MEMORY.md"]);
  const out = await mkdtemp(join(tmpdir(), "faraday-untar-"));
  t.after(() => rm(out, { recursive: true, force: true }));
  execFileSync("tar", ["-xzf", archive, "-C", out]);
  assert.equal(await readFile(join(out, "agents", longAgent, `${"n".repeat(60)}.md`), "utf8"), "long path\n");
  assert.equal(await readFile(join(out, "openclaw.json"), "utf8"), await readFile(join(source, "openclaw.json"), "utf8"));
  const manifest = JSON.parse(await readFile(join(out, "manifest.json"), "utf8"));
  const { createHash } = await import("node:crypto");
  for (const file of manifest.files) assert.equal(createHash("sha256").update(await readFile(join(out, file.path))).digest("hex"), file.sha256, file.path);
});
