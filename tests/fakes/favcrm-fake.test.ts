import assert from "node:assert/strict";
import { connect as tcpConnect } from "node:net";
import { networkInterfaces } from "node:os";
import { test, type TestContext } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  ErrorCode,
  McpError,
  ToolListChangedNotificationSchema,
  type CallToolResult,
  type ToolAnnotations,
} from "@modelcontextprotocol/sdk/types.js";
import {
  FAVCRM_FAKE_OTP_CODE,
  FAVCRM_FAKE_TOOL_NAMES,
  FAVCRM_UNAUTHORIZED_MESSAGE,
  startFavcrmFake,
  type FavcrmFake,
  type FavcrmFakeOptions,
} from "./favcrm-fake.ts";
import {
  EVERYTHING_READ_ONLY_TOOL_NAMES,
  EVERYTHING_TOOL_NAMES,
  everythingStdioCommand,
  startEverythingHttp,
} from "./mcp-everything.ts";

async function favcrmFake(t: TestContext, options?: FavcrmFakeOptions): Promise<FavcrmFake> {
  const fake = await startFavcrmFake(options);
  t.after(() => fake.close());
  return fake;
}

/** A real SDK client on a fresh transport; `apiKey: null` sends no Authorization header. */
async function connect(t: TestContext, url: string, apiKey: string | null): Promise<Client> {
  const client = new Client({ name: "faraday-test", version: "0.0.0" });
  const requestInit = apiKey === null ? undefined : { headers: { Authorization: `Bearer ${apiKey}` } };
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit }));
  t.after(() => client.close());
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

/** The `data` of a successful FavCRM result; fails the test on an `isError` result. */
function dataOf<T = Record<string, unknown>>(result: CallToolResult): T {
  assert.notEqual(result.isError, true, `tool failed: ${JSON.stringify(result.content)}`);
  const structured = result.structuredContent as { data: T; summary: string; renderType: string };
  assert.equal(typeof structured.summary, "string");
  assert.deepEqual(result.content, [{ type: "text", text: structured.summary }]);
  return structured.data;
}

function errorText(result: CallToolResult): string {
  assert.equal(result.isError, true, `expected an isError result, got ${JSON.stringify(result)}`);
  const [first] = result.content;
  return first?.type === "text" ? first.text : "";
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("expected the call to fail");
}

async function waitFor(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(condition(), "condition never became true");
}

/** POSTs one JSON-RPC message the way FavCRM's CLI does: no initialize, no session. */
async function postRpc(url: string, body: unknown, apiKey?: string): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
    },
    body: JSON.stringify(body),
  });
}

/** The non-loopback addresses of this machine on which something accepts a TCP connection to `port`. */
async function acceptingOnNonLoopback(port: number): Promise<string[]> {
  const addresses = Object.values(networkInterfaces())
    .flat()
    .filter((entry) => entry !== undefined && !entry.internal && !entry.address.startsWith("fe80:"))
    .map((entry) => entry!.address);
  const accepted = await Promise.all(
    addresses.map(
      (host) =>
        new Promise<string | undefined>((resolve) => {
          const socket = tcpConnect({ host, port, timeout: 1_000 });
          socket.once("connect", () => (socket.destroy(), resolve(host)));
          socket.once("error", () => resolve(undefined));
          socket.once("timeout", () => (socket.destroy(), resolve(undefined)));
        }),
    ),
  );
  return accepted.filter((host) => host !== undefined);
}

// ---------------------------------------------------------------- FavCRM fake

const RO: ToolAnnotations = { readOnlyHint: true };
const W: ToolAnnotations = { readOnlyHint: false, destructiveHint: false, openWorldHint: false };
const D: ToolAnnotations = { readOnlyHint: false, destructiveHint: true, openWorldHint: false };
const WOW: ToolAnnotations = { readOnlyHint: false, destructiveHint: false, openWorldHint: true };
const DOW: ToolAnnotations = { readOnlyHint: false, destructiveHint: true, openWorldHint: true };
const expectedAnnotations: Record<string, ToolAnnotations> = {
  list_my_companies: RO,
  get_plan_status: RO,
  search_tools: RO,
  list_services: RO,
  create_service: W,
  get_available_slots: RO,
  create_booking: W,
  confirm_booking: W,
  complete_booking: W,
  mark_no_show: W,
  cancel_booking: D,
  list_bookings: RO,
  get_booking_detail: RO,
  list_invoices: RO,
  record_invoice_payment: W,
  void_invoice: D,
  request_send_approval: W,
  send_message: WOW,
  send_whatsapp_message: WOW,
  send_campaign: WOW,
  send_test_campaign: WOW,
  execute_tool: DOW,
  slow_report: RO,
  large_export: RO,
  register_organisation_request: WOW,
  register_organisation_verify: W,
};

