/**
 * Helpers that run the third-party reference server `@modelcontextprotocol/server-everything`
 * as a peer for MCP client tests, over Streamable HTTP on loopback and over stdio.
 *
 * Its own HTTP entry point (`dist/index.js streamableHttp`) calls express's
 * `app.listen(process.env.PORT || 3001)` with no host, so it binds every interface and cannot
 * be told otherwise (only `PORT` is read). {@link startEverythingHttp} therefore imports the
 * package's server factory (`dist/server/index.js` → `createServer()`) in-process and serves it
 * with the SDK's `StreamableHTTPServerTransport` behind our own `node:http` on 127.0.0.1:0,
 * one session per `initialize`, as the package's entry point does.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { fileURLToPath } from "node:url";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";

/**
 * The tools server-everything 2026.8.31 lists to a client that declares no capabilities
 * (no roots, sampling or elicitation). All are annotated; `gzip-file-as-resource` fetches URLs
 * (openWorldHint) and `simulate-research-query` requires task-augmented calls.
 */
export const EVERYTHING_TOOL_NAMES: readonly string[] = [
  "echo",
  "get-annotated-message",
  "get-env",
  "get-resource-links",
  "get-resource-reference",
  "get-structured-content",
  "get-sum",
  "get-tiny-image",
  "gzip-file-as-resource",
  "toggle-simulated-logging",
  "toggle-subscriber-updates",
  "trigger-long-running-operation",
  "simulate-research-query",
];

/** The read-only ones among {@link EVERYTHING_TOOL_NAMES} (`readOnlyHint: true`). */
export const EVERYTHING_READ_ONLY_TOOL_NAMES: readonly string[] = [
  "echo",
  "get-annotated-message",
  "get-env",
  "get-resource-links",
  "get-resource-reference",
  "get-structured-content",
  "get-sum",
  "get-tiny-image",
  "trigger-long-running-operation",
];

const packageEntry = "@modelcontextprotocol/server-everything/dist/index.js";
const serverFactoryModule = "@modelcontextprotocol/server-everything/dist/server/index.js";

type EverythingServerFactory = () => { server: McpServer; cleanup(sessionId?: string): void };

type EverythingSession = {
  transport: StreamableHTTPServerTransport;
  server: McpServer;
  cleanup(sessionId?: string): void;
};

export interface EverythingHttp {
  /** `http://127.0.0.1:PORT/mcp` */
  url: string;
  /** The address the listening socket is bound to, as `server.address()` reports it. */
  address: string;
  /** Forgets every session, so the next request carrying an old `Mcp-Session-Id` gets 404. */
  expireSessions(): Promise<void>;
  /** Ends every session, destroys open sockets and stops listening. */
  close(): Promise<void>;
}

/**
 * Serves server-everything over Streamable HTTP (stateful, sessions) on 127.0.0.1 with a free
 * port. An unknown `Mcp-Session-Id` gets 404 as the MCP spec says (the package's own express
 * wrapper answers 400 there).
 */
export async function startEverythingHttp(): Promise<EverythingHttp> {
  // A non-literal specifier: the package ships no type declarations.
  const factoryModule: { createServer: EverythingServerFactory } = await import(serverFactoryModule as string);
  const sessions = new Map<string, EverythingSession>();
  const sockets = new Set<Socket>();

  async function endSession(sessionId: string): Promise<void> {
    const session = sessions.get(sessionId);
    if (!session) return;
    sessions.delete(sessionId);
    session.cleanup(sessionId);
    await session.transport.close();
    await session.server.close();
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (new URL(request.url ?? "/", "http://127.0.0.1").pathname !== "/mcp") {
      return sendJsonRpcError(response, 404, -32000, "Not Found");
    }
    const sessionHeader = request.headers["mcp-session-id"];
    const sessionId = Array.isArray(sessionHeader) ? sessionHeader[0] : sessionHeader;
    if (sessionId !== undefined) {
      const session = sessions.get(sessionId);
      if (!session) return sendJsonRpcError(response, 404, -32001, "Session not found");
      const body = request.method === "POST" ? await readJson(request) : undefined;
      return session.transport.handleRequest(request, response, body);
    }
    if (request.method !== "POST") {
      return sendJsonRpcError(response, 400, -32000, "Bad Request: No valid session ID provided");
    }
    const body = await readJson(request);
    if (!isInitializeRequest(body)) {
      return sendJsonRpcError(response, 400, -32000, "Bad Request: No valid session ID provided");
    }
    const { server, cleanup } = factoryModule.createServer();
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, server, cleanup });
      },
    });
    transport.onclose = () => {
      if (transport.sessionId !== undefined) void endSession(transport.sessionId);
    };
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
  const { address, port } = httpServer.address() as AddressInfo;

  const endAllSessions = async () => {
    await Promise.all([...sessions.keys()].map((id) => endSession(id)));
  };
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    address,
    expireSessions: endAllSessions,
    async close() {
      await endAllSessions();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };
}

/**
 * The command that runs server-everything over stdio with this Node binary, for
 * `new StdioClientTransport({ ...everythingStdioCommand(), stderr: "pipe" })`. It logs a
 * banner to stderr on start.
 */
export function everythingStdioCommand(): { command: string; args: string[] } {
  return { command: process.execPath, args: [fileURLToPath(import.meta.resolve(packageEntry)), "stdio"] };
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function sendJsonRpcError(response: ServerResponse, status: number, code: number, message: string): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null }));
}
