// Making one domain compliant: its persistent definition (dumpxml --inactive --security-info,
// transform, define) and, when asked, its running NICs (update-device --live with the NIC's live
// XML plus the filterref). Shared by `apply` and the watcher, so that both do and say the same.
// A domain that needs nothing is not touched: its definition is never written.
import { HostError } from "../core/errors.js";
import type { HostFacts } from "../core/host-facts.js";
import { describeNic } from "../core/decide.js";
import type { Policy } from "../core/policy.js";
import { transform, type NicReason, type NicReport, type NicStatus } from "../core/transform.js";
import type { DomainInfo, Virsh } from "./virsh.js";

export interface ReconcileOptions {
  /** Also the running NICs. */
  live: boolean;
  dryRun: boolean;
  /** In a dry run: shows what would change (a diff). */
  showChange?: (label: string, before: string, after: string) => void;
  /** Called between reading the definition and checking it again before the define (tests). */
  beforeDefine?: () => void | Promise<void>;
}

/** How often a definition that changes under our feet is read again before giving up. */
const ATTEMPTS = 5;

const REASONS: Partial<Record<NicReason, string>> = {
  "policy-off": "filtering is off in the policy",
  "domain-policy": "policy [exempt] Domains",
  "domain-metadata": "domain metadata exempt=true",
  "mac-policy": "policy [exempt] MACs",
  "network-policy": "policy [exempt] Networks",
  "bridge-policy": "policy [exempt] Bridges",
  "nic-metadata": "interface metadata exempt=true",
};

/** Why a NIC is exempt or ineligible, in words. */
export function reasonText(nic: NicReport): string | undefined {
  if (nic.reason === undefined) return undefined;
  return nic.detail ?? REASONS[nic.reason] ?? nic.reason;
}

export const STATUSES: readonly NicStatus[] = ["compliant", "missing", "stale", "exempt", "ineligible", "other-filter"];

export function countStatuses(nics: readonly NicReport[]): Record<NicStatus, number> {
  const counts = { compliant: 0, missing: 0, stale: 0, exempt: 0, ineligible: 0, "other-filter": 0 };
  for (const n of nics) counts[n.status]++;
  return counts;
}

/** "2 compliant, 1 ineligible": the non-zero counts. */
export function countsText(nics: readonly NicReport[]): string {
  const counts = countStatuses(nics);
  return STATUSES.filter((s) => counts[s] > 0)
    .map((s) => `${counts[s]} ${s}`)
    .join(", ");
}

/** Why nothing is to be done about these interfaces. */
export function nothingToDo(nics: readonly NicReport[]): string {
  if (nics.length === 0) return "no interfaces";
  const exempt = nics.filter((n) => n.status === "exempt");
  if (exempt.length === nics.length) {
    const reasons = [...new Set(exempt.map((n) => reasonText(n)))].join("; ");
    return `exempt (${reasons}), not touched`;
  }
  return `nothing to do (${countsText(nics)})`;
}

export function nicList(nics: readonly NicReport[]): string {
  return nics.map(describeNic).join("; ");
}

/**
 * Returns whether the domain was (or, in a dry run, would be) changed. `d.uuid`, when known,
 * names the domain to virsh (a rename cannot then send a write to another domain); messages use
 * the name.
 */
export async function reconcileDomain(
  virsh: Virsh,
  d: DomainInfo,
  policy: Policy,
  host: HostFacts,
  options: ReconcileOptions,
  say: (line: string) => void,
): Promise<boolean> {
  let changed = false;
  const verb = options.dryRun ? "would add" : "added";
  const ref = d.uuid ?? d.name;

  if (d.persistent) {
    const file = `persistent definition of domain '${d.name}'`;
    for (let attempt = 1; ; attempt++) {
      const before = await virsh.dumpxml(ref, "config");
      const r = transform(before, policy, host, { file, root: "domain" });
      const todo = r.nics.filter((n) => n.action !== undefined);
      if (todo.length === 0) {
        say(`${d.name}: definition: ${nothingToDo(r.nics)}`);
        break;
      }
      if (options.dryRun) {
        options.showChange?.(`${d.name} (definition)`, before, r.xml);
      } else {
        await options.beforeDefine?.();
        // libvirt has no compare-and-swap for definitions: read it once more just before the
        // define, and start over when someone else changed it meanwhile, so as not to undo them.
        if ((await virsh.dumpxml(ref, "config")) !== before) {
          if (attempt >= ATTEMPTS) throw new HostError(`the definition kept changing while it was being fixed (${ATTEMPTS} attempts): left alone`);
          say(`${d.name}: definition: changed by someone else meanwhile; reading it again`);
          continue;
        }
        await virsh.define(r.xml, d.name);
      }
      say(`${d.name}: definition: ${verb} filter '${policy.filter}' to ${nicList(todo)}`);
      changed = true;
      break;
    }
  }

  if (d.active) {
    const file = `live definition of domain '${d.name}'`;
    const before = await virsh.dumpxml(ref, "live");
    const r = transform(before, policy, host, { file, root: "domain" });
    const todo = r.nics.filter((n) => n.action !== undefined);
    if (todo.length === 0) {
      say(`${d.name}: running: ${nothingToDo(r.nics)}`);
    } else if (!options.live) {
      say(`${d.name}: running: ${todo.length} interface(s) lack the filter until the domain restarts; add --live to fix them now: ${nicList(todo)}`);
    } else {
      for (const nic of todo) {
        const device = r.xml.slice(nic.output.start, nic.output.end);
        const label = `${d.name} (running interface ${nic.mac ?? nic.index + 1})`;
        if (options.dryRun) options.showChange?.(label, `${before.slice(nic.input.start, nic.input.end)}\n`, `${device}\n`);
        else await virsh.updateDeviceLive(ref, device, d.name);
      }
      if (!options.dryRun) {
        const after = transform(await virsh.dumpxml(ref, "live"), policy, host, { file, checkOnly: true, root: "domain" });
        const still = after.nics.filter((n) => n.status === "missing" && todo.some((t) => t.mac === n.mac));
        if (still.length > 0) throw new HostError(`libvirt accepted update-device but the running interface still lacks the filter: ${nicList(still)}`);
      }
      say(`${d.name}: running: ${verb} filter '${policy.filter}' to ${nicList(todo)}`);
      changed = true;
    }
  }
  if (!d.persistent && !d.active) say(`${d.name}: neither defined nor running any more`);
  return changed;
}