test("favcrm fake: tools/list works without a key and carries FavCRM's annotations", async (t) => {
  const fake = await favcrmFake(t);
  const client = await connect(t, fake.url, null);

  const { tools } = await client.listTools();

  assert.deepEqual(Object.fromEntries(tools.map((tool) => [tool.name, tool.annotations])), expectedAnnotations);
  assert.deepEqual([...FAVCRM_FAKE_TOOL_NAMES].sort(), Object.keys(expectedAnnotations).sort());
  assert.deepEqual(client.getServerCapabilities()?.tools, { listChanged: false });
  assert.deepEqual(fake.calls, []);
  assert.deepEqual(await acceptingOnNonLoopback(Number(new URL(fake.url).port)), []);
});

test("favcrm fake: a booking walks from service to confirmed to cancelled, state kept across requests", async (t) => {
  const fake = await favcrmFake(t);
  const client = await connect(t, fake.url, fake.apiKey);

  const service = dataOf<{ serviceId: string }>(
    await call(client, "create_service", { name: "Haircut", durationMinutes: 45, price: 280 }),
  );
  const { slots } = dataOf<{ slots: string[] }>(
    await call(client, "get_available_slots", { serviceId: service.serviceId, date: "2026-03-02" }),
  );
  assert.ok(slots.length >= 3);
  assert.ok(slots.every((slot) => slot.startsWith("2026-03-02T") && !Number.isNaN(Date.parse(slot))));
  const booking = dataOf<{ bookingId: string; status: string }>(
    await call(client, "create_booking", { serviceId: service.serviceId, slot: slots[0], customerName: "Chan" }),
  );
  assert.equal(booking.status, "pending");
  const remaining = dataOf<{ slots: string[] }>(
    await call(client, "get_available_slots", { serviceId: service.serviceId, date: "2026-03-02" }),
  );
  assert.ok(!remaining.slots.includes(slots[0]!), "a booked slot is no longer offered");

  dataOf(await call(client, "confirm_booking", { bookingId: booking.bookingId }));
  const detail = dataOf<{ status: string; customerName: string }>(
    await call(client, "get_booking_detail", { bookingId: booking.bookingId }),
  );
  assert.equal(detail.status, "confirmed");
  assert.equal(detail.customerName, "Chan");

  const cancelled = await call(client, "cancel_booking", { bookingId: booking.bookingId, idempotencyKey: "k-1" });
  assert.equal(dataOf<{ status: string }>(cancelled).status, "cancelled");
  const viaExecute = await call(client, "execute_tool", {
    toolName: "get_booking_detail",
    arguments: { bookingId: booking.bookingId },
  });
  assert.equal(dataOf<{ status: string }>(viaExecute).status, "cancelled");

  assert.deepEqual(
    fake.calls.map((recorded) => recorded.tool),
    ["create_service", "get_available_slots", "create_booking", "get_available_slots", "confirm_booking",
      "get_booking_detail", "cancel_booking", "execute_tool"],
  );
  assert.ok(fake.calls.every((recorded) => recorded.authorized));
});

test("favcrm fake: a call without a key is answered isError, recorded unauthorized, and changes nothing", async (t) => {
  const fake = await favcrmFake(t);
  const anonymous = await connect(t, fake.url, null);
  const wrongKey = await connect(t, fake.url, "fav_mcp_wrong");

  const result = await call(anonymous, "create_service", { name: "Ghost", durationMinutes: 10 });
  const viaExecute = await call(wrongKey, "execute_tool", { toolName: "list_services" });

  assert.equal(errorText(result), FAVCRM_UNAUTHORIZED_MESSAGE);
  assert.equal(errorText(viaExecute), FAVCRM_UNAUTHORIZED_MESSAGE);
  assert.deepEqual(
    fake.calls.map(({ tool, arguments: args, authorized }) => ({ tool, args, authorized })),
    [
      { tool: "create_service", args: { name: "Ghost", durationMinutes: 10 }, authorized: false },
      { tool: "execute_tool", args: { toolName: "list_services" }, authorized: false },
    ],
  );
  const authorized = await connect(t, fake.url, fake.apiKey);
  const services = dataOf<Array<{ name: string }>>(await call(authorized, "list_services"));
  assert.ok(!services.some((service) => service.name === "Ghost"));
});

