import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { test, type TestContext } from "node:test";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { startFavcrmFake, FAVCRM_FAKE_DEFAULT_API_KEY, FAVCRM_FAKE_OTP_CODE } from "../fakes/favcrm-fake.ts";
import { toolResults, type RecordedRequest } from "../fakes/model-script.ts";
import { api, runToExit, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "test-gateway-token-0123456789";
const ANTHROPIC_KEY = "fake-anthropic-key-for-tests";
const lastData = (request: RecordedRequest) => JSON.parse(toolResults(request).at(-1)!.content).data;

async function setup(t: TestContext, options: { withKey: boolean }) {
  const model = await startAnthropicFake();
  t.after(() => model.close());
  const favcrm = await startFavcrmFake();
  t.after(() => favcrm.close());
  const stateDir = await tempStateDir(t);
  const env = {
    OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: model.url, FAVCRM_MCP_URL: favcrm.url,
    ...(options.withKey ? { FAVCRM_API_KEY: FAVCRM_FAKE_DEFAULT_API_KEY } : {}),
  };
  const gateway = await startGateway(t, stateDir, { env });
  return { model, favcrm, stateDir, gateway, env };
}

/** POST /api/chat as SSE; returns the parsed events as they arrive through `onEvent`, and all at the end. */
async function streamChat(url: string, body: unknown, onEvent: (event: string, data: any) => void) {
  const response = await fetch(`${url}/api/chat`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify(body),
  });
  const decoder = new TextDecoder();
  let buffer = "";
  const events: Array<{ event: string; data: any }> = [];
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let boundary: number;
    while ((boundary = buffer.indexOf("\n\n")) !== -1) {
      const frame = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      const event = /^event: (.+)$/m.exec(frame)![1]!;
      const data = JSON.parse(/^data: (.+)$/m.exec(frame)![1]!);
      events.push({ event, data });
      onEvent(event, data);
    }
  }
  return events;
}

test("web chat: a confirm-level call streams an approval event; approving through the API runs it; the audit shows who", async (t) => {
  const { model, favcrm, gateway } = await setup(t, { withKey: true });
  model.enqueue(
    { toolCalls: [{ name: "favcrm__void_invoice", arguments: { invoiceId: "inv_1", reason: "duplicate" } }] },
    (request) => ({ text: `done: ${toolResults(request).at(-1)!.content.slice(0, 40)}` }),
  );
  let pendingSeen: unknown;
  const events = await streamChat(gateway.url, { text: "void invoice inv_1" }, (event, data) => {
    if (event !== "approval") return;
    void (async () => {
      const pending = await api(gateway.url, "/api/approvals", { token: TOKEN });
      pendingSeen = pending.json.approvals;
      assert.equal(favcrm.calls.filter((call) => call.tool === "void_invoice").length, 0, "nothing sent before approval");
      const decided = await api(gateway.url, `/api/approvals/${data.id}`, { token: TOKEN, method: "POST", body: { decision: "approve" } });
      assert.equal(decided.status, 200);
    })();
  });
  const approval = events.find((event) => event.event === "approval")!;
  assert.match(approval.data.text, /favcrm__void_invoice/);
  assert.match(approval.data.text, /Reply YES/);
  assert.equal((pendingSeen as Array<{ tool: string }>)[0]!.tool, "favcrm__void_invoice");
  assert.equal(events.at(-1)!.event, "done");
  assert.equal(favcrm.calls.filter((call) => call.tool === "void_invoice").length, 1);
  const audit = await api(gateway.url, "/api/tool-calls", { token: TOKEN });
  const entry = audit.json.toolCalls.find((row: { tool: string }) => row.tool === "void_invoice");
  assert.equal(entry.approvedBy, "api");
  assert.equal(entry.decision, "confirm");
  assert.equal((await api(gateway.url, "/api/approvals", { token: TOKEN })).json.approvals.length, 0);
  assert.equal((await api(gateway.url, "/api/approvals/nope", { token: TOKEN, method: "POST", body: { decision: "approve" } })).status, 404);
});

