// A fake `flyctl` for tests: plain JavaScript (no TypeScript, no dependencies) so it runs with
// whatever `node` is first on PATH. Each call is a separate process, so everything lives in two
// files named by the environment:
//
//   FAKE_FLY_STATE  JSON state (apps, volumes, secrets, machines, logs, injected failures, …),
//                   read and rewritten under a lock directory (`<state>.lock`), written to a
//                   temporary file and renamed into place.
//   FAKE_FLY_LOG    JSONL, one line per invocation: argv, stdin, the Fly token variables, cwd,
//                   the canonical command, exit code, stdout and stderr.
//
// The fake never contacts anything. It parses flags the way cobra/pflag does (`--flag value`,
// `--flag=value`, `-f value`, `-fvalue`, bool flags never take the next word, so `--ha false`
// makes "false" a positional argument) and rejects unknown flags like real flyctl
// (`Error: unknown flag: --frob`). Errors go to stderr as `Error: …` with exit code 1.
//
// stdin is read only by commands that consume it: `secrets import`, `secrets set NAME=-` (until
// EOF; an open stdin with no EOF within 10 s is an error, where real flyctl would wait forever)
// and `ssh console` (until EOF or 300 ms without data). Every other command records stdin "".
//
// `tests/fakes/fake-flyctl.ts` installs it and is what tests use; this module's exports are
// shared with that helper (see fake-flyctl.d.mts).
//
// Checked against flyctl's own source (github.com/superfly/flyctl at ad0172f, 2026-08-21; fly-go
// at 22d6e51). Each behaviour below names the file it was read from:
// - `deploy [WORKING_DIRECTORY]` changes into WORKING_DIRECTORY before it loads fly.toml
//   (internal/command/command.go ChangeWorkingDirectoryToFirstArgIfPresent, run before
//   RequireAppName in internal/command/deploy/deploy.go). The Dockerfile is fly.toml's
//   `[build].dockerfile` joined to the directory fly.toml is in, and only without one
//   `--dockerfile` made absolute against the working directory (internal/command/deploy/
//   deploy_build.go resolveDockerfilePath; Go's filepath.Join, like node's path.join, keeps an
//   absolute second path under the first). A named Dockerfile that does not exist fails with
//   "dockerfile '…' not found" (internal/build/imgsrc/depot.go, dockerfile_builder.go).
// - `secrets list --json` prints `[{name, digest, status}]` (internal/command/secrets/list.go,
//   SecretWithStatus). flyctl computes no digest: it passes on what the API returns. The fake's
//   digest is therefore opaque — random per set, neither sha256 nor md5 of the value — so code
//   that compares digests with a hash of its own cannot pass here.
// - `secrets import` parses stdin with internal/command/secrets/parser.go, ported line by line in
//   parseSecretLines: lines through bufio.Scanner (64 KiB per line; a longer line ends the scan
//   silently because the scanner's error is never checked), `#`-lines and blank lines skipped,
//   key TrimSpace, value TrimLeft " ", cut at the first `#` when an even number of `"` precede it
//   (then TrimRight " "), a one-line triple-quoted value, or triple quotes opening a multi-line
//   value, else one pair of surrounding `"` or `'` removed.
// - `secrets set NAME=VALUE…` splits each argument at its first "=" (internal/cmdutil/flags.go
//   ParseKVStringsToMap). A value of exactly "-" reads stdin (internal/command/secrets/set.go):
//   stdin must be a pipe ("secret `NAME` expects standard input but none provided"), at most
//   64 * 1024 bytes ("Input exceeded max length of 65536 bytes"), and the value is Go's
//   strings.TrimSpace of it (helpers/stdin.go ReadStdin).
// - A token the API refuses gives "You must be authenticated to view this." — that text is the
//   API's, not flyctl's (fly-go error.go only classifies 401s); no token at all gives fly-go's
//   ErrNoAuthToken "no access token available. Please login with 'flyctl auth login'" (api.go),
//   returned by RequireSession when not interactive (internal/command/command.go handleReLogin).
// - Shared CPUs allow at most 2,048 MB each and at least 256, in 256 MB steps, with 1, 2, 4, 6 or 8
//   CPUs (fly-go machine_types.go MAX_MEMORY_MB_PER_SHARED_CPU / MIN_MEMORY_MB_PER_SHARED_CPU;
//   internal/machine/update.go cpusPerKind, InvalidConfigErr). `fly deploy` does not check this
//   itself (internal/appconfig/machines.go computeToGuest copies [[vm]] as is): the Machines API
//   refuses it. The fake uses flyctl's own wording for the refusal; the API's may differ.
// - `machines list --json` prints every machine of the app, in API order, any state and process
//   group (internal/command/machine/list.go renders flaps List(ctx, app, "")); the process group
//   is config.metadata.fly_process_group (fly-go machine_types.go).
// - `ssh console -C` runs as `--user` (default "root", internal/command/ssh/connect.go
//   DefaultSshUsername) on the first *started* machine, narrowed by --region/--process-group
//   (internal/command/ssh/console.go selectMachine); no shell (see splitCommandWords).
// - `volumes snapshots create VOLUME_ID` prints "Scheduled to snapshot volume …"; `volumes
//   snapshots list VOLUME_ID --json` prints `[{id, size, volume_size, digest, created_at, status,
//   retention_days}]` oldest first (internal/command/volumes/snapshots/*.go, fly-go
//   volume_types.go VolumeSnapshot). Aliases: snapshot, snaps.
// - `logs --no-tail` / `-n` prints the buffered lines and exits (internal/command/logs/logs.go).

