/**
 * `node --import tests/helpers/record-imports.ts …`: appends every bare package name the process
 * resolves to the file named by FARADAY_TEST_RECORD_IMPORTS, so a test can prove a library was
 * (or was not) loaded — e.g. that Baileys stays out of a gateway without WhatsApp.
 */
import { appendFileSync } from "node:fs";
import { registerHooks } from "node:module";

const file = process.env.FARADAY_TEST_RECORD_IMPORTS;
if (file) {
  const seen = new Set<string>();
  registerHooks({
    resolve(specifier, context, nextResolve) {
      if (!specifier.startsWith(".") && !specifier.startsWith("node:") && !specifier.startsWith("file:") && !specifier.startsWith("/") && !seen.has(specifier)) {
        seen.add(specifier);
        appendFileSync(file, `${specifier}\n`);
      }
      return nextResolve(specifier, context);
    },
  });
}
