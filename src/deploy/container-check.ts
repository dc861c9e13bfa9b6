import { posix } from "node:path";
import { parse as parseToml } from "smol-toml";
import { parseDockerfile, type DockerStage } from "./dockerfile.ts";
import { readGatewayInvocation, type GatewayInvocation } from "./gateway-invocation.ts";
import { splitShellWords } from "./shell-words.ts";
import { allowedInNodeOptions, NODE_FLAGS_ENV, planNodeFlags, SUPPORTED_NODE_FLAGS } from "../node-flags.ts";

/**
 * The kinds of drift between a Dockerfile and a fly.toml that the check reports. Stable
 * names: tests and the deploy CLI's preflight match on them.
 */
export const CONTAINER_CHECKS = {
  /** fly.toml is not valid TOML. */
  flyTomlInvalid: "fly-toml-invalid",
  /** The Dockerfile has no FROM. */
  dockerfileInvalid: "dockerfile-invalid",
  /** A command (fly process line, Dockerfile CMD) does not run `node dist/index.js gateway`. */
  entryScript: "entry-script",
  /** The image never gets dist/index.js: no `npm run build` stage, or dist not copied into the runtime stage. */
  buildOutput: "build-output",
  /** internal_port, `--port`, EXPOSE and the HEALTHCHECK port disagree, or `--port` is not pinned. */
  port: "port",
  /** The state dir is not on the volume, or fly.toml [env] and the Dockerfile ENV disagree. */
  stateDir: "state-dir",
  /** The gateway binds loopback, which Fly's proxy cannot reach. */
  bind: "bind",
  /** No [http_service] in fly.toml. */
  httpService: "http-service",
  /** http_service.processes names a process group that does not exist. */
  processGroup: "process-group",
  /** A health check is missing or probes something other than GET /healthz. */
  healthCheck: "health-check",
  /** auto_stop_machines is not "off": Fly would stop a bot that receives no inbound HTTP. */
  autoStop: "auto-stop",
  /** min_machines_running is below 1. */
  minMachines: "min-machines",
  /** NODE_OPTIONS holds a word Node refuses there (every node exits at start), or FARADAY_NODE_FLAGS one the gateway ignores. */
  nodeOptions: "node-options",
} as const;

export type ContainerCheck = (typeof CONTAINER_CHECKS)[keyof typeof CONTAINER_CHECKS];

/** One inconsistency, with a message that says what to change. */
export interface ContainerProblem {
  check: ContainerCheck;
  message: string;
}

export interface ContainerFiles {
  /** Text of the Dockerfile. */
  dockerfile: string;
  /** Text of fly.toml (rendered, if it came from the template). */
  flyToml: string;
}

/** The gateway's entry script, relative to the build stage's WORKDIR (tsconfig outDir "dist"). */
const ENTRY_SCRIPT = "dist/index.js";
const HEALTH_PATH = "/healthz";
const STATE_DIR_ENV = "OPENCLAW_STATE_DIR";
const PORT_ENV = "OPENCLAW_GATEWAY_PORT";
const REACHABLE_BINDS = new Set(["lan", "0.0.0.0", "::"]);
const BUILD_COMMAND = /\bnpm\s+run(?:-script)?\s+(?:-\S+\s+)*build\b/;

/** A command that ends up running in the container, as the check sees it. */
interface ContainerRun {
  /** Where it comes from, for messages: `fly.toml [processes].app`, `Dockerfile CMD`. */
  label: string;
  /** ENTRYPOINT words followed by the command's words. */
  words: string[];
  /** Environment the process sees: Dockerfile ENV, then fly.toml [env] on top when on Fly. */
  env: Map<string, string>;
}

type Report = (check: ContainerCheck, message: string) => void;

/**
 * Reads a Dockerfile and a fly.toml and reports every way they disagree about how the
 * gateway runs on Fly: the entry script and whether the build produces it, the port (fly
 * internal_port, `--port`, EXPOSE, HEALTHCHECK), the state dir against the volume mount,
 * the bind address, the health check, auto-stop and the minimum machine count.
 *
 * An empty array means consistent. Never throws: a file it cannot parse is a problem too.
 * OpenClaw #25446 shipped a fly.toml whose mount and state dir had drifted apart; this is
 * the check that would have caught it.
 */