import { randomBytes } from "node:crypto";
import {
  appendFileSync,
  existsSync,
  fstatSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const FAKE_FLYCTL_VERSION = "0.3.999";

export const FLY_NAME_TAKEN_ERROR = "Error: Validation failed: Name has already been taken";
export const FLY_NO_PAYMENT_ERROR =
  "Error: We need your payment information to continue! Add a credit card or buy credit: https://fly.io/dashboard/personal/billing";
export const FLY_NO_CAPACITY_ERROR =
  "Error: failed to create volume: insufficient resources available to fulfill request: could not reserve resource for machine: insufficient memory available to fulfill request";
export const FLY_NOT_LOGGED_IN_ERROR = "Error: no access token available. Please login with 'flyctl auth login'";
export const FLY_UNAUTHORIZED_ERROR = "Error: You must be authenticated to view this.";

/** Fly.io region codes the fake accepts. */
export const FLY_REGIONS = [
  "ams", "arn", "atl", "bog", "bom", "bos", "cdg", "den", "dfw", "ewr", "eze", "fra", "gdl", "gig", "gru",
  "hkg", "iad", "jnb", "lax", "lhr", "mad", "mia", "nrt", "ord", "otp", "phx", "qro", "scl", "sea", "sin",
  "sjc", "syd", "waw", "yul", "yyz",
];

const DEFAULT_REGION = "iad";

// ---------------------------------------------------------------------------------------------
// State files

/** The state a fresh install starts from. */
export function initialState(options = {}) {
  return {
    version: 1,
    auth: {
      loggedIn: options.loggedIn ?? true,
      email: options.email ?? "tester@example.com",
      acceptedTokens: options.acceptedTokens ?? null,
    },
    orgs: [...(options.orgs ?? ["personal"])],
    takenNames: [...(options.takenNames ?? [])],
    noCapacityRegions: [...(options.noCapacityRegions ?? [])],
    apps: {},
    failures: [],
    sshOutputs: [],
    deploys: [],
  };
}

/**
 * The digest `secrets list` reports: opaque, like Fly's (flyctl passes through what the API
 * returns). Random per set, so it never equals a hash a client computes of the value.
 */
export function secretDigest() {
  return randomBytes(8).toString("hex");
}

export function readState(statePath) {
  return JSON.parse(readFileSync(statePath, "utf8"));
}

export function writeStateAtomic(statePath, state) {
  const temporary = `${statePath}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  writeFileSync(temporary, JSON.stringify(state, null, 2) + "\n");
  renameSync(temporary, statePath);
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms) {
  Atomics.wait(sleeper, 0, 0, ms);
}

/**
 * Runs `fn(state)` holding `<statePath>.lock` (a directory: mkdir is atomic), then writes the
 * state back atomically. Returns what `fn` returns. A lock older than 30 s is taken as stale.
 */
export function withStateLock(statePath, fn) {
  const lock = `${statePath}.lock`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if (error.code !== "EEXIST") throw error;
      try {
        if (Date.now() - statSync(lock).mtimeMs > 30_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        // released meanwhile
      }
      if (Date.now() > deadline) throw new Error(`fake flyctl: could not lock ${statePath} within 20 s`);
      sleepSync(5);
    }
  }
  try {
    const state = readState(statePath);
    const result = fn(state);
    writeStateAtomic(statePath, state);
    return result;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Command table

const VALUE = "value";
const BOOL = "bool";

/** flags: long name → [kind, shorthand?, repeatable?] */
const GLOBAL_FLAGS = {
  "access-token": [VALUE, "t"],
  verbose: [BOOL],
  debug: [BOOL],
  help: [BOOL, "h"],
};
const APP_FLAGS = { app: [VALUE, "a"], config: [VALUE, "c"] };
const JSON_FLAG = { json: [BOOL, "j"] };
const YES_FLAG = { yes: [BOOL, "y"] };

const COMMANDS = {
  version: { flags: { ...JSON_FLAG, saveinstall: [BOOL, "s"] }, args: [0, 0], auth: false },
  "auth whoami": { flags: { ...JSON_FLAG }, args: [0, 0] },
  "auth login": { flags: { email: [VALUE], password: [VALUE], otp: [VALUE], interactive: [BOOL, "i"] }, args: [0, 0], auth: false },
  "orgs list": { flags: { ...JSON_FLAG }, args: [0, 0] },
  "apps create": {
    flags: { ...JSON_FLAG, ...YES_FLAG, org: [VALUE, "o"], name: [VALUE], network: [VALUE], "generate-name": [BOOL], save: [BOOL] },
    args: [0, 1],
  },
  "apps list": { flags: { ...JSON_FLAG, org: [VALUE, "o"], quiet: [BOOL, "q"], status: [VALUE, "s"] }, args: [0, 0] },
  "apps destroy": { flags: { ...YES_FLAG }, args: [1, Infinity] },
  "volumes create": {
    flags: {
      ...APP_FLAGS, ...JSON_FLAG, ...YES_FLAG,
      region: [VALUE, "r"], size: [VALUE, "s"], "snapshot-id": [VALUE], "snapshot-retention": [VALUE], count: [VALUE, "n"],
      "require-unique-zone": [BOOL], "no-encryption": [BOOL], "scheduled-snapshots": [BOOL], "vm-size": [VALUE], "host-dedication-id": [VALUE],
    },
    args: [1, 1],
  },
  "volumes list": { flags: { ...APP_FLAGS, ...JSON_FLAG, all: [BOOL] }, args: [0, 0] },
  "volumes destroy": { flags: { ...APP_FLAGS, ...YES_FLAG }, args: [1, Infinity] },
  "volumes snapshots create": { flags: { app: [VALUE, "a"], ...JSON_FLAG }, args: [1, 1] },
  "volumes snapshots list": { flags: { app: [VALUE, "a"], ...JSON_FLAG }, args: [1, 1] },
  "secrets import": { flags: { ...APP_FLAGS, stage: [BOOL], detach: [BOOL], "dns-checks": [BOOL] }, args: [0, 0] },
  "secrets set": { flags: { ...APP_FLAGS, stage: [BOOL], detach: [BOOL], "dns-checks": [BOOL] }, args: [1, Infinity] },
  "secrets unset": { flags: { ...APP_FLAGS, stage: [BOOL], detach: [BOOL], "dns-checks": [BOOL] }, args: [1, Infinity] },
  "secrets list": { flags: { ...APP_FLAGS, ...JSON_FLAG }, args: [0, 0] },
  "secrets deploy": { flags: { ...APP_FLAGS, detach: [BOOL] }, args: [0, 0] },
  deploy: {
    flags: {
      ...APP_FLAGS, ...YES_FLAG,
      region: [VALUE, "r"], image: [VALUE, "i"], strategy: [VALUE], dockerfile: [VALUE], "ignorefile": [VALUE],
      env: [VALUE, "e", true], "build-arg": [VALUE, undefined, true], "build-secret": [VALUE, undefined, true],
      "build-target": [VALUE], "image-label": [VALUE], label: [VALUE, undefined, true], "wait-timeout": [VALUE],
      "release-command-timeout": [VALUE], "lease-timeout": [VALUE], "max-unavailable": [VALUE], "vm-size": [VALUE],
      "vm-memory": [VALUE], "vm-cpus": [VALUE], "vm-cpu-kind": [VALUE], "primary-region": [VALUE],
      "file-local": [VALUE, undefined, true], "file-literal": [VALUE, undefined, true], "file-secret": [VALUE, undefined, true],
      "exclude-regions": [VALUE], "only-regions": [VALUE], "process-groups": [VALUE], "depot-scope": [VALUE],
      "immediate-max-concurrency": [VALUE],
      "remote-only": [BOOL], "local-only": [BOOL], now: [BOOL], "build-only": [BOOL], push: [BOOL], detach: [BOOL],
      "no-cache": [BOOL], ha: [BOOL], "auto-confirm": [BOOL], "update-only": [BOOL], "no-public-ips": [BOOL],
      flycast: [BOOL], "smoke-checks": [BOOL], "dns-checks": [BOOL], "recreate-builder": [BOOL], depot: [BOOL],
      nixpacks: [BOOL], "skip-release-command": [BOOL], "no-extensions": [BOOL], "buildkit": [BOOL],
    },
    args: [0, 1],
  },
  status: { flags: { ...APP_FLAGS, ...JSON_FLAG, all: [BOOL], watch: [BOOL], rate: [VALUE] }, args: [0, 0] },
  "machine list": { flags: { ...APP_FLAGS, ...JSON_FLAG, quiet: [BOOL, "q"] }, args: [0, 0] },
  "machine restart": {
    flags: { ...APP_FLAGS, signal: [VALUE, "s"], time: [VALUE], "skip-health-checks": [BOOL], "force": [BOOL], "auto-confirm": [BOOL] },
    args: [1, Infinity],
  },
  "machine start": { flags: { ...APP_FLAGS }, args: [1, Infinity] },
  "machine stop": { flags: { ...APP_FLAGS, signal: [VALUE, "s"], timeout: [VALUE] }, args: [1, Infinity] },
  logs: { flags: { ...APP_FLAGS, ...JSON_FLAG, region: [VALUE, "r"], machine: [VALUE, "m"], instance: [VALUE, "i"], select: [BOOL, "s"], "no-tail": [BOOL, "n"] }, args: [0, 0] },
  "ssh console": {
    flags: {
      ...APP_FLAGS,
      command: [VALUE, "C"], user: [VALUE, "u"], machine: [VALUE], region: [VALUE, "r"], "process-group": [VALUE],
      address: [VALUE, "A"], select: [BOOL, "s"], pty: [BOOL], quiet: [BOOL, "q"], container: [VALUE], "no-container": [BOOL], org: [VALUE, "o"],
    },
    args: [0, 0],
  },
};

const GROUP_ALIASES = {
  app: "apps",
  volume: "volumes",
  vol: "volumes",
  machines: "machine",
  m: "machine",
  org: "orgs",
  organizations: "orgs",
  organization: "orgs",
};
const SUB_ALIASES = { ls: "list", rm: "destroy", delete: "destroy", remove: "destroy", snapshot: "snapshots", snaps: "snapshots" };

/** Command words as a tree: a node is `{ leaf: "volumes snapshots create" }` or `{ children }`. */
const TREE = { children: {} };
for (const name of Object.keys(COMMANDS)) {
  let node = TREE;
  const words = name.split(" ");
  words.forEach((word, index) => {
    if (index === words.length - 1) node.children[word] = { leaf: name };
    else node = node.children[word] ??= { children: {} };
  });
}

/** Canonical command words: `machines ls` → `machine list`, `vol snaps ls` → `volumes snapshots list`. */
export function canonicalCommand(text) {
  const words = String(text).trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return "";
  return words.map((word, index) => (index === 0 ? GROUP_ALIASES[word] ?? word : SUB_ALIASES[word] ?? word)).join(" ");
}

class FlyError extends Error {}
const fail = (message) => {
  throw new FlyError(message);
};

function parseBool(text, name) {
  if (["1", "t", "T", "true", "TRUE", "True"].includes(text)) return true;
  if (["0", "f", "F", "false", "FALSE", "False"].includes(text)) return false;
  return fail(`invalid argument "${text}" for "--${name}" flag: strconv.ParseBool: parsing "${text}": invalid syntax`);
}

function parseFlags(tokens, spec) {
  const all = { ...GLOBAL_FLAGS, ...spec };
  const shorts = new Map();
  for (const [long, [kind, short]] of Object.entries(all)) if (short) shorts.set(short, long);
  const flags = {};
  const positionals = [];
  const set = (long, value) => {
    const [, , repeatable] = all[long];
    if (repeatable) (flags[long] ??= []).push(value);
    else flags[long] = value;
  };
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (token === "--") {
      positionals.push(...tokens.slice(i + 1));
      break;
    }
    if (token.startsWith("--")) {
      const body = token.slice(2);
      const eq = body.indexOf("=");
      const name = eq < 0 ? body : body.slice(0, eq);
      let value = eq < 0 ? undefined : body.slice(eq + 1);
      const definition = all[name];
      if (!definition) fail(`unknown flag: --${name}`);
      if (definition[0] === BOOL) set(name, value === undefined ? true : parseBool(value, name));
      else {
        if (value === undefined) {
          if (i + 1 >= tokens.length) fail(`flag needs an argument: --${name}`);
          value = tokens[++i];
        }
        set(name, value);
      }
    } else if (token.startsWith("-") && token.length > 1) {
      let rest = token.slice(1);
      while (rest.length > 0) {
        const short = rest[0];
        const long = shorts.get(short);
        if (!long) fail(`unknown shorthand flag: '${short}' in ${token}`);
        if (all[long][0] === BOOL) {
          if (rest[1] === "=") {
            set(long, parseBool(rest.slice(2), long));
            rest = "";
          } else {
            set(long, true);
            rest = rest.slice(1);
          }
        } else {
          let value = rest.slice(1);
          if (value.startsWith("=")) value = value.slice(1);
          if (value === "") {
            if (i + 1 >= tokens.length) fail(`flag needs an argument: '${short}' in -${short}`);
            value = tokens[++i];
          }
          set(long, value);
          rest = "";
        }
      }
    } else positionals.push(token);
  }
  return { flags, positionals };
}

/**
 * Splits argv into the command and its flags. Returns `{ command, flags, positionals }`,
 * `{ command: null, error }` for an unknown command, or `{ command: "help" }`.
 */
export function parseInvocation(argv) {
  const words = [];
  const rest = [];
  let node = null;
  let unknown = null;
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    const settled = unknown !== null || (node !== null && node.leaf !== undefined);
    if (!settled && !token.startsWith("-")) {
      const word = node === null ? GROUP_ALIASES[token] ?? token : SUB_ALIASES[token] ?? token;
      const next = (node ?? TREE).children[word];
      if (next) {
        node = next;
        words.push(word);
        continue;
      }
      unknown = { word: token, parent: words.length ? `flyctl ${words.join(" ")}` : "flyctl" };
      continue;
    }
    rest.push(token);
    if (!settled && (token === "-t" || token === "--access-token") && i + 1 < argv.length) rest.push(argv[++i]);
  }
  if (unknown) return { command: null, error: `unknown command "${unknown.word}" for "${unknown.parent}"` };
  if (node === null) {
    if (rest.includes("--version") || rest.includes("-v")) return { command: "version", flags: {}, positionals: [] };
    return { command: "help", words: [] };
  }
  if (node.leaf === undefined) return { command: "help", words };
  const command = node.leaf;
  const spec = COMMANDS[command];
  const { flags, positionals } = parseFlags(rest, spec.flags);
  if (flags.help) return { command: "help", words };
  const [min, max] = spec.args;
  if (positionals.length > max) {
    if (max === 0) fail(`unknown command "${positionals[0]}" for "flyctl ${command}"`);
    fail(`accepts at most ${max} arg(s), received ${positionals.length}`);
  }
  if (positionals.length < min) {
    if (min === max) fail(`accepts ${min} arg(s), received ${positionals.length}`);
    fail(`requires at least ${min} arg(s), only received ${positionals.length}`);
  }
  return { command, flags, positionals };
}

/** Whether (and how) a parsed invocation reads stdin. */
export function stdinMode(parsed) {
  if (parsed.command === "secrets import") return "eof";
  if (parsed.command === "secrets set" && parsed.positionals.some((p) => p.endsWith("=-"))) return "eof";
  if (parsed.command === "ssh console") return "idle";
  return "none";
}

// ---------------------------------------------------------------------------------------------
// Helpers

const now = () => new Date().toISOString();
const hex = (bytes) => randomBytes(bytes).toString("hex");
const base36 = (length) => {
  let out = "";
  while (out.length < length) out += BigInt("0x" + hex(8)).toString(36);
  return out.slice(0, length);
};
const newVolumeId = () => `vol_${base36(16)}`;
const newMachineId = () => `m_${hex(7)}`;

function memoryMb(value) {
  if (typeof value === "number") return value;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(gb|g|mb|m)?\s*$/i.exec(String(value));
  if (!match) return undefined;
  const amount = Number(match[1]);
  return /^g/i.test(match[2] ?? "") ? Math.round(amount * 1024) : Math.round(amount);
}

function stripTomlComment(line) {
  let quote = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "#") return line.slice(0, i);
  }
  return line;
}

function parseTomlValue(text) {
  const value = text.trim();
  if (value.startsWith('"')) {
    try {
      return JSON.parse(value);
    } catch {
      return value.slice(1, -1);
    }
  }
  if (value.startsWith("'")) return value.slice(1, -1);
  if (value === "true" || value === "false") return value === "true";
  if (/^[+-]?\d[\d_]*(\.\d+)?$/.test(value)) return Number(value.replace(/_/g, ""));
  if (value.startsWith("[") && value.endsWith("]")) {
    const inner = value.slice(1, -1).trim();
    if (inner === "") return [];
    const items = [];
    let quote = null;
    let start = 0;
    for (let i = 0; i < inner.length; i++) {
      const c = inner[i];
      if (quote) {
        if (c === "\\" && quote === '"') i++;
        else if (c === quote) quote = null;
      } else if (c === '"' || c === "'") quote = c;
      else if (c === ",") {
        items.push(inner.slice(start, i));
        start = i + 1;
      }
    }
    items.push(inner.slice(start));
    return items.map((item) => item.trim()).filter(Boolean).map(parseTomlValue);
  }
  return value;
}

/** Just enough TOML for fly.toml: tables, arrays of tables, key = string/number/bool/array. */
export function parseFlyToml(text) {
  const root = {};
  let current = root;
  const walk = (path, createArray) => {
    let node = root;
    path.forEach((part, index) => {
      const last = index === path.length - 1;
      if (last && createArray) {
        const array = Array.isArray(node[part]) ? node[part] : (node[part] = []);
        const table = {};
        array.push(table);
        node = table;
        return;
      }
      if (Array.isArray(node[part])) node = node[part][node[part].length - 1];
      else node = node[part] && typeof node[part] === "object" ? node[part] : (node[part] = {});
    });
    return node;
  };
  for (const raw of text.split(/\r?\n/)) {
    const line = stripTomlComment(raw).trim();
    if (line === "") continue;
    let match;
    if ((match = /^\[\[\s*([A-Za-z0-9_.-]+)\s*\]\]$/.exec(line))) current = walk(match[1].split("."), true);
    else if ((match = /^\[\s*([A-Za-z0-9_.-]+)\s*\]$/.exec(line))) current = walk(match[1].split("."), false);
    else if ((match = /^("?[A-Za-z0-9_.-]+"?)\s*=\s*(.*)$/.exec(line))) current[match[1].replace(/"/g, "")] = parseTomlValue(match[2]);
  }
  return root;
}

/** How real flyctl splits `ssh console -C` (shell-words quoting, no shell): argv for exec. */
export function splitCommandWords(command) {
  const words = [];
  let word = null;
  let quote = null;
  for (let i = 0; i < command.length; i++) {
    const c = command[i];
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === "\\" && i + 1 < command.length && '"\\$`'.includes(command[i + 1])) word += command[++i];
      else word += c;
    } else if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
    } else {
      word ??= "";
      if (c === "'" || c === '"') quote = c;
      else if (c === "\\" && i + 1 < command.length) word += command[++i];
      else word += c;
    }
  }
  if (quote) fail(`invalid command: unterminated ${quote === "'" ? "single" : "double"} quote`);
  if (word !== null) words.push(word);
  return words;
}

