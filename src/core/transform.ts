// The one pure transformation shared by the hook and the CLI: domain XML text + policy + host
// facts in; the same text with a filterref spliced into each eligible NIC that lacks it, and a
// report of every NIC, out.
import { FILTERABLE_TYPES, METADATA_NS } from "./constants.js";
import { XmlError } from "./errors.js";
import type { HostFacts } from "./host-facts.js";
import { classifyNetwork, type NetworkClass } from "./network.js";
import { isActive, type Policy } from "./policy.js";
import { globMatcher } from "./glob.js";
import {
  attr,
  attrKey,
  attrValue,
  child,
  children,
  isXmlSpace,
  lineAt,
  lineCounter,
  localName,
  namespaceOf,
  parseXml,
  textContent,
  valueStart,
  type Retain,
  type XmlElement,
} from "./xml.js";
import { applyEdits, spliceBytes, type Edit, type XmlBytes } from "./xml-bytes.js";

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

export interface Span {
  start: number;
  end: number;
}

export interface TransformResult<Out extends string | Uint8Array = string> {
  /** The output, of the input's kind: text for text, the input's own bytes (edited) for bytes. */
  xml: Out;
  changed: boolean;
  /** The domain's <name>; undefined for a lone <interface>. */
  domain: string | undefined;
  /** The policy's filter. */
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
   * exemptions then apply to it as they would inside the domain.
   */
  owner?: { xml: string; file: string };
  /**
   * Called with each NIC's report, in document order, instead of collecting the reports in
   * `nics` (then empty): a caller that only counts NICs and names a few lets the others go.
   */
  onNic?: (nic: NicReport) => void;
}

interface Exemptions {
  domain: NicReason | undefined;
  macs: Set<string>;
}

/** What <interface> children judge() reads. */
const NIC_CHILDREN: ReadonlySet<string> = new Set(["mac", "source", "filterref", "virtualport", "target"]);

/**
 * The elements transform reads, and no others: a domain's <name>, <devices> and <metadata>,
 * the <interface>s of every <devices>, what judge() reads of each, and this product's policy
 * elements in <metadata>. Everything else (a large <metadata> of the user's, say) is checked by
 * the scanner and not kept, so that memory does not grow with it.
 */
