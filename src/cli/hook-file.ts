// The installed hook files on this host: finding ours in a hooks directory. What the file says
// (the interpreter, our marker, the policy it reads, its startup cache) is
// src/core/hook-header.ts's to write and to read; it is re-exported here for the commands.
// Reading goes through the Context's files (src/host/host-files.ts).
import { isOurs } from "../core/hook-header.js";
import type { HostFiles } from "../host/host-files.js";
import { hookLocations } from "./paths.js";

export { HOOK_MARKER, bakedPolicyPath, hookContent, interpreterOf, isOurs, type HookFileOptions } from "../core/hook-header.js";

export interface InstalledHook {
  path: string;
  text: string;
  mode: number;
}

/** Our installed hooks in a hooks directory: qemu.d/50-nwfilter-hook and/or hooks/qemu. */
export function findInstalledHooks(files: Pick<HostFiles, "readIfExists">, hooksDir: string): InstalledHook[] {
  const found: InstalledHook[] = [];
  const where = hookLocations(hooksDir);
  for (const path of [where.qemuD, where.main]) {
    const file = files.readIfExists(path);
    if (file && isOurs(file.text)) found.push({ path, ...file });
  }
  return found;
}
