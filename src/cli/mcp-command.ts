import { FaradayError } from "../errors/index.ts";
import { gatewayJson, localGateway } from "./gateway-client.ts";
import { printJson } from "./output.ts";

interface Target { url?: string; stateDir?: string; json?: boolean }

interface ServerRow { name: string; state: string; reason: string; toolCount: number; authSource: string; trusted: boolean; transport: string }
interface ToolRow {
  server: string; name: string; serverToolName: string; description: string;
  annotations: Record<string, boolean>; inputSchema: unknown; policy: { decision: string; reason: string };
}

/** `faraday mcp list`: servers, state, tool count, auth source. */
export async function runMcpList(options: Target): Promise<number> {
  const target = await localGateway(options);
  const { servers } = await gatewayJson<{ servers: ServerRow[] }>(target, "/api/mcp/servers");
  if (options.json) printJson({ servers });
  else {
    for (const server of servers) {
      process.stdout.write(`${server.name.padEnd(16)} ${server.state.padEnd(13)} ${String(server.toolCount).padStart(4)} tools  ${server.trusted ? "trusted  " : "untrusted"}  auth: ${server.authSource}  (${server.reason})\n`);
    }
  }
  return 0;
}

async function fetchTools(options: Target, server?: string): Promise<ToolRow[]> {
  const target = await localGateway(options);
  const query = server ? `?server=${encodeURIComponent(server)}` : "";
  return (await gatewayJson<{ tools: ToolRow[] }>(target, `/api/mcp/tools${query}`)).tools;
}

function annotationText(annotations: Record<string, boolean>): string {
  const flags = [
    annotations.readOnlyHint ? "read-only" : undefined,
    annotations.destructiveHint ? "destructive" : undefined,
    annotations.openWorldHint ? "open-world" : undefined,
    annotations.idempotentHint ? "idempotent" : undefined,
  ].filter(Boolean);
  return flags.length ? flags.join(",") : "no annotations";
}

/** `faraday mcp tools [SERVER]`: each tool with its annotations and the policy the gateway decided. */
export async function runMcpTools(server: string | undefined, options: Target): Promise<number> {
  const tools = await fetchTools(options, server);
  if (options.json) printJson({ tools });
  else for (const tool of tools) process.stdout.write(`${tool.name.padEnd(44)} ${tool.policy.decision.padEnd(8)} ${annotationText(tool.annotations)} — ${tool.policy.reason}\n`);
  return 0;
}

/** `faraday mcp describe SERVER TOOL`. */
export async function runMcpDescribe(server: string, tool: string, options: Target): Promise<number> {
  const found = (await fetchTools(options, server)).find((row) => row.serverToolName === tool || row.name === tool);
  if (!found) throw new FaradayError("TOOL_NOT_FOUND", `${server} has no tool "${tool}"; \`faraday mcp tools ${server}\` lists them`);
  if (options.json) printJson(found);
  else {
    process.stdout.write(`${found.name} (on ${found.server} as ${found.serverToolName})\n${found.description}\n`);
    process.stdout.write(`annotations: ${annotationText(found.annotations)}\npolicy: ${found.policy.decision} — ${found.policy.reason}\n`);
    process.stdout.write(`input schema:\n${JSON.stringify(found.inputSchema, null, 2)}\n`);
  }
  return 0;
}

/** `faraday mcp call SERVER TOOL 'JSON' [--yes]`: through the running gateway, policy applied. */
export async function runMcpCall(server: string, tool: string, json: string | undefined, options: Target & { yes?: boolean }): Promise<number> {
  let args: unknown = {};
  if (json !== undefined) {
    try {
      args = JSON.parse(json);
    } catch (error) {
      throw new FaradayError("BAD_REQUEST", `the arguments are not valid JSON (${(error as Error).message}); quote them: '{"serviceId": "s1"}'`);
    }
  }
  const target = await localGateway(options);
  const result = await gatewayJson<{ tool: string; decision: string; isError: boolean; result: string }>(target, "/api/mcp/call", {
    method: "POST",
    body: { server, tool, arguments: args, yes: options.yes === true },
  });
  if (options.json) printJson(result);
  else process.stdout.write(`${result.result}\n`);
  return result.isError ? 1 : 0;
}
