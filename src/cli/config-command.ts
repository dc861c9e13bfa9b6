import { resolve } from "node:path";
import { configPath, formatProblems, loadConfigFile, loadConfigJsonSchema, readEnvironment, resolveStateDir } from "../config/index.ts";
import { printJson } from "./output.ts";

/** `faraday config validate [--json] [--file PATH]`: exit 0 when valid, 2 otherwise. */
export async function runConfigValidate(options: { stateDir?: string; file?: string; json?: boolean }): Promise<number> {
  const environment = readEnvironment();
  const path = options.file ? resolve(options.file) : configPath(resolveStateDir(options.stateDir, environment));
  const config = await loadConfigFile(path, environment.variables);
  const valid = config.state === "valid";
  if (options.json) {
    printJson({ path, valid, state: config.state, problems: config.problems, warnings: config.warnings });
  } else if (config.state === "missing") {
    process.stderr.write(`faraday: CONFIG_MISSING: no config at ${path}; create it, or pass --file\n`);
  } else {
    for (const warning of config.warnings) process.stderr.write(`warning: ${warning.path}: ${warning.message}\n`);
    if (valid) process.stdout.write(`${path} is valid\n`);
    else process.stderr.write(`faraday: CONFIG_INVALID: ${path} has ${config.problems.length} problem(s):\n${formatProblems(config.problems)}\n`);
  }
  return valid ? 0 : 2;
}

/** `faraday config schema`: the JSON Schema of openclaw.json on stdout. */
export async function runConfigSchema(): Promise<number> {
  printJson(await loadConfigJsonSchema());
  return 0;
}
