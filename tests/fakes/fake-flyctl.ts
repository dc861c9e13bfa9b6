/**
 * A fake `flyctl` executable for tests of the Fly deploy code, which runs flyctl through execa
 * with argument arrays:
 *
 *   const fly = installFakeFlyctl();
 *   t.after(() => fly.cleanup());
 *   await execa("flyctl", ["apps", "create", "faraday-x", "--org", "personal", "--json"], { env: { ...process.env, ...fly.env } });
 *   assert.equal(fly.state().apps["faraday-x"]?.status, "pending");
 *
 * The implementation is plain JavaScript (`fake-flyctl/fake-flyctl.mjs`, run by whatever `node`
 * is on PATH), a separate process per call: all state is a JSON file and every call a line of a
 * JSONL log, both in a temporary directory. `dir` holds two wrappers, `flyctl` and `fly`; they
 * default FAKE_FLY_STATE/FAKE_FLY_LOG to this install's files, so they work even when the code
 * under test passes a reduced environment.
 *
 * What it does (exit 0 on success; `Error: …` on stderr and exit 1 on failure):
 * - `version`; `auth whoami [--json]`; `orgs list --json`. Every other command needs a login:
 *   `loggedIn` (default true), or FLY_ACCESS_TOKEN / FLY_API_TOKEN / `--access-token` in the
 *   environment (checked against `acceptedTokens` when given).
 * - `apps create NAME --org ORG [--json]` (name taken → {@link FLY_NAME_TAKEN_ERROR}), `apps list
 *   --json`, `apps destroy NAME -y`.
 * - `volumes create NAME -a APP -r REGION -s GB -y [--json]` (needs `-y` like real flyctl when
 *   not interactive; a region in `noCapacityRegions` → {@link FLY_NO_CAPACITY_ERROR}), `volumes
 *   list -a APP --json`, `volumes destroy ID -y`.
 * - `secrets import -a APP [--stage]` (stdin `NAME=VALUE` lines through a port of flyctl's
 *   parser.go, which changes values: `p@ss#word` → `p@ss`), `secrets set NAME=VALUE…` and
 *   `secrets set NAME=- ` (the value from stdin, TrimSpace'd, at most 64 KiB), `secrets unset`,
 *   `secrets deploy`, `secrets list -a APP --json` → `[{name, digest, status}]` (the digest is
 *   opaque, see {@link secretDigest}); values are never printed.
 * - `deploy [WORKDIR] -a APP [flags]` reads fly.toml (`--config`, else WORKDIR/fly.toml) and
 *   needs `--image`, a `[build] image`, or a Dockerfile — fly.toml's `[build].dockerfile`
 *   (relative to fly.toml's directory) before `--dockerfile`; refuses more than 2,048 MB per
 *   shared CPU; creates machines on the first deploy
 *   (two unless `--ha=false`, each attached to a `[mounts]` volume, created if missing) and
 *   updates them afterwards. Each deploy is recorded in `state().deploys` (flags, cwd, fly.toml).
 * - `volumes snapshots create VOLUME_ID`, `volumes snapshots list VOLUME_ID --json`.
 * - `status -a APP --json`, `machines list -a APP --json`, `machine restart|start|stop ID -a APP`,
 *   `logs -a APP --no-tail [--json]` (without `--no-tail` it fails: the real one never exits).
 * - `ssh console -a APP -C CMD` needs a started machine; records the command, how real flyctl
 *   splits it (no shell) and stdin in `state().apps[APP].sshSessions`; prints the output of the
 *   most recently set {@link FakeFlyctl.setSshOutput} rule whose `match` is a substring of CMD.
 * - Unknown commands and flags fail like cobra does (`Error: unknown command "x" for "flyctl"`).
 *
 * fake-flyctl/fake-flyctl.mjs's header names the flyctl source file each behaviour was checked
 * against.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  canonicalCommand,
  initialState,
  readState,
  withStateLock,
  type FakeCheck,
  type FakeFlyState,
  type FakeLogEntry,
} from "./fake-flyctl/fake-flyctl.mjs";

export {
  FAKE_FLYCTL_VERSION,
  FLY_NAME_TAKEN_ERROR,
  FLY_NO_CAPACITY_ERROR,
  FLY_NO_PAYMENT_ERROR,
  FLY_NOT_LOGGED_IN_ERROR,
  FLY_REGIONS,
  FLY_UNAUTHORIZED_ERROR,
  secretDigest,
  splitCommandWords,
} from "./fake-flyctl/fake-flyctl.mjs";
export type {
  FailureRule,
  FakeApp,
  FakeCheck,
  FakeDeployRecord,
  FakeFlyState,
  FakeLogEntry,
  FakeMachine,
  FakeSecret,
  FakeSshSession,
  FakeVolume,
  SshOutputRule,
} from "./fake-flyctl/fake-flyctl.mjs";

/** The fake's implementation, for callers that want to run it with a specific node. */
export const FAKE_FLYCTL_SCRIPT = fileURLToPath(new URL("./fake-flyctl/fake-flyctl.mjs", import.meta.url));

