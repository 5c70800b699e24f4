// The CLI's failures and its exit codes. Every expected failure is an NwfilterHookError and is
// printed as one line; the exit code says what kind of failure it was.
import { NwfilterHookError, PolicyError, XmlError } from "../core/errors.js";
import { PermissionError } from "../host/fs-error.js";
import { LibvirtError } from "../host/virsh.js";

export { PermissionError, fsError } from "../host/fs-error.js";

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

export function exitCodeFor(error: NwfilterHookError): number {
  if (error instanceof UsageError) return EXIT.USAGE;
  if (error instanceof PolicyError || error instanceof XmlError) return EXIT.INVALID;
  if (error instanceof PermissionError) return EXIT.PERMISSION;
  if (error instanceof LibvirtError && error.kind === "permission") return EXIT.PERMISSION;
  return EXIT.HOST;
}
