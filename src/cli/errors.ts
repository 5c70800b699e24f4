// The CLI's failures and its exit codes. Every expected failure is an NwfilterHookError and is
// printed as one line; the exit code says what kind of failure it was.
import { HostError, NwfilterHookError, PolicyError, XmlError } from "../core/errors.js";
import { LibvirtError } from "../host/virsh.js";

export const EXIT = {
  /** Success: everything held, or everything was done. */
  OK: 0,
  /** The command ran and found a problem: `check` failed, `audit` found a NIC without the filter, `apply` or `install` did not complete. */
  FINDINGS: 1,
  /** Bad command line. */
  USAGE: 2,
  /** Bad input: the policy file or an XML document is invalid. */
  INVALID: 3,
  /** libvirt or the host: virsh missing, daemon not running, domain not found, a virsh command failed, a file not found. */
  HOST: 4,
  /** Permission denied (run as root). */
  PERMISSION: 5,
  /** A bug: please report it. */
  INTERNAL: 70,
} as const;

/** The command line is wrong. */
export class UsageError extends NwfilterHookError {}

/** Permission denied on a file or a daemon. */
export class PermissionError extends HostError {}

export function exitCodeFor(error: NwfilterHookError): number {
  if (error instanceof UsageError) return EXIT.USAGE;
  if (error instanceof PolicyError || error instanceof XmlError) return EXIT.INVALID;
  if (error instanceof PermissionError) return EXIT.PERMISSION;
  if (error instanceof LibvirtError && error.kind === "permission") return EXIT.PERMISSION;
  return EXIT.HOST;
}

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