test("faraday mcp list/tools/describe/call go through the running gateway with the policy applied", async (t) => {
  const { favcrm, stateDir } = await setup(t, { withKey: true });
  const env = { OPENCLAW_GATEWAY_TOKEN: TOKEN };
  const list = await runToExit(t, ["mcp", "list", "--json", "--state-dir", stateDir], env);
  assert.equal(list.code, 0, list.stderr);
  const server = JSON.parse(list.stdout).servers.find((row: { name: string }) => row.name === "favcrm");
  assert.equal(server.state, "connected");
  assert.equal(server.authSource, "FAVCRM_API_KEY");
  assert.ok(server.toolCount >= 20);

  const tools = JSON.parse((await runToExit(t, ["mcp", "tools", "favcrm", "--json", "--state-dir", stateDir], env)).stdout).tools;
  const policy = (name: string) => tools.find((tool: { serverToolName: string }) => tool.serverToolName === name).policy.decision;
  assert.deepEqual([policy("list_services"), policy("create_booking"), policy("cancel_booking"), policy("send_message")], ["auto", "auto", "confirm", "deny"]);

  const describe = await runToExit(t, ["mcp", "describe", "favcrm", "cancel_booking", "--state-dir", stateDir], env);
  assert.match(describe.stdout, /policy: confirm — destructive/);
  assert.match(describe.stdout, /idempotencyKey/);

  const read = await runToExit(t, ["mcp", "call", "favcrm", "list_services", "{}", "--state-dir", stateDir], env);
  assert.equal(read.code, 0, read.stderr);
  assert.match(read.stdout, /Consultation/);

  const unconfirmed = await runToExit(t, ["mcp", "call", "favcrm", "cancel_booking", '{"bookingId":"bk_x","idempotencyKey":"k"}', "--state-dir", stateDir], env);
  assert.notEqual(unconfirmed.code, 0);
  assert.match(unconfirmed.stderr, /TOOL_NEEDS_CONFIRMATION: .*--yes/);
  assert.equal(favcrm.calls.filter((call) => call.tool === "cancel_booking").length, 0);
  const confirmed = await runToExit(t, ["mcp", "call", "favcrm", "cancel_booking", '{"bookingId":"bk_x","idempotencyKey":"k"}', "--yes", "--json", "--state-dir", stateDir], env);
  assert.equal(JSON.parse(confirmed.stdout).decision, "confirm");
  assert.equal(favcrm.calls.filter((call) => call.tool === "cancel_booking").length, 1);

  const denied = await runToExit(t, ["mcp", "call", "favcrm", "send_message", "{}", "--yes", "--state-dir", stateDir], env);
  assert.match(denied.stderr, /TOOL_DENIED/);
  assert.equal(favcrm.calls.filter((call) => call.tool === "send_message").length, 0);
  const badJson = await runToExit(t, ["mcp", "call", "favcrm", "list_services", "{nope", "--state-dir", stateDir], env);
  assert.match(badJson.stderr, /not valid JSON/);
});

