import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { maskSecret } from "../../config/index.ts";
import type { Logger } from "../../logging/index.ts";
import { matchesGlob, modelToolName } from "../tool-naming.ts";
import type { ToolAnnotations, ToolDescriptor, ToolResult } from "../tool-source.ts";
import type { McpServerSpec } from "./server-specs.ts";

export type McpConnectionState = "idle" | "connecting" | "connected" | "reconnecting" | "failed" | "disabled";

export interface McpConnectionStatus {
  readonly state: McpConnectionState;
  readonly reason: string;
  readonly toolCount: number;
  readonly since: string;
}

/** A tool of this server, as listed: model-facing descriptor plus the server's own name. */
export interface McpTool extends ToolDescriptor {
  readonly serverToolName: string;
}

const CONNECT_TIMEOUT_MS = 15_000;
const REFRESH_INTERVAL_MS = 5 * 60_000;
const MAX_BACKOFF_MS = 5 * 60_000;

/** Result text for the model: structuredContent as JSON (FavCRM: {data, summary, renderType}), else the text content. */
export function resultText(result: { content?: unknown; structuredContent?: unknown }): string {
  if (result.structuredContent !== undefined && result.structuredContent !== null) return JSON.stringify(result.structuredContent);
  const content = Array.isArray(result.content) ? (result.content as Array<{ type: string; text?: string; mimeType?: string }>) : [];
  const parts = content.map((part) => (part.type === "text" ? part.text ?? "" : `[${part.type}${part.mimeType ? ` ${part.mimeType}` : ""}]`));
  return parts.join("\n") || "(no content)";
}

function isSessionExpired(error: unknown): boolean {
  return (error as { code?: unknown })?.code === 404 || /\b404\b|session not found/i.test(String((error as Error)?.message));
}

function isTimeout(error: unknown): boolean {
  return (error as { code?: unknown })?.code === -32001 || /timed out|timeout/i.test(String((error as Error)?.message));
}

/**
 * One MCP server: connects (HTTP or stdio) through the real SDK, lists its tools, keeps them
 * fresh (on list_changed, on reconnect, on a timer), reconnects with capped backoff, and never
 * lets a failure escape a call: a down server, a timeout, an expired session become error results.
 */
export class McpConnection {
  readonly spec: McpServerSpec;
  readonly #logger: Logger;
  readonly #onChange: () => void;
  #client: Client | undefined;
  #tools: McpTool[] = [];
  #status: McpConnectionStatus;
  #attempt = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #refreshTimer: NodeJS.Timeout | undefined;
  #connecting: Promise<void> | undefined;
  #closed = false;

  constructor(spec: McpServerSpec, logger: Logger, onChange: () => void) {
    this.spec = spec;
    this.#logger = logger;
    this.#onChange = onChange;
    this.#status = spec.enabled
      ? { state: "idle", reason: spec.lazy ? "connects on first use" : "not connected yet", toolCount: 0, since: new Date().toISOString() }
      : { state: "disabled", reason: "enabled: false", toolCount: 0, since: new Date().toISOString() };
  }

  get status(): McpConnectionStatus {
    return this.#status;
  }

  /** Tools available right now (none while the server is down). */
  tools(): readonly McpTool[] {
    return this.#status.state === "connected" ? this.#tools : [];
  }

  /** All tools last listed, even while disconnected (for `mcp tools`). */
  lastListedTools(): readonly McpTool[] {
    return this.#tools;
  }

