import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { startAnthropicFake } from "../fakes/anthropic-fake.ts";
import { startFavcrmFake, FAVCRM_FAKE_DEFAULT_API_KEY } from "../fakes/favcrm-fake.ts";
import { toolResults } from "../fakes/model-script.ts";
import { api, runToExit, startGateway, tempStateDir } from "../helpers/gateway-process.ts";

const TOKEN = "test-gateway-token-0123456789";
const ANTHROPIC_KEY = "fake-anthropic-key-for-tests";

async function setup(t: TestContext) {
  const model = await startAnthropicFake();
  t.after(() => model.close());
  const favcrm = await startFavcrmFake();
  t.after(() => favcrm.close());
  const stateDir = await tempStateDir(t);
  const env = {
    OPENCLAW_GATEWAY_TOKEN: TOKEN, ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: model.url,
    FAVCRM_MCP_URL: favcrm.url, FAVCRM_API_KEY: FAVCRM_FAKE_DEFAULT_API_KEY,
  };
  const gateway = await startGateway(t, stateDir, { env });
  return { model, favcrm, stateDir, gateway };
}

/** The model asks to void an invoice (a confirm-level tool), then reports the tool's result. */
function scriptVoid(model: Awaited<ReturnType<typeof startAnthropicFake>>) {
  model.enqueue(
    { toolCalls: [{ name: "favcrm__void_invoice", arguments: { invoiceId: "inv_1001", reason: "duplicate" } }] },
    (request) => ({ text: `result: ${toolResults(request).at(-1)!.content.slice(0, 60)}` }),
  );
}

const voidCalls = (favcrm: Awaited<ReturnType<typeof startFavcrmFake>>) => favcrm.calls.filter((call) => call.tool === "void_invoice").length;

test("POST /api/chat (JSON) returns the question with pendingApproval at once; YES as the next message resumes the turn and its reply carries the tool's result", async (t) => {
  const { model, favcrm, gateway } = await setup(t);
  scriptVoid(model);
  const asked = await api(gateway.url, "/api/chat", { token: TOKEN, method: "POST", body: { text: "void invoice inv_1001" } });
  assert.equal(asked.status, 200);
  assert.match(asked.json.reply, /Approval needed: favcrm__void_invoice/);
  const pending = asked.json.pendingApproval;
  assert.equal(pending.tool, "favcrm__void_invoice");
  assert.deepEqual(pending.arguments, { invoiceId: "inv_1001", reason: "duplicate" });
  assert.ok(Date.parse(pending.expiresAt) > Date.now());
  assert.equal(pending.sessionId, asked.json.sessionId);
  assert.equal(voidCalls(favcrm), 0, "nothing ran before the yes");
  const listed = (await api(gateway.url, "/api/approvals", { token: TOKEN })).json.approvals;
  assert.deepEqual(listed.map((row: { id: string }) => row.id), [pending.id]);

  const resumed = await api(gateway.url, "/api/chat", { token: TOKEN, method: "POST", body: { text: "YES", sessionId: asked.json.sessionId } });
  assert.equal(resumed.status, 200);
  assert.equal(resumed.json.pendingApproval, undefined);
  assert.match(resumed.json.reply, /^result: /);
  assert.match(resumed.json.reply, /inv_1001/);
  assert.equal(resumed.json.toolCalls[0].name, "favcrm__void_invoice");
  assert.equal(resumed.json.toolCalls[0].isError, false);
  assert.equal(voidCalls(favcrm), 1);
  assert.equal((await api(gateway.url, "/api/approvals", { token: TOKEN })).json.approvals.length, 0);
});