test("favcrm fake: registration without a key issues a new key that then works as a Bearer key", async (t) => {
  const fake = await favcrmFake(t);
  const anonymous = await connect(t, fake.url, null);

  const request = dataOf<{ requestId: string; maskedEmail: string; expiresAt: string }>(
    await call(anonymous, "register_organisation_request", {
      email: "owner@salon.example",
      organisationName: "Salon",
      industry: "beauty",
      country: "HK",
      timezone: "Asia/Hong_Kong",
    }),
  );
  assert.match(request.maskedEmail, /^o\*+@salon\.example$/);
  assert.ok(Date.parse(request.expiresAt) > Date.now());
  const wrong = await call(anonymous, "register_organisation_verify", { requestId: request.requestId, code: "000000" });
  assert.match(errorText(wrong), /code/i);
  assert.deepEqual(fake.issuedKeys, []);

  type Verified = { apiKey: string; organisationId: string; companyId: string; userId: string; loginUrl: string };
  const verified = dataOf<Verified>(
    await call(anonymous, "register_organisation_verify", { requestId: request.requestId, code: FAVCRM_FAKE_OTP_CODE }),
  );
  assert.match(verified.apiKey, /^fav_mcp_[0-9a-f]{32}$/);
  assert.notEqual(verified.apiKey, fake.apiKey);
  assert.deepEqual(fake.issuedKeys, [verified.apiKey]);
  assert.equal(errorText(await call(anonymous, "list_my_companies")), FAVCRM_UNAUTHORIZED_MESSAGE);

  const owner = await connect(t, fake.url, verified.apiKey);
  const companies = dataOf<unknown[]>(await call(owner, "list_my_companies"));
  assert.equal(companies.length, 1);
  assert.equal(fake.calls.at(-1)?.authorized, true);
});

test("favcrm fake: a bare tools/call POST without initialize is answered, with no session id", async (t) => {
  const fake = await favcrmFake(t);

  const response = await postRpc(
    fake.url,
    { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "get_plan_status", arguments: {} } },
    fake.apiKey,
  );
  const body = await response.text();
  const get = await fetch(fake.url, { headers: { accept: "text/event-stream" } });
  await get.body?.cancel();

  assert.equal(response.status, 200);
  assert.equal(response.headers.get("mcp-session-id"), null);
  const firstData = body.split("\n").find((line) => line.startsWith("data: "));
  assert.ok(firstData, `no SSE data line in ${body}`);
  const message = JSON.parse(firstData.slice("data: ".length)) as { id: number; result: CallToolResult };
  assert.equal(message.id, 7);
  assert.equal(dataOf<{ plan: string }>(message.result).plan, "growth");
  assert.deepEqual(fake.rpcMethods, ["tools/call"]);
  assert.equal(get.status, 405);
});

test("favcrm fake: while down the client cannot connect or call; a new transport works after recovery", async (t) => {
  const fake = await favcrmFake(t);
  const before = await connect(t, fake.url, fake.apiKey);

  fake.setDown(true);
  const callError = await rejection(call(before, "list_services"));
  const connectError = await rejection(connect(t, fake.url, fake.apiKey));

  assert.ok(callError instanceof StreamableHTTPError, String(callError));
  assert.equal(callError.code, 503);
  assert.ok(connectError instanceof StreamableHTTPError, String(connectError));
  assert.equal(connectError.code, 503);
  assert.deepEqual(fake.calls.map((recorded) => recorded.tool), [], "nothing reached a tool while down");
  const requestsWhileDown = fake.httpRequests;

  fake.setDown(false);
  const after = await connect(t, fake.url, fake.apiKey);
  dataOf(await call(after, "list_services"));
  assert.ok(fake.httpRequests > requestsWhileDown);
  assert.deepEqual(fake.calls.map((recorded) => recorded.tool), ["list_services"]);
});

test("favcrm fake: a client timeout on slow_report rejects fast and close() does not wait for the tool", async (t) => {
  const fake = await startFavcrmFake();
  const client = new Client({ name: "faraday-test", version: "0.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(fake.url), {
      requestInit: { headers: { Authorization: `Bearer ${fake.apiKey}` } },
    }),
  );
  t.after(() => client.close());
  t.after(() => fake.close());

  const started = Date.now();
  const error = await rejection(client.callTool({ name: "slow_report", arguments: {} }, undefined, { timeout: 200 }));
  const elapsed = Date.now() - started;

  assert.ok(error instanceof McpError, String(error));
  assert.equal(error.code, ErrorCode.RequestTimeout);
  assert.ok(elapsed < 2_000, `took ${elapsed} ms`);
  assert.equal(fake.calls.at(-1)?.tool, "slow_report");
  // The cancellation reaches a fresh stateless server that never saw the request.
  await waitFor(() => fake.rpcMethods.includes("notifications/cancelled"));

  const closing = Date.now();
  await fake.close();
  assert.ok(Date.now() - closing < 1_000, "close() waited for the 60 s tool");
  // The 60 s sleep was aborted, not left to keep the process alive.
  await waitFor(() => !process.getActiveResourcesInfo().includes("Timeout"));
});

