// The one pure transformation shared by the hook and the CLI: domain XML text + policy + host
// facts in; the same text with each eligible NIC's chosen filterref spliced in where it lacks it
// (or carries a stale one), and a report of every NIC, out. Its parts: the NIC table
// (nic-table.ts), exemptions and metadata (exemptions.ts), eligibility (eligibility.ts), the
// choice (filter-choice.ts), what a NIC must carry (compliance.ts), what libvirt would refuse
// (filter-variables.ts) and the splice (splice.ts).
import { judgeFilterref } from "./compliance.js";
import { XmlError } from "./errors.js";
import { judge, networkResolver } from "./eligibility.js";
import { domainExemptions, domainName, noExemptions, type Exemptions } from "./exemptions.js";
import { Chooser, managedFilters } from "./filter-choice.js";
import { sameParameters } from "./filter-params.js";
import { FilterWalker } from "./filter-variables.js";
import type { HostFacts } from "./host-facts.js";
import { mark, type NicReport } from "./nic-report.js";
import { NicTable, retainNics } from "./nic-table.js";
import { isActive, type Policy } from "./policy.js";
import { insertFilterref, replaceFilter, rewriteFilterref } from "./splice.js";
import { lineAt, lineCounter, parseXml, type XmlElement } from "./xml.js";
import { applyEdits, spliceBytes, type Edit, type XmlBytes } from "./xml-bytes.js";

export type { FilterProblem, NicReason, NicReport, NicStatus, Span, Wanted } from "./nic-report.js";

export interface TransformResult<Out extends string | Uint8Array = string> {
  /** The output, of the input's kind: text for text, the input's own bytes (edited) for bytes. */
  xml: Out;
  changed: boolean;
  /** The domain's <name>; undefined for a lone <interface>. */
  domain: string | undefined;
  /** The policy's default filter (each NIC's own is in its report's `wanted`). */
  filter: string;
  /** Every NIC's report, in document order (none when the caller took them with `onNic`). */
  nics: NicReport[];
}

export interface TransformOptions {
  /** Names the input in error messages. */
  file: string;
  /** Only report; leave the text as it is. */
  checkOnly?: boolean;
  /** Which root to accept; by default a <domain> or a lone <interface>. The hook always gets a domain. */
  root?: "domain" | "interface";
  /**
   * For a lone <interface>: the XML of the domain it is meant for, whose name and metadata
   * (exemptions, choices) then apply to it as they would inside the domain.
   */
  owner?: { xml: string; file: string };
  /**
   * Called with each NIC's report, in document order, instead of collecting the reports in
   * `nics` (then empty): a caller that only counts NICs and names a few lets the others go.
   */
  onNic?: (nic: NicReport) => void;
}

/**
 * Accepts a <domain> or, for hot-plug, a single <interface>, as text or as bytes (decoded
 * with decodeXml(), whose bytes the output then edits). Throws XmlError for input that is
 * malformed or not one of those; never returns partial output.
 */