test("POST /api/approvals/:id resumes a turn whose JSON client left: its response carries the turn's reply; deny reaches the model as a decline", async (t) => {
  const { model, favcrm, gateway } = await setup(t);
  scriptVoid(model);
  const asked = await api(gateway.url, "/api/chat", { token: TOKEN, method: "POST", body: { text: "void invoice inv_1001" } });
  const decided = await api(gateway.url, `/api/approvals/${asked.json.pendingApproval.id}`, { token: TOKEN, method: "POST", body: { decision: "approve" } });
  assert.equal(decided.status, 200);
  assert.equal(decided.json.approval.status, "approved");
  assert.equal(decided.json.sessionId, asked.json.sessionId);
  assert.match(decided.json.reply, /^result: .*inv_1001/);
  assert.equal(voidCalls(favcrm), 1);

  scriptVoid(model);
  const again = await api(gateway.url, "/api/chat", { token: TOKEN, method: "POST", body: { text: "void it again", sessionId: asked.json.sessionId } });
  assert.ok(again.json.pendingApproval);
  const denied = await api(gateway.url, "/api/chat", { token: TOKEN, method: "POST", body: { text: "no", sessionId: asked.json.sessionId } });
  assert.match(denied.json.reply, /^result: Declined by the user/);
  assert.equal(voidCalls(favcrm), 1, "a no runs nothing");
});

test("faraday chat -m prints the session id and the question, exits 10 (APPROVAL_PENDING); -m yes with that session prints the resumed answer", async (t) => {
  const { model, favcrm, gateway, stateDir } = await setup(t);
  scriptVoid(model);
  const env = { OPENCLAW_GATEWAY_TOKEN: TOKEN };
  const asked = await runToExit(t, ["chat", "-m", "void invoice inv_1001", "--state-dir", stateDir], env);
  assert.equal(asked.code, 10, asked.stderr);
  const sessionId = /Session: (\S+)/.exec(asked.stdout)?.[1];
  assert.ok(sessionId, asked.stdout);
  assert.match(asked.stdout, /Approval needed: favcrm__void_invoice/);
  assert.match(asked.stderr, new RegExp(`faraday chat --session ${sessionId} -m yes`));
  assert.doesNotMatch(asked.stderr, /--session ID/);
  // The CLI left; its stream closed. The answer from a second command gets the turn's reply.
  const answered = await runToExit(t, ["chat", "--session", sessionId!, "-m", "yes", "--state-dir", stateDir], env);
  assert.equal(answered.code, 0, answered.stderr);
  assert.match(answered.stdout, /^result: .*inv_1001/);
  assert.equal(voidCalls(favcrm), 1);

  scriptVoid(model);
  const json = await runToExit(t, ["chat", "-m", "void invoice inv_1001", "--json", "--state-dir", stateDir], env);
  assert.equal(json.code, 10);
  assert.equal(JSON.parse(json.stdout).pendingApproval.tool, "favcrm__void_invoice");
  assert.ok(gateway.url);
});

test("interactive faraday chat asks Approve? [y/n] inline; y runs the tool and the answer follows in the same stream", async (t) => {
  const { model, favcrm, stateDir } = await setup(t);
  scriptVoid(model);
  const { spawn } = await import("node:child_process");
  const { ENTRY, cleanEnv } = await import("../helpers/gateway-process.ts");
  const child = spawn(process.execPath, [ENTRY, "chat", "--state-dir", stateDir], { env: cleanEnv({ OPENCLAW_GATEWAY_TOKEN: TOKEN }), stdio: ["pipe", "pipe", "pipe"] });
  t.after(() => child.kill("SIGKILL"));
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const waitFor = async (pattern: RegExp) => {
    for (let attempt = 0; attempt < 400 && !pattern.test(output); attempt++) await new Promise((resolve) => setTimeout(resolve, 25));
    assert.match(output, pattern);
  };
  await waitFor(/you> /);
  child.stdin.write("void invoice inv_1001\n");
  await waitFor(/Approve\? \[y\/n\] /);
  assert.equal(voidCalls(favcrm), 0);
  child.stdin.write("y\n");
  await waitFor(/result: .*inv_1001/);
  assert.equal(voidCalls(favcrm), 1);
  child.stdin.end();
  assert.equal(await exited, 0);
});
