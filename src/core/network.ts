// What kind of device a libvirt network hands its guests, from the network's definition.
// libvirt refuses a filterref on a NIC whose network is macvtap (forward modes bridge without
// a <bridge>, private, vepa, passthrough), SR-IOV (hostdev), or carries a <virtualport>.
import { MACVTAP_FORWARD_MODES } from "./constants.js";
import { XmlError } from "./errors.js";
import { attr, child, parseXml } from "./xml.js";

export type NetworkClass =
  { eligible: true; bridge: string | undefined } | { eligible: false; reason: "network-macvtap" | "network-hostdev" | "network-virtualport"; detail: string };

/**
 * Classifies a network definition (as stored in /etc/libvirt/qemu/networks, or the
 * <networkstatus> of an active network in /run/libvirt/network) for a NIC that may name one of
 * its portgroups.
 */
export function classifyNetwork(text: string, file: string, portgroup: string | undefined): NetworkClass {
  const root = parseXml(text, file);
  const network = root.name === "networkstatus" ? child(root, "network") : root;
  if (!network || network.name !== "network") {
    throw new XmlError(`expected a <network> definition, found <${root.name}>`, { file });
  }
  const forward = child(network, "forward");
  const mode = forward ? (attr(forward, "mode") ?? "nat") : "none";
  const bridgeEl = child(network, "bridge");
  const bridge = bridgeEl ? attr(bridgeEl, "name") : undefined;

  if (mode === "hostdev") return { eligible: false, reason: "network-hostdev", detail: "SR-IOV (forward mode hostdev)" };
  // macvtap hands out devices from a pool (forward dev, <interface>, <pf>, VF <address>es).
  // Without a pool, a virtualport (Open vSwitch) is what the network is, and is reported as such.
  const macvtap: NetworkClass = { eligible: false, reason: "network-macvtap", detail: `macvtap (forward mode ${mode})` };
  const isMacvtap = MACVTAP_FORWARD_MODES.has(mode) && bridge === undefined;
  const pool =
    forward !== undefined &&
    (attr(forward, "dev") !== undefined || forward.children.some((c) => c.name === "interface" || c.name === "pf" || c.name === "address"));
  if (isMacvtap && pool) return macvtap;

  const portgroups = network.children.filter((c) => c.name === "portgroup");
  const chosen = portgroup !== undefined ? portgroups.find((p) => attr(p, "name") === portgroup) : portgroups.find((p) => attr(p, "default") === "yes");
  for (const holder of [chosen, network]) {
    const vp = holder && child(holder, "virtualport");
    if (vp) {
      const type = attr(vp, "type") ?? "unspecified";
      const where = holder === network ? "network" : `portgroup '${attr(holder, "name")}'`;
      return { eligible: false, reason: "network-virtualport", detail: `virtualport type ${type} in the ${where}` };
    }
  }
  if (isMacvtap) return macvtap;
  return { eligible: true, bridge };
}
