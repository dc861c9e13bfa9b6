#!/usr/bin/env node
/**
 * Entry point: `faraday …` / `node dist/index.js …`. Kept tiny so the gateway starts fast:
 * everything else is imported by the command that needs it.
 */
import module from "node:module";
import { exitIfNodeTooOld } from "./node-version.ts";

// Before anything that needs Node 24 is loaded: an old Node gets NODE_TOO_OLD, not a stack trace.
exitIfNodeTooOld();

// Cache V8's compiled code between runs (Node 22.1+): cuts start-up by a third.
// FARADAY_COMPILE_CACHE=off disables it; a different directory can be named instead.
const cacheSetting = process.env.FARADAY_COMPILE_CACHE;
if (cacheSetting !== "off") module.enableCompileCache?.(cacheSetting || undefined);

// The gateway re-executes itself (same PID) with V8 flags NODE_OPTIONS cannot carry, from
// FARADAY_NODE_FLAGS (fly.toml sets it); other commands are short-lived and run as they are.
if (process.argv[2] === "gateway" && process.env.FARADAY_NODE_FLAGS) (await import("./node-flags.ts")).applyNodeFlags();

const { runCli } = await import("./cli/program.ts");
await runCli(process.argv);
