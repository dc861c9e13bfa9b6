/**
 * The two WhatsApp stores Baileys reads through the gateway's database: contacts' device lists
 * (`userDevicesCache`) and sent messages for retry receipts (`getMessage`), on a real SQLite
 * file that is closed and opened again (a restart).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { WhatsAppAuthStore } from "../../src/channels/whatsapp/auth-store.ts";
import { WhatsAppDeviceCache } from "../../src/channels/whatsapp/device-cache.ts";
import { SENT_MESSAGE_RETENTION_MS, WhatsAppSentMessageStore } from "../../src/channels/whatsapp/sent-message-store.ts";
import { openDatabase, type Database } from "../../src/state/index.ts";

async function databaseFile(t: TestContext): Promise<() => Promise<Database>> {
  const directory = await mkdtemp(join(tmpdir(), "faraday-wa-stores-"));
  const opened: Database[] = [];
  t.after(async () => {
    for (const database of opened) if (database.isOpen) database.close();
    await rm(directory, { recursive: true, force: true });
  });
  return async () => {
    const database = await openDatabase(join(directory, "faraday.sqlite"));
    opened.push(database);
    return database;
  };
}

const devices = [{ user: "15557654321", device: 0, server: "s.whatsapp.net" }, { user: "15557654321", device: 3, server: "s.whatsapp.net" }];

test("device lists survive a restart; a list past its TTL is still returned and reported stale once read", async (t) => {
  const open = await databaseFile(t);
  const clock = { now: 1_000_000 };
  let database = await open();
  let cache = new WhatsAppDeviceCache(database, { ttlMs: 60_000, now: () => clock.now });
  assert.equal(cache.get("15557654321"), undefined);
  cache.set("15557654321", devices);
  database.close();

  database = await open();
  cache = new WhatsAppDeviceCache(database, { ttlMs: 60_000, now: () => clock.now });
  const stale: string[] = [];
  cache.onStale = (user) => stale.push(user);
  assert.deepEqual(cache.get("15557654321"), devices);
  assert.deepEqual(stale, [], "fresh");
  clock.now += 60_001;
  assert.deepEqual(cache.get("15557654321"), devices, "past the TTL the list is still used");
  assert.deepEqual(stale, ["15557654321"]);
  cache.set("15557654321", devices);
  assert.equal(cache.fetchedAt("15557654321"), clock.now);

  // Baileys asks with an undefined user for a participant jid it cannot decode: a miss, no throw.
  assert.equal(cache.get(undefined as unknown as string), undefined);
  cache.set(undefined as unknown as string, devices);
  cache.del(undefined as unknown as string);

  cache.del("15557654321");
  assert.equal(cache.get("15557654321"), undefined);
  cache.set("1", devices);
  cache.set("2", devices);
  cache.flushAll();
  assert.equal(cache.get("1"), undefined);
  assert.equal(cache.get("2"), undefined);
});

test("sent messages are kept 7 days for the chat they went to, under either jid form, and pruned after", async (t) => {
  const open = await databaseFile(t);
  const clock = { now: 5_000_000_000 };
  let database = await open();
  let sent = new WhatsAppSentMessageStore(database, { now: () => clock.now });
  const bytes = Uint8Array.from([10, 3, 104, 105, 33]);
  sent.put("3EB0A1", "15557654321@s.whatsapp.net", "200015557654321@lid", bytes);
  database.close();

  database = await open();
  sent = new WhatsAppSentMessageStore(database, { now: () => clock.now });
  assert.deepEqual(sent.get("3EB0A1", ["15557654321@s.whatsapp.net"]), bytes);
  assert.deepEqual(sent.get("3EB0A1", ["200015557654321@lid"]), bytes, "the LID form finds it too");
  assert.equal(sent.get("3EB0A1", ["15550009999@s.whatsapp.net"]), undefined, "another chat cannot have it re-sent to them");
  assert.equal(sent.get("UNKNOWN", ["15557654321@s.whatsapp.net"]), undefined);

  clock.now += SENT_MESSAGE_RETENTION_MS + 1;
  assert.equal(sent.get("3EB0A1", ["15557654321@s.whatsapp.net"]), undefined, "past the retention window");
  sent.put("3EB0A2", "15557654321@s.whatsapp.net", undefined, bytes);
  assert.equal(sent.count(), 1, "writing pruned the expired row");
});

test("unlinking forgets the device lists and sent messages with the creds", async (t) => {
  const database = await (await databaseFile(t))();
  const cache = new WhatsAppDeviceCache(database);
  const sent = new WhatsAppSentMessageStore(database);
  cache.set("15557654321", devices);
  sent.put("3EB0A1", "15557654321@s.whatsapp.net", undefined, Uint8Array.from([1]));
  new WhatsAppAuthStore(database).wipe();
  assert.equal(cache.get("15557654321"), undefined);
  assert.equal(sent.count(), 0);
});
