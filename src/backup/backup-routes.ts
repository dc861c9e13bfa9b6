import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { Transform, type Readable } from "node:stream";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { FaradayError, isFaradayError } from "../errors/index.ts";
import type { GatewayExtension } from "../gateway/extension.ts";
import { sendError } from "../http/reply-error.ts";

/** `.restore` in the state dir (restore-backup.ts's RESTORE_DIR; not imported, so start-up loads neither module). */
const RESTORE_DIR = ".restore";
const restorePending = (stateDir: string) => existsSync(join(stateDir, RESTORE_DIR, "staging", ".ready"));

/** Default bound on an uploaded (compressed) backup; `FARADAY_RESTORE_MAX_BYTES` changes it. */
export const DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024 ** 3;

const STATUS: Partial<Record<string, number>> = { BACKUP_INVALID: 400, BACKUP_TOO_LARGE: 413, BACKUP_NOT_ALLOWED: 403, RESTORE_IN_PROGRESS: 409 };

/** `mcp.servers.<name>` entries that run a program, as comparable strings. */
function programs(config: unknown): Set<string> {
  const servers = (config as { mcp?: { servers?: Record<string, { command?: unknown; args?: unknown }> } } | null)?.mcp?.servers;
  const found = new Set<string>();
  if (!servers || typeof servers !== "object") return found;
  for (const [name, server] of Object.entries(servers)) {
    if (server && typeof server === "object" && server.command !== undefined) found.add(`${name}: ${JSON.stringify([server.command, server.args ?? []])}`);
  }
  return found;
}

/** Counts the uploaded bytes and stops the upload once it passes the bound. */
function bounded(source: Readable, maxBytes: number): Readable {
  let seen = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > maxBytes) {
        callback(new FaradayError("BACKUP_TOO_LARGE", `the upload is larger than ${Math.round(maxBytes / 1024 ** 2)} MiB, the most this gateway accepts (FARADAY_RESTORE_MAX_BYTES)`));
        return;
      }
      callback(null, chunk);
    },
  });
  source.on("error", (error) => counter.destroy(error));
  return source.pipe(counter);
}

/**
 * `GET /api/backup` streams the same archive as `faraday backup create` (`?withoutSecrets=1`
 * leaves secrets out). `POST /api/backup/restore` takes an archive (the body, `application/gzip`),
 * checks it completely and stages it; the gateway swaps it in at its next start, before it opens
 * the database. `DELETE /api/backup/restore` drops a staged one. All under `/api/` auth.
 */
export const backupExtension: GatewayExtension = {
  name: "backup",
  async setup(context) {
    const stateDir = context.paths.stateDir;
    const configured = Number(context.environment.variables.FARADAY_RESTORE_MAX_BYTES);
    const maxUploadBytes = Number.isSafeInteger(configured) && configured > 0 ? configured : DEFAULT_MAX_UPLOAD_BYTES;
    let staging = false;
    const plugin = (app: FastifyInstance) => {
      for (const type of ["application/gzip", "application/x-gzip", "application/octet-stream"]) {
        // The body stays a stream: a backup can be larger than memory.
        app.addContentTypeParser(type, (_request, payload, done) => done(null, payload));
      }

      app.get("/api/backup", async (request: FastifyRequest<{ Querystring: { withoutSecrets?: string } }>, reply) => {
        const withoutSecrets = ["1", "true", "yes"].includes(String(request.query.withoutSecrets ?? "").toLowerCase());
        const { prepareBackup } = await import("./create-backup.ts");
        const prepared = await prepareBackup({ stateDir, version: context.version, withSecrets: !withoutSecrets, database: context.database });
        const stamp = prepared.manifest.createdAt.replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
        request.log.info({ withSecrets: !withoutSecrets, files: prepared.manifest.files.length }, "backup downloaded through the API");
        const stream = prepared.stream();
        stream.once("close", () => void prepared.dispose());
        reply.raw.once("close", () => {
          stream.destroy();
          void prepared.dispose();
        });
        return reply
          .header("content-type", "application/gzip")
          .header("content-disposition", `attachment; filename="faraday-backup-${stamp}${withoutSecrets ? "-without-secrets" : ""}.tar.gz"`)
          .header("cache-control", "no-store")
          .header("x-faraday-backup-secrets", withoutSecrets ? "excluded" : "included")
          .send(stream);
      });

      app.post("/api/backup/restore", async (request, reply) => {
        const body = request.body as Readable | undefined;
        if (!body || typeof (body as Readable).pipe !== "function") {
          return sendError(reply, 415, "BAD_REQUEST", "send the backup file as the body with Content-Type: application/gzip (`faraday deploy restore` does this)");
        }
        if (staging) {
          body.resume();
          return sendError(reply, 409, "RESTORE_IN_PROGRESS", "another backup is being uploaded to this gateway; wait for it to finish");
        }
        staging = true;
        try {
          const { stageRestore } = await import("./restore-backup.ts");
          const current = programs(context.config.raw());
          const manifest = await stageRestore(stateDir, bounded(body, maxUploadBytes), {
            checkConfig(config) {
              const added = [...programs(config)].filter((entry) => !current.has(entry));
              if (added.length) {
                throw new FaradayError("BACKUP_NOT_ALLOWED", `the backup's openclaw.json runs programs this gateway's config does not (${added.map((entry) => entry.split(":")[0]).join(", ")}): a restore over HTTP never adds a program. Add them to the config on the machine first, or restore with \`faraday backup restore\` there`);
              }
            },
          });
          request.log.warn({ backupCreatedAt: manifest.createdAt, withSecrets: manifest.withSecrets, files: manifest.files.length }, "a backup was uploaded and staged; it replaces the state at the next start");
          return { ok: true, pending: true, createdAt: manifest.createdAt, faradayVersion: manifest.faradayVersion, withSecrets: manifest.withSecrets, files: manifest.files.map((file) => file.path), message: "staged: restart the gateway to apply it (it is applied before the database opens)" };
        } catch (error) {
          if (isFaradayError(error) && STATUS[error.code]) {
            // Drain what the client still sends so it reads our answer instead of a reset.
            body.resume();
            return sendError(reply, STATUS[error.code]!, error.code, error.message);
          }
          throw error;
        } finally {
          staging = false;
        }
      });

      app.get("/api/backup/restore", async () => ({ pending: restorePending(stateDir), staging }));

      app.delete("/api/backup/restore", async (request, reply) => {
        if (staging) return sendError(reply, 409, "RESTORE_IN_PROGRESS", "a backup is being uploaded right now; wait for it to finish");
        const pending = restorePending(stateDir) || existsSync(join(stateDir, RESTORE_DIR));
        await rm(join(stateDir, RESTORE_DIR), { recursive: true, force: true });
        if (pending) request.log.info("the staged restore was dropped through the API");
        return { ok: true, dropped: pending };
      });
    };
    return { plugin };
  },
};
