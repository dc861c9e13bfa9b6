import assert from "node:assert/strict";
import { test } from "node:test";

test("finished ingress rows are pruned after a week; unfinished ones never are", async (t) => {
  const { mkdtemp, rm } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { openDatabase } = await import("../../src/state/database.ts");
  const { IngressStore } = await import("../../src/channels/ingress-store.ts");
  const directory = await mkdtemp(join(tmpdir(), "faraday-ingress-"));
  const database = await openDatabase(join(directory, "db.sqlite"));
  t.after(async () => {
    database.close();
    await rm(directory, { recursive: true, force: true });
  });
  const store = new IngressStore(database);
  const message = (id: string) => ({ channel: "telegram", account: "1", chat: "c", chatType: "dm" as const, sender: "s", text: "hi", platformId: id, addressedToBot: false });
  const done = store.add(message("old-done"))!;
  store.finish(done.id, "done");
  store.add(message("old-pending"));
  assert.equal(store.add(message("old-done")), undefined, "a redelivery is deduplicated");
  database.prepare("UPDATE ingress SET received_at = '2020-01-01T00:00:00.000Z'").run();
  assert.equal(store.prune(7), 1);
  assert.deepEqual(store.unfinished().map((row) => row.message.platformId), ["old-pending"]);
});