/** Go's unicode.IsSpace set, as strings.TrimSpace uses it (JS's \s differs: it has U+FEFF, lacks U+0085). */
const GO_SPACE = "\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const GO_TRIM = new RegExp(`^[${GO_SPACE}]+|[${GO_SPACE}]+$`, "g");

/** Go's strings.TrimSpace. */
export function goTrimSpace(text) {
  return String(text).replace(GO_TRIM, "");
}

/**
 * bufio.Scanner with ScanLines: lines split at "\n", one trailing "\r" dropped. A line that does
 * not fit MaxScanTokenSize (64 KiB) stops the scan; parser.go never checks scanner.Err(), so the
 * rest of the input is silently ignored.
 */
function scanLines(text) {
  const lines = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    if (Buffer.byteLength(line, "utf8") >= 64 * 1024) break;
    lines.push(line.endsWith("\r") ? line.slice(0, -1) : line);
    start = end + 1;
  }
  return lines;
}

/**
 * `secrets import`'s parser: a port of flyctl internal/command/secrets/parser.go parseSecrets.
 * Returns [name, value] pairs (a later line with the same name wins, like the Go map).
 */
export function parseSecretLines(text) {
  const secrets = new Map();
  let multilineKey = null;
  let buffer = "";
  for (const line of scanLines(text)) {
    if (multilineKey === null) {
      if (line.startsWith("#") || goTrimSpace(line) === "") continue;
      const eq = line.indexOf("=");
      if (eq < 0) fail(`Secrets must be provided as NAME=VALUE pairs (${line} is invalid)`);
      const key = goTrimSpace(line.slice(0, eq));
      let value = line.slice(eq + 1).replace(/^ +/, "");
      const hash = value.indexOf("#");
      if (hash >= 0) {
        const before = value.slice(0, hash);
        if ((before.split('"').length - 1) % 2 === 0) value = before.replace(/ +$/, "");
      }
      if (value.startsWith('"""') && value.endsWith('"""') && value.length >= 6) {
        secrets.set(key, value.slice(3, -3));
      } else if (value.startsWith('"""')) {
        multilineKey = key;
        buffer = value.slice(3) + "\n";
      } else {
        // Go slices value[1:len-1]: a lone quote character panics there; the fake fails instead.
        if (value.length === 1 && (value === '"' || value === "'")) fail("panic: runtime error: slice bounds out of range [1:0]");
        if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
        else if (value.startsWith("'") && value.endsWith("'")) value = value.slice(1, -1);
        secrets.set(key, value);
      }
    } else if (line.endsWith('"""')) {
      secrets.set(multilineKey, buffer + line.slice(0, -3));
      multilineKey = null;
      buffer = "";
    } else {
      buffer += line + "\n";
    }
  }
  return [...secrets];
}

