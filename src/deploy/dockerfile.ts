import { posix } from "node:path";
import { splitShellWords } from "./shell-words.ts";

/** One instruction after comments are dropped and line continuations joined. */
export interface DockerInstruction {
  /** Upper-cased: `FROM`, `RUN`, `COPY` … */
  keyword: string;
  /** Everything after the keyword, continuations joined with a space (heredoc bodies kept). */
  arguments: string;
  /** 1-based line where the instruction starts. */
  line: number;
}

/**
 * A CMD, ENTRYPOINT or HEALTHCHECK command. `words` is what the process receives: the JSON
 * array for the exec form, the shell's word split of the text for the shell form (which
 * Docker runs as `/bin/sh -c text`).
 */
export interface DockerCommand {
  form: "exec" | "shell";
  words: string[];
  text: string;
}

export interface DockerRun {
  command: string;
  workdir: string;
}

export interface DockerCopy {
  /** The `--from` value: a stage name, a stage index, an image; undefined for the build context. */
  from: string | undefined;
  sources: string[];
  /** Absolute destination inside the stage (WORKDIR applied). */
  destination: string;
  /** True when the destination was written with a trailing slash (a directory). */
  destinationIsDirectory: boolean;
}

export interface DockerPortRange {
  from: number;
  to: number;
}

/** What a stage ends up with, including what it inherited from a stage it is built `FROM`. */
export interface DockerStage {
  index: number;
  /** The `AS` name, lower-cased (Docker matches stage names case-insensitively). */
  name: string | undefined;
  base: string;
  workdir: string;
  env: Map<string, string>;
  runs: DockerRun[];
  copies: DockerCopy[];
  exposedPorts: DockerPortRange[];
  cmd: DockerCommand | undefined;
  entrypoint: DockerCommand | undefined;
  /** `null` for `HEALTHCHECK NONE`, undefined when the Dockerfile sets none. */
  healthcheck: DockerCommand | null | undefined;
}

export interface ParsedDockerfile {
  instructions: DockerInstruction[];
  stages: DockerStage[];
}

