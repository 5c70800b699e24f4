// The filter's definition for a daemon that is not running yet (`install --defer-if-down`).
import { closeSync, existsSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { fsError } from "./fs-error.js";
import { readFilterFile } from "./nwfilter-define.js";

/**
 * With no daemon running, the filter cannot be defined through libvirt: its definition goes into
 * libvirt's nwfilter directory, where the daemon loads it (and gives it a UUID) when it starts, as
 * Debian's libvirt-daemon-config-nwfilter does with libvirt's own filters. One that is already
 * there is left alone: `define-filter` brings it up to date once the daemon runs.
 */
export function leaveFilterForStart(path: string, nwfilterDir: string): { written: boolean; message: string } {
  const { name, text } = readFilterFile(path);
  const target = join(nwfilterDir, `${name}.xml`);
  if (existsSync(target)) return { written: false, message: `nwfilter '${name}': in ${target}, left alone (the daemon is not running)` };
  try {
    const fd = openSync(target, "wx", 0o600);
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    throw fsError(error, "write the filter definition", target);
  }
  return { written: true, message: `nwfilter '${name}': written to ${target} (libvirt defines it when it starts)` };
}
