// Choosing domains by name (or all of them), checked against libvirt up front.
import { LibvirtError, type DomainInfo, type Virsh } from "../host/virsh.js";
import type { NicReport, NicStatus } from "../core/transform.js";
import { reasonText } from "./format.js";

/** The named domains in the order given (each once), or every domain when none is named. */
export function selectDomains(virsh: Virsh, names: readonly string[]): DomainInfo[] {
  const all = virsh.domains();
  if (names.length === 0) return all;
  const byName = new Map(all.map((d) => [d.name, d]));
  const unknown = names.filter((n) => !byName.has(n));
  if (unknown.length > 0) {
    const list = unknown.map((n) => `'${n}'`).join(", ");
    throw new LibvirtError("domain-not-found", `domain${unknown.length === 1 ? "" : "s"} ${list} not found (virsh list --all shows the defined domains)`);
  }
  return [...new Set(names)].map((n) => byName.get(n) as DomainInfo);
}

export const STATUSES: readonly NicStatus[] = ["compliant", "missing", "exempt", "ineligible", "other-filter"];

export function countStatuses(nics: readonly NicReport[]): Record<NicStatus, number> {
  const counts = { compliant: 0, missing: 0, exempt: 0, ineligible: 0, "other-filter": 0 };
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
