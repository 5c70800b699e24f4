// An in-memory HostFacts for the pure tests: networks, bridges and defined filters as data, and
// a record of what the core asked, so a test can tell that a fact was (or was not) consulted.
import type { BridgeKind, HostFacts } from "../../src/core/host-facts.js";
import { DEFAULT_FILTER } from "../../src/core/constants.js";

export interface FakeHostSpec {
  /** Network name -> definition text (a <network>, or a <networkstatus> for an active one). */
  networks?: Record<string, string>;
  /** Bridge name -> kind; names not listed are absent. "ovs" is an alias for "other". */
  bridges?: Record<string, "linux" | "other" | "ovs">;
  /** Filters defined on the host; default: the default filter only. Each is an empty filter unless `filterDefs` has it. */
  filters?: string[];
  /** Definitions (<filter> XML) of filters, defined on the host as well. */
  filterDefs?: Record<string, string>;
  /** Answer for networks not listed (default: not found). */
  anyNetwork?: (name: string) => string | undefined;
  /** Answer for bridges not listed (default: absent). */
  anyBridge?: (name: string) => BridgeKind;
}

export interface FakeHost extends HostFacts {
  /** Every question asked, as "network:NAME", "bridge:NAME", "filter:NAME" or "definition:NAME". */
  readonly asked: string[];
}

export function fakeHost(spec: FakeHostSpec = {}): FakeHost {
  const asked: string[] = [];
  const defs = spec.filterDefs ?? {};
  const filters = new Set([...(spec.filters ?? [DEFAULT_FILTER]), ...Object.keys(defs)]);
  return {
    asked,
    network(name) {
      asked.push(`network:${name}`);
      const text = Object.hasOwn(spec.networks ?? {}, name) ? spec.networks?.[name] : spec.anyNetwork?.(name);
      return text === undefined ? undefined : { path: `/fake/networks/${name}.xml`, text };
    },
    bridge(name) {
      asked.push(`bridge:${name}`);
      const kind = Object.hasOwn(spec.bridges ?? {}, name) ? spec.bridges?.[name] : undefined;
      if (kind === "ovs") return "other";
      return kind ?? spec.anyBridge?.(name) ?? "absent";
    },
    filterDefined(name) {
      asked.push(`filter:${name}`);
      return filters.has(name);
    },
    filter(name) {
      asked.push(`definition:${name}`);
      if (!filters.has(name)) return undefined;
      return { path: `/fake/nwfilter/${name}.xml`, text: Object.hasOwn(defs, name) ? (defs[name] as string) : `<filter name='${name}' chain='root'/>\n` };
    },
  };
}

/** Network definitions of each kind libvirt knows, for tests that need one by kind. */
export const NETWORKS = {
  nat: (name = "default", bridge = "virbr0") =>
    `<network>\n  <name>${name}</name>\n  <forward mode='nat'/>\n  <bridge name='${bridge}' stp='on' delay='0'/>\n  <ip address='192.168.122.1' netmask='255.255.255.0'/>\n</network>\n`,
  natImplicit: (name = "default", bridge = "virbr0") => `<network>\n  <name>${name}</name>\n  <forward/>\n  <bridge name='${bridge}'/>\n</network>\n`,
  route: (name = "routed", bridge = "virbr1") =>
    `<network>\n  <name>${name}</name>\n  <forward mode='route' dev='eth1'/>\n  <bridge name='${bridge}'/>\n</network>\n`,
  open: (name = "open", bridge = "virbr2") => `<network>\n  <name>${name}</name>\n  <forward mode='open'/>\n  <bridge name='${bridge}'/>\n</network>\n`,
  isolated: (name = "isolated", bridge = "virbr3") => `<network>\n  <name>${name}</name>\n  <bridge name='${bridge}'/>\n</network>\n`,
  hostBridge: (name = "host-bridge", bridge = "br0") =>
    `<network>\n  <name>${name}</name>\n  <forward mode='bridge'/>\n  <bridge name='${bridge}'/>\n</network>\n`,
  macvtap: (mode: "bridge" | "private" | "vepa" | "passthrough", name = "macvtap") =>
    `<network>\n  <name>${name}</name>\n  <forward mode='${mode}'>\n    <interface dev='eth0'/>\n  </forward>\n</network>\n`,
  hostdev: (name = "sriov") => `<network>\n  <name>${name}</name>\n  <forward mode='hostdev' managed='yes'>\n    <pf dev='eth3'/>\n  </forward>\n</network>\n`,
  ovs: (name = "ovs-net", bridge = "ovsbr0") =>
    `<network>\n  <name>${name}</name>\n  <forward mode='bridge'/>\n  <bridge name='${bridge}'/>\n  <virtualport type='openvswitch'/>\n</network>\n`,
} as const;