export function checkContainerConsistency(files: ContainerFiles): ContainerProblem[] {
  const problems: ContainerProblem[] = [];
  const report: Report = (check, message) => {
    problems.push({ check, message });
  };

  let fly: Record<string, unknown>;
  try {
    fly = parseToml(files.flyToml) as Record<string, unknown>;
  } catch (error) {
    report(CONTAINER_CHECKS.flyTomlInvalid, `fly.toml is not valid TOML: ${(error as Error).message}`);
    return problems;
  }
  const { stages } = parseDockerfile(files.dockerfile);
  const runtime = stages.at(-1);
  if (runtime === undefined) {
    report(CONTAINER_CHECKS.dockerfileInvalid, "The Dockerfile has no FROM instruction, so it builds no image.");
    return problems;
  }

  const flyEnv = readStringTable(fly["env"]);
  const httpService = asTable(fly["http_service"]);
  const runs = containerRuns(fly, runtime, flyEnv, httpService);
  const builtPaths = checkBuildOutput(stages, runtime, report);

  const internalPort = httpService?.["internal_port"];
  if (httpService === undefined) {
    report(CONTAINER_CHECKS.httpService, "fly.toml has no [http_service]: add one with internal_port = 3000 so Fly's proxy can reach the gateway and health-check it.");
  }

  for (const run of runs) {
    const invocation = readGatewayInvocation(run.words);
    if (invocation === undefined) {
      report(CONTAINER_CHECKS.entryScript, `${capitalize(run.label)} does not run node (${quote(run.words)}): it should be \`node ${ENTRY_SCRIPT} gateway …\`.`);
      continue;
    }
    checkEntryScript(run, invocation, runtime, builtPaths, report);
    checkPort(run, invocation, internalPort, report);
    checkStateDir(run, invocation, runtime, fly["mounts"], report);
    const bind = invocation.flags.get("bind");
    if (bind === undefined || !REACHABLE_BINDS.has(bind)) {
      report(
        CONTAINER_CHECKS.bind,
        `${capitalize(run.label)} binds ${bind === undefined ? "loopback (no --bind)" : `"${bind}"`}, which Fly's proxy and \`docker run -p\` cannot reach: add \`--bind lan\` (and set the OPENCLAW_GATEWAY_TOKEN secret).`,
      );
    }
  }

  const dockerStateDir = runtime.env.get(STATE_DIR_ENV);
  const flyStateDir = flyEnv.get(STATE_DIR_ENV);
  if (dockerStateDir !== undefined && flyStateDir !== undefined && normalizeDir(dockerStateDir) !== normalizeDir(flyStateDir)) {
    report(CONTAINER_CHECKS.stateDir, `fly.toml [env] ${STATE_DIR_ENV} is ${flyStateDir} but the Dockerfile sets ENV ${STATE_DIR_ENV}=${dockerStateDir}: make them the same, the volume mount path.`);
  }

  checkNodeOptions(runtime.env, flyEnv, report);
  checkDockerfilePorts(runtime, internalPort, report);
  checkHealthChecks(runtime, httpService, internalPort, report);
  if (httpService !== undefined) checkMachinePolicy(fly, httpService, report);
  return problems;
}

/** The commands that run: every process group the http_service serves, and the image's own CMD. */
function containerRuns(
  fly: Record<string, unknown>,
  runtime: DockerStage,
  flyEnv: Map<string, string>,
  httpService: Record<string, unknown> | undefined,
): ContainerRun[] {
  const entrypoint = runtime.entrypoint?.words ?? [];
  const onFlyEnv = new Map([...runtime.env, ...flyEnv]);
  const runs: ContainerRun[] = [];
  const processes = readStringTable(fly["processes"]);
  if (processes.size === 0) {
    runs.push({ label: "the Dockerfile CMD (fly.toml has no [processes])", words: [...entrypoint, ...(runtime.cmd?.words ?? [])], env: onFlyEnv });
  } else {
    const served = readStringArray(httpService?.["processes"]) ?? [...processes.keys()];
    for (const group of served) {
      const line = processes.get(group);
      if (line === undefined) continue;
      // flyctl splits the process line into words (no shell) and runs it as the image CMD.
      runs.push({ label: `fly.toml [processes].${group}`, words: [...entrypoint, ...splitShellWords(line)], env: onFlyEnv });
    }
  }
  if (processes.size > 0 && runtime.cmd !== undefined) {
    runs.push({ label: "the Dockerfile CMD", words: [...entrypoint, ...runtime.cmd.words], env: onFlyEnv });
  }
  return runs;
}