// ---------------------------------------------------------------------------------------------
// Commands

function table(headers, rows) {
  return [headers, ...rows].map((row) => row.join("\t")).join("\n") + "\n";
}

function tokenFrom(ctx) {
  return ctx.flags["access-token"] || ctx.env.FLY_ACCESS_TOKEN || ctx.env.FLY_API_TOKEN || "";
}

function requireAuth(ctx) {
  const token = tokenFrom(ctx);
  const { auth } = ctx.state;
  if (token) {
    if (auth.acceptedTokens && !auth.acceptedTokens.includes(token)) throw new FlyError(FLY_UNAUTHORIZED_ERROR.replace(/^Error: /, ""));
    return;
  }
  if (!auth.loggedIn) throw new FlyError(FLY_NOT_LOGGED_IN_ERROR.replace(/^Error: /, ""));
}

function loadConfig(ctx, workdir) {
  const explicit = ctx.flags.config;
  const path = explicit ? resolve(workdir, explicit) : join(workdir, "fly.toml");
  if (!existsSync(path)) {
    if (explicit) fail(`failed loading app config from ${path}: open ${path}: no such file or directory`);
    return { path: null, text: null, toml: {} };
  }
  const text = readFileSync(path, "utf8");
  return { path, text, toml: parseFlyToml(text) };
}

function appNameOf(ctx, config = loadConfig(ctx, ctx.cwd)) {
  const name = ctx.flags.app || ctx.env.FLY_APP || config.toml.app;
  if (!name) fail("the config for your app is missing an app name, add an app field to the fly.toml file or specify with the -a flag");
  return String(name);
}

function requireApp(ctx, name = appNameOf(ctx)) {
  const app = ctx.state.apps[name];
  if (!app) fail(`Could not find App "${name}"`);
  return app;
}

function appJson(app) {
  return {
    ID: app.name,
    Name: app.name,
    Status: app.status,
    Deployed: app.deployed,
    Hostname: `${app.name}.fly.dev`,
    AppURL: `https://${app.name}.fly.dev`,
    Version: app.version,
    PlatformVersion: "machines",
    Organization: { Slug: app.org, Name: app.org },
  };
}

function pushLog(app, message, machine, level = "info") {
  app.logs.push({ timestamp: now(), message, level, instance: machine?.id ?? "", region: machine?.region ?? "" });
}

function checksFor(machine, status) {
  const services = machine.config.services ?? [];
  if (services.length === 0) return [];
  return [{ name: "servicecheck-00-http-" + (services[0].internal_port ?? 8080), status, output: status === "passing" ? "OK" : "not ready" }];
}

function setMachine(machine, state) {
  machine.state = state;
  machine.updated_at = now();
  machine.checks = checksFor(machine, state === "started" ? "passing" : "critical");
}

