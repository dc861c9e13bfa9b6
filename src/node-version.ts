/**
 * The first thing `dist/index.js` does: refuse an old Node with NODE_TOO_OLD and the fix, before
 * anything that needs Node 24 (node:sqlite, process.execve, …) is imported — never a stack trace.
 *
 * This file must parse and run on Node 18: plain statements, types that erase, no imports beyond
 * node:process. `scripts/node24.mjs` says the same for `faraday` (bin/faraday.mjs) and npm's scripts.
 */

export const REQUIRED_NODE_MAJOR = 24;

/** The NODE_TOO_OLD line for `version` (e.g. "20.20.2"), or undefined when it is new enough. */
export function nodeTooOld(version: string, execPath: string): string | undefined {
  const major = Number(version.replace(/^v/, "").split(".")[0]) || 0;
  if (major >= REQUIRED_NODE_MAJOR) return undefined;
  return (
    `faraday: NODE_TOO_OLD: Faraday needs Node.js ${REQUIRED_NODE_MAJOR} or newer (node:sqlite, TypeScript type stripping); ` +
    `this is Node.js v${version.replace(/^v/, "")} (${execPath}). Fix: install Node.js ${REQUIRED_NODE_MAJOR} (nodejs.org, \`nvm install ${REQUIRED_NODE_MAJOR}\`), ` +
    `or, from the clone, use \`npm start\` / \`npm test\`: they fetch Node ${REQUIRED_NODE_MAJOR} from the npm registry by themselves.\n`
  );
}

/** Exits with status 1 and the NODE_TOO_OLD message when this Node is older than 24. */
export function exitIfNodeTooOld(): void {
  const message = nodeTooOld(process.versions.node, process.execPath);
  if (message === undefined) return;
  process.stderr.write(message);
  process.exit(1);
}