/**
 * Where the runtime stage holds the built entry script: built in place by an `npm run build`
 * it inherits, or copied from a stage that ran it. Reports when neither happens.
 */
function checkBuildOutput(stages: DockerStage[], runtime: DockerStage, report: Report): Set<string> {
  const builtIn = (stage: DockerStage): string[] =>
    stage.runs.filter((run) => BUILD_COMMAND.test(run.command)).map((run) => posix.join(run.workdir, ENTRY_SCRIPT));
  const paths = new Set(builtIn(runtime));
  for (const copy of runtime.copies) {
    if (copy.from === undefined) continue;
    const source = /^\d+$/.test(copy.from) ? stages[Number(copy.from)] : stages.find((stage) => stage.name === copy.from?.toLowerCase());
    if (source === undefined || source === runtime) continue;
    for (const built of builtIn(source)) {
      for (const rawSource of copy.sources) {
        // COPY --from resolves relative sources against the stage's root, not its WORKDIR.
        const from = posix.resolve("/", rawSource.replace(/\/(\*|\.)$/, ""));
        if (built === from) {
          const multiple = copy.sources.length > 1 || copy.destinationIsDirectory;
          paths.add(multiple ? posix.join(copy.destination, posix.basename(built)) : copy.destination);
        } else if (built.startsWith(from === "/" ? "/" : `${from}/`)) {
          paths.add(posix.join(copy.destination, posix.relative(from, built)));
        }
      }
    }
  }
  if (paths.size > 0) return paths;

  const builder = stages.find((stage) => builtIn(stage).length > 0);
  if (builder === undefined) {
    report(CONTAINER_CHECKS.buildOutput, `No Dockerfile stage runs \`npm run build\`, so ${ENTRY_SCRIPT} is never compiled: add a build stage (\`FROM node:24-slim AS build\` … \`RUN npm run build\`).`);
  } else {
    const name = builder.name ?? String(builder.index);
    report(
      CONTAINER_CHECKS.buildOutput,
      `Stage "${name}" builds ${builtIn(builder)[0]}, but the runtime stage never copies it: add \`COPY --from=${name} ${posix.join(builder.runs.find((run) => BUILD_COMMAND.test(run.command))?.workdir ?? "/", "dist")} ./dist\`.`,
    );
  }
  return paths;
}

function checkEntryScript(
  run: ContainerRun,
  invocation: GatewayInvocation,
  runtime: DockerStage,
  builtPaths: Set<string>,
  report: Report,
): void {
  const resolved = posix.resolve(runtime.workdir, invocation.script);
  const known = builtPaths.size > 0 ? builtPaths.has(resolved) : resolved.endsWith(`/${ENTRY_SCRIPT}`);
  if (!known) {
    const expected = builtPaths.size > 0 ? [...builtPaths].join(" or ") : ENTRY_SCRIPT;
    report(CONTAINER_CHECKS.entryScript, `${capitalize(run.label)} runs ${invocation.script} (${resolved} in the image), but the image's gateway entry is ${expected}: run \`node ${ENTRY_SCRIPT} gateway …\` from WORKDIR ${runtime.workdir}.`);
  }
  if (invocation.subcommand !== "gateway") {
    report(CONTAINER_CHECKS.entryScript, `${capitalize(run.label)} runs \`${invocation.script} ${invocation.subcommand ?? ""}\`, not the \`gateway\` command: the container would exit instead of serving.`);
  }
}

function checkPort(run: ContainerRun, invocation: GatewayInvocation, internalPort: unknown, report: Report): void {
  const flag = invocation.flags.get("port");
  const fromEnv = run.env.get(PORT_ENV);
  if (flag === undefined && fromEnv === undefined) {
    report(CONTAINER_CHECKS.port, `${capitalize(run.label)} does not pin the port: add \`--port ${String(internalPort ?? 3000)}\`, or openclaw.json's port (default 3000) decides where the gateway listens.`);
    return;
  }
  const port = Number(flag ?? fromEnv);
  const source = flag === undefined ? `${PORT_ENV}=${fromEnv}` : `--port ${flag}`;
  if (typeof internalPort === "number" && port !== internalPort) {
    report(CONTAINER_CHECKS.port, `${capitalize(run.label)} listens on ${source} but fly.toml [http_service].internal_port is ${internalPort}: Fly's proxy would find nothing listening. Use one port in both.`);
  }
}

