import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { openDatabase } from "../../src/state/index.ts";
import { ToolIndex, WorkingSets, MAX_TOOLS_PER_REQUEST, type ToolDescriptor } from "../../src/tools/index.ts";

const tool = (name: string, description: string): ToolDescriptor => ({ name, description, inputSchema: { type: "object" } });

async function database(t: TestContext) {
  const directory = await mkdtemp(join(tmpdir(), "faraday-tool-index-"));
  const path = join(directory, "faraday.sqlite");
  const opened = await openDatabase(path);
  t.after(async () => {
    opened.close();
    await rm(directory, { recursive: true, force: true });
  });
  return { opened, path };
}

test("the tool index finds tools by name words and stemmed description, best first", async (t) => {
  const { opened } = await database(t);
  const index = new ToolIndex(opened);
  index.sync([{ name: "crm", tools: [
    tool("crm__refund_payment", "Refund a payment in full or in part."),
    tool("crm__list_payments", "List payments received between two dates."),
    tool("crm__cancel_booking", "Cancel a booking."),
    tool("crm__list_customers", "List customers, newest first."),
  ] }]);
  assert.deepEqual(index.search("refund", 5).map((hit) => hit.name), ["crm__refund_payment"]);
  assert.equal(index.search("cancel the bookings", 5)[0]!.name, "crm__cancel_booking", "stemmed: bookings → booking");
  assert.equal(index.search("payments", 5).length, 2);
  assert.deepEqual(index.search("the a of", 5), [], "stop words alone match nothing");
  assert.deepEqual(index.search("\"; DROP TABLE x; --", 5), [], "query syntax is never passed through");
});

test("the tool index is kept fresh on re-list: changed servers are re-indexed, gone servers dropped, fingerprints survive a restart", async (t) => {
  const { opened, path } = await database(t);
  const index = new ToolIndex(opened);
  index.sync([{ name: "crm", tools: [tool("crm__old_report", "An old report.")] }, { name: "other", tools: [tool("other__ping", "Ping.")] }]);
  assert.equal(index.size(), 2);
  index.sync([{ name: "crm", tools: [tool("crm__revenue_report", "Revenue by day.")] }]);
  assert.deepEqual(index.search("report", 5).map((hit) => hit.name), ["crm__revenue_report"]);
  assert.deepEqual(index.search("ping", 5), [], "a server that no longer lists is dropped");

  // A new index over the same file (a restart) knows the fingerprint: no re-index of the same list.
  const second = await openDatabase(path);
  t.after(() => second.close());
  const restarted = new ToolIndex(second);
  second.exec("DELETE FROM tool_catalog_fts");
  restarted.sync([{ name: "crm", tools: [tool("crm__revenue_report", "Revenue by day.")] }]);
  assert.equal(restarted.size(), 0, "unchanged list: not re-indexed");
  restarted.sync([{ name: "crm", tools: [tool("crm__revenue_report", "Revenue by day and staff.")] }]);
  assert.equal(restarted.size(), 1, "a changed description is re-indexed");
});

test("a working set never exceeds its max (nor 128): find_tools, the core, then the most recently used in a stable order", () => {
  const catalog = Array.from({ length: 300 }, (_, index) => tool(`s__tool_${index}`, "x"));
  const finder = tool("find_tools", "find");
  const sets = new WorkingSets(() => ({ max: 500, core: ["s__tool_1*"] }));
  assert.equal(sets.limit(), MAX_TOOLS_PER_REQUEST);
  sets.beginTurn("s");
  sets.use("s", catalog.map((entry) => entry.name));
  const selected = sets.select("s", catalog, finder);
  assert.equal(selected.length, 128);
  assert.equal(selected[0]!.name, "find_tools");
  assert.equal(selected[1]!.name, "s__tool_1");

  // Membership by recency (the least recently used falls out), order by catalog: using a tool
  // that is already in the set leaves the list byte-identical (the prompt-cache prefix).
  const small = new WorkingSets(() => ({ max: 3, core: [] }));
  small.beginTurn("s");
  small.use("s", ["s__tool_9", "s__tool_8"]);
  small.use("s", ["s__tool_7"]);
  const names = () => small.select("s", catalog, finder).map((entry) => entry.name);
  assert.deepEqual(names(), ["find_tools", "s__tool_7", "s__tool_8"]);
  small.use("s", ["s__tool_8"]);
  assert.deepEqual(names(), ["find_tools", "s__tool_7", "s__tool_8"]);
  assert.equal(small.select("s", catalog.slice(0, 3), finder).length, 3, "a catalog within max is sent whole, without find_tools");
  assert.ok(!small.select("s", catalog.slice(0, 3), finder).includes(finder));
});
