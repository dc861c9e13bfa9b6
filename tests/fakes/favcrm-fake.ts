/**
 * A loopback fake of FavCRM's MCP endpoint, built with the real MCP SDK (`McpServer` +
 * `StreamableHTTPServerTransport`) behind `node:http` on 127.0.0.1, for tests that run the real
 * MCP client against it:
 *
 *   const fake = await startFavcrmFake();
 *   const transport = new StreamableHTTPClientTransport(new URL(fake.url),
 *     { requestInit: { headers: { Authorization: `Bearer ${fake.apiKey}` } } });
 *
 * Like FavCRM it is **stateless**: every HTTP POST gets a fresh `McpServer` and a transport with
 * `sessionIdGenerator: undefined`, so no `Mcp-Session-Id` is issued, GET/DELETE answer 405, and
 * a bare `tools/call` POST without `initialize` (how FavCRM's CLI calls it) is answered — the
 * SDK's stateless transport skips session validation and the server does not require
 * `initialize` first. The answer is an SSE stream whose first `data:` line holds the result.
 *
 * Because each request has its own server, `notifications/cancelled` from a client timeout
 * reaches a different server and changes nothing; the fake instead aborts a running tool when
 * its HTTP response closes (client abort, `close()`, `setDown(true)`).
 *
 * Argument shapes follow what FavCRM documents (the notes in mcp-and-models.md and issue 18):
 * `create_booking {serviceId, start, customer: {name, email, phone}, idempotencyKey}` and
 * `list_bookings {status?, customer?: {phone?, email?}}` (a customer filter); the fake's older
 * `create_booking {slot, customerName, customerPhone}` spelling is still accepted.
 *
 * Two tools are the fake's own, not FavCRM's: `slow_report` (timeouts) and `large_export`
 * (a result as large as asked, for the gateway's result cap).
 *
 * `catalog: "full"` adds FavCRM's remaining categories from `favcrm-catalog.ts` (stateless
 * tools with realistic schemas) for 165 tools in all — the size that breaks OpenAI's 128-tool
 * limit and costs tens of thousands of input tokens per turn when sent whole.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { CallToolResult, ToolAnnotations } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { favcrmCatalogTools } from "./favcrm-catalog.ts";

/** The key the fake accepts unless `apiKey` is given. */
export const FAVCRM_FAKE_DEFAULT_API_KEY = "fav_mcp_test_0000000000000000";
/** The only OTP `register_organisation_verify` accepts. */
export const FAVCRM_FAKE_OTP_CODE = "123456";
/** The text of the `isError` result a tool gives without a valid Bearer key. */
export const FAVCRM_UNAUTHORIZED_MESSAGE = "Unauthorized: missing or invalid FavCRM API key";

export interface FavcrmFakeOptions {
  /** The Bearer key accepted from the start. Default {@link FAVCRM_FAKE_DEFAULT_API_KEY}. */
  apiKey?: string;
  /** Milliseconds a tool sleeps before answering, by tool name. `slow_report` defaults to 60 000. */
  toolDelayMs?: Record<string, number>;
  /** "core" (default): the 26 tools above; "full": plus favcrm-catalog.ts, 165 tools. */
  catalog?: "core" | "full";
}

/** One `tools/call` as the fake received it, recorded before any validation or execution. */
export interface FavcrmCall {
  tool: string;
  arguments: Record<string, unknown>;
  /** Whether the request carried a valid Bearer key. */
  authorized: boolean;
  at: number;
}

export interface FavcrmFake {
  /** `http://127.0.0.1:PORT/mcp` */
  url: string;
  apiKey: string;
  calls: FavcrmCall[];
  /** Every JSON-RPC method received, in order (`initialize`, `tools/list`, `tools/call`, …). */
  rpcMethods: string[];
  /** HTTP requests received, including those answered 503 while down. */
  readonly httpRequests: number;
  /** Keys issued by `register_organisation_verify`; each is accepted as a Bearer key afterwards. */
  issuedKeys: string[];
  /**
   * `true` destroys every open socket (as if the process died) and answers each later request
   * 503 until `setDown(false)`.
   */
  setDown(down: boolean): void;
  /** Aborts running tools, destroys open sockets and stops listening. */
  close(): Promise<void>;
}

type ToolContext = { authorized: boolean; signal: AbortSignal };

