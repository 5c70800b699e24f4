// Whether a file or directory may be trusted with what runs as root: the policy (whoever can write
// it can switch the protection off), the startup snapshot and code cache (code the hook runs).
// Trusted means not writable by group or others, and owned by root when we are root. One rule and
// one wording for every such file, from the policy loader, install, check and the hook's loader.

/** What of a stat the rule reads. */
export interface OwnerAndMode {
  mode: number;
  uid: number;
}

/** Whether `euid` may trust a file or directory with this owner and mode. */
export function trusted(st: OwnerAndMode, euid: number | undefined): boolean {
  return (st.mode & 0o022) === 0 && (euid !== 0 || st.uid === 0);
}

export interface Distrust {
  /** Completes "... is ": `writable by group or others (mode 0664)`, `owned by uid 1000, not root`. */
  reason: string;
  /** The command that fixes it: `chmod go-w`, `chown root`. */
  fix: string;
}

/** Why `euid` cannot trust a file or directory with this owner and mode; undefined when it can. */
export function distrust(st: OwnerAndMode, euid: number | undefined): Distrust | undefined {
  if (trusted(st, euid)) return undefined;
  if (st.mode & 0o022) return { reason: `writable by group or others (mode ${(st.mode & 0o7777).toString(8).padStart(4, "0")})`, fix: "chmod go-w" };
  return { reason: `owned by uid ${st.uid}, not root`, fix: "chown root" };
}
