// Making one domain compliant: its persistent definition (dumpxml --inactive --security-info,
// transform, define) and, when asked, its running NICs (update-device --live with the NIC's live
// XML plus the wanted filterref: libvirt rebuilds their rules). Shared by `apply` and the watcher, so that both do and say the same.
// A domain that needs nothing is not touched: its definition is never written.
import { HostError } from "../core/errors.js";
import type { HostFacts } from "../core/host-facts.js";
import { describeNic } from "../core/decide.js";
import { parametersText } from "../core/filter-params.js";
import { problemText, wantedText, whereToGive } from "../core/filter-messages.js";
import type { DomainMetadata, Policy } from "../core/policy.js";
import { transform, type FilterProblem, type NicReason, type NicReport, type NicStatus, type Wanted } from "../core/transform.js";
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

/** A NIC's filterref as it stands: `'clean-traffic' (IP=192.0.2.10)`, or "none". */
function actualText(nic: NicReport): string {
  if (nic.filter === undefined) return "none";
  return `'${nic.filter}'${nic.parameters.length > 0 ? ` (${parametersText(nic.parameters)})` : ""}`;
}

/** What was (or would be) done to these NICs, grouped by what they now carry. */
function changesText(todo: readonly NicReport[], dryRun: boolean): string {
  const groups = new Map<string, NicReport[]>();
  for (const nic of todo) {
    const w = nic.wanted as Wanted;
    const key =
      nic.action === "injected" ? `${dryRun ? "would add" : "added"} filter ${wantedText(w)} to` : `${dryRun ? "would set" : "set"} filter ${wantedText(w)} on`;
    const list = groups.get(key) ?? [];
    list.push(nic);
    groups.set(key, list);
  }
  return [...groups]
    .map(
      ([key, nics]) =>
        `${key} ${nics.map((n) => (n.action === "injected" ? describeNic(n) : `${describeNic({ ...n, filter: undefined })}, was ${actualText(n)}`)).join("; ")}`,
    )
    .join("; ");
}

/** Why a NIC is left alone: libvirt would refuse its wanted filterref. */
export function leftAloneText(nic: NicReport, mode: DomainMetadata): string {
  const p = nic.problem as FilterProblem;
  const w = nic.wanted as Wanted;
  const give =
    p.kind === "variables" ? `; ${whereToGive(w, p.missing, mode)}` : p.kind === "undefined" ? "; define it first (nwfilter-hook define-filter)" : "";
  return `${describeNic(nic)}: wants nwfilter ${wantedText(w)}, but ${problemText(p)}: left alone${give}`;
}

/**
 * The transformed text with the edits of `keep` NICs undone: the input's text of each such NIC
 * put back where the output has its edited form (from the end, so that earlier places hold).
 */
function undoEdits(before: string, after: string, nics: readonly NicReport[]): string {
  let out = after;
  for (const nic of [...nics].sort((a, b) => b.output.start - a.output.start)) {
    out = out.slice(0, nic.output.start) + before.slice(nic.input.start, nic.input.end) + out.slice(nic.output.end);
  }
  return out;
}

export interface ReconcileResult {
  /** Whether the domain was (or, in a dry run, would be) changed. */
  changed: boolean;
  /** NICs left alone because libvirt would refuse their wanted filterref, per view. */
  leftAlone: number;
  /** NIC views (definition, running) given their wanted filterref (or, in a dry run, that would be). */
  fixed: number;
  /**
   * The domain's NICs by status once done: as it runs when it runs, else as it is defined; a NIC
   * that was given its filterref counts as compliant.
   */
  nics: Record<NicStatus, number>;
}

/** The statuses of `nics` once the `fixed` ones carry their wanted filterref. */
function settled(nics: readonly NicReport[], fixed: readonly NicReport[]): Record<NicStatus, number> {
  const counts = countStatuses(nics);
  for (const n of fixed) {
    counts[n.status]--;
    counts.compliant++;
  }
  return counts;
}

/**
 * What a line of reconcileDomain() reports, so that a caller can weigh it without reading its
 * words: a change made (or, in a dry run, that would be), a NIC left alone, a definition read
 * again because someone else changed it, or anything else.
 */
export type ReconcileLine = "change" | "left-alone" | "retry" | "info";

/**
 * Makes one domain's NICs carry their chosen filterref. `d.uuid`, when known, names the domain to
 * virsh (a rename cannot then send a write to another domain); messages use the name. A NIC whose
 * chosen filter libvirt could not instantiate (not defined, a variable not given) is left alone
 * and said so: a reference to it would make the domain unstartable or fail the update.
 */
