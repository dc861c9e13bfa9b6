import type { FastifyInstance } from "fastify";
import { FaradayError } from "../errors/index.ts";
import type { Logger } from "../logging/index.ts";
import { DISK_FULL_REPLY, isDiskFull, type Database } from "../state/index.ts";
import type { ComponentRegistry } from "./components.ts";

/** The `database` component while the disk is full: `/readyz` 503 with DISK_FULL and the fix. */
export function diskFullComponent(stateDir: string, consequence: string) {
  return {
    state: "disk_full",
    ready: false,
    reason:
      `DISK_FULL: the state volume (${stateDir}) is full, so ${consequence}; what is already stored is kept. ` +
      "Grow it: on Fly, `fly volumes list` then `fly volumes extend <volume-id> --size <GB>` (no restart needed on current Machines); " +
      "elsewhere free or add space. Writing resumes by itself within seconds of space returning",
    details: { code: "DISK_FULL" },
  } as const;
}

/**
 * The web chat while the database cannot be opened: every message gets the one sentence, in the
 * shape of a turn (`errorCode: "DISK_FULL"`), so the dashboard's chat shows it.
 */
export function diskFullChatRoute(app: FastifyInstance): void {
  app.post("/api/chat", async () => ({
    sessionId: "", agentId: "", reply: DISK_FULL_REPLY, toolCalls: [],
    usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0 }, model: null, errorCode: "DISK_FULL",
  }));
}

export interface ServeWhileDiskFullInput {
  readonly error: unknown;
  /** Opens the database; throws while the disk is still full. */
  readonly open: () => Promise<Database>;
  /** The app to serve meanwhile: health, readiness, status and config, no capabilities. */
  readonly buildApp: () => Promise<FastifyInstance>;
  readonly port: number;
  readonly host: string;
  readonly stateDir: string;
  readonly components: ComponentRegistry;
  readonly logger: Logger;
  readonly retryMs?: number;
  /** Aborted when the gateway is asked to stop while it waits. */
  readonly signal?: AbortSignal;
}

/**
 * Start-up on a full disk: SQLite cannot even create the files it needs to read the database
 * (`-shm`, `-wal`), so instead of exiting (a crash loop on Fly) serve in setup mode — `/healthz`
 * 200, `/readyz` 503 DISK_FULL saying how to grow the volume — and retry opening the database
 * every few seconds. Resolves once it opens with the database, the port served, and `close`
 * (the caller closes the setup app right before it listens on the same port, so the gap without
 * a listener is as short as can be), or `undefined` when stopped meanwhile.
 */
export async function serveWhileDiskFull(input: ServeWhileDiskFullInput): Promise<{ database: Database; port: number; close: () => Promise<void> } | undefined> {
  input.components.set("database", diskFullComponent(input.stateDir, "the database cannot be opened and nothing new can be saved"));
  input.logger.error({ code: "DISK_FULL", err: (input.error as Error).message }, "the state volume is full: serving in setup mode until there is space (grow it with `fly volumes extend`)");
  const app = await input.buildApp();
  try {
    await app.listen({ port: input.port, host: input.host });
  } catch (error) {
    await app.close();
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new FaradayError("PORT_IN_USE", `port ${input.port} on ${input.host} is already in use; pick another with --port or OPENCLAW_GATEWAY_PORT, or stop what holds it`, { cause: error });
    }
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : input.port;
  const localHost = input.host === "0.0.0.0" ? "127.0.0.1" : input.host === "::" ? "[::1]" : input.host.includes(":") ? `[${input.host}]` : input.host;
  input.logger.info({ url: `http://${localHost}:${port}`, bind: input.host, port, mode: "disk_full" }, "gateway listening");
  let handedOver = false;
  try {
    for (;;) {
      const stopped = await new Promise<boolean>((resolve) => {
        if (input.signal?.aborted) return resolve(true);
        const timer = setTimeout(() => {
          input.signal?.removeEventListener("abort", onAbort);
          resolve(false);
        }, input.retryMs ?? 2_000);
        const onAbort = () => {
          clearTimeout(timer);
          resolve(true);
        };
        input.signal?.addEventListener("abort", onAbort, { once: true });
      });
      if (stopped) return undefined;
      try {
        const database = await input.open();
        input.logger.info("the state volume has space again: starting normally");
        handedOver = true;
        return { database, port, close: () => app.close() };
      } catch (error) {
        if (!isDiskFull(error)) throw error;
      }
    }
  } finally {
    if (!handedOver) await app.close();
  }
}
