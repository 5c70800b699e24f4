// Words for what a NIC must carry and why libvirt would refuse it: shared by the hook's messages,
// `inject`, `check` and the CLI's reports.
import { DEFAULT_LEVEL, METADATA_LEVEL } from "./filter-choice.js";
import { parametersText } from "./filter-params.js";
import type { FilterProblem, Wanted } from "./nic-report.js";
import type { DomainMetadata } from "./policy.js";

/**
 * `'clean-traffic' (IP=192.0.2.10, IP=192.0.2.11) from [network:prod]` (after "nwfilter"): the choice's own
 * parameters; the default Filter is not named as a level.
 */
export function wantedText(w: Wanted): string {
  const params = w.chosen.length > 0 ? ` (${parametersText(w.chosen)})` : "";
  return `'${w.filter}'${params}${w.from === DEFAULT_LEVEL ? "" : ` from ${w.from}`}`;
}

/** The filter and, for one that another includes, the way to it: `'clean-traffic' (through no-ip-spoofing)`. */
function undefinedText(p: Extract<FilterProblem, { kind: "undefined" }>): string {
  if (p.missing === p.filter) return `nwfilter '${p.filter}' is not defined on this host`;
  return `nwfilter '${p.filter}' includes '${p.missing}'${p.via.length > 1 ? ` (through ${p.via.slice(0, -1).join(", ")})` : ""}, which is not defined on this host`;
}

/** Why libvirt would refuse the filterref, in a few words. */
export function problemText(p: FilterProblem): string {
  switch (p.kind) {
    case "undefined":
      return undefinedText(p);
    case "learning":
      return `CTRL_IP_LEARNING = '${p.value}' is not any, dhcp or none, which libvirt refuses`;
    case "variables": {
      const ip = p.missing.length === 1 && p.missing[0] === "IP" ? " and CTRL_IP_LEARNING = none" : "";
      const list = p.missing.join(", ");
      return `nwfilter '${p.filter}' needs ${list}, ${p.missing.length === 1 ? "which is" : "which are"} not given${ip} (libvirt would fail: "Cannot instantiate filter due to unresolvable variables")`;
    }
  }
}

/** Where a NIC's missing variables can be given, from the level that chose its filter. */
export function whereToGive(w: Wanted, missing: readonly string[], mode: DomainMetadata): string {
  const names = [...new Set(missing.map((m) => m.replace(/\[.*$/, "")))];
  const param = `Parameters = ${names.map((n) => `${n}=VALUE`).join(", ")}`;
  const metadata = `the interface's metadata (${names.map((n) => `<nwfh:parameter name='${n}' value='VALUE'/>`).join("")})`;
  const it = names.length === 1 ? "it" : "them";
  if (w.from === METADATA_LEVEL) return `give ${it} in ${metadata}`;
  const section = w.from === DEFAULT_LEVEL ? `a [network:NAME], [bridge:NAME] or [domain:GLOB] section (${param})` : `${w.from} (${param})`;
  return `give ${it} in ${section}${mode === "trust" ? ` or in ${metadata}` : ""}`;
}
