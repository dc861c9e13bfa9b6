import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

/**
 * An installed Node older than 24 (FARADAY_TEST_OLD_NODE, else /usr/bin/node — Debian's Node 20
 * on this machine — or /usr/local/bin/node), or undefined when there is none.
 */
export function findOldNode(): string | undefined {
  for (const candidate of [process.env.FARADAY_TEST_OLD_NODE, "/usr/bin/node", "/usr/local/bin/node"]) {
    if (!candidate || !existsSync(candidate)) continue;
    try {
      const version = execFileSync(candidate, ["--version"], { encoding: "utf8" }).trim();
      if (Number(version.replace(/^v/, "").split(".")[0]) < 24) return candidate;
    } catch {
      // not runnable
    }
  }
  return undefined;
}