export function transform(input: string, policy: Policy, host: HostFacts, options: TransformOptions): TransformResult<string>;
export function transform(input: XmlBytes, policy: Policy, host: HostFacts, options: TransformOptions): TransformResult<Uint8Array>;
export function transform(input: string | XmlBytes, policy: Policy, host: HostFacts, options: TransformOptions): TransformResult<string | Uint8Array>;
export function transform(input: string | XmlBytes, policy: Policy, host: HostFacts, options: TransformOptions): TransformResult<string | Uint8Array> {
  const { file, onNic } = options;
  const xml = typeof input === "string" ? input : input.text;
  // Each NIC is read into a table when its end tag is reached, and its elements let go: a domain
  // may have tens of thousands of NICs, and its metadata may come after them.
  const found = new NicTable(xml);
  const onEnd = (e: XmlElement) => {
    if (e.name !== "interface" || e.ns !== undefined) return;
    const parent = e.parent;
    if (parent === undefined) found.add(e);
    else if (parent.name === "devices") {
      found.add(e);
      parent.children.pop();
    }
  };
  const root = parseXml(xml, file, { retain: retainNics, onEnd });
  let domain: string | undefined;
  /** The name the [domain:GLOB] sections match: the domain's, or the owner's of a lone interface. */
  let chooserName: string | undefined;
  let exemptions: Exemptions = noExemptions();
  if (root.name === "domain" && options.root !== "interface") {
    domain = domainName(xml, root);
    // libvirt reads ./devices/interface: the interfaces of every <devices>, not just the first.
    exemptions = domainExemptions(xml, root, domain, policy, file);
    chooserName = domain;
  } else if (root.name === "interface" && options.root !== "domain") {
    if (options.owner) {
      const owner = parseXml(options.owner.xml, options.owner.file, { retain: retainNics });
      if (owner.name !== "domain") throw new XmlError(`expected a <domain>, found <${owner.name}>`, { file: options.owner.file });
      chooserName = domainName(options.owner.xml, owner);
      exemptions = domainExemptions(options.owner.xml, owner, chooserName, policy, options.owner.file);
    }
  } else {
    const expected = { domain: "a <domain>", interface: "an <interface>", either: "a <domain> (or a single <interface>)" }[options.root ?? "either"];
    throw new XmlError(`expected ${expected}, found <${root.name}>`, {
      file,
      line: lineAt(xml, root.start),
    });
  }
  if (!isActive(policy)) exemptions.domain = "policy-off";

  const nics: NicReport[] = [];
  const edits: Edit[] = [];
  const networks = networkResolver(host);
  const lineOf = lineCounter(xml);
  const chooser = new Chooser(policy, chooserName, exemptions.choices);
  const managed = managedFilters(policy, exemptions.choices);
  const replace = policy.onExisting === "replace";
  // Filter definitions are read only for the filters NICs need, each once.
  let walker: FilterWalker | undefined;
  // NICs never nest and each gets at most one edit inside it: a NIC's place in the output is its
  // place in the input, shifted by the edits before it and its own.
  let shift = 0;
  for (let index = 0; index < found.length; index++) {
    const nic = found.get(index);
    const { report, place } = judge(nic, index, lineOf(nic.start), policy, host, networks, exemptions);
    const ignored = ignoredFor(exemptions, nic.mac);
    if (ignored !== undefined) report.ignored = ignored;
    const start = nic.start + shift;
    let edit: Edit | undefined;
    const choice = place && chooser.choose(nic.mac, place.network, place.bridge);
    if (choice && choice.filter === null) mark(report, "exempt", "filter-none", `Filter = none from ${choice.from}`);
    else if (choice && choice.filter !== null) {
      const filter = choice.filter;
      const verdict = judgeFilterref(nic.filter, nic.parameters, { ...choice, filter }, policy.domainMetadata, managed);
      report.status = verdict.status;
      report.wanted = { filter, parameters: verdict.parameters, chosen: choice.parameters, from: choice.from };
      // A NIC left with its own filter (OnExisting = keep) is not ours to check.
      const ours = verdict.status !== "other-filter" || replace;
      if (ours) {
        walker ??= new FilterWalker(host);
        const problem = walker.problem(filter, verdict.parameters);
        if (problem) report.problem = problem;
      }
      if (options.checkOnly || verdict.status === "compliant" || !ours) edit = undefined;
      else if (verdict.status === "missing") {
        edit = insertFilterref(xml, nic, filter, verdict.parameters);
        report.action = "injected";
      } else if (nic.filter !== filter && sameParameters(nic.parameters, verdict.parameters)) {
        edit = replaceFilter(nic, filter, file, xml);
        report.action = "replaced";
      } else {
        edit = rewriteFilterref(xml, nic, filter, verdict.parameters);
        report.action = "rewritten";
      }
    }
    if (edit) {
      edits.push(edit);
      shift += edit.insert.length - edit.remove;
    }
    if (start !== nic.start || shift !== 0) report.output = { start, end: nic.end + shift };
    if (onNic) onNic(report);
    else nics.push(report);
  }
  const out = typeof input === "string" ? applyEdits(xml, edits) : spliceBytes(input, edits);
  return { xml: out, changed: edits.length > 0, domain, filter: policy.filter, nics };
}

/** What of the domain's metadata DomainMetadata = ignore set aside for this NIC. */
function ignoredFor(exemptions: Exemptions, mac: string | undefined): string | undefined {
  const own = mac === undefined ? undefined : exemptions.ignored.get(mac);
  const parts = [exemptions.ignoredDomain ? "the domain's exempt=true" : undefined, own && `the interface's ${own}`].filter((p) => p !== undefined);
  return parts.length === 0 ? undefined : `${parts.join(" and ")} (DomainMetadata = ignore)`;
}
