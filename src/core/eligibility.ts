// Eligibility, the security rules: which NICs libvirt lets carry a filterref (type, virtualport,
// the network's kind, the bridge's kind) and which the policy exempts. What the others must carry
// is the choice's business (filter-choice.ts, compliance.ts).
import { FILTERABLE_TYPES } from "./constants.js";
import type { Exemptions } from "./exemptions.js";
import type { HostFacts } from "./host-facts.js";
import { classifyNetwork, type NetworkClass } from "./network.js";
import { mark, type NicReason, type NicReport, type NicStatus } from "./nic-report.js";
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

/** Where an eligible NIC is attached, for the choice of its filter. */
export interface Place {
  network: string | undefined;
  bridge: string | undefined;
}

/**
 * The NIC's report with its status when it is exempt or ineligible; for any other NIC, the report
 * (status still "compliant", until its choice is judged) and where it is attached.
 */
export function judge(
  nic: Nic,
  index: number,
  line: number,
  policy: Policy,
  host: HostFacts,
  networks: NetworkResolver,
  exemptions: Exemptions,
): { report: NicReport; place?: Place } {
  const { type, mac, filter, parameters } = nic;
  const network = type === "network" ? nic.network : undefined;
  const portgroup = type === "network" ? nic.portgroup : undefined;
  let bridge = type === "bridge" ? nic.bridge : undefined;
  let source: string | undefined;
  if (type === "network") source = network !== undefined && portgroup !== undefined ? `${network}/${portgroup}` : network;
  else if (type === "bridge") source = bridge;
  else source = nic.targetDev ?? nic.sourceDev;

  const span = { start: nic.start, end: nic.end };
  const report: NicReport = { index, line, mac, type, source, filter, parameters, status: "compliant", input: span, output: span };
  const done = (status: NicStatus, reason: NicReason, detail?: string) => ({ report: mark(report, status, reason, detail) });

  if (!FILTERABLE_TYPES.has(type)) return done("ineligible", "type", `libvirt ignores filterref on type '${type || "(none)"}'`);
  if (nic.virtualport) return done("ineligible", "virtualport", "libvirt refuses filterref with a virtualport");
  if (exemptions.domain !== undefined) return done("exempt", exemptions.domain);
  if (mac !== undefined && policy.exempt.macs.includes(mac)) return done("exempt", "mac-policy");
  if (mac !== undefined && exemptions.macs.has(mac)) return done("exempt", "nic-metadata");
  if (network !== undefined && policy.exempt.networks.includes(network)) return done("exempt", "network-policy");

  if (type === "network") {
    const kind = network === undefined ? undefined : networks(network, portgroup);
    if (!kind) return done("ineligible", "network-not-found", `no definition found for network '${network ?? ""}'`);
    if (!kind.eligible) return done("ineligible", kind.reason, kind.detail);
    bridge = kind.bridge;
  }
  if (bridge !== undefined) {
    if (policy.exempt.bridges.includes(bridge)) return done("exempt", "bridge-policy");
    if (host.bridge(bridge) === "other") return done("ineligible", "not-linux-bridge", `'${bridge}' is not a Linux bridge (Open vSwitch?)`);
  }
  return { report, place: { network, bridge } };
}