const handlers = {
  help(ctx) {
    ctx.out(`fake flyctl v${FAKE_FLYCTL_VERSION} (tests/fakes/fake-flyctl)\n\nUsage:\n  flyctl [command]\n\nCommands: ${Object.keys(COMMANDS).join(", ")}\n`);
  },

  version(ctx) {
    if (ctx.flags.json) {
      ctx.json({ Name: "flyctl", Version: FAKE_FLYCTL_VERSION, Commit: "fake", BuildDate: "2025-01-01T00:00:00Z", OS: "linux", Architecture: "amd64", Environment: "production" });
    } else ctx.out(`flyctl v${FAKE_FLYCTL_VERSION} linux/amd64 Commit: fake BuildDate: 2025-01-01T00:00:00Z\n`);
  },

  "auth whoami"(ctx) {
    if (ctx.flags.json) ctx.json({ email: ctx.state.auth.email });
    else ctx.out(ctx.state.auth.email + "\n");
  },

  "auth login"() {
    fail("the fake flyctl cannot log in; install it with { loggedIn: true } or pass FLY_ACCESS_TOKEN");
  },

  "orgs list"(ctx) {
    if (ctx.flags.json) ctx.json(Object.fromEntries(ctx.state.orgs.map((slug) => [slug, slug === "personal" ? "Tester" : slug])));
    else ctx.out(table(["Name", "Slug", "Type"], ctx.state.orgs.map((slug) => [slug, slug, slug === "personal" ? "PERSONAL" : "SHARED"])));
  },

  "apps create"(ctx) {
    const [positional] = ctx.positionals;
    const name = positional ?? ctx.flags.name;
    if (positional && ctx.flags.name && positional !== ctx.flags.name) fail(`two app names specified ${positional} and ${ctx.flags.name}, only one may be specified`);
    if (!name) fail("app name must be specified when not running interactively");
    const org = ctx.flags.org;
    if (!org) fail("org slug must be specified when not running interactively");
    if (!ctx.state.orgs.includes(org)) fail(`Could not find organization ${org}`);
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(name)) fail("Validation failed: Name may only contain lowercase letters, numbers, and dashes");
    if (ctx.state.apps[name] || ctx.state.takenNames.includes(name)) throw new FlyError(FLY_NAME_TAKEN_ERROR.replace(/^Error: /, ""));
    const app = {
      name,
      org,
      status: "pending",
      deployed: false,
      version: 0,
      created_at: now(),
      volumes: [],
      secrets: {},
      machines: [],
      logs: [],
      sshSessions: [],
    };
    ctx.state.apps[name] = app;
    if (ctx.flags.json) ctx.json(appJson(app));
    else ctx.out(`New app created: ${name}\n`);
  },

  "apps list"(ctx) {
    let apps = Object.values(ctx.state.apps);
    if (ctx.flags.org) apps = apps.filter((app) => app.org === ctx.flags.org);
    if (ctx.flags.json) ctx.json(apps.map(appJson));
    else if (ctx.flags.quiet) ctx.out(apps.map((app) => app.name + "\n").join(""));
    else ctx.out(table(["NAME", "OWNER", "STATUS", "LATEST DEPLOY"], apps.map((app) => [app.name, app.org, app.status, app.deployed ? "now" : ""])));
  },

  "apps destroy"(ctx) {
    if (!ctx.flags.yes) fail("yes flag must be specified when not running interactively");
    for (const name of ctx.positionals) {
      requireApp(ctx, name);
      delete ctx.state.apps[name];
      ctx.out(`Destroyed app ${name}\n`);
    }
  },

  "volumes create"(ctx) {
    const app = requireApp(ctx);
    const [name] = ctx.positionals;
    if (!/^[a-z0-9_]{1,30}$/.test(name)) fail("volume name must be 30 characters or less and only contain lowercase letters, numbers and underscores");
    const config = loadConfig(ctx, ctx.cwd);
    const region = ctx.flags.region ?? config.toml.primary_region;
    if (!region) fail("region flag must be specified when not running interactively");
    if (!FLY_REGIONS.includes(region)) fail(`invalid region ${region}`);
    const size = ctx.flags.size === undefined ? 1 : Number(ctx.flags.size);
    if (!Number.isInteger(size) || size < 1 || size > 500) fail(`invalid argument "${ctx.flags.size}" for "-s, --size" flag: size must be an integer from 1 to 500 GB`);
    if (!ctx.flags.yes) fail("yes flag must be specified when not running interactively");
    if (ctx.state.noCapacityRegions.includes(region)) throw new FlyError(FLY_NO_CAPACITY_ERROR.replace(/^Error: /, ""));
    const count = ctx.flags.count === undefined ? 1 : Number(ctx.flags.count);
    const created = [];
    for (let i = 0; i < count; i++) {
      const volume = {
        id: newVolumeId(),
        name,
        state: "created",
        size_gb: size,
        region,
        zone: hex(2),
        encrypted: !ctx.flags["no-encryption"],
        attached_machine_id: null,
        created_at: now(),
        snapshot_retention: ctx.flags["snapshot-retention"] === undefined ? 5 : Number(ctx.flags["snapshot-retention"]),
        auto_backup_enabled: ctx.flags["scheduled-snapshots"] ?? true,
      };
      app.volumes.push(volume);
      created.push(volume);
    }
    if (ctx.flags.json) ctx.json(created.length === 1 ? created[0] : created);
    else {
      for (const volume of created) {
        ctx.out(
          [
            `                  ID: ${volume.id}`,
            `                Name: ${volume.name}`,
            `                 App: ${app.name}`,
            `              Region: ${volume.region}`,
            `                Zone: ${volume.zone}`,
            `             Size GB: ${volume.size_gb}`,
            `           Encrypted: ${volume.encrypted}`,
            `          Created at: ${volume.created_at}`,
            "",
          ].join("\n"),
        );
      }
    }
  },

  "volumes list"(ctx) {
    const app = requireApp(ctx);
    if (ctx.flags.json) ctx.json(app.volumes);
    else {
      ctx.out(
        table(
          ["ID", "STATE", "NAME", "SIZE", "REGION", "ZONE", "ENCRYPTED", "ATTACHED VM", "CREATED AT"],
          app.volumes.map((v) => [v.id, v.state, v.name, `${v.size_gb}GB`, v.region, v.zone, String(v.encrypted), v.attached_machine_id ?? "", v.created_at]),
        ),
      );
    }
  },

  "volumes destroy"(ctx) {
    if (!ctx.flags.yes) fail("yes flag must be specified when not running interactively");
    for (const id of ctx.positionals) {
      const owner = Object.values(ctx.state.apps).find((app) => app.volumes.some((v) => v.id === id));
      if (!owner) fail(`failed retrieving volume ${id}: volume not found`);
      const volume = owner.volumes.find((v) => v.id === id);
      if (volume.attached_machine_id) fail(`failed destroying volume: volume ${id} is attached to machine ${volume.attached_machine_id}`);
      owner.volumes = owner.volumes.filter((v) => v.id !== id);
      ctx.out(`Destroyed volume ID: ${id} name: ${volume.name}\n`);
    }
  },

  "volumes snapshots create"(ctx) {
    const { app, volume } = snapshotVolume(ctx);
    const retention = volume.snapshot_retention ?? 5;
    (volume.snapshots ??= []).push({ id: `vs_${base36(16)}`, size: 0, volume_size: volume.size_gb * 1024 ** 3, digest: hex(16), created_at: now(), status: "created", retention_days: retention });
    pushLog(app, `Volume ${volume.id} snapshot scheduled`);
    ctx.out(`Scheduled to snapshot volume ${volume.id}\n`);
  },

  "volumes snapshots list"(ctx) {
    const { volume } = snapshotVolume(ctx);
    const snapshots = [...(volume.snapshots ?? [])].sort((a, b) => a.created_at.localeCompare(b.created_at));
    if (ctx.flags.json) ctx.json(snapshots);
    else if (snapshots.length === 0) ctx.err(`No snapshots available for volume ${volume.id}\n`);
    else ctx.out(table(["ID", "STATUS", "STORED SIZE", "VOL SIZE", "CREATED AT", "RETENTION DAYS"], snapshots.map((v) => [v.id, v.status, `${v.size} B`, `${v.volume_size} B`, v.created_at, String(v.retention_days ?? "")])));
  },

  "secrets import"(ctx) {
    const app = requireApp(ctx);
    let pairs;
    try {
      pairs = parseSecretLines(ctx.stdin);
    } catch (error) {
      if (error instanceof FlyError) fail(`Failed to parse secrets from stdin: ${error.message}`);
      throw error;
    }
    if (pairs.length === 0) fail("requires at least one SECRET=VALUE pair");
    setSecrets(ctx, app, pairs);
  },

  "secrets set"(ctx) {
    const app = requireApp(ctx);
    // internal/cmdutil/flags.go ParseKVStringsToMap: split at the first "=", later names win.
    const secrets = new Map();
    for (const arg of ctx.positionals) {
      const eq = arg.indexOf("=");
      if (eq < 0) fail(`could not parse secrets: '${arg}': must be in the format NAME=VALUE`);
      secrets.set(arg.slice(0, eq), arg.slice(eq + 1));
    }
    // internal/command/secrets/set.go + helpers/stdin.go: "-" reads stdin (a pipe), up to 64 KiB, TrimSpace.
    let stdinRead = false;
    for (const [name, value] of secrets) {
      if (value !== "-") continue;
      if (!ctx.stdinPiped) fail(`secret \`${name}\` expects standard input but none provided`);
      const input = stdinRead ? "" : ctx.stdin;
      stdinRead = true;
      if (Buffer.byteLength(input, "utf8") > 64 * 1024) fail(`error reading stdin for '${name}': Input exceeded max length of 65536 bytes`);
      secrets.set(name, goTrimSpace(input));
    }
    if (secrets.size < 1) fail("requires at least one SECRET=VALUE pair");
    setSecrets(ctx, app, [...secrets]);
  },

  "secrets unset"(ctx) {
    const app = requireApp(ctx);
    for (const name of ctx.positionals) {
      if (!app.secrets[name]) fail(`secret ${name} is not set on app ${app.name}`);
      delete app.secrets[name];
    }
    afterSecretsChange(ctx, app);
  },

  "secrets list"(ctx) {
    const app = requireApp(ctx);
    const secrets = Object.values(app.secrets).sort((a, b) => a.name.localeCompare(b.name));
    const status = (secret) => (secret.staged || app.machines.length === 0 ? "Staged" : "Deployed");
    if (ctx.flags.json) ctx.json(secrets.map((secret) => ({ name: secret.name, digest: secret.digest, status: status(secret) })));
    else ctx.out(table(["NAME", "DIGEST", "STATUS"], secrets.map((secret) => [secret.name, secret.digest, status(secret)])));
  },

  "secrets deploy"(ctx) {
    const app = requireApp(ctx);
    if (app.machines.length === 0) fail(`no machines available to deploy secrets to for app ${app.name}`);
    updateMachinesForSecrets(ctx, app);
  },

  deploy(ctx) {
    const [workdirArg] = ctx.positionals;
    const workdir = workdirArg ? resolve(ctx.cwd, workdirArg) : ctx.cwd;
    if (workdirArg && !(existsSync(workdir) && statSync(workdir).isDirectory())) {
      fail(`failed changing working directory: chdir ${workdirArg}: no such file or directory`);
    }
    const config = loadConfig(ctx, workdir);
    const toml = config.toml;
    const app = requireApp(ctx, appNameOf(ctx, config));
    const strategy = ctx.flags.strategy ?? toml.deploy?.strategy ?? "rolling";
    if (!["canary", "rolling", "bluegreen", "immediate"].includes(strategy)) fail(`invalid deployment strategy "${strategy}"`);
    const mount = Array.isArray(toml.mounts) ? toml.mounts[0] : toml.mounts;
    if (mount && (strategy === "canary" || strategy === "bluegreen")) fail(`${strategy} deployment strategy does not work with volumes; use rolling or immediate`);

    let image = ctx.flags.image ?? toml.build?.image;
    let built = false;
    let dockerfile = null;
    if (!image) {
      // deploy_build.go resolveDockerfilePath: fly.toml's [build].dockerfile first, joined (not
      // resolved: an absolute path stays under the directory) to fly.toml's directory; --dockerfile
      // only without it. A named file that is missing fails the build (imgsrc/depot.go).
      if (toml.build?.dockerfile) dockerfile = resolve(join(config.path ? dirname(config.path) : workdir, String(toml.build.dockerfile)));
      else if (ctx.flags.dockerfile) dockerfile = resolve(workdir, ctx.flags.dockerfile);
      if (dockerfile !== null && !existsSync(dockerfile)) fail(`failed to fetch an image or build from source: dockerfile '${dockerfile}' not found`);
      if (dockerfile === null) {
        dockerfile = join(workdir, "Dockerfile");
        if (!existsSync(dockerfile)) {
          fail("failed to fetch an image or build from source: app does not have a Dockerfile or buildpacks configured. See https://fly.io/docs/reference/configuration/#the-build-section");
        }
      }
      image = `registry.fly.io/${app.name}:deployment-${base36(26).toUpperCase()}`;
      built = true;
    }

    const record = {
      app: app.name,
      argv: ctx.argv,
      flags: ctx.flags,
      cwd: ctx.cwd,
      workdir,
      configPath: config.path,
      flyToml: config.text,
      dockerfile,
      image,
      region: "",
      strategy,
      at: now(),
    };
    const lines = [];
    lines.push("==> Verifying app config");
    if (config.path) lines.push(`Validating ${config.path}`, "✓ Configuration is valid");
    lines.push("--> Verified app config", "==> Building image");
    if (built) lines.push(`--> Building image with ${ctx.flags["local-only"] ? "local Docker" : "Depot remote builder"}`, "--> Building image done");
    lines.push(`image: ${image}`, "image size: 123 MB", "");
    if (ctx.flags["build-only"]) {
      ctx.out(lines.join("\n") + "\n");
      return;
    }

    const region = ctx.flags.region ?? ctx.flags["primary-region"] ?? toml.primary_region ?? app.machines[0]?.region ?? DEFAULT_REGION;
    if (!FLY_REGIONS.includes(region)) fail(`invalid region ${region}`);
    record.region = region;
    const vm = Array.isArray(toml.vm) ? toml.vm[0] : toml.vm;
    const guest = {
      cpu_kind: vm?.cpu_kind ?? "shared",
      cpus: vm?.cpus ?? 1,
      memory_mb: memoryMb(ctx.flags["vm-memory"] ?? vm?.memory ?? vm?.memory_mb ?? 256) ?? 256,
    };
    checkGuest(guest);
    const env = { ...(toml.env ?? {}), ...Object.fromEntries((ctx.flags.env ?? []).map((pair) => [pair.split("=")[0], pair.slice(pair.indexOf("=") + 1)])) };
    if (region) env.PRIMARY_REGION ??= region;
    const services = toml.http_service ? [{ protocol: "tcp", internal_port: toml.http_service.internal_port ?? 8080, autostop: toml.http_service.auto_stop_machines ?? null, min_machines_running: toml.http_service.min_machines_running ?? 0 }] : [];
    const processes = toml.processes ?? {};
    const configFor = (volumeId) => ({
      image,
      env: { ...env },
      guest: { ...guest },
      init: processes.app ? { cmd: splitCommandWords(String(processes.app)) } : {},
      mounts: mount && volumeId ? [{ volume: volumeId, path: mount.destination, name: mount.source }] : [],
      services,
      metadata: { fly_process_group: "app", fly_release_version: String(app.version), fly_platform_version: "v2" },
      restart: { policy: "on-failure" },
    });

    app.version += 1;
    if (app.machines.length === 0) {
      if (ctx.state.noCapacityRegions.includes(region)) {
        fail("failed to launch VM: insufficient resources available to fulfill request: could not reserve resource for machine: insufficient memory available to fulfill request");
      }
      const count = ctx.flags.ha === false ? 1 : 2;
      lines.push("This deployment will:", ` * create ${count} "app" machine${count > 1 ? "s" : ""}`, "");
      lines.push('No machines in group app, launching a new machine');
      for (let i = 0; i < count; i++) {
        const id = newMachineId();
        let volumeId = null;
        if (mount) {
          let volume = app.volumes.find((v) => v.name === mount.source && v.region === region && !v.attached_machine_id);
          if (!volume) {
            volume = { id: newVolumeId(), name: mount.source, state: "created", size_gb: 1, region, zone: hex(2), encrypted: true, attached_machine_id: null, created_at: now(), snapshot_retention: 5, auto_backup_enabled: true, created_by_deploy: true };
            app.volumes.push(volume);
            lines.push(`Creating volume ${volume.name} (${volume.id}) in ${region} for machine ${id}`);
          }
          volume.attached_machine_id = id;
          volumeId = volume.id;
        }
        const machine = {
          id,
          name: `${app.name}-${hex(2)}`,
          state: "started",
          region,
          instance_id: base36(26).toUpperCase(),
          private_ip: `fdaa:0:1::${hex(1)}`,
          config: configFor(volumeId),
          image_ref: { registry: image.split("/")[0], repository: image.split("/").slice(1).join("/").split(":")[0], tag: image.split(":").pop() },
          created_at: now(),
          updated_at: now(),
          checks: [],
        };
        setMachine(machine, "started");
        app.machines.push(machine);
        lines.push(`Machine ${id} [app] has state: started`);
        pushLog(app, `Machine started`, machine);
      }
      lines.push("Finished launching new machines");
    } else {
      lines.push(`Updating existing machines in '${app.name}' with ${strategy} strategy`);
      app.machines.forEach((machine, index) => {
        const volumeId = machine.config.mounts[0]?.volume ?? null;
        machine.config = configFor(volumeId);
        machine.image_ref = { registry: image.split("/")[0], repository: image.split("/").slice(1).join("/").split(":")[0], tag: image.split(":").pop() };
        setMachine(machine, "started");
        lines.push(`  [${index + 1}/${app.machines.length}] Machine ${machine.id} [app] update succeeded`);
        pushLog(app, `Machine updated to release v${app.version}`, machine);
      });
      lines.push("Finished deploying");
    }
    for (const secret of Object.values(app.secrets)) secret.staged = false;
    app.deployed = true;
    app.status = "deployed";
    ctx.state.deploys.push(record);
    lines.push("", `Visit your newly deployed app at https://${app.name}.fly.dev/`);
    ctx.out(lines.join("\n") + "\n");
  },

  status(ctx) {
    const app = requireApp(ctx);
    if (ctx.flags.json) {
      ctx.json({ ...appJson(app), Machines: app.machines });
      return;
    }
    let text = `App\n  Name     = ${app.name}\n  Owner    = ${app.org}\n  Hostname = ${app.name}.fly.dev\n  Image    = ${app.machines[0]?.config.image ?? "-"}\n  Platform = machines\n\n`;
    if (app.machines.length === 0) text += `No machines are available on this app ${app.name}\n`;
    else {
      text += "Machines\n" + table(
        ["PROCESS", "ID", "VERSION", "REGION", "STATE", "CHECKS", "LAST UPDATED"],
        app.machines.map((m) => ["app", m.id, String(app.version), m.region, m.state, `${m.checks.length} total, ${m.checks.filter((c) => c.status === "passing").length} passing`, m.updated_at]),
      );
    }
    ctx.out(text);
  },

  "machine list"(ctx) {
    const app = requireApp(ctx);
    if (ctx.flags.json) ctx.json(app.machines);
    else if (ctx.flags.quiet) ctx.out(app.machines.map((m) => m.id + "\n").join(""));
    else ctx.out(table(["ID", "NAME", "STATE", "REGION", "IMAGE", "CREATED", "UPDATED"], app.machines.map((m) => [m.id, m.name, m.state, m.region, m.config.image, m.created_at, m.updated_at])));
  },

  "machine restart"(ctx) {
    machineAction(ctx, (app, machine) => {
      setMachine(machine, "started");
      pushLog(app, "Machine restarted", machine);
      ctx.out(`Restarting machine ${machine.id}\n  Waiting for ${machine.id} to become healthy (started, 1/1)\nMachine ${machine.id} restarted successfully!\n`);
    });
  },

  "machine start"(ctx) {
    machineAction(ctx, (app, machine) => {
      setMachine(machine, "started");
      pushLog(app, "Machine started", machine);
      ctx.out(`${machine.id} has been started\n`);
    });
  },

  "machine stop"(ctx) {
    machineAction(ctx, (app, machine) => {
      setMachine(machine, "stopped");
      pushLog(app, "Machine stopped", machine);
      ctx.out(`Sending kill signal to machine ${machine.id}...\n${machine.id} has been successfully stopped\n`);
    });
  },

  logs(ctx) {
    const app = requireApp(ctx);
    if (!ctx.flags["no-tail"]) fail("the fake flyctl does not follow logs: real `flyctl logs` without --no-tail never exits; pass --no-tail");
    let entries = app.logs;
    if (ctx.flags.region) entries = entries.filter((e) => e.region === ctx.flags.region);
    const machineFilter = ctx.flags.machine ?? ctx.flags.instance;
    if (machineFilter) entries = entries.filter((e) => e.instance === machineFilter);
    if (ctx.flags.json) ctx.out(entries.map((e) => JSON.stringify(e) + "\n").join(""));
    else ctx.out(entries.map((e) => `${e.timestamp} app[${e.instance}] ${e.region} [${e.level}] ${e.message}\n`).join(""));
  },

  "ssh console"(ctx) {
    const app = requireApp(ctx);
    const command = ctx.flags.command;
    if (command === undefined) fail("the fake flyctl has no interactive ssh sessions; pass -C COMMAND");
    let started = app.machines.filter((m) => m.state === "started");
    if (started.length === 0) fail(`app ${app.name} has no started VMs.\nIt may be unhealthy or not have been deployed yet.\nTry the following command to verify:\n\nfly status`);
    if (ctx.flags.region) started = started.filter((m) => m.region === ctx.flags.region);
    if (ctx.flags.region && started.length === 0) fail(`app ${app.name} has no VMs in region ${ctx.flags.region}`);
    if (ctx.flags["process-group"]) started = started.filter((m) => m.config.metadata?.fly_process_group === ctx.flags["process-group"]);
    if (ctx.flags["process-group"] && started.length === 0) fail(`app ${app.name} has no VMs in process group ${ctx.flags["process-group"]}`);
    const machine = ctx.flags.machine ? app.machines.find((m) => m.id === ctx.flags.machine) : started[0];
    if (ctx.flags.machine && !machine) fail(`machine ${ctx.flags.machine} not found`);
    if (!machine || machine.state !== "started") fail(`app ${app.name} has no started VMs.\nIt may be unhealthy or not have been deployed.\nTry the following command to verify:\n\nfly status`);
    const argv = splitCommandWords(command);
    app.sshSessions.push({ machineId: machine.id, command, argv, user: ctx.flags.user ?? "root", stdin: ctx.stdin, at: now() });
    const rule = [...ctx.state.sshOutputs].reverse().find((r) => command.includes(r.match));
    if (rule) {
      ctx.out(rule.stdout);
      ctx.err(rule.stderr);
      ctx.exitCode = rule.exitCode;
    }
  },
};