const retainNics: Retain = (parent, name, ns) => {
  const grand = parent.parent;
  if (grand === undefined) {
    // The root's children; a lone <interface>'s are what judge() reads.
    if (ns !== undefined) return false;
    return parent.name === "interface" ? NIC_CHILDREN.has(name) : name === "name" || name === "devices" || name === "metadata";
  }
  if (grand.parent === undefined) {
    if (parent.name === "metadata" && parent.ns === undefined) return ns === METADATA_NS;
    return parent.name === "devices" && parent.ns === undefined && name === "interface" && ns === undefined;
  }
  if (grand.parent.parent !== undefined) return false;
  // Inside a policy element everything is kept, so that readMetadata() refuses what it does not know.
  if (parent.ns === METADATA_NS) return true;
  return parent.name === "interface" && ns === undefined && NIC_CHILDREN.has(name);
};

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
  let exemptions: Exemptions = { domain: undefined, macs: new Set() };
  if (root.name === "domain" && options.root !== "interface") {
    domain = domainName(xml, root);
    // libvirt reads ./devices/interface: the interfaces of every <devices>, not just the first.
    exemptions = domainExemptions(xml, root, domain, policy, file);
  } else if (root.name === "interface" && options.root !== "domain") {
    if (options.owner) {
      const owner = parseXml(options.owner.xml, options.owner.file, { retain: retainNics });
      if (owner.name !== "domain") throw new XmlError(`expected a <domain>, found <${owner.name}>`, { file: options.owner.file });
      exemptions = domainExemptions(options.owner.xml, owner, domainName(options.owner.xml, owner), policy, options.owner.file);
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
  // NICs never nest and each gets at most one edit inside it: a NIC's place in the output is its
  // place in the input, shifted by the edits before it and its own.
  let shift = 0;
  for (let index = 0; index < found.length; index++) {
    const nic = found.get(index);
    const report = judge(nic, index, lineOf(nic.start), policy, host, networks, exemptions);
    const start = nic.start + shift;
    let edit: Edit | undefined;
    if (options.checkOnly) edit = undefined;
    else if (report.status === "missing") {
      edit = insertFilterref(xml, nic, policy.filter);
      report.action = "injected";
    } else if (report.status === "other-filter" && policy.onExisting === "replace") {
      edit = replaceFilter(nic, policy.filter, file, xml);
      report.action = "replaced";
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

type NetworkResolver = (name: string, portgroup: string | undefined) => NetworkClass | undefined;

/** Reads each network once and classifies each (network, portgroup) once per document: many NICs share one network. */
function networkResolver(host: HostFacts): NetworkResolver {
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

/** What judge() and the splice need of an <interface>, read as libvirt reads it. */
interface Nic {
  start: number;
  tagEnd: number;
  closeStart: number;
  end: number;
  firstChild: number;
  type: string;
  mac: string | undefined;
  network: string | undefined;
  portgroup: string | undefined;
  bridge: string | undefined;
  sourceDev: string | undefined;
  targetDev: string | undefined;
  /** The first filterref's filter attribute ("" when it has none); undefined: no filterref. */
  filter: string | undefined;
  /** Where that attribute's value is written, and its length as written (-1: nowhere). */
  filterAt: number;
  filterLength: number;
  virtualport: boolean;
}

// The table's columns, 32-bit integers all: where the NIC stands, and for each attribute judge()
// reads, a pair: -1 when there is none; -2 - i for the i-th of the values shared by many NICs;
// else where the value is written and its length as written.
const START = 0;
const TAG_END = 1;
const CLOSE_START = 2;
const END = 3;
const FIRST_CHILD = 4;
const FLAGS = 5;
const TYPE = 6;
const MAC = 8;
const NETWORK = 10;
const PORTGROUP = 12;
const BRIDGE = 14;
const SOURCE_DEV = 16;
const TARGET_DEV = 18;
const FILTER = 20;
const COLUMNS = 22;
// FLAGS bits.
const HAS_FILTERREF = 1;
const HAS_VIRTUALPORT = 2;
/** Distinct values shared at most: types, bridges and networks repeat from NIC to NIC. */
const SHARED = 256;

/**
 * The NICs of a document as they are found, as numbers rather than objects and strings: a domain
 * may have 65,536 NICs, all kept until the metadata that may follow them has been read, and
 * numbers in one typed array cost the garbage collector nothing. A value that repeats is kept
 * once; the others (MACs, and the filter, whose position the splice needs) are read from the
 * text again when the NIC is judged.
 */
class NicTable {
  length = 0;
  private table = new Int32Array(COLUMNS * 16);
  private readonly values: string[] = [];
  private readonly ids = new Map<string, number>();

  constructor(private readonly text: string) {}

  add(e: XmlElement): void {
    if (this.table.length < (this.length + 1) * COLUMNS) {
      const grown = new Int32Array(this.table.length * 2);
      grown.set(this.table);
      this.table = grown;
    }
    const t = this.table;
    const o = this.length++ * COLUMNS;
    const source = child(e, "source");
    const ref = child(e, "filterref");
    t[o + START] = e.start;
    t[o + TAG_END] = e.tagEnd;
    t[o + CLOSE_START] = e.closeStart;
    t[o + END] = e.end;
    t[o + FIRST_CHILD] = e.firstChild;
    t[o + FLAGS] = (ref ? HAS_FILTERREF : 0) | (child(e, "virtualport") ? HAS_VIRTUALPORT : 0);
    this.value(o + TYPE, e, "type", true);
    this.value(o + MAC, child(e, "mac"), "address", false);
    this.value(o + NETWORK, source, "network", true);
    this.value(o + PORTGROUP, source, "portgroup", true);
    this.value(o + BRIDGE, source, "bridge", true);
    this.value(o + SOURCE_DEV, source, "dev", true);
    this.value(o + TARGET_DEV, child(e, "target"), "dev", false);
    this.value(o + FILTER, ref, "filter", false);
  }

  /** The NIC at `i`, as a record for judging it (made anew, and let go once judged). */
  get(i: number): Nic {
    const t = this.table;
    const o = i * COLUMNS;
    const flags = t[o + FLAGS] as number;
    return {
      start: t[o + START] as number,
      tagEnd: t[o + TAG_END] as number,
      closeStart: t[o + CLOSE_START] as number,
      end: t[o + END] as number,
      firstChild: t[o + FIRST_CHILD] as number,
      type: this.read(o + TYPE) ?? "",
      mac: this.read(o + MAC)?.toLowerCase(),
      network: this.read(o + NETWORK),
      portgroup: this.read(o + PORTGROUP),
      bridge: this.read(o + BRIDGE),
      sourceDev: this.read(o + SOURCE_DEV),
      targetDev: this.read(o + TARGET_DEV),
      filter: flags & HAS_FILTERREF ? (this.read(o + FILTER) ?? "") : undefined,
      filterAt: t[o + FILTER] as number,
      filterLength: t[o + FILTER] === -1 ? -1 : (t[o + FILTER + 1] as number),
      virtualport: (flags & HAS_VIRTUALPORT) !== 0,
    };
  }

  /** Records the attribute libvirt reads for `name`, if any: shared, or where it is written. */
  private value(at: number, el: XmlElement | undefined, name: string, share: boolean): void {
    const t = this.table;
    const key = el && attrKey(el, name);
    if (el === undefined || key === undefined) {
      t[at] = -1;
      return;
    }
    const raw = el.attrs[key] as string;
    if (share) {
      const value = attrValue(raw);
      let id = this.ids.get(value);
      if (id === undefined && this.values.length < SHARED) {
        id = this.values.push(value) - 1;
        this.ids.set(value, id);
      }
      if (id !== undefined) {
        t[at] = -2 - id;
        return;
      }
    }
    t[at] = valueStart(this.text, el, key);
    t[at + 1] = raw.length;
  }

  /** The attribute recorded at `at`, as libvirt reads it (normalised, references decoded). */
  private read(at: number): string | undefined {
    const start = this.table[at] as number;
    if (start === -1) return undefined;
    if (start < -1) return this.values[-2 - start];
    return attrValue(this.text.slice(start, start + (this.table[at + 1] as number)));
  }
}

function judge(nic: Nic, index: number, line: number, policy: Policy, host: HostFacts, networks: NetworkResolver, exemptions: Exemptions): NicReport {
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

/** Sets a report's status and why. */
function mark(report: NicReport, status: NicStatus, reason: NicReason, detail?: string): NicReport {
  report.status = status;
  report.reason = reason;
  if (detail !== undefined) report.detail = detail;
  return report;
}

/** `string(./name[1])`, as libvirt reads it: untrimmed; empty means none. */
function domainName(xml: string, domain: XmlElement): string | undefined {
  const nameEl = child(domain, "name");
  const name = nameEl ? textContent(xml, nameEl) : "";
  return name === "" ? undefined : name;
}

/** The domain's metadata exemptions, and the policy's exemption of its name. */
function domainExemptions(xml: string, domain: XmlElement, name: string | undefined, policy: Policy, file: string): Exemptions {
  const exemptions = readMetadata(xml, domain, file);
  if (exemptions.domain === undefined && name !== undefined && policy.exempt.domains.length > 0) {
    if (globMatcher(policy.exempt.domains)(name)) exemptions.domain = "domain-policy";
  }
  return exemptions;
}

/** Domain-wide and per-NIC exemptions from <metadata><policy xmlns="urn:nwfilter-hook:1">. */
function readMetadata(xml: string, domain: XmlElement, file: string): Exemptions {
  const result: Exemptions = { domain: undefined, macs: new Set() };
  for (const metadata of children(domain, "metadata")) {
    for (const policy of metadata.children) {
      if (namespaceOf(policy) !== METADATA_NS) continue;
      if (localName(policy) !== "policy") throw metadataError(xml, policy, file, `unknown element <${policy.name}> (expected policy)`);
      checkAttrs(xml, policy, ["exempt"], file);
      if (readBool(xml, policy, file)) result.domain = "domain-metadata";
      for (const nic of policy.children) {
        if (namespaceOf(nic) !== METADATA_NS || localName(nic) !== "interface") {
          throw metadataError(xml, nic, file, `unexpected element <${nic.name}> in the policy (expected interface)`);
        }
        checkAttrs(xml, nic, ["mac", "exempt"], file);
        const mac = attr(nic, "mac");
        if (mac === undefined || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac)) {
          throw metadataError(xml, nic, file, `interface needs mac="xx:xx:xx:xx:xx:xx", got ${mac === undefined ? "none" : `'${mac}'`}`);
        }
        if (readBool(xml, nic, file)) result.macs.add(mac.toLowerCase());
      }
    }
  }
  return result;
}

function checkAttrs(xml: string, element: XmlElement, allowed: string[], file: string): void {
  for (const name of Object.keys(element.attrs)) {
    if (name === "xmlns" || name.startsWith("xmlns:") || allowed.includes(name)) continue;
    throw metadataError(xml, element, file, `unknown attribute '${name}' on <${element.name}>`);
  }
}

function readBool(xml: string, element: XmlElement, file: string): boolean {
  const value = attr(element, "exempt");
  if (value === undefined || value === "false" || value === "0") return false;
  if (value === "true" || value === "1") return true;
  throw metadataError(xml, element, file, `exempt must be true or false, got '${value}'`);
}

function metadataError(xml: string, element: XmlElement, file: string, message: string): XmlError {
  return new XmlError(`${METADATA_NS} metadata: ${message}`, { file, line: lineAt(xml, element.start) });
}

/** `<filterref filter='NAME'/>` as the last child, on its own line and indented like its siblings. */
function insertFilterref(xml: string, nic: Nic, filter: string): Edit {
  const element = `<filterref filter='${filter}'/>`;
  if (nic.tagEnd === nic.end) {
    // `<interface .../>` becomes `<interface ...><filterref .../></interface>`.
    const slash = xml.lastIndexOf("/", nic.end - 1);
    return { at: slash, remove: nic.end - slash, insert: `>${element}</interface>` };
  }
  const close = nic.closeStart;
  let contentEnd = close;
  while (contentEnd > nic.start && isXmlSpace(xml.charCodeAt(contentEnd - 1))) contentEnd--;
  const gap = xml.slice(contentEnd, close);
  const newline = gap.lastIndexOf("\n");
  if (newline === -1) return { at: close, remove: 0, insert: element }; // written on one line
  const eol = gap[newline - 1] === "\r" ? "\r\n" : "\n";
  return { at: contentEnd, remove: 0, insert: `${eol}${childIndent(xml, nic, gap.slice(newline + 1))}${element}` };
}

/** The indentation of the NIC's first child when it starts a line, else the NIC's own plus two spaces. */
function childIndent(xml: string, nic: Nic, closingIndent: string): string {
  const first = nic.firstChild;
  if (first !== -1) {
    const lineStart = xml.lastIndexOf("\n", first - 1) + 1;
    const before = xml.slice(lineStart, first);
    if (lineStart > nic.tagEnd && /^[ \t]*$/.test(before)) return before;
  }
  const unit = closingIndent.includes("\t") ? "\t" : "  ";
  return closingIndent + unit;
}

/**
 * Rewrites only the value of the filter attribute libvirt reads on the first filterref, at the
 * position the scanner found it, keeping its quotes and parameters.
 */
function replaceFilter(nic: Nic, filter: string, file: string, xml: string): Edit {
  if (nic.filterAt === -1) throw new XmlError("filterref without a filter attribute", { file, line: lineAt(xml, nic.start) });
  return { at: nic.filterAt, remove: nic.filterLength, insert: filter };
}
