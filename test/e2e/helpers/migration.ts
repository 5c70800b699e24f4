// What the live-migration suites share: the CLI as an admin runs it on one of the two private
// hosts, and a migration that the destination's hook must refuse for want of a filter.
import { expect } from "vitest";
import { cli, type CliResult } from "./cli.js";
import type { PrivateDaemon, TwoDaemons } from "./two-daemons.js";

/** The CLI on host `d`: d's connection, hooks directory, policy and libvirt directories (plus `env`). */
export function cliOn(d: PrivateDaemon, env: Record<string, string> = {}): (args: string[], input?: string) => CliResult {
  return (args, input) => cli(["-c", d.uri, "--hooks-dir", d.hooksDir, "--policy", d.policy, ...args], { input, env: { ...d.outsideEnv, ...env } });
}

/**
 * Migrates the running `vm` from `from` to `to` and expects `to`'s hook to refuse it because
 * nwfilter `filter` is not defined there, naming it and the command that defines it; the VM
 * must keep running on `from` (same domain id) and be absent from `to`.
 */
export async function expectMigrationRefusedForMissingFilter(
  two: TwoDaemons,
  vm: string,
  from: PrivateDaemon,
  to: PrivateDaemon,
  filter: string,
): Promise<void> {
  const id = from.virsh("domid", vm).trim();
  const error = await two.migrate(vm, from, to).then(
    () => undefined,
    (e: Error) => e,
  );
  expect(error?.message).toMatch(
    new RegExp(
      `Hook script execution failed: .*nwfilter-hook: refusing to migrate domain '${vm}': nwfilter '${filter}' is not defined on this host; define it with: nwfilter-hook define-filter`,
    ),
  );
  expect(from.domState(vm)).toBe("running");
  expect(from.virsh("domid", vm).trim()).toBe(id);
  expect(to.virsh("list", "--all", "--name")).not.toContain(vm);
}
