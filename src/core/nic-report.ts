// What the transformation says about each NIC: its status, why, the filterref it must carry,
// and where it stands in the input and the output. Shared by the hook's decisions, the CLI and
// the watcher.
import type { FilterParameter } from "./filter-params.js";

/**
 * compliant: carries the filterref it must; missing: has none; stale: references the chosen
 * filter with other values for a name the choice sets (or, under DomainMetadata = ignore, more
 * parameters), or a filter the policy manages but did not choose for it; other-filter: references
 * a filter the policy knows nothing of.
 */
export type NicStatus = "compliant" | "missing" | "stale" | "exempt" | "ineligible" | "other-filter";

export type NicReason =
  | "policy-off"
  | "domain-policy"
  | "domain-metadata"
  | "mac-policy"
  | "network-policy"
  | "bridge-policy"
  | "nic-metadata"
  | "filter-none"
  | "type"
  | "virtualport"
  | "network-not-found"
  | "network-macvtap"
  | "network-hostdev"
  | "network-virtualport"
  | "not-linux-bridge";

export interface Span {
  start: number;
  end: number;
}

/** The filterref a NIC must carry, and the policy level that chose its filter. */
export interface Wanted {
  filter: string;
  /** Everything its filterref must hold: the choice's, and (under trust) the NIC's own other parameters. */
  parameters: FilterParameter[];
  /** The choice's own parameters. */
  chosen: FilterParameter[];
  /** "[network:prod]", "the domain's metadata", "the default Filter", ... */
  from: string;
}

/** Why libvirt would refuse the wanted filterref: a filter not defined here, or variables it cannot resolve. */
export type FilterProblem =
  | {
      kind: "undefined";
      filter: string;
      /** The filter that is not defined: the wanted one, or one it includes. */ missing: string;
      /** The includes that lead to it. */ via: string[];
    }
  | { kind: "variables"; filter: string; /** As libvirt names them: IP, GATEWAY_MAC, DHCPSERVER[1], ... */ missing: string[] }
  | { kind: "learning"; filter: string; /** A CTRL_IP_LEARNING that is not any, dhcp or none. */ value: string };

export interface NicReport {
  /** 0-based position among the domain's interfaces. */
  index: number;
  line: number;
  mac: string | undefined;
  type: string;
  /** The bridge, network (with its portgroup) or target device the NIC names. */
  source: string | undefined;
  /** The filter the NIC referenced in the input. */
  filter: string | undefined;
  /** The parameters of its filterref in the input (none without a filterref). */
  parameters: FilterParameter[];
  /** What it must carry; set for the NICs the policy gives a filter (not exempt, not ineligible). */
  wanted?: Wanted;
  /** Set when libvirt would refuse `wanted` on this host. */
  problem?: FilterProblem;
  /** What of the domain's metadata the policy ignored for this NIC (DomainMetadata = ignore). */
  ignored?: string;
  status: NicStatus;
  reason?: NicReason;
  detail?: string;
  /** injected: a filterref added; replaced: its filter attribute rewritten; rewritten: the whole filterref. */
  action?: "injected" | "replaced" | "rewritten";
  /** Where the <interface> element stands in the input text. */
  input: Span;
  /** Where it stands in the returned text, filterref included. */
  output: Span;
}

/** Sets a report's status and why. */
export function mark(report: NicReport, status: NicStatus, reason: NicReason, detail?: string): NicReport {
  report.status = status;
  report.reason = reason;
  if (detail !== undefined) report.detail = detail;
  return report;
}
