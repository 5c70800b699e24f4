// What the transformation says about each NIC: its status, why, and where it stands in the
// input and the output. Shared by the hook's decisions, the CLI and the watcher.

export type NicStatus = "compliant" | "missing" | "exempt" | "ineligible" | "other-filter";

export type NicReason =
  | "policy-off"
  | "domain-policy"
  | "domain-metadata"
  | "mac-policy"
  | "network-policy"
  | "bridge-policy"
  | "nic-metadata"
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
  status: NicStatus;
  reason?: NicReason;
  detail?: string;
  action?: "injected" | "replaced";
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