test("favcrm fake: toolDelayMs delays a named tool before it answers", async (t) => {
  const fake = await favcrmFake(t, { toolDelayMs: { slow_report: 150 } });
  const client = await connect(t, fake.url, fake.apiKey);

  const started = Date.now();
  const report = await call(client, "slow_report");

  assert.ok(Date.now() - started >= 140);
  dataOf(report);
});

// ---------------------------------------------------------------- server-everything

test("server-everything over HTTP listens on 127.0.0.1 only and answers echo", async (t) => {
  const everything = await startEverythingHttp();
  t.after(() => everything.close());
  const client = await connect(t, everything.url, null);

  const { tools } = await client.listTools();
  const echo = await call(client, "echo", { message: "hello" });

  assert.equal(everything.address, "127.0.0.1");
  assert.equal(new URL(everything.url).hostname, "127.0.0.1");
  assert.deepEqual(await acceptingOnNonLoopback(Number(new URL(everything.url).port)), []);
  assert.deepEqual(tools.map((tool) => tool.name), EVERYTHING_TOOL_NAMES);
  assert.deepEqual(
    tools.filter((tool) => tool.annotations?.readOnlyHint === true).map((tool) => tool.name),
    EVERYTHING_READ_ONLY_TOOL_NAMES,
  );
  assert.ok(tools.every((tool) => tool.annotations !== undefined));
  assert.deepEqual(echo.content, [{ type: "text", text: "Echo: hello" }]);
  const refused = await rejection(fetch(everything.url.replace("127.0.0.1", "[::1]"), { method: "POST" }));
  assert.ok(refused instanceof TypeError, "the server must not listen on ::1 / all interfaces");
});

test("server-everything over HTTP: an expired session answers 404 and only a new transport recovers", async (t) => {
  const everything = await startEverythingHttp();
  t.after(() => everything.close());
  const client = await connect(t, everything.url, null);

  await everything.expireSessions();
  const error = await rejection(call(client, "echo", { message: "again" }));

  assert.ok(error instanceof StreamableHTTPError, String(error));
  assert.equal(error.code, 404);
  const second = await rejection(call(client, "echo", { message: "still" }));
  assert.ok(second instanceof StreamableHTTPError && second.code === 404, "the SDK does not re-initialize by itself");
  const fresh = await connect(t, everything.url, null);
  assert.deepEqual((await call(fresh, "echo", { message: "new" })).content, [{ type: "text", text: "Echo: new" }]);
});

test("server-everything over stdio lists the same tools, answers echo, and announces tools/list_changed", async (t) => {
  const client = new Client({ name: "faraday-test", version: "0.0.0" });
  let listChanged = 0;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    listChanged += 1;
  });
  await client.connect(new StdioClientTransport({ ...everythingStdioCommand(), stderr: "pipe" }));
  t.after(() => client.close());

  const { tools } = await client.listTools();
  const echo = await call(client, "echo", { message: "over stdio" });

  assert.deepEqual(tools.map((tool) => tool.name), EVERYTHING_TOOL_NAMES);
  assert.deepEqual(echo.content, [{ type: "text", text: "Echo: over stdio" }]);
  // It registers simulate-research-query once initialized; over stdio that notification arrives.
  await waitFor(() => listChanged >= 1);
});

test("server-everything over HTTP: the tools/list_changed sent on initialize is lost (no GET stream yet)", async (t) => {
  const everything = await startEverythingHttp();
  t.after(() => everything.close());
  const client = new Client({ name: "faraday-test", version: "0.0.0" });
  let listChanged = 0;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    listChanged += 1;
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(everything.url)));
  t.after(() => client.close());

  await new Promise((resolve) => setTimeout(resolve, 300));
  const { tools } = await client.listTools();

  assert.equal(listChanged, 0);
  assert.ok(tools.some((tool) => tool.name === "simulate-research-query"), "re-listing still sees the new tool");
});
