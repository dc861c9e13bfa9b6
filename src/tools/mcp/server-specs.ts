import type { FaradayConfig } from "../../config/index.ts";

export const FAVCRM_DEFAULT_URL = "https://api.favcrm.io/mcp";
/** Secret-store name of the FavCRM key the gateway received (signup from chat, dashboard). */
export const FAVCRM_SECRET = "favcrm.apiKey";

/** One MCP server, normalised from `mcp.servers`, the Cursor-style `mcpServers`, or the built-in FavCRM. */
export interface McpServerSpec {
  readonly name: string;
  readonly transport: "http" | "stdio";
  readonly url?: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly command?: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly trusted: boolean;
  readonly enabled: boolean;
  readonly timeoutMs: number;
  readonly include?: readonly string[];
  readonly exclude?: readonly string[];
  /** Where the bearer key came from, for status and doctor (never the key itself). */
  readonly authSource: string;
  /** Connect at start (configured) or on first use (built-in FavCRM with no key and no config). */
  readonly lazy: boolean;
  /**
   * This server is FavCRM, whatever it is called: the built-in one, a server whose URL host is
   * FavCRM's (`api.favcrm.io`, or the host of FAVCRM_MCP_URL), or one marked `favcrm: true`.
   * Its protections (no direct customer sends, the signup key kept from the model) follow this.
   */
  readonly favcrm: boolean;
}

type ServerConfig = NonNullable<NonNullable<FaradayConfig["mcp"]>["servers"]>[string];

/** FavCRM's own host and its subdomains. */
const FAVCRM_HOST = /(^|\.)favcrm\.io$/i;

/** True when `url`'s host is FavCRM's (`*.favcrm.io`) or the host FAVCRM_MCP_URL points at. */
export function isFavcrmUrl(url: string | undefined, env: Readonly<Record<string, string | undefined>>): boolean {
  const host = hostOf(url);
  if (host === undefined) return false;
  if (FAVCRM_HOST.test(host.replace(/:\d+$/, ""))) return true;
  const configured = hostOf(env.FAVCRM_MCP_URL);
  return configured !== undefined && configured === host;
}

function hostOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).host.toLowerCase();
  } catch {
    return undefined;
  }
}

function fromConfig(name: string, server: ServerConfig, env: Readonly<Record<string, string | undefined>>): McpServerSpec {
  const stdio = server.command !== undefined || server.type === "stdio";
  return {
    name,
    transport: stdio ? "stdio" : "http",
    ...(server.url ? { url: server.url } : {}),
    headers: server.headers ?? {},
    ...(server.command ? { command: server.command } : {}),
    args: server.args ?? [],
    env: server.env ?? {},
    trusted: server.trusted ?? false,
    enabled: server.enabled ?? true,
    timeoutMs: server.timeoutMs ?? 60_000,
    ...(server.toolFilter?.include ? { include: server.toolFilter.include } : {}),
    ...(server.toolFilter?.exclude ? { exclude: server.toolFilter.exclude } : {}),
    authSource: Object.keys(server.headers ?? {}).some((header) => header.toLowerCase() === "authorization") ? "config headers" : "none",
    lazy: false,
    // The host decides; the flag can only add (a pasted block cannot switch the protections off).
    favcrm: server.favcrm === true || isFavcrmUrl(server.url, env),
  };
}

/**
 * Every MCP server the gateway should know. `mcp.servers` wins over `mcpServers` on a name
 * clash. FavCRM is built in as `favcrm`: URL from FAVCRM_MCP_URL, key from FAVCRM_API_KEY or the
 * secret store, trusted, disabled with `mcp.servers.favcrm.enabled: false`.
 */
export function resolveServerSpecs(
  config: FaradayConfig | undefined,
  env: Readonly<Record<string, string | undefined>>,
  storedFavcrmKey: string | undefined,
): McpServerSpec[] {
  const byName = new Map<string, McpServerSpec>();
  for (const [name, server] of Object.entries(config?.mcpServers ?? {})) byName.set(name, fromConfig(name, server, env));
  for (const [name, server] of Object.entries(config?.mcp?.servers ?? {})) byName.set(name, fromConfig(name, server, env));

  const configured = config?.mcp?.servers?.favcrm ?? config?.mcpServers?.favcrm;
  const envKey = env.FAVCRM_API_KEY;
  const key = envKey ?? storedFavcrmKey;
  const authSource = envKey ? "FAVCRM_API_KEY" : storedFavcrmKey ? "secret store" : "none (signup tools only)";
  const explicitAuth = configured?.headers && Object.keys(configured.headers).some((header) => header.toLowerCase() === "authorization");
  byName.set("favcrm", {
    name: "favcrm",
    transport: "http",
    url: configured?.url ?? env.FAVCRM_MCP_URL ?? FAVCRM_DEFAULT_URL,
    headers: { ...(key && !explicitAuth ? { Authorization: `Bearer ${key}` } : {}), ...(configured?.headers ?? {}) },
    args: [],
    env: {},
    trusted: configured?.trusted ?? true,
    enabled: configured?.enabled ?? true,
    timeoutMs: configured?.timeoutMs ?? 60_000,
    ...(configured?.toolFilter?.include ? { include: configured.toolFilter.include } : {}),
    ...(configured?.toolFilter?.exclude ? { exclude: configured.toolFilter.exclude } : {}),
    authSource: explicitAuth ? "config headers" : authSource,
    lazy: !key && !configured && !explicitAuth,
    favcrm: true,
  });
  return [...byName.values()];
}
