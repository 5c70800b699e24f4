// The installed hook files on this host: finding ours in a hooks directory, reading and writing
// them. What the file says (the interpreter, our marker, the policy it reads, its startup cache)
// is src/core/hook-header.ts's to write and to read; it is re-exported here for the commands.
import { chmodSync, closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { isOurs } from "../core/hook-header.js";
import { fsError } from "./errors.js";
import { hookLocations } from "./paths.js";

export { HOOK_MARKER, bakedPolicyPath, hookContent, interpreterOf, isOurs, type HookFileOptions } from "../core/hook-header.js";

export interface InstalledHook {
  path: string;
  text: string;
  mode: number;
}

/** Reads a file, or undefined when it does not exist. */
export function readIfExists(path: string): { text: string; mode: number } | undefined {
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

/** Our installed hooks in a hooks directory: qemu.d/50-nwfilter-hook and/or hooks/qemu. */
export function findInstalledHooks(hooksDir: string): InstalledHook[] {
  const found: InstalledHook[] = [];
  const where = hookLocations(hooksDir);
  for (const path of [where.qemuD, where.main]) {
    const file = readIfExists(path);
    if (file && isOurs(file.text)) found.push({ path, ...file });
  }
  return found;
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