/**
 * The Machines API's sizing rules for shared CPUs (fly-go MAX_MEMORY_MB_PER_SHARED_CPU = 2048,
 * MIN_MEMORY_MB_PER_SHARED_CPU = 256; flyctl internal/machine/update.go cpusPerKind and the
 * wording of InvalidConfigErr).
 */
function checkGuest(guest) {
  if (guest.cpu_kind !== "shared") return;
  const { cpus, memory_mb: memory } = guest;
  if (![1, 2, 4, 6, 8].includes(cpus)) fail(`invalid machine config: For the CPU kind shared, ${cpus} CPUs is not valid`);
  if (memory % 256 !== 0) fail(`invalid machine config: ${memory}MiB of memory is not valid`);
  if (memory < 256 * cpus) fail(`invalid machine config: For shared VMs with ${cpus} CPUs, ${memory}MiB of memory is too low`);
  if (memory > 2048 * cpus) fail(`invalid machine config: For shared VMs with ${cpus} CPUs, ${memory}MiB of memory is too high`);
}

function setSecrets(ctx, app, pairs) {
  for (const [name, value] of pairs) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) fail(`invalid secret name "${name}"`);
    app.secrets[name] = { name, digest: secretDigest(), value, created_at: now(), staged: true };
  }
  afterSecretsChange(ctx, app);
}

