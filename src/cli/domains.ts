// Choosing domains by name (or all of them), checked against libvirt up front.
import { LibvirtError, type DomainInfo, type Virsh } from "../host/virsh.js";

/** The named domains in the order given (each once), or every domain when none is named. */
export async function selectDomains(virsh: Virsh, names: readonly string[]): Promise<DomainInfo[]> {
  const all = await virsh.domains();
  if (names.length === 0) return all;
  const byName = new Map(all.map((d) => [d.name, d]));
  const unknown = names.filter((n) => !byName.has(n));
  if (unknown.length > 0) {
    const list = unknown.map((n) => `'${n}'`).join(", ");
    throw new LibvirtError("domain-not-found", `domain${unknown.length === 1 ? "" : "s"} ${list} not found (virsh list --all shows the defined domains)`);
  }
  return [...new Set(names)].map((n) => byName.get(n) as DomainInfo);
}

export { STATUSES, countStatuses } from "../host/reconcile.js";
