// Synchronous standard input and output: all of stdin with a ceiling on its size (checked as it
// is read for the CLI, after one read for the hook), and all of a text to stdout before the
// process ends.
import { readFileSync, readSync, writeSync } from "node:fs";
import { XmlError } from "../core/errors.js";

const CHUNK = 64 * 1024;

export function readAllLimited(fd: number, limit: number, file: string): string {
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
    if (total > limit) throw new XmlError(`input is larger than ${limit} bytes`, { file });
    chunks.push(n === CHUNK ? buf : buf.subarray(0, n));
  }
  return Buffer.concat(chunks, total).toString("utf8");
}

/**
 * All of a descriptor in one call, the ceiling checked afterwards. For the hook, whose stdin is
 * the domain XML libvirtd writes: this costs a tenth of a read loop's first-time overhead, which
 * every VM start would pay. An error (EAGAIN on a non-blocking pipe included) loses what was
 * read, so it refuses the input rather than use part of it.
 */
export function readAllAtOnce(fd: number, limit: number, file: string): string {
  let text: string;
  try {
    text = readFileSync(fd, "utf8");
  } catch (error) {
    throw new XmlError(`cannot read: ${(error as Error).message}`, { file });
  }
  // Characters never outnumber the bytes they came from; count bytes only when it could matter.
  if (text.length * 3 > limit && Buffer.byteLength(text, "utf8") > limit) {
    throw new XmlError(`input is larger than ${limit} bytes`, { file });
  }
  return text;
}

/** Writes all of a string to a file descriptor, waiting out a non-blocking pipe that is full. */
export function writeAllSync(fd: number, text: string): void {
  const buf = Buffer.from(text, "utf8");
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

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
