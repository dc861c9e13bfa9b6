/**
 * WhatsApp's auth state in SQLite, with the real Baileys codec and creds: round trips, key
 * batches in one transaction, the creds backup, and re-opening the database (a restart).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { BufferJSON, initAuthCreds, proto } from "baileys";
import { WhatsAppAuthStore } from "../../src/channels/whatsapp/auth-store.ts";
import { openDatabase, type Database } from "../../src/state/index.ts";

async function tempDatabase(t: TestContext): Promise<{ path: string; open: () => Promise<Database> }> {
  const directory = await mkdtemp(join(tmpdir(), "faraday-wa-auth-"));
  const opened: Database[] = [];
  t.after(async () => {
    for (const database of opened) if (database.isOpen) database.close();
    await rm(directory, { recursive: true, force: true });
  });
  const path = join(directory, "faraday.sqlite");
  return { path, open: async () => {
    const database = await openDatabase(path);
    opened.push(database);
    return database;
  } };
}

const load = (store: WhatsAppAuthStore, recovered: string[] = []) =>
  store.load({
    codec: BufferJSON,
    initCreds: initAuthCreds,
    reviveKey: (type, value) => (type === "app-state-sync-key" && value ? proto.Message.AppStateSyncKeyData.fromObject(value as object) : value),
    onRecovered: (detail) => recovered.push(detail),
  });

test("creds and keys survive a restart byte for byte; deletes and batches are transactional", async (t) => {
  const db = await tempDatabase(t);
  let database = await db.open();
  let store = new WhatsAppAuthStore(database);
  assert.equal(store.isLinked(), false);
  const { state, saveCreds } = load(store);
  const original = Buffer.from(state.creds.noiseKey.private);
  saveCreds();
  assert.equal(store.isLinked(), false, "fresh creds are not a link");
  // Baileys mutates creds in place, then emits creds.update: we save the object it holds.
  Object.assign(state.creds, { me: { id: "15550001111:4@s.whatsapp.net", name: "Shop" } });
  saveCreds();
  assert.equal(store.isLinked(), true);
  await state.keys.set({
    "pre-key": { "1": { public: Buffer.from([1, 2, 3]), private: Buffer.from([4, 5, 6]) }, "2": { public: Buffer.from([7]), private: Buffer.from([8]) } },
    session: { "15557654321.0": Buffer.from("session-bytes") },
    "app-state-sync-key": { AAAA: { keyData: Buffer.from([9, 9]), timestamp: 1 } },
  });
  await state.keys.set({ "pre-key": { "2": null } });
  assert.deepEqual(store.counts(), { creds: 2, keys: 3 });

  // A bad batch (an unserialisable value) leaves nothing half-written.
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  await assert.rejects(state.keys.set({ "pre-key": { "3": { public: Buffer.from([1]) } }, session: { broken: circular } }));
  assert.deepEqual(store.counts(), { creds: 2, keys: 3 });

  database.close();
  database = await db.open();
  store = new WhatsAppAuthStore(database);
  assert.equal(store.linkedAs(), "15550001111:4@s.whatsapp.net");
  const reloaded = load(store).state;
  assert.ok(Buffer.isBuffer(reloaded.creds.noiseKey.private));
  assert.ok(original.equals(reloaded.creds.noiseKey.private), "the noise key (the link itself) is unchanged");
  const keys = await reloaded.keys.get("pre-key", ["1", "2"]);
  assert.deepEqual(Object.keys(keys), ["1"]);
  assert.ok(Buffer.from([4, 5, 6]).equals((keys["1"] as { private: Buffer }).private));
  const session = await reloaded.keys.get("session", ["15557654321.0"]);
  assert.equal(Buffer.from(session["15557654321.0"] as Buffer).toString(), "session-bytes");
  const sync = await reloaded.keys.get("app-state-sync-key", ["AAAA"]);
  assert.ok(sync.AAAA instanceof proto.Message.AppStateSyncKeyData, "app-state-sync keys come back as protobuf objects");
});

test("unreadable current creds fall back to the backup instead of a new QR scan", async (t) => {
  const db = await tempDatabase(t);
  const database = await db.open();
  const store = new WhatsAppAuthStore(database);
  const { state, saveCreds } = load(store);
  Object.assign(state.creds, { me: { id: "15550001111:5@s.whatsapp.net" } });
  saveCreds();
  saveCreds(); // the backup is now the previous good creds
  database.prepare("UPDATE whatsapp_creds SET data = '{\"noiseKey\": {\"priv' WHERE slot = 'current'").run();
  const recovered: string[] = [];
  const restored = load(store, recovered).state;
  assert.equal(restored.creds.me?.id, "15550001111:5@s.whatsapp.net");
  assert.ok(Buffer.from(state.creds.signedIdentityKey.private).equals(Buffer.from(restored.creds.signedIdentityKey.private)));
  assert.equal(recovered.length, 1);
  assert.match(recovered[0]!, /current WhatsApp creds were unreadable.*restored the backup/);
  assert.equal(store.isLinked(), true);

  // A save after the recovery never copies the broken row over the good backup.
  const again = load(store);
  again.saveCreds();
  const rows = database.prepare("SELECT slot, data FROM whatsapp_creds ORDER BY slot").all() as Array<{ slot: string; data: string }>;
  for (const row of rows) assert.doesNotThrow(() => JSON.parse(row.data), row.slot);

  store.wipe();
  assert.deepEqual(store.counts(), { creds: 0, keys: 0 });
  assert.equal(store.isLinked(), false);
});
