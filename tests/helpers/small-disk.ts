/**
 * A small real file system for disk-full tests: a tmpfs mounted for one test. Mounting needs
 * root (CI runs as root on a fresh Debian machine); elsewhere the test is skipped with the reason.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, open, rm, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";

export interface SmallDisk {
  readonly path: string;
  /** Write a filler file until the file system says ENOSPC. */
  fill(): Promise<void>;
  /** Remove the filler: the space returns. */
  free(): Promise<void>;
}

/** Mount a tmpfs of `sizeBytes` for this test, or skip the test (returning undefined) when that is impossible here. */
export async function smallDisk(t: TestContext, sizeBytes: number): Promise<SmallDisk | undefined> {
  if (process.platform !== "linux" || process.getuid?.() !== 0) {
    t.skip("needs root on Linux to mount a small tmpfs (CI runs as root)");
    return undefined;
  }
  const path = await mkdtemp(join(tmpdir(), "faraday-small-disk-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeBytes},mode=0700`, "tmpfs", path], { stdio: "pipe" });
  } catch (error) {
    await rm(path, { recursive: true, force: true });
    t.skip(`cannot mount a tmpfs here (${String((error as { stderr?: Buffer }).stderr ?? error).trim()})`);
    return undefined;
  }
  t.after(async () => {
    // Lazy: a gateway killed at the end of the test may still hold files open for a moment.
    execFileSync("umount", ["-l", path]);
    await rm(path, { recursive: true, force: true });
  });
  const filler = join(path, "filler");
  return {
    path,
    async fill() {
      const handle = await open(filler, "a");
      const chunk = Buffer.alloc(64 * 1024, 1);
      try {
        // Bounded: far more chunks than any test disk holds.
        for (let index = 0; index < 100_000; index++) await handle.write(chunk);
        throw new Error("the small disk never filled up");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
      } finally {
        await handle.close();
      }
      // The last partial block too.
      const tail = await open(filler, "a");
      try {
        for (let index = 0; index < 4096; index++) await tail.write(Buffer.alloc(1));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
      } finally {
        await tail.close();
      }
    },
    async free() {
      await unlink(filler);
    },
  };
}
