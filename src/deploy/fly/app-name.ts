import { FaradayError } from "../../errors/index.ts";

/** Fly app names: lowercase letters, digits and dashes, not starting or ending with a dash. */
const APP_NAME = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

/**
 * An app name Fly (and a file name under ~/.faraday/deploys) can have.
 * @throws FaradayError FLY_APP_NAME_INVALID naming the rule.
 */
export function checkFlyAppName(value: unknown): string {
  if (typeof value !== "string" || !APP_NAME.test(value)) {
    throw new FaradayError("FLY_APP_NAME_INVALID", `app name ${JSON.stringify(value ?? "")}: use 3–63 lowercase letters, digits and dashes, not starting or ending with a dash (Fly app names are global)`);
  }
  return value;
}
