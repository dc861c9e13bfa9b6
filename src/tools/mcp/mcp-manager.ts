import { isDeepStrictEqual } from "node:util";
import { maskSecret, maskUrl, type FaradayConfig } from "../../config/index.ts";
import type { ComponentRegistry } from "../../gateway/components.ts";
import type { Logger } from "../../logging/index.ts";
import type { SecretStore } from "../../state/index.ts";
import type { ToolCallContext, ToolResult, ToolSource } from "../tool-source.ts";
import { McpConnection } from "./mcp-connection.ts";
import { FAVCRM_SIGNUP_TOOLS } from "./favcrm-signup-tools.ts";
import { FAVCRM_SECRET, resolveServerSpecs, type McpServerSpec } from "./server-specs.ts";

export interface McpManagerDeps {
  readonly config: () => FaradayConfig | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly secrets: SecretStore;
  readonly logger: Logger;
  readonly components?: ComponentRegistry;
}

/** A status line per server for the API, the CLI and doctor. */
export interface McpServerStatus {
  readonly name: string;
  readonly transport: "http" | "stdio";
  readonly url?: string;
  readonly trusted: boolean;
  readonly enabled: boolean;
  readonly state: string;
  readonly reason: string;
  readonly toolCount: number;
  readonly authSource: string;
}

/** Find the FavCRM API key in a `register_organisation_verify` result, wherever it sits. */
function findApiKey(value: unknown): string | undefined {
  if (value === null || typeof value !== "object") return undefined;
  for (const [key, child] of Object.entries(value)) {
    if (key === "apiKey" && typeof child === "string" && child.length > 8) return child;
    const nested = findApiKey(child);
    if (nested) return nested;
  }
  return undefined;
}

/**
 * Every MCP server the config names (plus built-in FavCRM), each its own ToolSource. Connecting
 * happens after the gateway listens; a server that fails never affects another; config changes
 * and a new FavCRM key reconnect only what changed.
 */
export class McpManager {
  readonly #deps: McpManagerDeps;
  readonly #connections = new Map<string, McpConnection>();
  #started = false;

  constructor(deps: McpManagerDeps) {
    this.#deps = deps;
    this.#sync();
  }

