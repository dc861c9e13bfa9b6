import { createHash } from "node:crypto";
import { FaradayError } from "../../errors/index.ts";

/** `flyctl secrets set NAME=-` reads at most this many bytes of stdin (flyctl internal/command/secrets/set.go). */
export const MAX_SECRET_BYTES = 64 * 1024;

/** Go's unicode.IsSpace set: what flyctl's strings.TrimSpace removes around a value read from stdin. */
const SURROUNDING_SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/;

/**
 * Refuse a value Fly cannot store exactly through `secrets set NAME=-`: flyctl trims surrounding
 * whitespace (helpers/stdin.go ReadStdin) and refuses more than 64 KiB; a lone UTF-16 surrogate
 * cannot be written as UTF-8 at all. Never changes a value silently.
 * @throws FaradayError DEPLOY_SECRET_INVALID naming the secret (never its value).
 */
export function checkSecretValue(name: string, value: string): void {
  if (value === "") throw new FaradayError("DEPLOY_SECRET_INVALID", `${name} is empty: give it a value, or remove it`);
  if (SURROUNDING_SPACE.test(value)) {
    throw new FaradayError("DEPLOY_SECRET_INVALID", `${name} starts or ends with whitespace (a space, tab or line break), which Fly would strip (flyctl trims secret values it reads from stdin): remove the whitespace from the value`);
  }
  const bytes = Buffer.byteLength(value, "utf8");
  if (bytes > MAX_SECRET_BYTES) throw new FaradayError("DEPLOY_SECRET_INVALID", `${name} is ${bytes} bytes; flyctl takes secret values up to ${MAX_SECRET_BYTES} bytes: shorten it or keep it in a file on the volume`);
  if (!value.isWellFormed()) throw new FaradayError("DEPLOY_SECRET_INVALID", `${name} is not valid Unicode text (a broken surrogate pair): copy the value again`);
}

/** What the deploy record keeps per secret to notice a change: sha256 of the value, hex. */
export function secretHash(value: string): string {
  return createHash("sha256").update(value, "utf8").digest("hex");
}
