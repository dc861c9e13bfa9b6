import { EventEmitter } from "node:events";
import { isDeepStrictEqual } from "node:util";
import {
  validateConfig,
  loadConfigFile,
  restoreMaskedSecrets,
  fillWebhookSecret,
  structureProblems,
  type ConfigState,
  type ConfigProblem,
} from "../config/index.ts";
import { backupFile, writeFileAtomic, type StatePaths } from "../state/index.ts";
import { assertNoRemoteCommands, readConfigOnDisk } from "./remote-commands.ts";

export type ConfigUpdateResult =
  | { readonly ok: true; readonly changed: boolean; readonly state: ConfigState }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[]; readonly warnings: readonly ConfigProblem[] };

/**
 * Owns the live config: the state loaded at boot and every replacement through the API.
 * A replacement is validated first, the previous good file is kept as `openclaw.json.last-good`,
 * the new one is written atomically, then `config-changed` fires so components can apply it.
 */
export class ConfigService extends EventEmitter<{ "config-changed": [ConfigState] }> {
  #state: ConfigState;
  readonly #paths: StatePaths;
  readonly #variables: Readonly<Record<string, string | undefined>>;
  #writing: Promise<unknown> = Promise.resolve();

  constructor(initial: ConfigState, paths: StatePaths, variables: Readonly<Record<string, string | undefined>>) {
    super();
    this.#state = initial;
    this.#paths = paths;
    this.#variables = variables;
  }

  current(): ConfigState {
    return this.#state;
  }

  /** The file's content as written (with `${env:…}` references), or undefined. */
  raw(): unknown {
    return "raw" in this.#state ? this.#state.raw : undefined;
  }

  /**
   * Validate, keep the last good file, write atomically, apply. Calls are serialised. Meant for
   * configs that arrive over HTTP: a new or changed program to run is refused (see
   * assertNoRemoteCommands) unless the file on disk allows it.
   * @throws FaradayError CONFIG_COMMAND_FORBIDDEN
   */
  update(incoming: unknown): Promise<ConfigUpdateResult> {
    return this.#inTurn(() => this.#update(incoming));
  }

  /**
   * Copy the file as loaded to the last-good copy (at start-up, when it is valid), in turn with
   * updates: a PUT /api/config right after start must not race it (both wrote the same copy).
   */
  keepLastGood(): Promise<void> {
    return this.#inTurn(async () => {
      if (this.#state.state === "valid") await backupFile(this.#paths.config, this.#paths.configLastGood);
    });
  }

  /** Runs `work` after every file operation queued before it (one at a time, in order). */
  #inTurn<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#writing.then(work);
    this.#writing = run.catch(() => {});
    return run;
  }

  /** Re-read the file from disk (e.g. after a human edited it). */
  async reload(): Promise<ConfigState> {
    this.#state = await loadConfigFile(this.#paths.config, this.#variables);
    this.emit("config-changed", this.#state);
    return this.#state;
  }

  async #update(incoming: unknown): Promise<ConfigUpdateResult> {
    // Before restoreMaskedSecrets, which walks `incoming` recursively.
    const structural = structureProblems(incoming);
    if (structural.length > 0) return { ok: false, problems: structural, warnings: [] };
    const raw = fillWebhookSecret(restoreMaskedSecrets(incoming, this.raw()), this.raw());
    assertNoRemoteCommands(raw, await readConfigOnDisk(this.#paths.config));
    const next = await validateConfig(raw, this.#variables, this.#paths.config);
    if (next.state !== "valid") return { ok: false, problems: next.problems, warnings: next.warnings };
    if (this.#state.state === "valid" && isDeepStrictEqual(this.#state.raw, raw)) {
      return { ok: true, changed: false, state: this.#state };
    }
    if (this.#state.state === "valid") await backupFile(this.#paths.config, this.#paths.configLastGood);
    await writeFileAtomic(this.#paths.config, JSON.stringify(raw, null, 2) + "\n", { mode: 0o600 });
    this.#state = next;
    this.emit("config-changed", next);
    return { ok: true, changed: true, state: next };
  }
}