function checkStateDir(
  run: ContainerRun,
  invocation: GatewayInvocation,
  runtime: DockerStage,
  mountsValue: unknown,
  report: Report,
): void {
  const mounts = (Array.isArray(mountsValue) ? mountsValue : mountsValue === undefined ? [] : [mountsValue])
    .map((mount) => asTable(mount)?.["destination"])
    .filter((destination): destination is string => typeof destination === "string")
    .map(normalizeDir);
  const flag = invocation.flags.get("state-dir");
  const fromEnv = run.env.get(STATE_DIR_ENV);
  const stateDir = normalizeDir(posix.resolve(runtime.workdir, flag ?? fromEnv ?? "data"));
  const source = flag !== undefined ? `--state-dir ${flag}` : fromEnv !== undefined ? `${STATE_DIR_ENV}=${fromEnv}` : `the default ./data (${stateDir})`;
  if (mounts.length === 0) {
    report(CONTAINER_CHECKS.stateDir, `fly.toml has no [mounts]: ${run.label} keeps its state in ${stateDir} on the machine's root filesystem, which every deploy wipes. Add [mounts] with destination = "${stateDir}".`);
    return;
  }
  const onVolume = mounts.some((mount) => stateDir === mount || stateDir.startsWith(mount === "/" ? "/" : `${mount}/`));
  if (!onVolume) {
    report(
      CONTAINER_CHECKS.stateDir,
      `fly.toml [mounts].destination is ${mounts.join(", ")} but ${run.label} keeps its state in ${source}: the gateway writes outside the volume and loses everything on each deploy (OpenClaw #25446). Make ${STATE_DIR_ENV} and the mount destination the same path.`,
    );
  }
}

/**
 * Node exits at start ("… is not allowed in NODE_OPTIONS") when NODE_OPTIONS holds an option it
 * does not take there, such as most V8 flags: on Fly that is a crash loop before the gateway
 * can log anything. Those flags belong in FARADAY_NODE_FLAGS, which the gateway applies itself.
 * Judged by the Node running this check (the image's major, node:24).
 */
function checkNodeOptions(dockerEnv: Map<string, string>, flyEnv: Map<string, string>, report: Report): void {
  // Each source on its own: `docker run` sees the Dockerfile's, Fly its [env] on top of it.
  for (const [where, env] of [["the Dockerfile ENV", dockerEnv], ["fly.toml [env]", flyEnv]] as const) {
    const nodeOptions = env.get("NODE_OPTIONS");
    const refused = splitShellWords(nodeOptions ?? "")
      .filter((word) => word.startsWith("-"))
      .filter((word) => !allowedInNodeOptions(word));
    if (refused.length > 0) {
      const v8Flags = refused.filter((word) => SUPPORTED_NODE_FLAGS.has(word));
      report(
        CONTAINER_CHECKS.nodeOptions,
        `${capitalize(where)} NODE_OPTIONS has ${refused.join(" ")}, which Node does not allow in NODE_OPTIONS: every node in the container would exit at start. ` +
          (v8Flags.length > 0 ? `Move ${v8Flags.join(" ")} to ${NODE_FLAGS_ENV} (the gateway applies it at start)${v8Flags.length < refused.length ? " and remove the rest" : ""}.` : "Remove it."),
      );
    }
    const ignored = planNodeFlags(env.get(NODE_FLAGS_ENV), []).ignored;
    if (ignored.length > 0) {
      report(
        CONTAINER_CHECKS.nodeOptions,
        `${capitalize(where)} ${NODE_FLAGS_ENV} has ${ignored.join(" ")}, which the gateway ignores: it applies ${[...SUPPORTED_NODE_FLAGS].join(" ")} and --name=value options Node also takes in NODE_OPTIONS.`,
      );
    }
  }
}

function checkDockerfilePorts(runtime: DockerStage, internalPort: unknown, report: Report): void {
  if (typeof internalPort !== "number" || runtime.exposedPorts.length === 0) return;
  if (!runtime.exposedPorts.some((range) => internalPort >= range.from && internalPort <= range.to)) {
    const exposed = runtime.exposedPorts.map((range) => (range.from === range.to ? String(range.from) : `${range.from}-${range.to}`)).join(", ");
    report(CONTAINER_CHECKS.port, `The Dockerfile EXPOSEs ${exposed} but fly.toml [http_service].internal_port is ${internalPort}: EXPOSE ${internalPort}.`);
  }
}

