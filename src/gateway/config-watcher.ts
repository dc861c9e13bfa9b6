import { watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";

export interface ConfigWatcherOptions {
  /** The config file; its directory is watched, since editors replace the file by a rename. */
  readonly path: string;
  /** Runs once the file has been quiet for `debounceMs` after a change. */
  readonly onChange: () => void;
  readonly debounceMs?: number;
  /** Injectable timers (tests use node:test's mock timers or their own clock). */
  readonly setTimer?: (callback: () => void, ms: number) => unknown;
  readonly clearTimer?: (handle: unknown) => void;
  /** Injectable for tests: defaults to node:fs `watch`. */
  readonly watchDirectory?: (directory: string, listener: (event: string, filename: string | null) => void) => Pick<FSWatcher, "close">;
  /** A watcher that fails (the directory vanished, too many watches): logged by the caller. */
  readonly onError?: (error: Error) => void;
}

export const DEFAULT_CONFIG_DEBOUNCE_MS = 250;

/**
 * Watch `openclaw.json` for hand edits: fs.watch on its directory (an editor's atomic save
 * renames a temp file over it, which a watch on the file itself would lose), events for other
 * names ignored, bursts debounced into one `onChange`. Returns a function that stops watching.
 */
export function watchConfigFile(options: ConfigWatcherOptions): () => void {
  const name = basename(options.path);
  const debounceMs = options.debounceMs ?? DEFAULT_CONFIG_DEBOUNCE_MS;
  const setTimer = options.setTimer ?? ((callback: () => void, ms: number) => setTimeout(callback, ms).unref());
  const clearTimer = options.clearTimer ?? ((handle: unknown) => clearTimeout(handle as NodeJS.Timeout));
  let pending: unknown;
  let closed = false;
  const watchDirectory = options.watchDirectory ?? ((directory, listener) => {
    const watcher = watch(directory, { persistent: false }, listener);
    watcher.on("error", (error) => options.onError?.(error));
    return watcher;
  });
  const watcher = watchDirectory(dirname(options.path), (_event, filename) => {
    // Some platforms give no name: then any change in the directory might be ours.
    if (closed || (filename !== null && filename !== name)) return;
    if (pending !== undefined) clearTimer(pending);
    pending = setTimer(() => {
      pending = undefined;
      if (!closed) options.onChange();
    }, debounceMs);
  });
  return () => {
    closed = true;
    if (pending !== undefined) clearTimer(pending);
    watcher.close();
  };
}
