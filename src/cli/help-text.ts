// The help text that every command shares: the exit codes (as src/cli/errors.ts maps them) and
// the environment, kept apart from the command line's definition in main.ts.
export const EXIT_CODES = `Exit codes:
  0   success (check: everything holds; audit: no interface lacks the filter)
  1   the command found or left a problem: check failed, audit found a 'missing'
      or 'stale' interface, apply failed or left an interface alone, install or
      uninstall did not complete
  2   bad command line
  3   invalid policy file or XML
  4   libvirt or host error: virsh missing, daemon not running, domain not found,
      a virsh command failed, a file could not be read or written
  5   permission denied (run as root)
  70  internal error (a bug)`;

export const ENVIRONMENT = `Policy file: --policy, else $NWFILTER_HOOK_POLICY, else the one the installed hook reads,
else /etc/nwfilter-hook/policy.ini.

Environment: NWFILTER_HOOK_POLICY (policy path, overridden by --policy),
NWFILTER_HOOK_NETWORK_DIRS, NWFILTER_HOOK_NWFILTER_DIR, NWFILTER_HOOK_SYSFS_NET,
NWFILTER_HOOK_FILTERS_DIR, NWFILTER_HOOK_METRICS_FILE (watch --metrics-file), LIBVIRT_DEFAULT_URI
(overridden by --connect).`;

/** A command's epilog: its own note, then the exit codes. */
export function epilog(note?: string): string {
  return note === undefined ? EXIT_CODES : `${note}\n\n${EXIT_CODES}`;
}