test("signup from chat: the new FavCRM key never reaches the model, the transcript, the logs or the API; FavCRM reconnects with it", async (t) => {
  const { model, favcrm, stateDir, gateway } = await setup(t, { withKey: false });
  model.enqueue(
    { toolCalls: [{ name: "favcrm__register_organisation_request", arguments: { email: "owner@example.test", organisationName: "Salon", industry: "beauty", country: "HK", timezone: "Asia/Hong_Kong" } }] },
    (request) => ({ text: `Check your email (${lastData(request).maskedEmail})` }),
    (request) => {
      const previous = JSON.stringify(request.body.messages);
      const requestId = /"requestId\\?":\\?"([^"\\]+)/.exec(previous)?.[1] ?? "";
      return { toolCalls: [{ name: "favcrm__register_organisation_verify", arguments: { requestId, code: FAVCRM_FAKE_OTP_CODE } }] };
    },
    (request) => ({ text: `Workspace: ${toolResults(request).at(-1)!.content}` }),
    { toolCalls: [{ name: "favcrm__list_services", arguments: {} }] },
    (request) => ({ text: `Services: ${toolResults(request).at(-1)!.content.slice(0, 80)}` }),
  );
  const responses: string[] = [];
  // Requesting the code sends an email (open-world): the owner approves it, here through the API.
  const approver = (async () => {
    for (let attempt = 0; attempt < 400; attempt++) {
      const pending = (await api(gateway.url, "/api/approvals", { token: TOKEN })).json.approvals;
      if (pending.length > 0) {
        responses.push(JSON.stringify(pending));
        await api(gateway.url, `/api/approvals/${pending[0].id}`, { token: TOKEN, method: "POST", body: { decision: "approve" } });
        return pending[0].tool as string;
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return "none";
  })();
  const first = await api(gateway.url, "/api/chat", { token: TOKEN, method: "POST", body: { text: "Sign my salon up" } });
  assert.equal(await approver, "favcrm__register_organisation_request");
  responses.push(first.text);
  const second = await api(gateway.url, "/api/chat", { token: TOKEN, method: "POST", body: { text: "The code is 123456", sessionId: first.json.sessionId } });
  responses.push(second.text);
  assert.equal(favcrm.issuedKeys.length, 1);
  const key = favcrm.issuedKeys[0]!;
  assert.match(second.json.reply, /workspace is ready/i);
  const third = await api(gateway.url, "/api/chat", { token: TOKEN, method: "POST", body: { text: "list my services", sessionId: first.json.sessionId } });
  responses.push(third.text);
  assert.match(third.json.reply, /Consultation/, "FavCRM reconnected with the new key");
  assert.equal(favcrm.calls.filter((call) => call.tool === "list_services").at(-1)!.authorized, true);

  for (const path of ["/api/sessions", `/api/sessions/${first.json.sessionId}/messages`, "/api/tool-calls", "/api/status", "/api/config", "/api/mcp/servers", "/api/approvals"]) {
    responses.push((await api(gateway.url, path, { token: TOKEN })).text);
  }
  for (const text of responses) assert.ok(!text.includes(key), "an API response carries the key");
  for (const request of model.requests) assert.ok(!request.rawBody.includes(key), "the model saw the key");
  assert.ok(!gateway.stdout().includes(key) && !gateway.stderr().includes(key), "a log line carries the key");

  // The whole state dir except the secret store: every file but the database, and every table but `secrets`.
  const scan = async (directory: string): Promise<void> => {
    for (const entry of await readdir(directory, { withFileTypes: true })) {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) await scan(path);
      else if (!entry.name.startsWith("faraday.sqlite")) assert.ok(!(await readFile(path, "utf8")).includes(key), `${path} carries the key`);
    }
  };
  await scan(stateDir);
  const database = new DatabaseSync(join(stateDir, "faraday.sqlite"), { readOnly: true });
  const tables = (database.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'messages_fts_%'").all() as Array<{ name: string }>).map((row) => row.name);
  assert.ok(tables.includes("messages") && tables.includes("tool_calls"));
  for (const table of tables.filter((name) => name !== "secrets")) {
    assert.ok(!JSON.stringify(database.prepare(`SELECT * FROM "${table}"`).all()).includes(key), `table ${table} carries the key`);
  }
  assert.equal((database.prepare("SELECT value FROM secrets WHERE name = 'favcrm.apiKey'").get() as { value: string }).value, key, "kept in the secret store");
  database.close();

  const doctor = await runToExit(t, ["doctor", "--json", "--state-dir", stateDir], { FAVCRM_MCP_URL: favcrm.url });
  assert.ok(!doctor.stdout.includes(key));
  const check = JSON.parse(doctor.stdout).checks.find((row: { name: string }) => row.name === "mcp:favcrm");
  assert.equal(check.status, "ok", check.detail);
  assert.match(check.detail, /auth: secret store \(fav_mcp_\.\.\.\S{4}\)/);
  assert.match(check.detail, /list_my_companies: ok; get_plan_status: ok; authenticated/);
});
