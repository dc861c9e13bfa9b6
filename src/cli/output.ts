import { FaradayError } from "../errors/index.ts";

/** Print a value as one JSON document on stdout (the `--json` contract). */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

/**
 * Report a failure and return the exit code: `faraday: CODE: message` on stderr, or the wire
 * shape `{error:{code,message}}` on stdout with --json.
 */
export function reportError(error: unknown, json = false): number {
  const known = error instanceof FaradayError ? error : undefined;
  const code = known?.code ?? "INTERNAL";
  const message = known ? known.message : `unexpected error: ${(error as Error)?.stack ?? String(error)}`;
  if (json) printJson({ error: { code, message, ...(known?.details ? { details: known.details } : {}) } });
  else process.stderr.write(`faraday: ${code}: ${message}\n`);
  return known?.exitCode ?? 1;
}
