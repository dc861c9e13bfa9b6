import { spawn } from "node:child_process";
import { copyFile, lstat, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import type { BenchContext, BenchModule, BenchResult } from "./bench-module.ts";
import { trackChild } from "./gateway-process.ts";

const INSTALL_TIMEOUT_MS = 5 * 60_000;
/** Bounds for the node_modules walk: deeper or bigger than this is a bug, not a tree. */
const MAX_DEPTH = 64;
const MAX_ENTRIES = 2_000_000;

/**
 * Install footprint: `npm ci --omit=dev --omit=peer --ignore-scripts` (as the Dockerfile) of our package.json +
 * package-lock.json in a temp dir, then node_modules size and package count. The anchor is
 * `npm i openclaw` (647 MB, 330 packages). npm's cache is left as it is, so the time is
 * mostly a measure of the cache, not of the network.
 */
export const installBench: BenchModule = {
  name: "install",
  description: "npm ci --omit=dev --omit=peer: node_modules size and package count",
  async run(context: BenchContext): Promise<BenchResult> {
    const directory = await mkdtemp(join(tmpdir(), "faraday-bench-install-"));
    try {
      await copyFile(join(context.root, "package.json"), join(directory, "package.json"));
      await copyFile(join(context.root, "package-lock.json"), join(directory, "package-lock.json"));
      const args = ["ci", "--omit=dev", "--omit=peer", "--ignore-scripts", "--no-audit", "--no-fund"];
      context.log(`install: npm ${args.join(" ")} in ${directory}`);
      const started = performance.now();
      const npm = await runNpm(args, directory);
      const elapsedMs = performance.now() - started;
      const size = await measureTree(join(directory, "node_modules"));
      const packages = await countPackages(join(directory, "node_modules"));
      const added = /added (\d+) packages?/.exec(npm.output);
      const data = {
        command: `npm ${args.join(" ")}`,
        npmVersion: npm.version,
        elapsedMs,
        apparentBytes: size.apparentBytes,
        diskBytes: size.diskBytes,
        files: size.files,
        packages,
        npmReportedAdded: added === null ? undefined : Number(added[1]),
      };
      const megabytes = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
      return {
        rows: [
          {
            figure: "npm ci --omit=dev --omit=peer: node_modules on disk",
            ours: `${megabytes(size.diskBytes)} (${(size.diskBytes / 1024 / 1024).toFixed(1)} MiB; ${megabytes(size.apparentBytes)} apparent)`,
            anchor: "647 MB",
            target: "",
          },
          { figure: "npm ci --omit=dev --omit=peer: packages", ours: String(packages), anchor: "330", target: "" },
          { figure: "npm ci --omit=dev --omit=peer: time (npm cache as found)", ours: `${(elapsedMs / 1000).toFixed(1)} s`, anchor: "26 s (npm i)", target: "" },
        ],
        data,
      };
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  },
};

/** Runs npm (the one next to this node, else PATH's) and resolves with its output; rejects on failure or timeout. */
async function runNpm(args: string[], cwd: string): Promise<{ output: string; version: string }> {
  const environment = {
    ...process.env,
    PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ""}`,
    npm_config_update_notifier: "false",
    npm_config_progress: "false",
  };
  const run = (runArgs: string[], timeoutMs: number) =>
    new Promise<string>((resolve, reject) => {
      const child = spawn("npm", runArgs, { cwd, env: environment, stdio: ["ignore", "pipe", "pipe"] });
      trackChild(child);
      let output = "";
      const collect = (chunk: Buffer): void => {
        output = (output + chunk.toString("utf8")).slice(-64 * 1024);
      };
      child.stdout.on("data", collect);
      child.stderr.on("data", collect);
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`npm ${runArgs.join(" ")} did not finish in ${timeoutMs / 1000} s\n${output}`));
      }, timeoutMs);
      child.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve(output);
        else reject(new Error(`npm ${runArgs.join(" ")} exited with ${code ?? signal}\n${output}`));
      });
    });
  const version = (await run(["--version"], 30_000)).trim();
  return { output: await run(args, INSTALL_TIMEOUT_MS), version };
}

/** Apparent size (sum of file sizes) and disk usage (allocated blocks, hard links once), like `du`. */
async function measureTree(root: string): Promise<{ apparentBytes: number; diskBytes: number; files: number }> {
  let apparentBytes = 0;
  let diskBytes = 0;
  let files = 0;
  let visited = 0;
  const seen = new Set<string>();
  const stack: Array<{ path: string; depth: number }> = [{ path: root, depth: 0 }];
  while (stack.length > 0) {
    if (++visited > MAX_ENTRIES) throw new Error(`more than ${MAX_ENTRIES} entries under ${root}`);
    const { path, depth } = stack.pop() as { path: string; depth: number };
    const stats = await lstat(path);
    const inode = `${stats.dev}:${stats.ino}`;
    if (seen.has(inode)) continue;
    seen.add(inode);
    apparentBytes += stats.size;
    diskBytes += stats.blocks * 512;
    if (stats.isDirectory()) {
      if (depth >= MAX_DEPTH) throw new Error(`${path} is nested deeper than ${MAX_DEPTH}`);
      for (const name of await readdir(path)) stack.push({ path: join(path, name), depth: depth + 1 });
    } else {
      files += 1;
    }
  }
  return { apparentBytes, diskBytes, files };
}

/** Installed packages, from npm's hidden lockfile (node_modules/.package-lock.json). */
async function countPackages(nodeModules: string): Promise<number> {
  const hidden = JSON.parse(await readFile(join(nodeModules, ".package-lock.json"), "utf8")) as { packages?: Record<string, { link?: boolean }> };
  return Object.entries(hidden.packages ?? {}).filter(([key, entry]) => key.includes("node_modules/") && entry.link !== true).length;
}
