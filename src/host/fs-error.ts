// File-system failures as the one-line errors the CLI and the watcher print: a permission
// problem is a PermissionError (the CLI's exit 5, "run as root"), anything else a HostError.
import { HostError, NwfilterHookError } from "../core/errors.js";

/** Permission denied on a file or a daemon. */
export class PermissionError extends HostError {}

/** Turns a file-system error into a one-line HostError (PermissionError for EACCES/EPERM). */
export function fsError(error: unknown, doing: string, path: string): NwfilterHookError {
  if (error instanceof NwfilterHookError) return error;
  const e = error as NodeJS.ErrnoException;
  const code = e.code ?? "";
  const why = e.message ? e.message.replace(/^[A-Z]+: /, "").replace(/, \w+ '.*'$/, "") : String(error);
  if (code === "EACCES" || code === "EPERM" || code === "EROFS") {
    return new PermissionError(`permission denied: cannot ${doing} (${code}): run as root`, { file: path });
  }
  return new HostError(`cannot ${doing}: ${code ? `${code}: ` : ""}${why}`, { file: path });
}
