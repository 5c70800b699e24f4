// Synchronous standard input and output: all of stdin as bytes, with a ceiling on their number
// (checked as it is read for the CLI, after one read for the hook), and all of a text or of
// bytes to stdout before the process ends.
import { closeSync, fstatSync, openSync, readFileSync, readSync, writeSync } from "node:fs";
import { XmlError } from "../core/errors.js";
import { fsError } from "./fs-error.js";
import type { Utf8Decoder } from "../core/xml-bytes.js";

const CHUNK = 64 * 1024;

function tooLarge(limit: number, file: string): XmlError {
  return new XmlError(`input is larger than ${limit} bytes`, { file });
}

export function readAllLimited(fd: number, limit: number, file: string): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const buf = Buffer.allocUnsafe(CHUNK);
    let n: number;
    try {
      n = readSync(fd, buf, 0, CHUNK, null);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EAGAIN") {
        sleep(1);
        continue;
      }
      if (code === "EOF") break;
      throw error;
    }
    if (n === 0) break;
    total += n;
    if (total > limit) throw tooLarge(limit, file);
    chunks.push(n === CHUNK ? buf : buf.subarray(0, n));
  }
  return Buffer.concat(chunks, total);
}

/**
 * All of a descriptor in one call, the ceiling checked afterwards. For the hook, whose stdin is
 * the domain XML libvirtd writes: this costs a tenth of a read loop's first-time overhead, which
 * every VM start would pay. An error (EAGAIN on a non-blocking pipe included) loses what was
 * read, so it refuses the input rather than use part of it.
 */
export function readAllAtOnce(fd: number, limit: number, file: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(fd);
  } catch (error) {
    throw new XmlError(`cannot read: ${readError(fd, error)}`, { file });
  }
  if (bytes.length > limit) throw tooLarge(limit, file);
  return bytes;
}

/**
 * What went wrong, in the system's words. Node 18's readFileSync() throws a TypeError for a
 * descriptor that is not open, where Node 20 reports EBADF: ask the descriptor itself then.
 */
function readError(fd: number, error: unknown): string {
  if (!(error instanceof TypeError)) return (error as Error).message;
  try {
    fstatSync(fd);
  } catch (statError) {
    return (statError as Error).message;
  }
  return error.message;
}

/**
 * Node's UTF-8 decoding, strict. toString() puts U+FFFD where the bytes are not UTF-8, so a text
 * without one came from valid bytes; a text with one (a document may hold U+FFFD itself) did only
 * if it encodes back to the same bytes. This needs no node:buffer, whose first require() costs
 * Node 18 more than half a millisecond at every VM start (its ESM facade), for isUtf8().
 */
export const nodeUtf8: Utf8Decoder = (bytes) => {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = buf.toString("utf8");
  return !text.includes("\uFFFD") || Buffer.from(text, "utf8").equals(buf) ? text : undefined;
};

/** Writes all of a string (as UTF-8) or of bytes to a file descriptor, waiting out a non-blocking pipe that is full. */
export function writeAllSync(fd: number, data: string | Uint8Array): void {
  const buf = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
      sleep(1);
    }
  }
}

/** Blocks the thread for `ms` milliseconds (the callers are synchronous by design). */
export function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
} /**
 * A file (or a pipe: `<(virsh dumpxml ...)`) read as readAllLimited reads stdin, bounded as it is
 * read; an XmlError when it is too large, a one-line error naming the file otherwise.
 */
export function readFileLimited(file: string, limit: number, doing: string): Buffer {
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    return readAllLimited(fd, limit, file);
  } catch (error) {
    if (error instanceof XmlError) throw error;
    throw fsError(error, doing, file);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
