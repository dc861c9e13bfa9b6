import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";
import { readFile } from "node:fs/promises";
import { isDeepStrictEqual } from "node:util";
import {
  validateConfig,
  loadConfigFile,
  restoreMaskedSecrets,
  fillWebhookSecret,
  structureProblems,
  maskSecrets,
  type ConfigState,
  type ConfigProblem,
} from "../config/index.ts";
import { backupFile, writeFileAtomic, type StatePaths } from "../state/index.ts";
import { FaradayError } from "../errors/index.ts";
import { assertNoRemoteCommands, readConfigOnDisk } from "./remote-commands.ts";

/** `openclaw.json` as it is on disk right now. */
export interface ConfigFileOnDisk {
  /** A hash of the file's content (of its JSON value when it parses; whitespace does not count). "none" when absent. */
  readonly version: string;
  readonly exists: boolean;
  /** The parsed file, when it is JSON. */
  readonly raw?: unknown;
  readonly parseError?: string;
}

/** Whether the file on disk is the one running, and what is wrong with it when it is not. */
export interface ConfigFileStatus {
  readonly version: string;
  readonly applied: boolean;
  /** Problems of the file on disk when a hand edit could not be applied (the running config stays). */
  readonly problems: readonly ConfigProblem[];
}

export type HandEditResult =
  | { readonly outcome: "unchanged" }
  | { readonly outcome: "applied"; readonly version: string; readonly warnings: readonly ConfigProblem[] }
  | { readonly outcome: "invalid"; readonly version: string; readonly problems: readonly ConfigProblem[] };

const MISSING_VERSION = "none";

/** The version of a config value: a short hash of its JSON (so re-indenting the file is no change). */
export function configVersion(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 16);
}

/** Read `openclaw.json` and its version. */
export async function readConfigFile(path: string): Promise<ConfigFileOnDisk> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { version: MISSING_VERSION, exists: false };
    return { version: `unreadable-${(error as NodeJS.ErrnoException).code ?? "error"}`, exists: true, parseError: `cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)}); check its permissions` };
  }
  try {
    const raw: unknown = JSON.parse(text.replace(/^\uFEFF/, ""));
    return { version: configVersion(raw), exists: true, raw };
  } catch (error) {
    return { version: createHash("sha256").update(text).digest("hex").slice(0, 16), exists: true, parseError: `not valid JSON: ${(error as Error).message}` };
  }
}

export type ConfigUpdateResult =
  | { readonly ok: true; readonly changed: boolean; readonly state: ConfigState }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[]; readonly warnings: readonly ConfigProblem[] };

/**
 * Owns the live config: the state loaded at boot and every replacement through the API.
 * A replacement is validated first, the previous good file is kept as `openclaw.json.last-good`,
 * the new one is written atomically, then `config-changed` fires so components can apply it.
 */
export class ConfigService extends EventEmitter<{ "config-changed": [ConfigState]; "file-status": [ConfigFileStatus] }> {
  #state: ConfigState;
  /** The version of the file the running config came from (undefined: none applies, setup mode). */
  #appliedVersion: string | undefined;
  /** Set while the file on disk is a hand edit that could not be applied. */
  #fileProblems: { version: string; problems: readonly ConfigProblem[] } | undefined;
  readonly #paths: StatePaths;
  readonly #variables: Readonly<Record<string, string | undefined>>;
  #writing: Promise<unknown> = Promise.resolve();

  constructor(initial: ConfigState, paths: StatePaths, variables: Readonly<Record<string, string | undefined>>) {
    super();
    this.#state = initial;
    this.#appliedVersion = initial.state === "valid" ? configVersion(initial.raw) : initial.state === "missing" ? MISSING_VERSION : undefined;
    this.#paths = paths;
    this.#variables = variables;
  }

  current(): ConfigState {
    return this.#state;
  }

