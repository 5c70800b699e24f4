// Eligibility, the security rules: which NICs libvirt lets carry a filterref (type, virtualport,
// the network's kind, the bridge's kind) and which the policy exempts.
import { FILTERABLE_TYPES } from "./constants.js";
import type { Exemptions } from "./exemptions.js";
import type { HostFacts } from "./host-facts.js";
import { classifyNetwork, type NetworkClass } from "./network.js";
import { mark, type NicReport } from "./nic-report.js";
import type { Nic } from "./nic-table.js";
import type { Policy } from "./policy.js";

export type NetworkResolver = (name: string, portgroup: string | undefined) => NetworkClass | undefined;

/** Reads each network once and classifies each (network, portgroup) once per document: many NICs share one network. */
export function networkResolver(host: HostFacts): NetworkResolver {
  const defs = new Map<string, ReturnType<HostFacts["network"]>>();
  const classes = new Map<string, NetworkClass | undefined>();
  return (name, portgroup) => {
    const key = `${name}\0${portgroup ?? ""}`;
    if (!classes.has(key)) {
      if (!defs.has(name)) defs.set(name, host.network(name));
      const def = defs.get(name);
      classes.set(key, def && classifyNetwork(def.text, def.path, portgroup));
    }
    return classes.get(key);
  };
}

export function judge(nic: Nic, index: number, line: number, policy: Policy, host: HostFacts, networks: NetworkResolver, exemptions: Exemptions): NicReport {
  const { type, mac, filter } = nic;
  const network = type === "network" ? nic.network : undefined;
  const portgroup = type === "network" ? nic.portgroup : undefined;
  let bridge = type === "bridge" ? nic.bridge : undefined;
  let source: string | undefined;
  if (type === "network") source = network !== undefined && portgroup !== undefined ? `${network}/${portgroup}` : network;
  else if (type === "bridge") source = bridge;
  else source = nic.targetDev ?? nic.sourceDev;

  const span = { start: nic.start, end: nic.end };
  const report: NicReport = { index, line, mac, type, source, filter, status: "compliant", input: span, output: span };

  if (!FILTERABLE_TYPES.has(type)) return mark(report, "ineligible", "type", `libvirt ignores filterref on type '${type || "(none)"}'`);
  if (nic.virtualport) return mark(report, "ineligible", "virtualport", "libvirt refuses filterref with a virtualport");
  if (exemptions.domain !== undefined) return mark(report, "exempt", exemptions.domain);
  if (mac !== undefined && policy.exempt.macs.includes(mac)) return mark(report, "exempt", "mac-policy");
  if (mac !== undefined && exemptions.macs.has(mac)) return mark(report, "exempt", "nic-metadata");
  if (network !== undefined && policy.exempt.networks.includes(network)) return mark(report, "exempt", "network-policy");

  if (type === "network") {
    const kind = network === undefined ? undefined : networks(network, portgroup);
    if (!kind) return mark(report, "ineligible", "network-not-found", `no definition found for network '${network ?? ""}'`);
    if (!kind.eligible) return mark(report, "ineligible", kind.reason, kind.detail);
    bridge = kind.bridge;
  }
  if (bridge !== undefined) {
    if (policy.exempt.bridges.includes(bridge)) return mark(report, "exempt", "bridge-policy");
    if (host.bridge(bridge) === "other") return mark(report, "ineligible", "not-linux-bridge", `'${bridge}' is not a Linux bridge (Open vSwitch?)`);
  }
  if (filter === undefined) report.status = "missing";
  else if (filter !== policy.filter) report.status = "other-filter";
  return report;
}