function afterSecretsChange(ctx, app) {
  if (ctx.flags.stage) {
    ctx.out("Secrets have been staged, but not set on VMs. Deploy or update machines in this app for the secrets to take effect.\n");
  } else if (app.machines.length === 0) {
    ctx.out("Secrets are staged for the first deployment\n");
  } else updateMachinesForSecrets(ctx, app);
}

function updateMachinesForSecrets(ctx, app) {
  app.version += 1;
  ctx.out(`Updating existing machines in '${app.name}' with rolling strategy\n`);
  app.machines.forEach((machine, index) => {
    machine.config.metadata = { ...machine.config.metadata, fly_release_version: String(app.version) };
    setMachine(machine, "started");
    pushLog(app, "Machine restarted with new secrets", machine);
    ctx.out(`  [${index + 1}/${app.machines.length}] Machine ${machine.id} [app] update succeeded\n`);
  });
  for (const secret of Object.values(app.secrets)) secret.staged = false;
}

function snapshotVolume(ctx) {
  const [id] = ctx.positionals;
  const apps = ctx.flags.app ? [requireApp(ctx, ctx.flags.app)] : Object.values(ctx.state.apps);
  for (const app of apps) {
    const volume = app.volumes.find((v) => v.id === id);
    if (volume) return { app, volume };
  }
  return fail(`failed retrieving snapshots: volume ${id} not found`);
}

