#!/usr/bin/env node
/**
 * `node scripts/run-node24.mjs [node options] SCRIPT [ARGS]` — what package.json's scripts run,
 * so `npm start` / `npm test` / `npm run bench` work on a machine whose `node` is 18, 20 or 22.
 *
 * On Node 24 or newer it runs SCRIPT in this very process (no second Node start-up). On an older
 * Node it finds Node 24 in the cache (or installs it from the npm registry, see node24.mjs), says
 * so in one line on stderr, and runs the same arguments with it as a child — with that Node's
 * folder first on PATH, so anything the child starts as `node` is Node 24 too — passing signals
 * on and exiting with the child's status.
 *
 * Plain JavaScript that Node 18 parses: nothing newer than Node 18 may be used here.
 */
import { spawn } from "node:child_process";
import { delimiter, dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { cachedNodeVersion, findOrInstallNode24, nodeMajor, REQUIRED_NODE_MAJOR } from "./node24.mjs";

const args = process.argv.slice(2);

if (args.length === 0) {
  process.stderr.write("usage: node scripts/run-node24.mjs [node options] SCRIPT [ARGS]\n");
  process.exit(2);
}

if (nodeMajor(process.versions.node) >= REQUIRED_NODE_MAJOR && !args[0].startsWith("-")) {
  // Already new enough and nothing for node's own command line: run the script here, as if it
  // had been started directly (`node SCRIPT ARGS`).
  const script = resolve(args[0]);
  process.argv = [process.execPath, script, ...args.slice(1)];
  await import(pathToFileURL(script).href);
} else {
  let node = process.execPath;
  const environment = { ...process.env };
  if (nodeMajor(process.versions.node) < REQUIRED_NODE_MAJOR) {
    try {
      node = findOrInstallNode24();
    } catch (error) {
      process.stderr.write(`faraday: NODE_TOO_OLD: this is Node.js v${process.versions.node} and Faraday needs ${REQUIRED_NODE_MAJOR}: ${error.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`faraday: node v${process.versions.node} is older than ${REQUIRED_NODE_MAJOR}: running with Node.js v${cachedNodeVersion(node) ?? REQUIRED_NODE_MAJOR} from ${dirname(node)}\n`);
    environment.PATH = `${dirname(node)}${delimiter}${environment.PATH ?? ""}`;
  }
  const child = spawn(node, args, { stdio: "inherit", env: environment });
  // Signals are passed on. A signal sent to the whole process group (a terminal's Ctrl-C, `kill
  // -TERM -PGID`) reaches the child directly as well; the gateway treats the same signal twice
  // within a second as one, so that is harmless.
  const forward = (signal) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, forward);
  // `sh -c` (npm's script shell) does not pass signals on: `kill NPM_PID` ends npm and the shell
  // and leaves us orphaned. Noticed by our parent changing; then the child is stopped like that.
  const parent = process.ppid;
  const orphanWatch = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(orphanWatch);
      forward("SIGTERM");
    }
  }, 1000);
  orphanWatch.unref();
  child.on("error", (error) => {
    process.stderr.write(`faraday: could not run ${node}: ${error.message}\n`);
    process.exit(1);
  });
  child.on("exit", (code, signal) => {
    if (signal) {
      for (const name of ["SIGINT", "SIGTERM", "SIGHUP"]) process.removeAllListeners(name);
      process.kill(process.pid, signal);
    } else {
      process.exit(code ?? 1);
    }
  });
}
