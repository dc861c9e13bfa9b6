import assert from "node:assert/strict";
import { test } from "node:test";
import { everythingStdioCommand, startEverythingHttp, EVERYTHING_TOOL_NAMES } from "../fakes/mcp-everything.ts";
import { startAgentHarness, eventually } from "../helpers/agent-harness.ts";

const CONTEXT = { agentId: "main", sessionId: "s", channel: "web", chat: "w", sender: "web" };

test("a third-party server over Streamable HTTP on loopback: tools namespaced, untrusted policy applied, calls work", async (t) => {
  const everything = await startEverythingHttp();
  t.after(() => everything.close());
  assert.equal(everything.address, "127.0.0.1");
  const { mcp, tools } = await startAgentHarness(t, {
    // The Cursor / Claude Desktop shape, pasted as is, with a header from the environment.
    config: { mcpServers: { everything: { url: everything.url, headers: { "X-Test": "${env:EVERYTHING_HEADER}" } } } },
    env: { FAVCRM_MCP_URL: "http://127.0.0.1:9/mcp", EVERYTHING_HEADER: "on" },
  });
  await eventually(() => mcp.connection("everything")?.status.state === "connected", 10_000, "everything connected");
  const names = tools.list().filter((tool) => tool.name.startsWith("everything__")).map((tool) => tool.name);
  for (const name of EVERYTHING_TOOL_NAMES.filter((candidate) => candidate !== "simulate-research-query")) {
    assert.ok(names.includes(`everything__${name.replace(/[^a-zA-Z0-9_-]/g, "_")}`), name);
  }
  assert.equal(tools.judge("everything__echo", {})!.verdict.decision, "auto", "read-only runs");
  assert.equal(tools.judge("everything__toggle-simulated-logging", {})!.verdict.decision, "confirm", "an untrusted write asks");
  const echoed = await tools.execute("everything__echo", { message: "hello loopback" }, CONTEXT);
  assert.equal(echoed.isError, false);
  assert.match(echoed.result, /hello loopback/);
});

test("an expired session (HTTP 404) reconnects with a new transport and the call succeeds", async (t) => {
  const everything = await startEverythingHttp();
  t.after(() => everything.close());
  const { mcp, tools } = await startAgentHarness(t, { config: { mcp: { servers: { everything: { url: everything.url } } } }, env: { FAVCRM_MCP_URL: "http://127.0.0.1:9/mcp" } });
  await eventually(() => mcp.connection("everything")?.status.state === "connected", 10_000, "everything connected");
  await everything.expireSessions();
  const echoed = await tools.execute("everything__echo", { message: "after expiry" }, CONTEXT);
  assert.equal(echoed.isError, false, echoed.result);
  assert.match(echoed.result, /after expiry/);
});

test("a third-party server over stdio", async (t) => {
  const { command, args } = everythingStdioCommand();
  const { mcp, tools } = await startAgentHarness(t, {
    config: { mcp: { servers: { local: { command, args, toolFilter: { include: ["echo", "get-sum"] } } } } },
    env: { FAVCRM_MCP_URL: "http://127.0.0.1:9/mcp" },
  });
  await eventually(() => mcp.connection("local")?.status.state === "connected", 15_000, "stdio server connected");
  assert.deepEqual(tools.list().filter((tool) => tool.name.startsWith("local__")).map((tool) => tool.name).sort(), ["local__echo", "local__get-sum"], "toolFilter.include applies");
  const sum = await tools.execute("local__get-sum", { a: 2, b: 3 }, CONTEXT);
  assert.match(sum.result, /5/);
});