interface FakeTool {
  name: string;
  description: string;
  annotations: ToolAnnotations;
  input: z.ZodRawShape;
  requiresAuth: boolean;
  run(args: never, context: ToolContext): CallToolResult | Promise<CallToolResult>;
}

type Booking = {
  bookingId: string;
  serviceId: string;
  slot: string;
  customerName: string;
  customerPhone?: string;
  customerEmail?: string;
  idempotencyKey?: string;
  status: "pending" | "confirmed" | "completed" | "no_show" | "cancelled";
  cancellationKey?: string;
};
type Service = { serviceId: string; name: string; durationMinutes: number; price?: number };
type Invoice = {
  invoiceId: string;
  customerName: string;
  amount: number;
  paid: number;
  status: "open" | "paid" | "void";
};

const readOnly: ToolAnnotations = { readOnlyHint: true };
const write: ToolAnnotations = { readOnlyHint: false, destructiveHint: false, openWorldHint: false };
const destructive: ToolAnnotations = { readOnlyHint: false, destructiveHint: true, openWorldHint: false };
const writeOpenWorld: ToolAnnotations = { readOnlyHint: false, destructiveHint: false, openWorldHint: true };
const destructiveOpenWorld: ToolAnnotations = { readOnlyHint: false, destructiveHint: true, openWorldHint: true };
const slotHours = ["09:00", "10:00", "11:00", "14:00", "15:00"];

function success(data: unknown, summary: string, renderType = "detail"): CallToolResult {
  return { structuredContent: { data, summary, renderType }, content: [{ type: "text", text: summary }] };
}

function failure(text: string): CallToolResult {
  return { isError: true, content: [{ type: "text", text }] };
}

function defineTool<Shape extends z.ZodRawShape>(tool: {
  name: string;
  description: string;
  annotations: ToolAnnotations;
  input: Shape;
  requiresAuth?: boolean;
  run(args: z.infer<z.ZodObject<Shape>>, context: ToolContext): CallToolResult | Promise<CallToolResult>;
}): FakeTool {
  return { ...tool, requiresAuth: tool.requiresAuth ?? true };
}