  #setStatus(state: McpConnectionState, reason: string): void {
    const changed = state !== this.#status.state || reason !== this.#status.reason;
    this.#status = { state, reason, toolCount: this.#tools.length, since: state === this.#status.state ? this.#status.since : new Date().toISOString() };
    if (changed) this.#onChange();
  }

  /** Connect (once at a time). Resolves whether or not it worked; the status says which. */
  connect(): Promise<void> {
    if (!this.spec.enabled || this.#closed) return Promise.resolve();
    if (this.#status.state === "connected") return Promise.resolve();
    this.#connecting ??= this.#connect().finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  async #connect(): Promise<void> {
    clearTimeout(this.#retryTimer);
    this.#setStatus(this.#attempt === 0 ? "connecting" : "reconnecting", this.#attempt === 0 ? "connecting" : `reconnecting (attempt ${this.#attempt + 1})`);
    await this.#dropClient();
    try {
      const [{ Client }] = await Promise.all([import("@modelcontextprotocol/sdk/client/index.js")]);
      const client = new Client(
        { name: "faraday", version: "0.1.0" },
        {
          capabilities: {},
          listChanged: {
            tools: {
              onChanged: (error) => {
                if (!error) void this.refresh();
              },
            },
          },
        },
      );
      const transport = await this.#transport();
      client.onclose = () => {
        if (this.#client === client && !this.#closed) {
          this.#logger.warn({ server: this.spec.name }, "MCP connection closed; reconnecting");
          this.#client = undefined;
          this.#scheduleRetry("connection closed");
        }
      };
      client.onerror = (error) => this.#logger.debug({ server: this.spec.name, err: error.message }, "MCP transport error");
      await withTimeout(client.connect(transport), CONNECT_TIMEOUT_MS, "connect");
      this.#client = client;
      await this.#listTools();
      this.#attempt = 0;
      this.#setStatus("connected", `${this.#tools.length} tools`);
      this.#logger.info({ server: this.spec.name, tools: this.#tools.length }, "MCP server connected");
      clearInterval(this.#refreshTimer);
      this.#refreshTimer = setInterval(() => void this.refresh(), REFRESH_INTERVAL_MS);
      this.#refreshTimer.unref();
    } catch (error) {
      await this.#dropClient();
      this.#scheduleRetry(this.#describe(error));
    }
  }

  async #transport() {
    if (this.spec.transport === "stdio") {
      const { StdioClientTransport, getDefaultEnvironment } = await import("@modelcontextprotocol/sdk/client/stdio.js");
      return new StdioClientTransport({
        command: this.spec.command!,
        args: [...this.spec.args],
        env: { ...getDefaultEnvironment(), ...this.spec.env },
        stderr: "pipe",
      });
    }
    const { StreamableHTTPClientTransport } = await import("@modelcontextprotocol/sdk/client/streamableHttp.js");
    return new StreamableHTTPClientTransport(new URL(this.spec.url!), { requestInit: { headers: { ...this.spec.headers } } });
  }

  #scheduleRetry(reason: string): void {
    if (this.#closed) return;
    this.#attempt++;
    const base = Math.min(1_000 * 2 ** Math.min(this.#attempt - 1, 12), MAX_BACKOFF_MS);
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.#setStatus("reconnecting", `${reason}; retrying in ${Math.round(delay / 1000)} s`);
    this.#logger.warn({ server: this.spec.name, reason, retryInMs: delay }, "MCP server unavailable; its tools are withdrawn");
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => void this.connect(), delay);
    this.#retryTimer.unref();
  }

  /** Re-read the tool list (list_changed, timer, after a plan change). */
  async refresh(): Promise<void> {
    if (!this.#client) return;
    try {
      await this.#listTools();
      this.#setStatus("connected", `${this.#tools.length} tools`);
    } catch (error) {
      if (isSessionExpired(error)) return this.connect();
      this.#logger.warn({ server: this.spec.name, err: this.#describe(error) }, "MCP tool list refresh failed");
    }
  }

  async #listTools(): Promise<void> {
    const client = this.#client!;
    const listed: McpTool[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 50; page++) {
      const result = await client.listTools(cursor ? { cursor } : undefined, { timeout: this.spec.timeoutMs });
      for (const tool of result.tools) {
        if (this.spec.include && !this.spec.include.some((pattern) => matchesGlob(pattern, tool.name))) continue;
        if (this.spec.exclude?.some((pattern) => matchesGlob(pattern, tool.name))) continue;
        listed.push({
          name: modelToolName(this.spec.name, tool.name),
          serverToolName: tool.name,
          description: tool.description ?? tool.title ?? tool.name,
          inputSchema: (tool.inputSchema as Record<string, unknown>) ?? { type: "object" },
          ...(tool.annotations ? { annotations: tool.annotations as ToolAnnotations } : {}),
        });
      }
      cursor = result.nextCursor;
      if (!cursor) break;
    }
    this.#tools = listed;
  }

  /** Call a tool by its server name. Never throws: failures are error results. */
  async call(serverToolName: string, args: Record<string, unknown>, signal?: AbortSignal): Promise<ToolResult> {
    if (this.#status.state !== "connected") await this.connect();
    for (let attempt = 0; attempt < 2; attempt++) {
      const client = this.#client;
      if (!client || this.#status.state !== "connected") {
        return { content: `The ${this.spec.name} tool server is unavailable right now (${this.#status.reason}); try again later.`, isError: true };
      }
      try {
        const result = await client.callTool({ name: serverToolName, arguments: args }, undefined, {
          timeout: this.spec.timeoutMs,
          ...(signal ? { signal } : {}),
        });
        return { content: resultText(result as { content?: unknown; structuredContent?: unknown }), isError: result.isError === true };
      } catch (error) {
        if (attempt === 0 && isSessionExpired(error)) {
          this.#logger.info({ server: this.spec.name }, "MCP session expired; reconnecting with a new transport");
          this.#status = { ...this.#status, state: "reconnecting" };
          await this.connect();
          continue;
        }
        if (isTimeout(error)) {
          return { content: `${serverToolName} on ${this.spec.name} timed out after ${Math.round(this.spec.timeoutMs / 1000)} s.`, isError: true };
        }
        const text = this.#describe(error);
        if (/fetch failed|ECONNREFUSED|ECONNRESET|socket|closed|503/i.test(text)) this.#scheduleRetry(text);
        return { content: `${serverToolName} on ${this.spec.name} failed: ${text}`, isError: true };
      }
    }
    return { content: `${serverToolName} on ${this.spec.name} failed after reconnecting.`, isError: true };
  }

  /** An error's message without any secret of this server's config (some errors quote the URL or a header). */
  #describe(error: unknown): string {
    return secretsOf(this.spec).reduce((text, secret) => text.split(secret).join(maskSecret(secret)), describe(error));
  }

  async #dropClient(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (client) await client.close().catch(() => {});
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#refreshTimer);
    await this.#dropClient();
  }
}

/** The values in a server's config that must not be echoed: header and env values, URL query values and userinfo. */
function secretsOf(spec: McpServerSpec): string[] {
  const values = [...Object.values(spec.headers), ...Object.values(spec.env)];
  if (spec.url) {
    try {
      const url = new URL(spec.url);
      values.push(...[...url.searchParams.values()], url.username, url.password, url.search.slice(1));
    } catch {
      // not a URL: nothing more to hide
    }
  }
  return values.filter((value) => value.length >= 4).sort((a, b) => b.length - a.length);
}

function describe(error: unknown): string {
  const message = (error as Error)?.message ?? String(error);
  // Never echo a bearer key back (some servers quote headers in errors).
  return message.replace(/Bearer\s+\S+/gi, "Bearer ****").slice(0, 300);
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms / 1000} s`)), ms);
    }),
  ]);
}
