import { FaradayError } from "../errors/index.ts";

/**
 * A small POSIX ustar writer and reader: regular files only, which is all a backup holds. No
 * dependency; the archive opens with any `tar` (`tar -xzf backup.tar.gz`). The format is from
 * POSIX.1-1988 ustar (`pax` in IEEE Std 1003.1): 512-byte header, octal fields, checksum over the
 * header with the checksum field as spaces, data padded to 512 bytes, two zero blocks at the end.
 */
export const BLOCK = 512;

export interface TarHeader {
  readonly name: string;
  readonly size: number;
  readonly mode: number;
  readonly mtime: Date;
}

function writeString(block: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, "utf8");
  if (bytes.length > length) throw new FaradayError("BACKUP_INVALID", `tar field too long: ${value}`);
  bytes.copy(block, offset);
}

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  writeString(block, offset, length, value.toString(8).padStart(length - 1, "0") + "\0");
}

/** Split a path into ustar's prefix (≤155 bytes) and name (≤100 bytes) at a slash. */
function splitName(path: string): { prefix: string; name: string } {
  if (Buffer.byteLength(path) <= 100) return { prefix: "", name: path };
  for (let index = path.indexOf("/"); index !== -1; index = path.indexOf("/", index + 1)) {
    const prefix = path.slice(0, index);
    const name = path.slice(index + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return { prefix, name };
  }
  throw new FaradayError("BACKUP_INVALID", `path too long for a tar archive: ${path}`);
}

/** The 512-byte ustar header of one regular file. */
export function tarHeader(header: TarHeader): Buffer {
  const block = Buffer.alloc(BLOCK);
  const { prefix, name } = splitName(header.name);
  writeString(block, 0, 100, name);
  writeOctal(block, 100, 8, header.mode & 0o7777);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, header.size);
  writeOctal(block, 136, 12, Math.floor(header.mtime.getTime() / 1000));
  block.fill(0x20, 148, 156);
  block[156] = 0x30; // "0": regular file
  writeString(block, 257, 6, "ustar\0");
  writeString(block, 263, 2, "00");
  writeString(block, 345, 155, prefix);
  let sum = 0;
  for (const byte of block) sum += byte;
  writeString(block, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return block;
}

/** Zero bytes that pad `size` bytes of data to a whole block. */
export function tarPadding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** The end of an archive: two zero blocks. */
export const TAR_END = Buffer.alloc(BLOCK * 2);

function readString(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString("utf8");
}

function readOctal(block: Buffer, offset: number, length: number): number {
  const text = readString(block, offset, length).trim();
  if (!/^[0-7]*$/.test(text)) throw new FaradayError("BACKUP_INVALID", "the archive is damaged (a tar header has a malformed number)");
  return text === "" ? 0 : parseInt(text, 8);
}

/** Parse one header block; null for a zero block (the end). */
export function parseTarHeader(block: Buffer): { header: TarHeader; type: string } | null {
  if (block.every((byte) => byte === 0)) return null;
  let sum = 0;
  for (let index = 0; index < BLOCK; index++) sum += index >= 148 && index < 156 ? 0x20 : block[index]!;
  if (sum !== readOctal(block, 148, 8)) throw new FaradayError("BACKUP_INVALID", "the archive is damaged (a tar header checksum does not match)");
  const name = readString(block, 0, 100);
  const prefix = readString(block, 345, 155);
  return {
    header: {
      name: prefix ? `${prefix}/${name}` : name,
      mode: readOctal(block, 100, 8),
      size: readOctal(block, 124, 12),
      mtime: new Date(readOctal(block, 136, 12) * 1000),
    },
    type: String.fromCharCode(block[156] ?? 0),
  };
}

/** What `readTar` hands each file: its header and its data, chunk by chunk. */
export interface TarEntryHandler {
  /** Called once per regular file before its data; throw to refuse it. */
  start(header: TarHeader): Promise<void>;
  data(chunk: Buffer): Promise<void>;
  end(): Promise<void>;
}

/**
 * Read a tar stream (already decompressed), streaming each regular file to `handler`.
 * @throws FaradayError BACKUP_INVALID for a damaged archive, a truncated one, or an entry that
 * is not a regular file (links and devices are never restored).
 */
export async function readTar(source: AsyncIterable<Buffer | string>, handler: TarEntryHandler): Promise<void> {
  let pending = Buffer.alloc(0);
  let remaining = 0; // data bytes left in the current entry
  let padding = 0; // padding bytes left after it
  let inEntry = false;
  let ended = false;
  for await (const piece of source) {
    pending = pending.length ? Buffer.concat([pending, Buffer.from(piece)]) : Buffer.from(piece);
    for (;;) {
      if (ended) {
        pending = Buffer.alloc(0);
        break;
      }
      if (inEntry) {
        if (remaining > 0) {
          if (pending.length === 0) break;
          const take = Math.min(remaining, pending.length);
          await handler.data(pending.subarray(0, take));
          pending = pending.subarray(take);
          remaining -= take;
          if (remaining > 0) break;
        }
        if (padding > 0) {
          const skip = Math.min(padding, pending.length);
          pending = pending.subarray(skip);
          padding -= skip;
          if (padding > 0) break;
        }
        inEntry = false;
        await handler.end();
        continue;
      }
      if (pending.length < BLOCK) break;
      const parsed = parseTarHeader(pending.subarray(0, BLOCK));
      pending = pending.subarray(BLOCK);
      if (parsed === null) {
        ended = true;
        continue;
      }
      if (parsed.type !== "0" && parsed.type !== "\0") {
        throw new FaradayError("BACKUP_INVALID", `the archive holds ${parsed.header.name}, which is not a regular file; a Faraday backup holds only files`);
      }
      await handler.start(parsed.header);
      inEntry = true;
      remaining = parsed.header.size;
      padding = (BLOCK - (parsed.header.size % BLOCK)) % BLOCK;
    }
  }
  if (inEntry || !ended) throw new FaradayError("BACKUP_INVALID", "the archive is truncated (it ends in the middle); download or copy it again");
}
