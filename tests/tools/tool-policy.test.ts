import assert from "node:assert/strict";
import { test } from "node:test";
import { decideToolCall, matchesGlob, modelToolName } from "../../src/tools/index.ts";
import type { ToolDescriptor } from "../../src/tools/index.ts";

const tool = (name: string, annotations?: ToolDescriptor["annotations"]): ToolDescriptor => ({
  name, description: name, inputSchema: { type: "object" }, ...(annotations ? { annotations } : {}),
});
const RO = { readOnlyHint: true };
const W = { readOnlyHint: false, destructiveHint: false, openWorldHint: false };
const D = { readOnlyHint: false, destructiveHint: true, openWorldHint: false };
const OW = { readOnlyHint: false, destructiveHint: false, openWorldHint: true };
const origin = (server: string, toolName: string, trusted: boolean, sibling?: (name: string) => ToolDescriptor | undefined) =>
  ({ server, toolName, trusted, ...(sibling ? { sibling } : {}) });

test("the default policy: read-only auto, trusted writes auto, destructive/open-world confirm, untrusted writes confirm", () => {
  assert.equal(decideToolCall(tool("x__list", RO), origin("x", "list", false), {}).decision, "auto");
  assert.equal(decideToolCall(tool("favcrm__create_booking", W), origin("favcrm", "create_booking", true), {}).decision, "auto");
  assert.equal(decideToolCall(tool("favcrm__cancel_booking", D), origin("favcrm", "cancel_booking", true), {}).decision, "confirm");
  assert.equal(decideToolCall(tool("favcrm__fetch", OW), origin("favcrm", "fetch", true), {}).decision, "confirm");
  assert.equal(decideToolCall(tool("other__write", W), origin("other", "write", false), {}).decision, "confirm");
  // MCP defaults: no annotations means possibly destructive and open-world.
  assert.equal(decideToolCall(tool("favcrm__mystery"), origin("favcrm", "mystery", true), {}).decision, "confirm");
});

test("FavCRM's direct customer sends are denied with a pointer to request_send_approval", () => {
  for (const name of ["send_message", "send_whatsapp_message", "send_campaign", "send_test_campaign"]) {
    const verdict = decideToolCall(tool(`favcrm__${name}`, W), origin("favcrm", name, true), {});
    assert.equal(verdict.decision, "deny", name);
    assert.match(verdict.message ?? "", /request_send_approval/);
  }
  assert.equal(decideToolCall(tool("other__send_message", RO), origin("other", "send_message", false), {}).decision, "auto", "only FavCRM's");
});

test("execute_tool is judged by the tool it targets", () => {
  const siblings: Record<string, ToolDescriptor> = { list_services: tool("favcrm__list_services", RO), void_invoice: tool("favcrm__void_invoice", D), send_campaign: tool("favcrm__send_campaign", W) };
  const sibling = (name: string) => siblings[name];
  const meta = tool("favcrm__execute_tool", { destructiveHint: true, openWorldHint: true });
  assert.equal(decideToolCall(meta, origin("favcrm", "execute_tool", true, sibling), { toolName: "list_services", arguments: {} }).decision, "auto");
  assert.equal(decideToolCall(meta, origin("favcrm", "execute_tool", true, sibling), { toolName: "void_invoice" }).decision, "confirm");
  assert.equal(decideToolCall(meta, origin("favcrm", "execute_tool", true, sibling), { toolName: "send_campaign" }).decision, "deny");
  assert.equal(decideToolCall(meta, origin("favcrm", "execute_tool", true, sibling), { toolName: "unknown" }).decision, "confirm");
});

test("tools.policy rules override, first match wins, with globs", () => {
  const rules = [
    { match: "favcrm__cancel_*", decision: "deny" as const },
    { match: "favcrm__*", decision: "confirm" as const },
  ];
  assert.equal(decideToolCall(tool("favcrm__cancel_booking", D), origin("favcrm", "cancel_booking", true), {}, rules).decision, "deny");
  assert.equal(decideToolCall(tool("favcrm__list_services", RO), origin("favcrm", "list_services", true), {}, rules).decision, "confirm");
  assert.equal(decideToolCall(tool("memory_read", RO), origin("memory", "memory_read", true), {}, rules).decision, "auto");
});

test("model-facing names are namespaced and sanitised to ^[a-zA-Z0-9_-]{1,64}$", () => {
  assert.equal(modelToolName("favcrm", "cancel_booking"), "favcrm__cancel_booking");
  assert.equal(modelToolName("everything", "get.sum"), "everything__get_sum");
  const long = modelToolName("a-very-long-server-name", "x".repeat(80));
  assert.match(long, /^[a-zA-Z0-9_-]{1,64}$/);
  assert.notEqual(long, modelToolName("a-very-long-server-name", `${"x".repeat(79)}y`), "no collisions after truncation");
  assert.ok(matchesGlob("favcrm__cancel_*", "favcrm__cancel_booking") && !matchesGlob("favcrm__cancel_*", "favcrm__list"));
});
