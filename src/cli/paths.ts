// Where the CLI installs things and finds what the package ships.
import { join } from "node:path";
import { DEFAULT_FILTER } from "../core/constants.js";

export { DEFAULT_URI } from "../core/constants.js";
import type { Context } from "./context.js";

export const DEFAULT_HOOKS_DIR = "/etc/libvirt/hooks";
/** The hook's file name in qemu.d: scripts there run in byte order; 50 leaves room on both sides. */
export const HOOK_FILE_NAME = "50-nwfilter-hook";
/** libvirt runs every executable in hooks/qemu.d/ from this version on; before, only hooks/qemu. */
export const QEMU_D_SINCE = "6.5.0";
/** A foreign hooks/qemu replaced with `install --force` is kept under this name. */
export const BACKUP_SUFFIX = ".nwfilter-hook-backup";

export function builtHookPath(ctx: Context): string {
  return join(ctx.bundleDir, "qemu");
}

export function shippedFilterPath(ctx: Context): string {
  return join(ctx.packageRoot, "nwfilter", `${DEFAULT_FILTER}.xml`);
}

export interface HookLocations {
  dir: string;
  /** hooks/qemu.d/50-nwfilter-hook */
  qemuD: string;
  /** hooks/qemu */
  main: string;
}

export function hookLocations(hooksDir: string): HookLocations {
  return { dir: hooksDir, qemuD: join(hooksDir, "qemu.d", HOOK_FILE_NAME), main: join(hooksDir, "qemu") };
}