export async function reconcileDomain(
  virsh: Virsh,
  d: DomainInfo,
  policy: Policy,
  host: HostFacts,
  options: ReconcileOptions,
  say: (line: string, kind: ReconcileLine) => void,
): Promise<ReconcileResult> {
  let changed = false;
  let leftAlone = 0;
  let fixed = 0;
  let defined: Record<NicStatus, number> | undefined;
  let running: Record<NicStatus, number> | undefined;
  const ref = d.uuid ?? d.name;
  /** The NICs to change, and says which are left alone. */
  const split = (nics: readonly NicReport[], where: string) => {
    const todo = nics.filter((n) => n.action !== undefined);
    const refused = todo.filter((n) => n.problem !== undefined);
    for (const nic of refused) say(`${d.name}: ${where}: ${leftAloneText(nic, policy.domainMetadata)}`, "left-alone");
    leftAlone += refused.length;
    return { todo: todo.filter((n) => n.problem === undefined), refused };
  };

  if (d.persistent) {
    const file = `persistent definition of domain '${d.name}'`;
    for (let attempt = 1; ; attempt++) {
      const before = await virsh.dumpxml(ref, "config");
      const r = transform(before, policy, host, { file, root: "domain" });
      const { todo, refused } = split(r.nics, "definition");
      defined = settled(r.nics, todo);
      if (todo.length === 0) {
        if (refused.length === 0) say(`${d.name}: definition: ${nothingToDo(r.nics)}`, "info");
        break;
      }
      const xml = refused.length === 0 ? r.xml : undoEdits(before, r.xml, refused);
      if (options.dryRun) {
        options.showChange?.(`${d.name} (definition)`, before, xml);
      } else {
        await options.beforeDefine?.();
        // libvirt has no compare-and-swap for definitions: read it once more just before the
        // define, and start over when someone else changed it meanwhile, so as not to undo them.
        if ((await virsh.dumpxml(ref, "config")) !== before) {
          if (attempt >= ATTEMPTS) throw new HostError(`the definition kept changing while it was being fixed (${ATTEMPTS} attempts): left alone`);
          say(`${d.name}: definition: changed by someone else meanwhile; reading it again`, "retry");
          leftAlone -= refused.length;
          continue;
        }
        await virsh.define(xml, d.name);
      }
      say(`${d.name}: definition: ${changesText(todo, options.dryRun)}`, "change");
      changed = true;
      fixed += todo.length;
      break;
    }
  }

  if (d.active) {
    const file = `live definition of domain '${d.name}'`;
    const before = await virsh.dumpxml(ref, "live");
    const r = transform(before, policy, host, { file, root: "domain" });
    const { todo, refused } = split(r.nics, "running");
    running = settled(r.nics, options.live ? todo : []);
    if (todo.length === 0) {
      if (refused.length === 0) say(`${d.name}: running: ${nothingToDo(r.nics)}`, "info");
    } else if (!options.live) {
      say(
        `${d.name}: running: ${todo.length} interface(s) lack their filter or carry a stale one until the domain restarts; add --live to fix them now: ${nicList(todo)}`,
        "info",
      );
    } else {
      for (const nic of todo) {
        const device = r.xml.slice(nic.output.start, nic.output.end);
        const label = `${d.name} (running interface ${nic.mac ?? nic.index + 1})`;
        if (options.dryRun) options.showChange?.(label, `${before.slice(nic.input.start, nic.input.end)}\n`, `${device}\n`);
        else await virsh.updateDeviceLive(ref, device, d.name);
      }
      if (!options.dryRun) {
        // libvirt rebuilds a running NIC's rules when its filterref changes: its live XML must now
        // show the wanted filter and parameters.
        const after = transform(await virsh.dumpxml(ref, "live"), policy, host, { file, checkOnly: true, root: "domain" });
        const still = after.nics.filter((n) => n.status !== "compliant" && todo.some((t) => t.mac === n.mac));
        if (still.length > 0) {
          const what = still.map((n) => `${describeNic(n)} carries ${actualText(n)}`).join("; ");
          throw new HostError(`libvirt accepted update-device but the running interface does not carry its wanted filter: ${what}`);
        }
      }
      say(`${d.name}: running: ${changesText(todo, options.dryRun)}`, "change");
      changed = true;
      fixed += todo.length;
    }
  }
  if (!d.persistent && !d.active) say(`${d.name}: neither defined nor running any more`, "info");
  return { changed, leftAlone, fixed, nics: running ?? defined ?? countStatuses([]) };
}
