import { readFile } from "node:fs/promises";
import { isDeepStrictEqual } from "node:util";
import { FaradayError } from "../errors/index.ts";

/** The parts of an MCP server entry that decide which program the gateway runs. */
const PROGRAM_KEYS = ["command", "args", "env"] as const;

type Json = Record<string, unknown>;

const objectAt = (value: unknown, ...path: string[]): Json | undefined => {
  let node: unknown = value;
  for (const key of path) {
    if (node === null || typeof node !== "object" || Array.isArray(node) || !Object.hasOwn(node, key)) return undefined;
    node = (node as Json)[key];
  }
  return node !== null && typeof node === "object" && !Array.isArray(node) ? (node as Json) : undefined;
};

/** Every MCP server section of a config: `mcp.servers` and the Cursor-style `mcpServers`. */
function serverSections(config: unknown): Array<{ path: string; servers: Json | undefined }> {
  return [
    { path: "mcp.servers", servers: objectAt(config, "mcp", "servers") },
    { path: "mcpServers", servers: objectAt(config, "mcpServers") },
  ];
}

/**
 * The paths where `next` adds or changes a program the gateway would run (an MCP server's
 * `command`, `args` or `env`) compared with `onDisk`, plus `gateway.allowRemoteCommands` when
 * `next` turns it on. Removing a server, or keeping one exactly as it is, is not a change.
 */
export function remoteCommandChanges(next: unknown, onDisk: unknown): string[] {
  const changes: string[] = [];
  if (objectAt(next, "gateway")?.allowRemoteCommands === true && objectAt(onDisk, "gateway")?.allowRemoteCommands !== true) {
    changes.push("gateway.allowRemoteCommands");
  }
  const before = serverSections(onDisk);
  serverSections(next).forEach(({ path, servers }, index) => {
    for (const [name, server] of Object.entries(servers ?? {})) {
      const entry = server !== null && typeof server === "object" ? (server as Json) : {};
      if (entry.command === undefined) continue;
      const previous = objectAt(before[index]!.servers, name) ?? {};
      for (const key of PROGRAM_KEYS) {
        if (!isDeepStrictEqual(entry[key], previous[key])) changes.push(`${path}.${name}.${key}`);
      }
    }
  });
  return changes;
}

/** `openclaw.json` as it is on disk now (parsed), or undefined when absent or unreadable. */
export async function readConfigOnDisk(path: string): Promise<unknown> {
  try {
    return JSON.parse((await readFile(path, "utf8")).replace(/^\uFEFF/, ""));
  } catch {
    return undefined;
  }
}

/**
 * Refuse a config that came over HTTP when it adds or changes a program to run, unless the file
 * on disk already says `gateway.allowRemoteCommands: true`. Whoever holds the token or a
 * dashboard cookie must not be able to run any program as the gateway's user.
 * @throws FaradayError CONFIG_COMMAND_FORBIDDEN naming the paths and the way to do it instead.
 */
export function assertNoRemoteCommands(next: unknown, onDisk: unknown): void {
  const changes = remoteCommandChanges(next, onDisk);
  if (changes.length === 0) return;
  const turningOn = changes.includes("gateway.allowRemoteCommands");
  if (!turningOn && objectAt(onDisk, "gateway")?.allowRemoteCommands === true) return;
  throw new FaradayError(
    "CONFIG_COMMAND_FORBIDDEN",
    `${changes.join(", ")}: a config sent over HTTP (the API or the dashboard) may not ${turningOn ? "turn on gateway.allowRemoteCommands" : "add or change a program the gateway runs (an MCP server's command, args or env)"}; nothing was written. ` +
      "Edit openclaw.json in the gateway's state directory instead (on Fly: `faraday deploy config push`, or `fly ssh console` on the volume), " +
      "or set gateway.allowRemoteCommands: true in that file to allow it from the dashboard",
    { details: { paths: changes } },
  );
}
