/** Reading a backup archive in a test, with the same reader `backup restore` uses. */
import { createReadStream } from "node:fs";
import { createGunzip } from "node:zlib";
import { readTar } from "../../src/backup/tar.ts";

/** Every file of a gzip'd tar, by path. */
export async function readArchive(path: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  let name = "";
  let chunks: Buffer[] = [];
  await readTar(createReadStream(path).pipe(createGunzip()), {
    async start(header) {
      name = header.name;
      chunks = [];
    },
    async data(chunk) {
      chunks.push(Buffer.from(chunk));
    },
    async end() {
      files.set(name, Buffer.concat(chunks));
    },
  });
  return files;
}

/** Row counts of tables in a database file's bytes (written to `path` first). */
export async function countRows(databasePath: string, tables: readonly string[]): Promise<Record<string, number>> {
  const { DatabaseSync } = await import("node:sqlite");
  const database = new DatabaseSync(databasePath, { readOnly: true });
  try {
    return Object.fromEntries(tables.map((table) => [table, Number((database.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n)]));
  } finally {
    database.close();
  }
}