  /** Connect every enabled, non-lazy server in the background. */
  start(): void {
    this.#started = true;
    for (const connection of this.#connections.values()) if (!connection.spec.lazy) void connection.connect();
  }

  /** Re-read the specs (config changed, key stored) and reconnect what changed. */
  reload(): void {
    this.#sync();
  }

  #sync(): void {
    const specs = resolveServerSpecs(this.#deps.config(), this.#deps.env, this.#deps.secrets.get(FAVCRM_SECRET));
    const wanted = new Map(specs.map((spec) => [spec.name, spec]));
    for (const [name, connection] of this.#connections) {
      const spec = wanted.get(name);
      if (!spec || !isDeepStrictEqual({ ...spec, lazy: false }, { ...connection.spec, lazy: false })) {
        void connection.close();
        this.#connections.delete(name);
        this.#deps.components?.remove(`mcp:${name}`);
      }
    }
    for (const spec of specs) {
      if (this.#connections.has(spec.name)) continue;
      const connection = new McpConnection(spec, this.#deps.logger, () => this.#report(connection));
      this.#connections.set(spec.name, connection);
      this.#report(connection);
      if (this.#started && !spec.lazy) void connection.connect();
    }
  }

  #report(connection: McpConnection): void {
    const status = connection.status;
    this.#deps.components?.set(`mcp:${connection.spec.name}`, {
      state: status.state,
      reason: status.reason,
      // A server that is down is not ready; idle (connects on first use) and disabled are. The
      // built-in FavCRM nobody configured (no key, no config) never holds readiness hostage.
      ready: connection.spec.lazy || status.state === "connected" || status.state === "idle" || status.state === "disabled",
      details: { toolCount: status.toolCount, authSource: connection.spec.authSource },
    });
  }

  connection(name: string): McpConnection | undefined {
    return this.#connections.get(name);
  }

  statuses(): McpServerStatus[] {
    return [...this.#connections.values()].map((connection) => ({
      name: connection.spec.name,
      transport: connection.spec.transport,
      // The URL as resolved may carry a key (`?key=${env:…}`) or userinfo: shown masked.
      ...(connection.spec.url ? { url: maskUrl(connection.spec.url) } : {}),
      trusted: connection.spec.trusted,
      enabled: connection.spec.enabled,
      state: connection.status.state,
      reason: connection.status.reason,
      toolCount: connection.status.toolCount,
      authSource: connection.spec.authSource,
    }));
  }

  /** One ToolSource per enabled server. A lazy server (FavCRM without a key) connects on its first call. */
  sources(): ToolSource[] {
    return [...this.#connections.values()].filter((connection) => connection.spec.enabled).map((connection) => this.#source(connection));
  }

  /**
   * Before a turn builds its tool list: wait for connects already in flight (a server still
   * backing off after a failure is not waited for; a lazy one stays unconnected until called).
   */
  async warmUp(): Promise<void> {
    await Promise.all([...this.#connections.values()]
      .filter((connection) => connection.spec.enabled && connection.status.state === "connecting")
      .map((connection) => connection.connect()));
  }

  /** Connect idle servers (lazy ones included) and wait for connects in flight — for `mcp list` / `mcp tools`. */
  async connectAll(): Promise<void> {
    await Promise.all([...this.#connections.values()]
      .filter((connection) => connection.spec.enabled && (connection.status.state === "idle" || connection.status.state === "connecting"))
      .map((connection) => connection.connect()));
  }

  #source(connection: McpConnection): ToolSource {
    const spec: McpServerSpec = connection.spec;
    return {
      name: spec.name,
      trusted: spec.trusted,
      favcrm: spec.favcrm,
      list: () => (spec.lazy && connection.status.state === "idle" ? FAVCRM_SIGNUP_TOOLS : connection.tools()),
      status: () => ({
        available: connection.status.state === "connected" || connection.status.state === "idle",
        reason: connection.status.reason,
      }),
      call: async (name: string, args: Record<string, unknown>, context: ToolCallContext): Promise<ToolResult> => {
        const tool = [...connection.lastListedTools(), ...(spec.lazy ? FAVCRM_SIGNUP_TOOLS : [])].find((candidate) => candidate.name === name);
        const serverToolName = tool?.serverToolName ?? name;
        const result = await connection.call(serverToolName, args, context.signal);
        // By what the server is, not its name: a pasted `crm2` pointing at FavCRM is FavCRM.
        if (spec.favcrm && serverToolName === "register_organisation_verify" && !result.isError) {
          return this.#captureFavcrmKey(result, spec.name);
        }
        return result;
      },
    };
  }

  /**
   * Signup from chat: take the new key out of the verify result before the model, the
   * transcript or a log sees it, keep it in the secret store, reconnect FavCRM with it.
   */
  #captureFavcrmKey(result: ToolResult, server: string): ToolResult {
    let parsed: unknown;
    try {
      parsed = JSON.parse(result.content);
    } catch {
      parsed = undefined;
    }
    const key = findApiKey(parsed) ?? /fav_mcp_[A-Za-z0-9_-]+/.exec(result.content)?.[0];
    if (!key) return result;
    this.#deps.secrets.set(FAVCRM_SECRET, key);
    this.#deps.logger.info({ server }, "FavCRM signup finished: API key stored in the secret store; reconnecting the built-in favcrm server with it");
    this.reload();
    void this.#connections.get("favcrm")?.connect();
    const redacted = result.content.split(key).join(maskSecret(key));
    return {
      content: `${redacted}\n\nThe FavCRM workspace is ready. The gateway stored its API key securely (${maskSecret(key)}) and reconnected; FavCRM tools are available now. Never ask the user for the key.`,
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.#connections.values()].map((connection) => connection.close()));
  }
}