export interface FakeFlyctlOptions {
  /** Logged in through flyctl's config (no token needed). Default true. */
  loggedIn?: boolean;
  /** Org slugs `apps create --org` accepts. Default `["personal"]`. */
  orgs?: string[];
  /** What `auth whoami` prints. Default "tester@example.com". */
  email?: string;
  /** App names taken by someone else: `apps create` fails with the name-taken error. */
  takenNames?: string[];
  /** Regions where `volumes create` and a first `deploy` fail for lack of capacity. */
  noCapacityRegions?: string[];
  /** When given, a FLY_ACCESS_TOKEN / FLY_API_TOKEN / --access-token not in it is rejected. */
  acceptedTokens?: string[];
}

/** One call of the fake, as recorded in the JSONL log. */
export interface Invocation {
  argv: string[];
  /** What the command read from stdin ("" for commands that do not read it). */
  stdin: string;
  /** Only the variables that were set. */
  env: { FLY_ACCESS_TOKEN?: string; FLY_API_TOKEN?: string; FLY_NO_UPDATE_CHECK?: string };
  /** ISO time. */
  at: string;
  cwd: string;
  /** Canonical command words ("machine list" for `machines ls`); null for unknown commands. */
  command: string | null;
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface FakeFailure {
  stderr: string;
  /** Default 1. */
  exitCode?: number;
  stdout?: string;
}

export interface FakeSshOutput {
  stdout: string;
  stderr?: string;
  /** Default 0. */
  exitCode?: number;
}

export interface FakeFlyctl {
  /** Put first on PATH: holds executables `flyctl` and `fly`. */
  readonly dir: string;
  readonly flyctlPath: string;
  readonly flyPath: string;
  readonly statePath: string;
  readonly logPath: string;
  /** `{ PATH: dir + ":" + process.env.PATH, FAKE_FLY_STATE, FAKE_FLY_LOG }` for the CLI under test. */
  readonly env: { PATH: string; FAKE_FLY_STATE: string; FAKE_FLY_LOG: string };
  state(): FakeFlyState;
  invocations(): Invocation[];
  /** Invocations whose canonical command starts with `match` ("volumes create", "machines"…). */
  invocationsOf(match: string): Invocation[];
  /**
   * The next `times` calls of a command whose words start with `match` ("volumes create",
   * "deploy", "machines list" = "machine list") print `failure.stderr` and exit with
   * `failure.exitCode` (default 1) without doing anything. `times` may be Infinity.
   */
  failNext(match: string, failure: FakeFailure, times?: number): void;
  clearFailures(): void;
  /**
   * Puts another machine in front of the app's machines (machines list shows it first), e.g. a
   * stopped one, or one of another process group (`fly console` leaves such machines behind).
   */
  addMachine(app: string, machine: { state: string; processGroup?: string; region?: string }): string;
  /** Sets the state (and check status) of the app's machines, or of one machine. */
  setMachineState(app: string, state: string, options?: { machineId?: string; checks?: FakeCheck["status"] }): void;
  /** `ssh console -C CMD` with `match` in CMD prints this; the latest matching rule wins. */
  setSshOutput(match: string, output: FakeSshOutput): void;
  /** Adds log lines `logs -a APP --no-tail` will show. */
  appendLogs(app: string, lines: (string | Partial<FakeLogEntry>)[]): void;
  setLoggedIn(loggedIn: boolean): void;
  /** Changes the state under the lock the fake uses. */
  update<T>(mutate: (state: FakeFlyState) => T): T;
  /** Removes the temporary directory. Safe to call twice. */
  cleanup(): void;
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function wrapper(statePath: string, logPath: string): string {
  return [
    "#!/bin/sh",
    "# Fake flyctl installed by tests/fakes/fake-flyctl.ts",
    `: "\${FAKE_FLY_STATE:=${statePath.replace(/["$`\\]/g, "\\$&")}}"`,
    `: "\${FAKE_FLY_LOG:=${logPath.replace(/["$`\\]/g, "\\$&")}}"`,
    "export FAKE_FLY_STATE FAKE_FLY_LOG",
    `if command -v node >/dev/null 2>&1; then exec node ${shellQuote(FAKE_FLYCTL_SCRIPT)} "$@"; fi`,
    `exec ${shellQuote(process.execPath)} ${shellQuote(FAKE_FLYCTL_SCRIPT)} "$@"`,
    "",
  ].join("\n");
}

