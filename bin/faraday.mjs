#!/usr/bin/env node
/**
 * The `faraday` command (package.json "bin"): `npm link` / `npm install -g .` from a clone, or
 * `npx faraday` inside it. Plain JavaScript that Node 18 parses, so an old Node gets
 * NODE_TOO_OLD and the fix instead of a stack trace.
 *
 * From a clone it runs the TypeScript sources directly (Node 24 strips the types), so the command
 * works without a build and never runs a stale `dist/`; an installed copy without `src/` runs
 * the compiled `dist/index.js`.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { nodeMajor, nodeTooOldMessage, REQUIRED_NODE_MAJOR } from "../scripts/node24.mjs";

if (nodeMajor(process.versions.node) < REQUIRED_NODE_MAJOR) {
  process.stderr.write(nodeTooOldMessage());
  process.exit(1);
}

const source = new URL("../src/index.ts", import.meta.url);
await import(existsSync(fileURLToPath(source)) ? source.href : new URL("../dist/index.js", import.meta.url).href);
