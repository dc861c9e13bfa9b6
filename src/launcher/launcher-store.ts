import { mkdir, readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "../state/index.ts";

/** A result the launcher remembers about an instance's last launch or update (never a secret). */
export interface LastRun {
  readonly action: "launch" | "update";
  readonly ok: boolean;
  readonly at: string;
  readonly error?: { readonly code: string; readonly message: string };
}

/** One instance the launcher started. No secrets: the gateway token stays in the deploy store. */
export interface LaunchedInstance {
  readonly app: string;
  /** The Fly organisation it was created in (absent for instances launched before it was asked). */
  readonly org?: string;
  readonly region: string;
  readonly memoryMb: number;
  readonly url: string;
  readonly createdAt: string;
  readonly lastRun?: LastRun;
}

interface LauncherFile {
  readonly version: 1;
  readonly instances: LaunchedInstance[];
}

/** `$FARADAY_HOME`, default `~/.faraday`: the same root the deploy store uses. */
export function faradayHome(env: Readonly<Record<string, string | undefined>>): string {
  return env.FARADAY_HOME ?? join(env.HOME ?? homedir(), ".faraday");
}

/**
 * The launcher's list of instances in `$FARADAY_HOME/launcher.json` (0600, written atomically,
 * one write at a time).
 */
export class LauncherStore {
  readonly home: string;
  readonly path: string;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(home: string) {
    this.home = home;
    this.path = join(home, "launcher.json");
  }

  async list(): Promise<LaunchedInstance[]> {
    try {
      const parsed = JSON.parse(await readFile(this.path, "utf8")) as Partial<LauncherFile>;
      return Array.isArray(parsed.instances) ? parsed.instances : [];
    } catch {
      return [];
    }
  }

  async get(app: string): Promise<LaunchedInstance | undefined> {
    return (await this.list()).find((instance) => instance.app === app);
  }

  /** Insert or replace the instance named `instance.app`, keeping its first `createdAt`. */
  upsert(instance: LaunchedInstance): Promise<void> {
    return this.#change((instances) => {
      const index = instances.findIndex((entry) => entry.app === instance.app);
      if (index === -1) return [...instances, instance];
      const next = [...instances];
      next[index] = { ...instance, createdAt: instances[index]!.createdAt };
      return next;
    });
  }

  recordRun(app: string, lastRun: LastRun): Promise<void> {
    return this.#change((instances) => instances.map((entry) => (entry.app === app ? { ...entry, lastRun } : entry)));
  }

  remove(app: string): Promise<void> {
    return this.#change((instances) => instances.filter((entry) => entry.app !== app));
  }

  #change(mutate: (instances: LaunchedInstance[]) => LaunchedInstance[]): Promise<void> {
    const run = this.#queue.then(async () => {
      const next = mutate(await this.list());
      await mkdir(this.home, { recursive: true, mode: 0o700 });
      const file: LauncherFile = { version: 1, instances: next };
      await writeFileAtomic(this.path, JSON.stringify(file, null, 2) + "\n", { mode: 0o600 });
    });
    this.#queue = run.catch(() => {});
    return run;
  }
}
