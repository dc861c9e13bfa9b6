import assert from "node:assert/strict";
import { test } from "node:test";
import { watchConfigFile } from "../../src/gateway/config-watcher.ts";

test("the config watcher ignores other files in the directory and turns a burst of events (an editor's temp file + rename) into one change", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  let emit: (event: string, filename: string | null) => void = () => {};
  let closed = false;
  const watchedDirectories: string[] = [];
  let changes = 0;
  const stop = watchConfigFile({
    path: "/state/openclaw.json",
    debounceMs: 250,
    onChange: () => changes++,
    setTimer: (callback, ms) => setTimeout(callback, ms),
    clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
    watchDirectory: (directory, listener) => {
      watchedDirectories.push(directory);
      emit = listener;
      return { close: () => (closed = true) };
    },
  });
  assert.deepEqual(watchedDirectories, ["/state"], "the directory is watched, not the file");
  emit("change", "openclaw.json.last-good");
  emit("rename", "faraday.sqlite-wal");
  t.mock.timers.tick(1_000);
  assert.equal(changes, 0, "other files are not the config");
  emit("rename", "openclaw.json");
  t.mock.timers.tick(100);
  emit("change", "openclaw.json");
  t.mock.timers.tick(249);
  assert.equal(changes, 0, "still inside the quiet period");
  t.mock.timers.tick(1);
  assert.equal(changes, 1);
  emit("change", null);
  t.mock.timers.tick(250);
  assert.equal(changes, 2, "an event without a name may be the config");
  emit("change", "openclaw.json");
  stop();
  t.mock.timers.tick(1_000);
  assert.equal(changes, 2, "nothing fires after stop");
  assert.equal(closed, true);
});
