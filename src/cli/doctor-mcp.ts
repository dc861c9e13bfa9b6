import { maskSecret, maskUrl, type FaradayConfig } from "../config/index.ts";
import { createLogger } from "../logging/index.ts";
import { McpConnection, resolveServerSpecs, FAVCRM_SECRET } from "../tools/mcp/index.ts";
import type { DoctorCheck } from "./doctor-command.ts";

/** The bearer key in a spec's headers, masked, for the report. */
function maskedKey(headers: Readonly<Record<string, string>>): string | undefined {
  const value = Object.entries(headers).find(([name]) => name.toLowerCase() === "authorization")?.[1];
  const key = value?.replace(/^Bearer\s+/i, "");
  return key ? maskSecret(key) : undefined;
}

/**
 * One check per MCP server: reachable, tool count, key source (masked); for FavCRM with a key
 * also `list_my_companies` and `get_plan_status`. Each server is tried once, with a timeout.
 */
export async function mcpDoctorChecks(
  config: FaradayConfig | undefined,
  env: Readonly<Record<string, string | undefined>>,
  storedSecret: (name: string) => string | undefined,
): Promise<DoctorCheck[]> {
  const logger = createLogger({ level: "silent" });
  const specs = resolveServerSpecs(config, env, storedSecret(FAVCRM_SECRET));
  return Promise.all(specs.map(async (spec): Promise<DoctorCheck> => {
    const name = `mcp:${spec.name}`;
    const key = maskedKey(spec.headers);
    const auth = `auth: ${spec.authSource}${key ? ` (${key})` : ""}`;
    if (!spec.enabled) return { name, status: "ok", detail: "disabled (enabled: false)" };
    if (spec.lazy) {
      return {
        name, status: "ok",
        detail: `not configured (${maskUrl(spec.url ?? "")}): set FAVCRM_API_KEY, or \`faraday secrets set favcrm.apiKey\` (value on stdin), to use an existing FavCRM account — or let the assistant sign the business up from the chat`,
      };
    }
    const connection = new McpConnection({ ...spec, timeoutMs: Math.min(spec.timeoutMs, 10_000) }, logger, () => {});
    try {
      await connection.connect();
      if (connection.status.state !== "connected") {
        const fix = spec.url
          ? `check the address (${spec.name === "favcrm" ? "FAVCRM_MCP_URL" : `mcp.servers.${spec.name}.url`}) and that this machine reaches it`
          : `check that \`${spec.command}\` runs here (mcp.servers.${spec.name}.command)`;
        return { name, status: "fail", detail: `unreachable at ${spec.url ? maskUrl(spec.url) : spec.command}: ${connection.status.reason}; ${auth}. Fix: ${fix}` };
      }
      const parts = [`reachable (${spec.transport}${spec.url ? ` ${maskUrl(spec.url)}` : ""})`, `${connection.status.toolCount} tools`, auth];
      let status: DoctorCheck["status"] = "ok";
      if (spec.name === "favcrm") {
        for (const tool of ["list_my_companies", "get_plan_status"]) {
          const result = await connection.call(tool, {});
          parts.push(`${tool}: ${result.isError ? `failed (${result.content.slice(0, 120)})` : "ok"}`);
          if (result.isError) status = "fail";
        }
        if (status === "ok") parts.push("authenticated");
        else parts.push(`Fix: the key from ${spec.authSource} was refused or lacks access — set a valid one (FAVCRM_API_KEY, or \`faraday secrets set favcrm.apiKey\`)`);
      }
      return { name, status, detail: parts.join("; ") };
    } finally {
      await connection.close();
    }
  }));
}