/** Creates a fresh fake (own temp dir, state and log). Call `cleanup()` when done. */
export function installFakeFlyctl(options: FakeFlyctlOptions = {}): FakeFlyctl {
  const root = mkdtempSync(join(tmpdir(), "fake-flyctl-"));
  const dir = join(root, "bin");
  const statePath = join(root, "state.json");
  const logPath = join(root, "invocations.jsonl");
  mkdirSync(dir);
  writeFileSync(statePath, JSON.stringify(initialState(options), null, 2) + "\n");
  writeFileSync(logPath, "");
  const script = wrapper(statePath, logPath);
  const flyctlPath = join(dir, "flyctl");
  const flyPath = join(dir, "fly");
  writeFileSync(flyctlPath, script, { mode: 0o755 });
  writeFileSync(flyPath, script, { mode: 0o755 });

  const update = <T>(mutate: (state: FakeFlyState) => T): T => withStateLock(statePath, mutate);
  const invocations = (): Invocation[] =>
    readFileSync(logPath, "utf8")
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line) as Invocation);

  return {
    dir,
    flyctlPath,
    flyPath,
    statePath,
    logPath,
    env: { PATH: `${dir}:${process.env.PATH ?? ""}`, FAKE_FLY_STATE: statePath, FAKE_FLY_LOG: logPath },
    state: () => readState(statePath),
    invocations,
    invocationsOf(match) {
      const words = canonicalCommand(match).split(" ");
      return invocations().filter((call) => call.command !== null && words.every((word, i) => call.command!.split(" ")[i] === word));
    },
    failNext(match, failure, times = 1) {
      const canonical = canonicalCommand(match);
      if (canonical === "") throw new Error("failNext: match must name a command, e.g. \"volumes create\"");
      if (times !== Infinity && !(Number.isInteger(times) && times > 0)) throw new Error(`failNext: times must be a positive integer or Infinity, got ${times}`);
      update((state) => {
        state.failures.push({
          match: canonical,
          stderr: failure.stderr,
          stdout: failure.stdout ?? "",
          exitCode: failure.exitCode ?? 1,
          remaining: times === Infinity ? null : times,
        });
      });
    },
    clearFailures() {
      update((state) => void (state.failures = []));
    },
    setMachineState(appName, machineState, machineOptions = {}) {
      update((state) => {
        const app = state.apps[appName];
        if (!app) throw new Error(`setMachineState: no app ${appName}`);
        const machines = machineOptions.machineId === undefined ? app.machines : app.machines.filter((m) => m.id === machineOptions.machineId);
        if (machines.length === 0) throw new Error(`setMachineState: app ${appName} has no machine${machineOptions.machineId ? ` ${machineOptions.machineId}` : "s"}`);
        const status = machineOptions.checks ?? (machineState === "started" ? "passing" : "critical");
        for (const machine of machines) {
          machine.state = machineState;
          machine.updated_at = new Date().toISOString();
          machine.checks = machine.checks.map((check) => ({ ...check, status, output: status === "passing" ? "OK" : "not ready" }));
        }
      });
    },
    addMachine(appName, machine) {
      return update((state) => {
        const app = state.apps[appName];
        if (!app) throw new Error(`addMachine: no app ${appName}`);
        const template = app.machines[0];
        if (!template) throw new Error(`addMachine: deploy ${appName} first`);
        const id = `m_${Math.random().toString(16).slice(2, 16).padEnd(14, "0")}`;
        const copy = JSON.parse(JSON.stringify(template)) as typeof template;
        copy.id = id;
        copy.name = `${appName}-extra`;
        copy.state = machine.state;
        copy.region = machine.region ?? template.region;
        copy.config.mounts = [];
        copy.config.metadata = { ...copy.config.metadata, fly_process_group: machine.processGroup ?? "app" };
        copy.checks = [];
        app.machines.unshift(copy);
        return id;
      });
    },
    setSshOutput(match, output) {
      update((state) => {
        state.sshOutputs = state.sshOutputs.filter((rule) => rule.match !== match);
        state.sshOutputs.push({ match, stdout: output.stdout, stderr: output.stderr ?? "", exitCode: output.exitCode ?? 0 });
      });
    },
    appendLogs(appName, lines) {
      update((state) => {
        const app = state.apps[appName];
        if (!app) throw new Error(`appendLogs: no app ${appName}`);
        const machine = app.machines[0];
        for (const line of lines) {
          const entry = typeof line === "string" ? { message: line } : line;
          app.logs.push({
            timestamp: entry.timestamp ?? new Date().toISOString(),
            message: entry.message ?? "",
            level: entry.level ?? "info",
            instance: entry.instance ?? machine?.id ?? "",
            region: entry.region ?? machine?.region ?? "",
          });
        }
      });
    },
    setLoggedIn(loggedIn) {
      update((state) => void (state.auth.loggedIn = loggedIn));
    },
    update,
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}