  /** Whether the file on disk (as last seen) is the running one; its problems when not. */
  fileStatus(): ConfigFileStatus {
    if (this.#fileProblems) return { version: this.#fileProblems.version, applied: false, problems: this.#fileProblems.problems };
    return { version: this.#appliedVersion ?? MISSING_VERSION, applied: this.#appliedVersion !== undefined, problems: [] };
  }

  /** The file as on disk now, with whether it is the one applied (for GET /api/config). */
  async readFile(): Promise<ConfigFileOnDisk & { readonly applied: boolean }> {
    const disk = await readConfigFile(this.#paths.config);
    return { ...disk, applied: disk.version === this.#appliedVersion };
  }

  /**
   * The file changed on disk (a person edited it): apply it like a PUT /api/config when it is
   * valid (last-good copy of the running one first); otherwise keep the running config and
   * report its problems through `fileStatus()` and the `file-status` event. No remote-command
   * check: the file on disk is exactly what that check trusts.
   */
  applyFromDisk(): Promise<HandEditResult> {
    return this.#inTurn(() => this.#applyFromDisk());
  }

  async #applyFromDisk(): Promise<HandEditResult> {
    const disk = await readConfigFile(this.#paths.config);
    if (disk.version === this.#appliedVersion) {
      if (this.#fileProblems) {
        this.#fileProblems = undefined;
        this.emit("file-status", this.fileStatus());
      }
      return { outcome: "unchanged" };
    }
    if (this.#fileProblems?.version === disk.version) return { outcome: "invalid", version: disk.version, problems: this.#fileProblems.problems };
    const next: ConfigState | { state: "invalid"; problems: ConfigProblem[] } = !disk.exists
      ? { state: "invalid", problems: [{ path: "", message: "openclaw.json was removed; the gateway keeps running with the config it has (a copy is in openclaw.json.last-good)" }] }
      : disk.parseError !== undefined
        ? { state: "invalid", problems: [{ path: "", message: disk.parseError }] }
        : await validateConfig(disk.raw, this.#variables, this.#paths.config);
    if (next.state !== "valid") {
      this.#fileProblems = { version: disk.version, problems: next.problems };
      this.emit("file-status", this.fileStatus());
      return { outcome: "invalid", version: disk.version, problems: next.problems };
    }
    // The editor already replaced the file: the last-good copy is the config that was running.
    if (this.#state.state === "valid") await writeFileAtomic(this.#paths.configLastGood, JSON.stringify(this.#state.raw, null, 2) + "\n", { mode: 0o600 });
    this.#state = next;
    this.#appliedVersion = disk.version;
    this.#fileProblems = undefined;
    this.emit("config-changed", next);
    this.emit("file-status", this.fileStatus());
    return { outcome: "applied", version: disk.version, warnings: next.warnings };
  }

  /** The file's content as written (with `${env:…}` references), or undefined. */
  raw(): unknown {
    return "raw" in this.#state ? this.#state.raw : undefined;
  }

  /**
   * Validate, keep the last good file, write atomically, apply. Calls are serialised. Meant for
   * configs that arrive over HTTP: a new or changed program to run is refused (see
   * assertNoRemoteCommands) unless the file on disk allows it.
   * `baseVersion` (the version the editor started from, from GET /api/config): when the file
   * on disk has another version now, nothing is written. Without it the save goes ahead (scripts).
   * @throws FaradayError CONFIG_COMMAND_FORBIDDEN, CONFIG_CHANGED_ON_DISK (details: the file's version and content, masked)
   */
  update(incoming: unknown, options: { baseVersion?: string } = {}): Promise<ConfigUpdateResult> {
    return this.#inTurn(() => this.#update(incoming, options.baseVersion));
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
    this.#appliedVersion = this.#state.state === "valid" ? configVersion(this.#state.raw) : this.#state.state === "missing" ? MISSING_VERSION : undefined;
    this.#fileProblems = undefined;
    this.emit("config-changed", this.#state);
    return this.#state;
  }

  async #update(incoming: unknown, baseVersion: string | undefined): Promise<ConfigUpdateResult> {
    const disk = await readConfigFile(this.#paths.config);
    if (baseVersion !== undefined && baseVersion !== disk.version) {
      throw new FaradayError(
        "CONFIG_CHANGED_ON_DISK",
        "openclaw.json changed on disk after you opened it (someone edited the file); nothing was written. Compare the two, then load the file again and redo your change",
        { details: { baseVersion, version: disk.version, onDisk: disk.raw === undefined ? null : maskSecrets(disk.raw), ...(disk.parseError ? { parseError: disk.parseError } : {}) } },
      );
    }
    // Before restoreMaskedSecrets, which walks `incoming` recursively.
    const structural = structureProblems(incoming);
    if (structural.length > 0) return { ok: false, problems: structural, warnings: [] };
    const raw = fillWebhookSecret(restoreMaskedSecrets(incoming, this.raw()), this.raw());
    assertNoRemoteCommands(raw, await readConfigOnDisk(this.#paths.config));
    const next = await validateConfig(raw, this.#variables, this.#paths.config);
    if (next.state !== "valid") return { ok: false, problems: next.problems, warnings: next.warnings };
    if (this.#state.state === "valid" && isDeepStrictEqual(this.#state.raw, raw) && disk.version === this.#appliedVersion) {
      return { ok: true, changed: false, state: this.#state };
    }
    if (this.#state.state === "valid") await backupFile(this.#paths.config, this.#paths.configLastGood);
    await writeFileAtomic(this.#paths.config, JSON.stringify(raw, null, 2) + "\n", { mode: 0o600 });
    this.#state = next;
    this.#appliedVersion = configVersion(raw);
    const hadProblems = this.#fileProblems !== undefined;
    this.#fileProblems = undefined;
    this.emit("config-changed", next);
    if (hadProblems) this.emit("file-status", this.fileStatus());
    return { ok: true, changed: true, state: next };
  }
}
