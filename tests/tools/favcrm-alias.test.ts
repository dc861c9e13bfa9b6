import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { startFavcrmFake, FAVCRM_FAKE_DEFAULT_API_KEY, FAVCRM_FAKE_OTP_CODE } from "../fakes/favcrm-fake.ts";
import { toolResults, type RecordedRequest } from "../fakes/model-script.ts";
import { startAgentHarness } from "../helpers/agent-harness.ts";
import { decideToolCall, type ToolNotice } from "../../src/tools/index.ts";
import { FAVCRM_SECRET, resolveServerSpecs } from "../../src/tools/mcp/server-specs.ts";

const ANTHROPIC_KEY = "fake-anthropic-key-for-tests";
const MODEL = { agents: { defaults: { model: "anthropic/claude-test" } } };
const lastData = (request: RecordedRequest) => JSON.parse(toolResults(request).at(-1)!.content).data;

/**
 * FavCRM pasted as a Claude Desktop `mcpServers` block under the alias `crm2`, recognised either
 * by `favcrm: true` or by its URL host (here FAVCRM_MCP_URL's, as the fake is on loopback).
 */
async function setup(t: TestContext, recognisedBy: "flag" | "host") {
  const model = await startAnthropicFake();
  t.after(() => model.close());
  const favcrm = await startFavcrmFake();
  t.after(() => favcrm.close());
  const env = { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: model.url, ...(recognisedBy === "host" ? { FAVCRM_MCP_URL: favcrm.url } : {}) };
  const crm2 = { url: favcrm.url, headers: { Authorization: `Bearer ${FAVCRM_FAKE_DEFAULT_API_KEY}` }, ...(recognisedBy === "flag" ? { favcrm: true } : {}) };
  const harness = await startAgentHarness(t, { config: { ...MODEL, mcpServers: { crm2 } }, env });
  return { model, favcrm, ...harness };
}

for (const recognisedBy of ["flag", "host"] as const) {
  test(`FavCRM as crm2 (by ${recognisedBy}): a direct customer send is denied, never reaches the server; the model is pointed at crm2__request_send_approval`, async (t) => {
    const { model, favcrm, runtime } = await setup(t, recognisedBy);
    model.enqueue(
      { toolCalls: [{ name: "crm2__send_whatsapp_message", arguments: { to: "+85212345678", message: "Hi!" } }] },
      (request) => ({ text: toolResults(request).at(-1)!.content }),
    );
    const notices: ToolNotice[] = [];
    const result = await runtime.handle({ channel: "telegram", chat: "c", sender: "owner", text: "message the customer", onNotice: (notice) => notices.push(notice) });
    assert.equal(result.toolCalls[0]!.decision, "deny");
    assert.match(result.reply, /crm2__request_send_approval/);
    assert.deepEqual(notices, [], "denied, not asked");
    assert.equal(favcrm.calls.filter((call) => call.tool === "send_whatsapp_message").length, 0);
  });

  test(`FavCRM as crm2 (by ${recognisedBy}): the signup key from register_organisation_verify never reaches the model or the transcript; it is kept in the secret store`, async (t) => {
    const { model, favcrm, runtime, approvals, sessions, secrets } = await setup(t, recognisedBy);
    model.enqueue(
      { toolCalls: [{ name: "crm2__register_organisation_request", arguments: { email: "o@example.test", organisationName: "Salon", industry: "beauty", country: "HK", timezone: "Asia/Hong_Kong" } }] },
      (request) => ({ toolCalls: [{ name: "crm2__register_organisation_verify", arguments: { requestId: lastData(request).requestId, code: FAVCRM_FAKE_OTP_CODE } }] }),
      (request) => ({ text: `Workspace: ${toolResults(request).at(-1)!.content}` }),
    );
    // crm2 is not marked trusted, so both calls ask; the owner says yes each time.
    const result = await runtime.handle({
      channel: "web", chat: "w", sender: "web", text: "sign me up, the code is 123456",
      onNotice: (notice) => void approvals.decide(notice.approval.id, true, "api"),
    });
    assert.equal(favcrm.issuedKeys.length, 1, "the fake issued a key");
    const key = favcrm.issuedKeys[0]!;
    assert.match(result.reply, /workspace is ready/i);
    for (const request of model.requests) assert.ok(!request.rawBody.includes(key), "the model saw the key");
    assert.ok(!JSON.stringify(result).includes(key), "the turn's result (what /api/chat returns) carries the key");
    assert.ok(!JSON.stringify(sessions.messagesAfter(result.sessionId, 0)).includes(key), "the transcript carries the key");
    assert.equal(secrets.get(FAVCRM_SECRET), key, "kept in the secret store");
  });
}

test("FavCRM is recognised by its URL host under any alias; favcrm: false cannot switch that off; other hosts are not FavCRM", () => {
  const specs = resolveServerSpecs({
    mcpServers: {
      crm2: { url: "https://api.favcrm.io/mcp" },
      crm3: { url: "https://eu.api.favcrm.io/mcp?x=1", favcrm: false },
      lookalike: { url: "https://favcrm.io.evil.example/mcp" },
      other: { url: "https://example.com/mcp" },
      marked: { url: "https://crm.internal.example/mcp", favcrm: true },
    },
  }, {}, undefined);
  const favcrm = Object.fromEntries(specs.map((spec) => [spec.name, spec.favcrm]));
  assert.deepEqual(favcrm, { crm2: true, crm3: true, lookalike: false, other: false, marked: true, favcrm: true });

  const send = { name: "crm2__send_message", description: "", inputSchema: {}, annotations: { destructiveHint: false, openWorldHint: true } };
  assert.equal(decideToolCall(send, { server: "crm2", trusted: false, favcrm: true, toolName: "send_message" }, {}).decision, "deny");
  assert.equal(decideToolCall(send, { server: "crm2", trusted: false, favcrm: false, toolName: "send_message" }, {}).decision, "confirm");
});