/** Starts the fake on 127.0.0.1 with a free port. */
export async function startFavcrmFake(options: FavcrmFakeOptions = {}): Promise<FavcrmFake> {
  const apiKey = options.apiKey ?? FAVCRM_FAKE_DEFAULT_API_KEY;
  const calls: FavcrmCall[] = [];
  const rpcMethods: string[] = [];
  const issuedKeys: string[] = [];
  const sockets = new Set<Socket>();
  const closing = new AbortController();
  let httpRequests = 0;
  let down = false;

  const tools: FakeTool[] = [...favcrmTools(issuedKeys), ...(options.catalog === "full" ? favcrmCatalogTools() : [])];
  const toolsByName = new Map(tools.map((tool) => [tool.name, tool]));

  /** Auth check, argument validation, configured delay, then the tool itself. */
  async function invoke(tool: FakeTool, rawArguments: unknown, context: ToolContext): Promise<CallToolResult> {
    if (tool.requiresAuth && !context.authorized) return failure(FAVCRM_UNAUTHORIZED_MESSAGE);
    const parsed = z.object(tool.input).safeParse(rawArguments ?? {});
    if (!parsed.success) return failure(`Invalid arguments for ${tool.name}: ${z.prettifyError(parsed.error)}`);
    const delayMs = options.toolDelayMs?.[tool.name] ?? (tool.name === "slow_report" ? 60_000 : 0);
    if (delayMs > 0) {
      try {
        await sleep(delayMs, undefined, { signal: context.signal });
      } catch {
        return failure(`${tool.name} was cancelled`);
      }
    }
    if (tool.name === "execute_tool") {
      const { toolName, arguments: targetArguments } = parsed.data as { toolName: string; arguments?: unknown };
      const target = toolsByName.get(toolName);
      if (!target || target.name === "execute_tool") {
        return failure(`Unknown tool "${toolName}": call search_tools to find tool names`);
      }
      return invoke(target, targetArguments ?? {}, context);
    }
    return tool.run(parsed.data as never, context);
  }

  function buildServer(context: ToolContext): McpServer {
    const server = new McpServer({ name: "favcrm-fake", version: "1.0.0" });
    for (const tool of tools) {
      server.registerTool(
        tool.name,
        { description: tool.description, inputSchema: tool.input, annotations: tool.annotations },
        (args: unknown) => invoke(tool, args, context),
      );
    }
    // McpServer always advertises tools.listChanged = true; a stateless server can never push it.
    server.server.registerCapabilities({ tools: { listChanged: false } });
    return server;
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    httpRequests += 1;
    if (down) return sendJsonRpcError(response, 503, -32000, "Service Unavailable: FavCRM fake is down");
    if (new URL(request.url ?? "/", "http://127.0.0.1").pathname !== "/mcp") {
      return sendJsonRpcError(response, 404, -32000, "Not Found");
    }
    if (request.method !== "POST") {
      // Stateless: there is no session to stream to (GET) or to end (DELETE).
      response.setHeader("allow", "POST");
      return sendJsonRpcError(response, 405, -32000, "Method not allowed.");
    }
    let body: unknown;
    try {
      body = JSON.parse(await readBody(request));
    } catch {
      return sendJsonRpcError(response, 400, -32700, "Parse error: Invalid JSON");
    }
    const authorized = isValidKey(request.headers.authorization, [apiKey, ...issuedKeys]);
    for (const message of Array.isArray(body) ? body : [body]) {
      const method = (message as { method?: unknown } | null)?.method;
      if (typeof method !== "string") continue;
      rpcMethods.push(method);
      if (method !== "tools/call") continue;
      const params = (message as { params?: { name?: unknown; arguments?: unknown } }).params ?? {};
      const args = params.arguments;
      calls.push({
        tool: String(params.name),
        arguments: args && typeof args === "object" && !Array.isArray(args) ? (args as Record<string, unknown>) : {},
        authorized,
        at: Date.now(),
      });
    }

    const requestAbort = new AbortController();
    const server = buildServer({ authorized, signal: AbortSignal.any([requestAbort.signal, closing.signal]) });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    response.on("close", () => {
      requestAbort.abort();
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(request, response, body);
  }

  const httpServer = createServer((request, response) => {
    handle(request, response).catch(() => {
      if (!response.headersSent) sendJsonRpcError(response, 500, -32603, "Internal server error");
      else response.destroy();
    });
  });
  httpServer.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = httpServer.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/mcp`,
    apiKey,
    calls,
    rpcMethods,
    get httpRequests() {
      return httpRequests;
    },
    issuedKeys,
    setDown(value: boolean) {
      down = value;
      if (value) for (const socket of sockets) socket.destroy();
    },
    async close() {
      closing.abort();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };
}

function isValidKey(header: string | undefined, validKeys: string[]): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match !== null && validKeys.includes(match[1]!);
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function sendJsonRpcError(response: ServerResponse, status: number, code: number, message: string): void {
  response.writeHead(status, { "content-type": "application/json", connection: "close" });
  response.end(JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null }));
}

/** The tool catalogue, over one in-memory workspace shared by every request of a fake. */
function favcrmTools(issuedKeys: string[]): FakeTool[] {
  let sequence = 0;
  const nextId = (prefix: string) => `${prefix}_${(sequence += 1)}`;
  const services = new Map<string, Service>([
    ["svc_seed", { serviceId: "svc_seed", name: "Consultation", durationMinutes: 30, price: 0 }],
  ]);
  const bookings = new Map<string, Booking>();
  const invoices = new Map<string, Invoice>([
    ["inv_1001", { invoiceId: "inv_1001", customerName: "Chan Tai Man", amount: 480, paid: 0, status: "open" }],
    ["inv_1002", { invoiceId: "inv_1002", customerName: "Wong Siu Ming", amount: 250, paid: 250, status: "paid" }],
  ]);
  const registrations = new Map<string, { email: string; organisationName: string }>();

  const bookingTransition = (name: string, description: string, from: Booking["status"][], to: Booking["status"]) =>
    defineTool({
      name,
      description,
      annotations: write,
      input: { bookingId: z.string() },
      run: ({ bookingId }) => {
        const booking = bookings.get(bookingId);
        if (!booking) return failure(`Booking ${bookingId} not found: call list_bookings`);
        if (!from.includes(booking.status)) return failure(`Booking ${bookingId} is ${booking.status}; cannot ${name}`);
        booking.status = to;
        return success(booking, `Booking ${bookingId} is now ${to}`);
      },
    });

  const sendTool = (name: string, description: string, input: z.ZodRawShape) =>
    defineTool({
      name,
      description: `${description} Never call directly: use request_send_approval.`,
      annotations: writeOpenWorld,
      input,
      run: () => success({ messageId: nextId("msg"), status: "sent" }, `${name} sent`),
    });

  const catalogue: FakeTool[] = [
    defineTool({
      name: "list_my_companies",
      description: "List the companies this API key can operate.",
      annotations: readOnly,
      input: {},
      run: () =>
        success(
          [{ companyId: "cmp_1", name: "Faraday Test Salon", role: "owner", current: true }],
          "1 company",
          "table",
        ),
    }),
    defineTool({
      name: "get_plan_status",
      description: "Show the current plan, its status and quota usage.",
      annotations: readOnly,
      input: {},
      run: () =>
        success(
          { plan: "growth", status: "active", quotas: { bookings: { used: bookings.size, limit: 500 } } },
          "Plan growth (active)",
        ),
    }),
    defineTool({
      name: "search_tools",
      description: "Search FavCRM tools by keyword; run one with execute_tool.",
      annotations: readOnly,
      input: { query: z.string() },
      run: ({ query }) => {
        const words = query.toLowerCase().split(/\W+/).filter(Boolean);
        const found = catalogue
          .filter((tool) => words.some((word) => `${tool.name} ${tool.description}`.toLowerCase().includes(word)))
          .map(({ name, description, annotations }) => ({ name, description, annotations }));
        return success(found, `${found.length} tools match "${query}"`, "table");
      },
    }),
    defineTool({
      name: "list_services",
      description: "List bookable services.",
      annotations: readOnly,
      input: {},
      run: () => success([...services.values()], `${services.size} services`, "table"),
    }),
    defineTool({
      name: "create_service",
      description: "Create a bookable service.",
      annotations: write,
      input: {
        name: z.string().min(1),
        durationMinutes: z.number().int().positive(),
        price: z.number().nonnegative().optional(),
      },
      run: (args) => {
        const service: Service = { serviceId: nextId("svc"), ...args };
        services.set(service.serviceId, service);
        return success(service, `Created service ${service.name} (${service.serviceId})`);
      },
    }),
    defineTool({
      name: "get_available_slots",
      description: "List free start times (ISO 8601, UTC) for a service on a date.",
      annotations: readOnly,
      input: { serviceId: z.string(), date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "expected YYYY-MM-DD") },
      run: ({ serviceId, date }) => {
        if (!services.has(serviceId)) return failure(`Service ${serviceId} not found: call list_services`);
        const slots = freeSlots(serviceId, date);
        return success({ serviceId, date, slots }, `${slots.length} free slots on ${date}`, "table");
      },
    }),
    defineTool({
      name: "create_booking",
      description: "Book a customer into a free slot; the booking starts pending. Repeating the same idempotencyKey returns the same booking.",
      annotations: write,
      // FavCRM's documented shape is {serviceId, start, customer: {name, email, phone}, idempotencyKey};
      // `slot`, `customerName` and `customerPhone` are this fake's older spelling, still accepted.
      input: {
        serviceId: z.string(),
        start: z.string().optional(),
        customer: z.object({ name: z.string().min(1).optional(), email: z.string().optional(), phone: z.string().optional() }).optional(),
        idempotencyKey: z.string().min(1).optional(),
        slot: z.string().optional(),
        customerName: z.string().min(1).optional(),
        customerPhone: z.string().optional(),
      },
      run: ({ serviceId, start, customer, idempotencyKey, slot: legacySlot, customerName: legacyName, customerPhone: legacyPhone }) => {
        const slot = start ?? legacySlot;
        const customerName = customer?.name ?? legacyName;
        const customerPhone = customer?.phone ?? legacyPhone;
        if (slot === undefined) return failure("Invalid arguments for create_booking: start is required (ISO 8601 from get_available_slots)");
        if (customerName === undefined) return failure("Invalid arguments for create_booking: customer.name is required");
        const repeated = idempotencyKey === undefined ? undefined : [...bookings.values()].find((booking) => booking.idempotencyKey === idempotencyKey);
        if (repeated) return success({ bookingId: repeated.bookingId, status: repeated.status }, `Booking ${repeated.bookingId} already created`);
        if (!services.has(serviceId)) return failure(`Service ${serviceId} not found: call list_services`);
        if (!freeSlots(serviceId, slot.slice(0, 10)).includes(slot)) {
          return failure(`Slot ${slot} is not available: call get_available_slots`);
        }
        const booking: Booking = { bookingId: nextId("bk"), serviceId, slot, customerName, status: "pending" };
        if (customerPhone !== undefined) booking.customerPhone = customerPhone;
        if (customer?.email !== undefined) booking.customerEmail = customer.email;
        if (idempotencyKey !== undefined) booking.idempotencyKey = idempotencyKey;
        bookings.set(booking.bookingId, booking);
        const summary = `Booking ${booking.bookingId} created (pending)`;
        return success({ bookingId: booking.bookingId, status: booking.status }, summary);
      },
    }),
    bookingTransition("confirm_booking", "Confirm a pending booking.", ["pending"], "confirmed"),
    bookingTransition("complete_booking", "Mark a confirmed booking completed.", ["confirmed"], "completed"),
    bookingTransition("mark_no_show", "Mark a confirmed booking as a no-show.", ["pending", "confirmed"], "no_show"),
    defineTool({
      name: "cancel_booking",
      description: "Cancel a booking. Repeating the same idempotencyKey is a no-op.",
      annotations: destructive,
      input: { bookingId: z.string(), idempotencyKey: z.string().min(1) },
      run: ({ bookingId, idempotencyKey }) => {
        const booking = bookings.get(bookingId);
        if (!booking) return failure(`Booking ${bookingId} not found: call list_bookings`);
        if (booking.status === "cancelled" && booking.cancellationKey === idempotencyKey) {
          return success(booking, `Booking ${bookingId} was already cancelled`);
        }
        if (booking.status !== "pending" && booking.status !== "confirmed") {
          return failure(`Booking ${bookingId} is ${booking.status}; cannot cancel`);
        }
        booking.status = "cancelled";
        booking.cancellationKey = idempotencyKey;
        return success(booking, `Booking ${bookingId} cancelled`);
      },
    }),
    defineTool({
      name: "list_bookings",
      description: "List bookings, optionally by status and by customer (phone or email).",
      annotations: readOnly,
      input: {
        status: z.string().optional(),
        customer: z.object({ phone: z.string().optional(), email: z.string().optional() }).optional(),
      },
      run: ({ status, customer }) => {
        const found = [...bookings.values()].filter((booking) =>
          (status === undefined || booking.status === status) &&
          (customer?.phone === undefined || booking.customerPhone === customer.phone) &&
          (customer?.email === undefined || booking.customerEmail === customer.email));
        return success(found, `${found.length} bookings`, "table");
      },
    }),
    defineTool({
      name: "get_booking_detail",
      description: "Show one booking.",
      annotations: readOnly,
      input: { bookingId: z.string() },
      run: ({ bookingId }) => {
        const booking = bookings.get(bookingId);
        if (!booking) return failure(`Booking ${bookingId} not found: call list_bookings`);
        return success(booking, `Booking ${bookingId}: ${booking.customerName} at ${booking.slot} (${booking.status})`);
      },
    }),
    defineTool({
      name: "list_invoices",
      description: "List invoices, optionally by status.",
      annotations: readOnly,
      input: { status: z.enum(["open", "paid", "void"]).optional() },
      run: ({ status }) => {
        const found = [...invoices.values()].filter((invoice) => status === undefined || invoice.status === status);
        return success(found, `${found.length} invoices`, "table");
      },
    }),
    defineTool({
      name: "record_invoice_payment",
      description: "Record a payment against an open invoice.",
      annotations: write,
      input: { invoiceId: z.string(), amount: z.number().positive(), method: z.string().optional() },
      run: ({ invoiceId, amount }) => {
        const invoice = invoices.get(invoiceId);
        if (!invoice) return failure(`Invoice ${invoiceId} not found: call list_invoices`);
        if (invoice.status !== "open") return failure(`Invoice ${invoiceId} is ${invoice.status}`);
        invoice.paid = Math.min(invoice.amount, invoice.paid + amount);
        if (invoice.paid >= invoice.amount) invoice.status = "paid";
        return success(invoice, `Recorded ${amount} on ${invoiceId} (${invoice.status})`);
      },
    }),
    defineTool({
      name: "void_invoice",
      description: "Void an invoice. Cannot be undone.",
      annotations: destructive,
      input: { invoiceId: z.string(), reason: z.string().optional() },
      run: ({ invoiceId }) => {
        const invoice = invoices.get(invoiceId);
        if (!invoice) return failure(`Invoice ${invoiceId} not found: call list_invoices`);
        invoice.status = "void";
        return success(invoice, `Invoice ${invoiceId} voided`);
      },
    }),
    defineTool({
      name: "request_send_approval",
      description: "Ask the business owner to approve a customer-facing message before it is sent.",
      annotations: write,
      input: { channel: z.string(), to: z.string(), message: z.string() },
      run: (args) =>
        success({ approvalId: nextId("apr"), status: "pending_approval", ...args }, `Approval requested for ${args.to}`),
    }),
    sendTool("send_message", "Send a message to a customer.", {
      channel: z.string().optional(),
      to: z.string(),
      message: z.string(),
    }),
    sendTool("send_whatsapp_message", "Send a WhatsApp message.", { to: z.string(), message: z.string() }),
    sendTool("send_campaign", "Send a marketing campaign to its audience.", { campaignId: z.string() }),
    sendTool("send_test_campaign", "Send a campaign to one recipient.", { campaignId: z.string(), to: z.string() }),
    defineTool({
      name: "execute_tool",
      description: "Run any FavCRM tool by name (find names with search_tools).",
      annotations: destructiveOpenWorld,
      input: { toolName: z.string(), arguments: z.record(z.string(), z.unknown()).optional() },
      run: () => failure("execute_tool is dispatched by the fake itself"),
    }),
    defineTool({
      name: "slow_report",
      description: "A report that takes a long time (for timeout tests).",
      annotations: readOnly,
      input: {},
      run: () => success({ rows: [] }, "Report ready", "table"),
    }),
    defineTool({
      name: "large_export",
      description: "An export as big as asked (for result-size tests, like slow_report for timeouts).",
      annotations: readOnly,
      input: { characters: z.number().int().min(0).max(50_000_000) },
      run: ({ characters }) => success({ rows: "r".repeat(characters) }, "Export ready", "table"),
    }),
    defineTool({
      name: "register_organisation_request",
      description: "Start creating a FavCRM organisation: emails a 6-digit code. No API key needed.",
      annotations: writeOpenWorld,
      requiresAuth: false,
      input: {
        email: z.string().email(),
        organisationName: z.string().min(1),
        industry: z.string(),
        country: z.string(),
        timezone: z.string(),
      },
      run: ({ email, organisationName }) => {
        const requestId = nextId("reg");
        registrations.set(requestId, { email, organisationName });
        const [local = "", domain = ""] = email.split("@");
        const maskedEmail = `${local.slice(0, 1)}***@${domain}`;
        const expiresAt = new Date(Date.now() + 10 * 60_000).toISOString();
        return success({ requestId, maskedEmail, expiresAt }, `Code sent to ${maskedEmail}`);
      },
    }),
    defineTool({
      name: "register_organisation_verify",
      description: "Finish creating an organisation with the emailed code; returns the API key once.",
      annotations: write,
      requiresAuth: false,
      input: { requestId: z.string(), code: z.string() },
      run: ({ requestId, code }) => {
        const registration = registrations.get(requestId);
        if (!registration) {
          return failure(`Registration ${requestId} not found or expired: call register_organisation_request`);
        }
        if (code !== FAVCRM_FAKE_OTP_CODE) return failure("Invalid verification code");
        registrations.delete(requestId);
        const apiKey = `fav_mcp_${randomBytes(16).toString("hex")}`;
        issuedKeys.push(apiKey);
        const organisationId = nextId("org");
        return success(
          {
            organisationId,
            companyId: nextId("cmp"),
            userId: nextId("usr"),
            apiKey,
            loginUrl: `https://app.favcrm.test/login?org=${organisationId}`,
          },
          `Organisation ${registration.organisationName} created`,
        );
      },
    }),
  ];

  function freeSlots(serviceId: string, date: string): string[] {
    if (Number.isNaN(Date.parse(`${date}T00:00:00Z`))) return [];
    const taken = new Set(
      [...bookings.values()]
        .filter((booking) => booking.serviceId === serviceId && booking.status !== "cancelled")
        .map((booking) => booking.slot),
    );
    return slotHours.map((hour) => `${date}T${hour}:00.000Z`).filter((slot) => !taken.has(slot));
  }

  return catalogue;
}

/** Every tool name the fake serves. */
export const FAVCRM_FAKE_TOOL_NAMES: readonly string[] = favcrmTools([]).map((tool) => tool.name);
