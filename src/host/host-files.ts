// The files the CLI reads and writes on the host (hooks, policy, units, backups), behind one
// small interface that commands receive in their Context: the judging code stays free of
// node:fs, and tests can hand it a fake. nodeHostFiles is the real thing.
import { accessSync, chmodSync, chownSync, closeSync, constants, copyFileSync, existsSync, fsyncSync, mkdirSync } from "node:fs";
import { openSync, readFileSync, readdirSync, renameSync, rmSync, rmdirSync, statSync, writeFileSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fsError } from "./fs-error.js";

export interface FileRead {
  text: string;
  mode: number;
}

export interface HostFiles {
  /** A file's text; throws a one-line error naming the file and `doing`. */
  readText(path: string, doing: string): string;
  /** A file's text and mode, or undefined when it does not exist (a non-file reads as ""). */
  readIfExists(path: string): FileRead | undefined;
  exists(path: string): boolean;
  /** Whether the caller may execute the file. */
  executable(path: string): boolean;
  /** The names in a directory. */
  list(dir: string): string[];
  /** Writes through a temporary file in `tempDir` (same file system) and a rename: never half-written. */
  writeAtomically(path: string, data: string | Uint8Array, mode: number, tempDir?: string): void;
  /** Creates a file that must not exist yet, with `mode` (and owned by root when `root`). */
  createExclusive(path: string, text: string, mode: number, options?: { root?: boolean }): void;
  makeDir(path: string, mode: number): void;
  copy(from: string, to: string): void;
  rename(from: string, to: string): void;
  remove(path: string): void;
  /** Removes an empty directory. */
  removeDir(path: string): void;
}

/** Reads a file, or undefined when it does not exist. */
export function readIfExists(path: string): FileRead | undefined {
  try {
    const st = statSync(path);
    if (!st.isFile()) return { text: "", mode: st.mode };
    return { text: readFileSync(path, "utf8"), mode: st.mode };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw fsError(error, "read", path);
  }
}

/**
 * Writes a file so that no reader ever sees it half-written: a temporary file, its mode set,
 * then renamed over the target. The temporary file is made in `tempDir`, which must be on the
 * same file system; for qemu.d that is the hooks directory itself, where libvirt runs only files
 * with fixed names (in qemu.d it would run any executable file, the temporary one included).
 */
export function writeAtomically(path: string, data: string | Uint8Array, mode: number, tempDir: string = dirname(path)): void {
  const temp = join(tempDir, `.${basename(path)}.tmp-${process.pid}`);
  try {
    const fd = openSync(temp, "w", 0o600);
    try {
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(temp, mode);
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw fsError(error, "write", path);
  }
}

/** Creates a file exclusively ("wx"): never over an existing one. Errors are Node's own. */
export function createExclusive(path: string, text: string, mode: number, options: { root?: boolean } = {}): void {
  const fd = openSync(path, "wx", mode);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  chmodSync(path, mode);
  if (options.root) chownSync(path, 0, 0);
}

export const nodeHostFiles: HostFiles = {
  readText(path, doing) {
    try {
      return readFileSync(path, "utf8");
    } catch (error) {
      throw fsError(error, doing, path);
    }
  },
  readIfExists,
  exists: (path) => existsSync(path),
  executable(path) {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  },
  list: (dir) => readdirSync(dir),
  writeAtomically,
  createExclusive,
  makeDir: (path, mode) => void mkdirSync(path, { recursive: true, mode }),
  copy: (from, to) => copyFileSync(from, to),
  rename: (from, to) => renameSync(from, to),
  remove: (path) => rmSync(path),
  removeDir: (path) => rmdirSync(path),
};
