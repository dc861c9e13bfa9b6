import { posix } from "node:path";
import { splitShellWords } from "./shell-words.ts";

/** `node SCRIPT SUBCOMMAND --flag value …` as read from a container command. */
export interface GatewayInvocation {
  /** The script node runs, as written (relative to the WORKDIR unless absolute). */
  script: string;
  /** The first positional argument after the script (`gateway`). */
  subcommand: string | undefined;
  /** `--port 3000` and `--port=3000` both give `port -> "3000"`; a bare switch gives "true". */
  flags: Map<string, string>;
}

/** Node options that take the next word as their value. */
const NODE_OPTIONS_WITH_VALUE = new Set(["-r", "--require", "--import", "--loader", "--experimental-loader", "--env-file", "-C", "--conditions", "--title"]);
/** Gateway switches that take no value, so the word after them is not theirs. */
const GATEWAY_SWITCHES = new Set(["allow-unconfigured", "json", "verbose", "help"]);
const SHELLS = new Set(["sh", "bash", "dash", "ash"]);

/**
 * Finds the node invocation in a command, looking through wrappers (tini, an entrypoint
 * script, `sh -c "…"`): `node [node options] SCRIPT [SUBCOMMAND] [--flag value | --flag=value …]`.
 * Returns undefined when the command runs no node.
 */
export function readGatewayInvocation(words: readonly string[]): GatewayInvocation | undefined {
  for (let index = 0; index < words.length; index += 1) {
    const name = posix.basename(words[index] as string);
    const shellScript = words[index + 2];
    if (SHELLS.has(name) && words[index + 1] === "-c" && shellScript !== undefined) {
      return readGatewayInvocation(splitShellWords(shellScript));
    }
    if (name !== "node" && name !== "nodejs") continue;

    let cursor = index + 1;
    while (cursor < words.length && (words[cursor] as string).startsWith("-")) {
      cursor += NODE_OPTIONS_WITH_VALUE.has(words[cursor] as string) ? 2 : 1;
    }
    const script = words[cursor];
    if (script === undefined) return undefined;
    return { script, ...readArguments(words.slice(cursor + 1)) };
  }
  return undefined;
}

function readArguments(rest: readonly string[]): Omit<GatewayInvocation, "script"> {
  const flags = new Map<string, string>();
  let subcommand: string | undefined;
  for (let position = 0; position < rest.length; position += 1) {
    const argument = rest[position] as string;
    if (!argument.startsWith("--")) {
      subcommand ??= argument;
      continue;
    }
    const equals = argument.indexOf("=");
    const name = equals === -1 ? argument.slice(2) : argument.slice(2, equals);
    const next = rest[position + 1];
    if (equals !== -1) {
      flags.set(name, argument.slice(equals + 1));
    } else if (!GATEWAY_SWITCHES.has(name) && next !== undefined && !next.startsWith("--")) {
      flags.set(name, next);
      position += 1;
    } else {
      flags.set(name, "true");
    }
  }
  return { subcommand, flags };
}