function checkHealthChecks(runtime: DockerStage, httpService: Record<string, unknown> | undefined, internalPort: unknown, report: Report): void {
  if (runtime.healthcheck) {
    const found = /\bhttps?:\/\/[^\s'"`)]+/.exec(runtime.healthcheck.words.join(" "));
    const url = found === null ? undefined : URL.parse(found[0]);
    if (url === undefined || url === null) {
      report(CONTAINER_CHECKS.healthCheck, `The Dockerfile HEALTHCHECK (${runtime.healthcheck.text}) probes no http:// URL: probe http://127.0.0.1:PORT${HEALTH_PATH}.`);
    } else {
      const port = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
      if (typeof internalPort === "number" && port !== internalPort) {
        report(CONTAINER_CHECKS.port, `The Dockerfile HEALTHCHECK probes port ${port} but fly.toml [http_service].internal_port is ${internalPort}.`);
      }
      if (url.pathname !== HEALTH_PATH) {
        report(CONTAINER_CHECKS.healthCheck, `The Dockerfile HEALTHCHECK probes ${url.pathname}; the gateway's unauthenticated health endpoint is ${HEALTH_PATH}.`);
      }
    }
  }
  if (httpService === undefined) return;
  const checks = (Array.isArray(httpService["checks"]) ? httpService["checks"] : []).map(asTable).filter((check) => check !== undefined);
  if (checks.length === 0) {
    report(CONTAINER_CHECKS.healthCheck, `fly.toml has no [[http_service.checks]]: add one with path = "${HEALTH_PATH}" so Fly restarts a gateway that stops answering.`);
  }
  for (const check of checks) {
    if (check["path"] !== HEALTH_PATH) {
      report(CONTAINER_CHECKS.healthCheck, `fly.toml [[http_service.checks]] probes path ${JSON.stringify(check["path"] ?? "/")}: use "${HEALTH_PATH}", which needs no token.`);
    }
    const method = check["method"];
    if (typeof method === "string" && method.toUpperCase() !== "GET") {
      report(CONTAINER_CHECKS.healthCheck, `fly.toml [[http_service.checks]] uses method ${method}; ${HEALTH_PATH} answers GET.`);
    }
    if (typeof check["port"] === "number" && check["port"] !== internalPort) {
      report(CONTAINER_CHECKS.port, `fly.toml [[http_service.checks]] probes port ${check["port"]} but internal_port is ${String(internalPort)}.`);
    }
  }
}

function checkMachinePolicy(fly: Record<string, unknown>, httpService: Record<string, unknown>, report: Report): void {
  const autoStop = httpService["auto_stop_machines"];
  if (autoStop !== "off" && autoStop !== false) {
    report(
      CONTAINER_CHECKS.autoStop,
      `fly.toml [http_service].auto_stop_machines is ${autoStop === undefined ? "not set (fly launch writes \"stop\")" : JSON.stringify(autoStop)}: set it to "off". A chat bot receives no inbound HTTP, so Fly would stop the machine and the bot would go silent.`,
    );
  }
  const minimum = httpService["min_machines_running"];
  if (typeof minimum !== "number" || minimum < 1) {
    report(CONTAINER_CHECKS.minMachines, `fly.toml [http_service].min_machines_running is ${minimum === undefined ? "not set (0)" : JSON.stringify(minimum)}: set it to 1 so one gateway always runs.`);
  }
  const groups = readStringArray(httpService["processes"]);
  const processes = readStringTable(fly["processes"]);
  const known = processes.size === 0 ? ["app"] : [...processes.keys()];
  for (const group of groups ?? []) {
    if (!known.includes(group)) {
      report(CONTAINER_CHECKS.processGroup, `fly.toml [http_service].processes names "${group}", but the process groups are ${known.join(", ")}: the service would route to no machine.`);
    }
  }
}

function asTable(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function readStringTable(value: unknown): Map<string, string> {
  const table = asTable(value) ?? {};
  return new Map(Object.entries(table).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
}

function readStringArray(value: unknown): string[] | undefined {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : undefined;
}

function normalizeDir(path: string): string {
  return posix.normalize(path).replace(/(.)\/+$/, "$1");
}

function quote(words: string[]): string {
  return words.length === 0 ? "no command" : words.join(" ");
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
