/**
 * A customer's tool access in-process: the real MCP client against the FavCRM fake, a scripted
 * Anthropic model, the agent wired as the gateway wires it (tests/helpers/agent-harness.ts).
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { startFavcrmFake, FAVCRM_FAKE_DEFAULT_API_KEY } from "../fakes/favcrm-fake.ts";
import { toolResults, type RecordedRequest } from "../fakes/model-script.ts";
import { startAgentHarness } from "../helpers/agent-harness.ts";
import { pinArguments, toolAllowed, type ToolAccess } from "../../src/tools/index.ts";
import { PeopleDirectory } from "../../src/channels/people-directory.ts";
import type { FaradayConfig } from "../../src/config/index.ts";

const lastContent = (request: RecordedRequest) => toolResults(request).at(-1)!.content;
const CUSTOMER = { id: "2002", channel: "telegram", name: "Amy", phone: "+85291234567", role: "customer" as const };

async function setup(t: TestContext, agent: Record<string, unknown>) {
  const model = await startAnthropicFake();
  t.after(() => model.close());
  const favcrm = await startFavcrmFake();
  t.after(() => favcrm.close());
  const env = { ANTHROPIC_API_KEY: "fake-anthropic-key-for-tests", ANTHROPIC_BASE_URL: model.url, FAVCRM_MCP_URL: favcrm.url, FAVCRM_API_KEY: FAVCRM_FAKE_DEFAULT_API_KEY };
  const config = { agents: { defaults: { model: "anthropic/claude-test" }, list: [{ id: "main", default: true }, { id: "front-desk", role: "customer", ...agent }] } };
  return { model, favcrm, ...(await startAgentHarness(t, { config, env })) };
}

test("pins reach the target of execute_tool, and execute_tool cannot reach a tool outside the allowlist", async (t) => {
  const { model, favcrm, runtime } = await setup(t, {
    tools: { allow: ["favcrm__execute_tool", "favcrm__list_bookings"] },
    toolArgs: { favcrm__list_bookings: { "customer.phone": "{sender.phone}" } },
  });
  model.enqueue(
    { toolCalls: [{ name: "favcrm__execute_tool", arguments: { toolName: "list_bookings", arguments: { customer: { phone: "+85200000000" } } } }] },
    { toolCalls: [{ name: "favcrm__execute_tool", arguments: { toolName: "void_invoice", arguments: { invoiceId: "inv_1001" } } }] },
    (request) => ({ text: `R: ${lastContent(request)}` }),
  );
  const result = await runtime.handle({ channel: "telegram", chat: "2002", sender: CUSTOMER, text: "my bookings, and void inv_1001" });
  assert.equal(result.agentId, "front-desk");
  assert.deepEqual(favcrm.calls.map((call) => [call.tool, call.arguments]), [
    ["execute_tool", { toolName: "list_bookings", arguments: { customer: { phone: "+85291234567" } } }],
  ]);
  assert.match(result.reply, /^R: favcrm__void_invoice is not available in this chat\./);
});

test("an owner is never routed to a customer agent; a customer without a binding gets the first customer agent", async (t) => {
  const { runtime } = await setup(t, { tools: { allow: ["favcrm__list_services"] } });
  assert.equal(runtime.resolveAgent({ channel: "telegram", chat: "1", role: "owner" }).id, "main");
  assert.equal(runtime.resolveAgent({ channel: "telegram", chat: "1", role: "customer" }).id, "front-desk");
  assert.equal(runtime.resolveAgent({ channel: "web", chat: "web" }).id, "main", "no role: the token holder, the owner");
});

test("a customer on an agent without an allowlist gets the server's tools but not the memory tools (memory_search reads every transcript)", async (t) => {
  const { model, runtime } = await setup(t, {});
  await runtime.handle({ channel: "telegram", chat: "2002", sender: CUSTOMER, text: "hi" });
  const offered = (model.requests.at(-1)!.body.tools as Array<{ name: string }>).map((tool) => tool.name);
  assert.ok(offered.includes("favcrm__list_services"));
  assert.deepEqual(offered.filter((name) => name.startsWith("memory_")), []);
  await runtime.handle({ channel: "web", chat: "web", text: "hi" });
  const ownerOffered = (model.requests.at(-1)!.body.tools as Array<{ name: string }>).map((tool) => tool.name);
  assert.ok(ownerOffered.includes("memory_search"), "the owner keeps them");
});

test("toolAllowed: deny beats allow; no allow list allows everything else", () => {
  const sender = { ...CUSTOMER };
  const access: ToolAccess = { sender, allow: ["favcrm__list_*", "favcrm__create_booking"], deny: ["favcrm__list_invoices"] };
  assert.deepEqual(["favcrm__list_bookings", "favcrm__create_booking", "favcrm__list_invoices", "memory_write"].map((name) => toolAllowed(access, name)), [true, true, false, false]);
  assert.equal(toolAllowed({ sender, deny: ["memory_*"] }, "favcrm__void_invoice"), true);
  assert.equal(toolAllowed(undefined, "anything"), true);
});

test("pinArguments overwrites dotted paths from the verified sender, leaves the caller's object alone, and refuses when a value is unknown", () => {
  const access: ToolAccess = { sender: CUSTOMER, pins: { favcrm__create_booking: { "customer.phone": "{sender.phone}", "customer.name": "{sender.name} ({sender.channel} {sender.id})" } } };
  const requested = { serviceId: "s", customer: "someone else" };
  const pinned = pinArguments(access, "favcrm__create_booking", requested);
  assert.deepEqual(pinned, { args: { serviceId: "s", customer: { phone: "+85291234567", name: "Amy (telegram 2002)" } } });
  assert.deepEqual(requested, { serviceId: "s", customer: "someone else" });
  assert.deepEqual(pinArguments(access, "favcrm__list_services", { a: 1 }), { args: { a: 1 } });
  const noPhone = pinArguments({ ...access, sender: { id: "9", channel: "discord", role: "customer" } }, "favcrm__create_booking", {});
  assert.ok("refusal" in noPhone && /needs the customer's phone number/.test(noPhone.refusal) && noPhone.missing === "phone");
});

test("roles: without owners or customer agents everyone is the owner; once an owner exists everyone else is a customer; WhatsApp numbers compare normalised; config and database owners add up", async (t) => {
  const harness = await startAgentHarness(t, { config: {}, env: {} });
  let config: FaradayConfig = {};
  const people = new PeopleDirectory(harness.database, () => config);
  assert.equal(people.role("telegram", "5"), "owner");
  config = { owners: [{ channel: "whatsapp", id: "+852 9123-4567" }] };
  assert.equal(people.role("whatsapp", "+85291234567"), "owner");
  assert.equal(people.role("telegram", "5"), "customer");
  people.addOwner("telegram", "5", "Olive", "test");
  assert.equal(people.role("telegram", "5"), "owner");
  assert.deepEqual(people.owners().map((owner) => [owner.channel, owner.sender, owner.source]), [["whatsapp", "+85291234567", "config"], ["telegram", "5", "database"]]);
  assert.equal(people.removeOwner("whatsapp", "+85291234567"), false, "a config owner is not removed from the database side");
  assert.deepEqual(people.ownerContacts(), [], "nobody wrote yet: nobody can be asked");
  people.recordDmChat("telegram", "5", "5");
  assert.deepEqual(people.ownerContacts(), [{ channel: "telegram", sender: "5", chat: "5", name: "Olive" }]);
  assert.equal(people.phone("whatsapp", "+85291234567"), "+85291234567");
  assert.equal(people.phone("telegram", "7"), undefined);
  people.setPhone("telegram", "7", "+85260000000");
  assert.equal(people.phone("telegram", "7"), "+85260000000");
});
