import type { Logger } from "../../logging/index.ts";

/**
 * libsignal (under Baileys) writes session records — private keys included — to the console
 * ("Closing session: SessionEntry {… privKey …}"). Our logs must never carry key material, so
 * its known lines are caught here and logged as one short debug line without their objects.
 * Nothing else in the gateway writes to the console (everything goes through pino).
 */
const LIBSIGNAL_LINES = /^(Closing session|Opening session|Removing old closed session|Session already (closed|open)|Closing open session|Closing stale open session|Session error|Failed to decrypt|Decrypted message with closed session|Migrating session|V1 session storage|WARNING: Expected pubkey|Unhandled bucket type)/;

let installed = false;

export function quietLibsignal(logger: Logger): void {
  if (installed) return;
  installed = true;
  for (const method of ["log", "info", "warn", "error", "debug"] as const) {
    const original = console[method].bind(console);
    console[method] = (...args: unknown[]) => {
      if (typeof args[0] === "string" && LIBSIGNAL_LINES.test(args[0])) {
        logger.debug({ channel: "whatsapp", lib: "libsignal" }, args[0].split(/[:\n]/, 1)[0]!.slice(0, 80));
        return;
      }
      original(...args);
    };
  }
}