function machineAction(ctx, action) {
  const app = requireApp(ctx);
  for (const id of ctx.positionals) {
    const machine = app.machines.find((m) => m.id === id);
    if (!machine) fail(`could not get machine ${id}: failed to get VM ${id}: machine not found`);
    action(app, machine);
  }
}

// ---------------------------------------------------------------------------------------------
// One invocation

function recordedEnv(env) {
  const out = {};
  for (const key of ["FLY_ACCESS_TOKEN", "FLY_API_TOKEN", "FLY_NO_UPDATE_CHECK"]) if (key in env && env[key] !== undefined) out[key] = env[key];
  return out;
}

/**
 * Runs one parsed invocation against `state` (mutating it). Synchronous: stdin is read first.
 * Returns `{ stdout, stderr, exitCode }`.
 */
export function execute(state, { argv, parsed, stdin, env, cwd, stdinPiped = true }) {
  let stdout = "";
  let stderr = "";
  const ctx = {
    state,
    argv,
    env,
    cwd,
    stdin,
    stdinPiped,
    flags: parsed.flags ?? {},
    positionals: parsed.positionals ?? [],
    exitCode: 0,
    out: (text) => void (stdout += text),
    err: (text) => void (stderr += text),
    json: (value) => void (stdout += JSON.stringify(value, null, 2) + "\n"),
  };
  if (parsed.error !== undefined) return { stdout, stderr: `Error: ${parsed.error}\n`, exitCode: 1 };
  const command = parsed.command;
  if (command !== "help") {
    const words = command.split(" ");
    const index = state.failures.findIndex((rule) => {
      const match = rule.match.split(" ");
      return match.every((word, i) => words[i] === word);
    });
    if (index >= 0) {
      const rule = state.failures[index];
      if (rule.remaining !== null) {
        rule.remaining -= 1;
        if (rule.remaining <= 0) state.failures.splice(index, 1);
      }
      const text = rule.stderr.endsWith("\n") || rule.stderr === "" ? rule.stderr : rule.stderr + "\n";
      return { stdout: rule.stdout ?? "", stderr: text, exitCode: rule.exitCode };
    }
  }
  try {
    if (command !== "help" && COMMANDS[command].auth !== false) requireAuth(ctx);
    handlers[command](ctx);
    return { stdout, stderr, exitCode: ctx.exitCode };
  } catch (error) {
    if (!(error instanceof FlyError)) throw error;
    return { stdout, stderr: stderr + `Error: ${error.message}\n`, exitCode: 1 };
  }
}

/** helpers/stdin.go HasPipedStdin: stdin is not a character device (a terminal or /dev/null). */
function stdinIsPipe() {
  try {
    return !fstatSync(0).isCharacterDevice();
  } catch {
    return false;
  }
}

function readStdin(mode) {
  if (mode === "none" || process.stdin.isTTY) return Promise.resolve({ text: "", eof: true });
  const idleMs = mode === "idle" ? 300 : 10_000;
  return new Promise((resolveRead) => {
    const chunks = [];
    let timer;
    let done = false;
    const finish = (eof) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      process.stdin.removeAllListeners("data");
      process.stdin.pause();
      process.stdin.destroy();
      resolveRead({ text: Buffer.concat(chunks).toString("utf8"), eof });
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(false), idleMs);
    };
    process.stdin.on("data", (chunk) => {
      chunks.push(chunk);
      arm();
    });
    process.stdin.on("end", () => finish(true));
    process.stdin.on("error", () => finish(true));
    arm();
  });
}

async function main() {
  const argv = process.argv.slice(2);
  const env = process.env;
  const statePath = env.FAKE_FLY_STATE;
  const logPath = env.FAKE_FLY_LOG;
  if (!statePath || !existsSync(statePath)) {
    process.stderr.write("Error: fake flyctl: FAKE_FLY_STATE does not name a state file (install it with installFakeFlyctl())\n");
    process.exitCode = 2;
    return;
  }
  let parsed;
  try {
    parsed = parseInvocation(argv);
  } catch (error) {
    if (!(error instanceof FlyError)) throw error;
    parsed = { command: null, error: error.message };
  }
  const mode = parsed.error === undefined ? stdinMode(parsed) : "none";
  const input = await readStdin(mode);
  const result = withStateLock(statePath, (state) => {
    let outcome;
    if (mode === "eof" && !input.eof) {
      outcome = { stdout: "", stderr: "Error: fake flyctl: stdin was not closed within 10 s (real flyctl would wait forever)\n", exitCode: 1 };
    } else {
      try {
        outcome = execute(state, { argv, parsed, stdin: input.text, env, cwd: process.cwd(), stdinPiped: stdinIsPipe() });
      } catch (error) {
        outcome = { stdout: "", stderr: `fake flyctl internal error: ${error?.stack ?? error}\n`, exitCode: 70 };
      }
    }
    if (logPath) {
      const line = {
        argv,
        stdin: input.text,
        env: recordedEnv(env),
        at: now(),
        cwd: process.cwd(),
        command: parsed.error === undefined ? parsed.command : null,
        exitCode: outcome.exitCode,
        stdout: outcome.stdout,
        stderr: outcome.stderr,
      };
      appendFileSync(logPath, JSON.stringify(line) + "\n");
    }
    return outcome;
  });
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  process.exitCode = result.exitCode;
}

function isMain() {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  main().catch((error) => {
    process.stderr.write(`fake flyctl internal error: ${error?.stack ?? error}\n`);
    process.exitCode = 70;
  });
}

