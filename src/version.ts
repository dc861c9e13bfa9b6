import { readFileSync } from "node:fs";

let cached: string | undefined;

/** Faraday's version, from package.json (one level above both src/ and dist/). */
export function faradayVersion(): string {
  if (cached === undefined) {
    try {
      cached = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
    } catch {
      cached = "0.0.0";
    }
  }
  return cached;
}