const HEREDOC_MARKER = /<<-?\s*(["']?)([A-Za-z_][A-Za-z0-9_]*)\1/g;

/**
 * Splits a Dockerfile into instructions: honours the `# escape=` parser directive, drops
 * comment lines (also those inside a continuation, as Docker does), joins continuations and
 * keeps heredoc bodies (`RUN <<EOF … EOF`) with the instruction that opens them.
 */
export function readDockerInstructions(text: string): DockerInstruction[] {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  let escape = "\\";
  let index = 0;
  // Parser directives: leading `# key=value` comments, before any other line.
  while (index < lines.length) {
    const directive = /^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$/.exec(lines[index] as string);
    if (directive === null) break;
    if ((directive[1] as string).toLowerCase() === "escape") escape = directive[2] as string;
    index += 1;
  }

  const instructions: DockerInstruction[] = [];
  while (index < lines.length) {
    const startLine = index + 1;
    const first = lines[index] as string;
    index += 1;
    if (first.trim() === "" || first.trimStart().startsWith("#")) continue;

    let joined = "";
    let current = first;
    for (;;) {
      const trimmed = current.replace(/\s+$/, "");
      if (!trimmed.endsWith(escape) || index >= lines.length) {
        joined += trimmed;
        break;
      }
      joined += trimmed.slice(0, -escape.length) + " ";
      // Blank and comment lines inside a continuation are skipped, not terminators.
      while (index < lines.length && /^\s*(#.*)?$/.test(lines[index] as string)) index += 1;
      if (index >= lines.length) break;
      current = lines[index] as string;
      index += 1;
    }

    const match = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(joined);
    if (match === null) continue;
    let argumentsText = (match[2] as string).trim();
    for (const heredoc of argumentsText.matchAll(HEREDOC_MARKER)) {
      const terminator = heredoc[2] as string;
      const body: string[] = [];
      while (index < lines.length) {
        const line = lines[index] as string;
        index += 1;
        if (line.replace(/^\t+/, "") === terminator) break;
        body.push(line);
      }
      argumentsText += "\n" + body.join("\n");
    }
    instructions.push({ keyword: (match[1] as string).toUpperCase(), arguments: argumentsText, line: startLine });
  }
  return instructions;
}

/**
 * Reads a Dockerfile into its build stages, tracking per stage the WORKDIR, ENV, RUN and COPY
 * instructions, EXPOSE, CMD, ENTRYPOINT and HEALTHCHECK. Variables (`$X`, `${X}`,
 * `${X:-default}`) from ARG and ENV are expanded where Docker expands them. Never throws;
 * a Dockerfile without FROM gives no stages.
 */
export function parseDockerfile(text: string): ParsedDockerfile {
  const instructions = readDockerInstructions(text);
  const stages: DockerStage[] = [];
  const globalArgs = new Map<string, string>();
  let stage: DockerStage | undefined;
  let stageArgs = new Map<string, string>();

  const variables = (): Map<string, string> => new Map([...globalArgs, ...stageArgs, ...(stage?.env ?? [])]);
  const expand = (value: string): string => expandVariables(value, variables());

  for (const instruction of instructions) {
    const { keyword } = instruction;
    if (keyword === "FROM") {
      const words = splitShellWords(expandVariables(instruction.arguments, globalArgs)).filter(
        (word) => !word.startsWith("--"),
      );
      const base = words[0] ?? "";
      const asIndex = words.findIndex((word) => word.toLowerCase() === "as");
      const name = asIndex === -1 ? undefined : words[asIndex + 1]?.toLowerCase();
      const parent = stages.find((candidate) => candidate.name === base.toLowerCase());
      stage = parent === undefined ? emptyStage(stages.length, name, base) : inheritStage(parent, stages.length, name, base);
      stages.push(stage);
      stageArgs = new Map();
      continue;
    }
    if (keyword === "ARG") {
      const target = stage === undefined ? globalArgs : stageArgs;
      for (const word of splitShellWords(instruction.arguments)) {
        const equals = word.indexOf("=");
        if (equals === -1) target.set(word, globalArgs.get(word) ?? "");
        else target.set(word.slice(0, equals), expand(word.slice(equals + 1)));
      }
      continue;
    }
    if (stage === undefined) continue;

    switch (keyword) {
      case "WORKDIR":
        stage.workdir = posix.resolve(stage.workdir, expand(instruction.arguments.trim()));
        break;
      case "ENV":
        for (const [key, value] of readEnvPairs(instruction.arguments, expand)) stage.env.set(key, value);
        break;
      case "RUN":
        stage.runs.push({ command: instruction.arguments, workdir: stage.workdir });
        break;
      case "COPY":
      case "ADD":
        stage.copies.push(readCopy(instruction.arguments, stage.workdir, expand));
        break;
      case "EXPOSE":
        for (const word of splitShellWords(expand(instruction.arguments))) {
          const range = /^(\d+)(?:-(\d+))?(?:\/\w+)?$/.exec(word);
          if (range === null) continue;
          const from = Number(range[1]);
          stage.exposedPorts.push({ from, to: range[2] === undefined ? from : Number(range[2]) });
        }
        break;
      case "CMD":
        stage.cmd = readCommand(instruction.arguments, variables());
        break;
      case "ENTRYPOINT":
        stage.entrypoint = readCommand(instruction.arguments, variables());
        break;
      case "HEALTHCHECK": {
        const healthcheck = /^(?:--\S+\s+)*(CMD|NONE)\b\s*(.*)$/is.exec(instruction.arguments);
        if (healthcheck === null) break;
        stage.healthcheck =
          (healthcheck[1] as string).toUpperCase() === "NONE"
            ? null
            : readCommand(healthcheck[2] as string, variables());
        break;
      }
      default:
        break;
    }
  }
  return { instructions, stages };
}

function emptyStage(index: number, name: string | undefined, base: string): DockerStage {
  return {
    index,
    name,
    base,
    workdir: "/",
    env: new Map(),
    runs: [],
    copies: [],
    exposedPorts: [],
    cmd: undefined,
    entrypoint: undefined,
    healthcheck: undefined,
  };
}

/** `FROM build AS next`: the new stage starts from everything `build` has. */
function inheritStage(parent: DockerStage, index: number, name: string | undefined, base: string): DockerStage {
  return {
    ...parent,
    index,
    name,
    base,
    env: new Map(parent.env),
    runs: [...parent.runs],
    copies: [...parent.copies],
    exposedPorts: [...parent.exposedPorts],
  };
}

/** `ENV A=1 B="two words"` or the legacy `ENV A one value`. */
function readEnvPairs(argumentsText: string, expand: (value: string) => string): Array<[string, string]> {
  const words = splitShellWords(argumentsText);
  const first = words[0];
  if (first === undefined) return [];
  if (!first.includes("=")) {
    const value = argumentsText.trim().slice(first.length).trim();
    return [[first, expand(splitShellWords(value).join(" "))]];
  }
  return words.map((word) => {
    const equals = word.indexOf("=");
    return [word.slice(0, equals), expand(word.slice(equals + 1))];
  });
}

function readCopy(argumentsText: string, workdir: string, expand: (value: string) => string): DockerCopy {
  let rest = argumentsText.trim();
  let from: string | undefined;
  for (;;) {
    const flag = /^--([a-z-]+)(?:=(\S*))?\s*/i.exec(rest);
    if (flag === null) break;
    if ((flag[1] as string).toLowerCase() === "from") from = expand(flag[2] ?? "");
    rest = rest.slice(flag[0].length);
  }
  const json = readJsonArray(rest);
  const paths = (json ?? splitShellWords(rest)).map(expand);
  const destination = paths.pop() ?? "";
  return {
    from,
    sources: paths,
    destination: posix.resolve(workdir, destination),
    destinationIsDirectory: destination.endsWith("/") || destination === "." || destination === "./",
  };
}

function readCommand(argumentsText: string, variables: Map<string, string>): DockerCommand {
  const text = argumentsText.trim();
  const json = readJsonArray(text);
  if (json !== undefined) return { form: "exec", words: json, text };
  // The shell expands variables at run time from the image's environment.
  return { form: "shell", words: splitShellWords(expandVariables(text, variables)), text };
}

/** The exec (JSON array) form, or undefined when the text is not a JSON array of strings. */
function readJsonArray(text: string): string[] | undefined {
  if (!text.startsWith("[")) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (Array.isArray(value) && value.every((item) => typeof item === "string")) return value as string[];
  } catch {
    // Not JSON: Docker treats it as the shell form too.
  }
  return undefined;
}

/** Docker's variable substitution: `$X`, `${X}`, `${X:-default}`, `${X:+alternative}`, `\$` literal. */
export function expandVariables(text: string, variables: Map<string, string>): string {
  return text.replace(
    /\\\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (whole, braced: string | undefined, operator: string | undefined, word: string | undefined, bare: string | undefined) => {
      if (whole === "\\$") return "$";
      const name = braced ?? bare ?? "";
      const value = variables.get(name);
      if (operator === "-") return value === undefined || value === "" ? (word ?? "") : value;
      if (operator === "+") return value === undefined || value === "" ? "" : (word ?? "");
      return value ?? "";
    },
  );
}
