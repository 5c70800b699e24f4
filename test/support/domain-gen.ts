// Generated libvirt domains for the property tests: random NIC types, sources, MACs, existing
// filterrefs, exemptions, and every way of writing XML the core must preserve (line endings,
// indentation, quotes, BOM, comments, one-line and self-closing elements, metadata with the
// namespace errors that libxml2 and libvirt read on after). Each generated
// domain carries an independent model of what the core must do to each NIC, and where each
// NIC stands in the text.
import fc from "fast-check";
import { DEFAULT_POLICY, type Policy } from "../../src/core/policy.js";
import { NETWORKS, type FakeHostSpec } from "./fake-host.js";

export const NIC_TYPES = ["bridge", "ethernet", "network", "direct", "hostdev", "user", "vhostuser", "vdpa", "mcast"] as const;
/** Linux bridge, Open vSwitch bridge, a bridge absent from the host. */
export const BRIDGE_NAMES = ["br0", "ovsbr0", "br-new"] as const;
export const NETWORK_NAMES = ["nat", "routed", "newbr", "macvtap", "sriov", "ovsnet", "ovsbridged", "missing"] as const;

export const HOST: FakeHostSpec = {
  networks: {
    nat: NETWORKS.nat("nat", "virbr0"),
    routed: NETWORKS.route("routed", "virbr1"),
    newbr: NETWORKS.hostBridge("newbr", "br-new"),
    macvtap: NETWORKS.macvtap("passthrough", "macvtap"),
    sriov: NETWORKS.hostdev("sriov"),
    ovsnet: NETWORKS.ovs("ovsnet", "ovsbr0"),
    ovsbridged: NETWORKS.hostBridge("ovsbridged", "ovsbr1"),
  },
  bridges: { br0: "linux", virbr0: "linux", virbr1: "linux", ovsbr0: "ovs", ovsbr1: "ovs" },
};

export interface NicSpec {
  type: (typeof NIC_TYPES)[number];
  bridge: (typeof BRIDGE_NAMES)[number];
  network: (typeof NETWORK_NAMES)[number];
  hasMac: boolean;
  upperMac: boolean;
  existing: "none" | "policy" | "other" | "other-params";
  virtualport: boolean;
  model: boolean;
  layout: "multi" | "oneline" | "selfclosing";
  comment: boolean;
  exemptInMetadata: boolean;
  exemptInPolicy: boolean;
}

export interface DomainSpec {
  name: "vm1" | "lab-3";
  eol: "\n" | "\r\n";
  indent: "  " | "    " | "\t" | " ";
  quote: "'" | '"';
  bom: boolean;
  declaration: boolean;
  doctype: boolean;
  commentBefore: boolean;
  compact: boolean;
  trailingEol: boolean;
  otherMetadata: boolean;
  domainExempt: boolean;
  lookalikeMetadata: boolean;
  /** Metadata with namespace errors, and look-alikes that libxml2 puts in no namespace. */
  namespaceErrors: boolean;
  exemptRouted: boolean;
  exemptBridgeNew: boolean;
  onExisting: "keep" | "replace";
  enabled: boolean;
  nics: NicSpec[];
}

const rare = fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });

export const nicSpec: fc.Arbitrary<NicSpec> = fc.record({
  type: fc.oneof({ weight: 3, arbitrary: fc.constantFrom("bridge", "ethernet", "network") }, { weight: 2, arbitrary: fc.constantFrom(...NIC_TYPES) }),
  bridge: fc.constantFrom(...BRIDGE_NAMES),
  network: fc.constantFrom(...NETWORK_NAMES),
  hasMac: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  upperMac: fc.boolean(),
  existing: fc.constantFrom("none", "none", "none", "policy", "other", "other-params"),
  virtualport: rare,
  model: fc.boolean(),
  layout: fc.constantFrom("multi", "multi", "oneline", "selfclosing"),
  comment: rare,
  exemptInMetadata: rare,
  exemptInPolicy: rare,
});

export const domainSpec: fc.Arbitrary<DomainSpec> = fc.record({
  name: fc.oneof({ weight: 8, arbitrary: fc.constant("vm1" as const) }, { weight: 1, arbitrary: fc.constant("lab-3" as const) }),
  eol: fc.constantFrom("\n", "\r\n"),
  indent: fc.constantFrom("  ", "    ", "\t", " "),
  quote: fc.constantFrom("'", '"'),
  bom: rare,
  declaration: fc.boolean(),
  doctype: rare,
  commentBefore: rare,
  compact: rare,
  trailingEol: fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  otherMetadata: fc.boolean(),
  domainExempt: rare,
  lookalikeMetadata: rare,
  namespaceErrors: rare,
  exemptRouted: rare,
  exemptBridgeNew: rare,
  onExisting: fc.constantFrom("keep", "replace"),
  enabled: fc.oneof({ weight: 12, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  nics: fc.array(nicSpec, { maxLength: 7 }),
});

export type Expected = "insert" | "replace" | "none";

export interface GeneratedDomain {
  spec: DomainSpec;
  xml: string;
  policy: Policy;
  /** Per NIC: its span in xml and what the core must do to it. */
  nics: { start: number; end: number; expected: Expected }[];
}

function macOf(i: number, upper: boolean): string {
  const m = `52:54:00:ab:cd:${i.toString(16).padStart(2, "0")}`;
  return upper ? m.toUpperCase() : m;
}

/** What the core must do to a NIC: the rules of DESIGN.md, written independently of src/. */
function expectedFor(spec: DomainSpec, nic: NicSpec): Expected {
  if (nic.type !== "bridge" && nic.type !== "ethernet" && nic.type !== "network") return "none";
  if (nic.virtualport) return "none";
  if (!spec.enabled || spec.domainExempt || spec.name === "lab-3") return "none";
  if (nic.hasMac && (nic.exemptInMetadata || nic.exemptInPolicy)) return "none";
  let bridge: string | undefined;
  if (nic.type === "network") {
    if (nic.network === "routed" && spec.exemptRouted) return "none";
    if (!["nat", "routed", "newbr", "ovsbridged"].includes(nic.network)) return "none";
    bridge = { nat: "virbr0", routed: "virbr1", newbr: "br-new", ovsbridged: "ovsbr1" }[nic.network as string];
  } else if (nic.type === "bridge") bridge = nic.bridge;
  if (bridge === "br-new" && spec.exemptBridgeNew) return "none";
  if (bridge === "ovsbr0" || bridge === "ovsbr1") return "none";
  if (nic.existing === "none") return "insert";
  if (nic.existing === "policy") return "none";
  return spec.onExisting === "replace" ? "replace" : "none";
}

export function render(spec: DomainSpec): GeneratedDomain {
  const q = spec.quote;
  const a = (name: string, value: string) => `${name}=${q}${value}${q}`;
  const nl = (level: number) => (spec.compact ? "" : spec.eol + spec.indent.repeat(level));
  let xml = "";
  if (spec.bom) xml += "\ufeff";
  if (spec.declaration) xml += `<?xml version=${q}1.0${q} encoding=${q}UTF-8${q}?>${spec.compact ? "" : spec.eol}`;
  if (spec.commentBefore) xml += `<!-- <interface type='bridge'/> -->${spec.compact ? "" : spec.eol}`;
  if (spec.doctype) xml += `<!DOCTYPE domain>${spec.compact ? "" : spec.eol}`;
  xml += `<domain ${a("type", "kvm")}>`;
  xml += `${nl(1)}<name>${spec.name}</name>`;

  const metadata: string[] = [];
  if (spec.otherMetadata) metadata.push(`<app:foo xmlns:app=${q}http://app.example.org/${q}><![CDATA[<interface type='bridge'/>]]></app:foo>`);
  if (spec.domainExempt) metadata.push(`<nwfh:policy xmlns:nwfh=${q}urn:nwfilter-hook:1${q} exempt=${q}true${q}/>`);
  if (spec.lookalikeMetadata) metadata.push(`<nwfh:policy xmlns:nwfh=${q}urn:nwfilter-hook:2${q} exempt=${q}true${q}/>`);
  if (spec.namespaceErrors) {
    // An undeclared prefix is no namespace: this policy exempts nothing, these interfaces are none.
    metadata.push(`<a:b:c xmlns:a=${q}urn:a${q} ns0:info:x=${q}1${q} :z=${q}2${q} xmlns:=${q}u${q}/>`);
    metadata.push(`<nwfh:policy exempt=${q}true${q}/>`);
    metadata.push(`<app:x xmlns:app=${q}urn:app${q} xmlns:p=${q}${q}><undeclared:interface ${a("type", "bridge")}/><a:1/><?p:q?></app:x>`);
  }
  const mdNics = spec.nics
    .map((n, i) => (n.hasMac && n.exemptInMetadata ? `<i:interface mac=${q}${macOf(i, !n.upperMac)}${q} exempt=${q}true${q}/>` : ""))
    .filter(Boolean);
  if (mdNics.length > 0) metadata.push(`<i:policy xmlns:i=${q}urn:nwfilter-hook:1${q}>${mdNics.map((m) => nl(3) + m).join("")}${nl(2)}</i:policy>`);
  if (metadata.length > 0) xml += `${nl(1)}<metadata>${metadata.map((m) => nl(2) + m).join("")}${nl(1)}</metadata>`;

  xml += `${nl(1)}<devices>`;
  const nics: GeneratedDomain["nics"] = [];
  spec.nics.forEach((nic, i) => {
    const children: string[] = [];
    if (nic.hasMac) children.push(`<mac ${a("address", macOf(i, nic.upperMac))}/>`);
    switch (nic.type) {
      case "bridge":
        children.push(`<source ${a("bridge", nic.bridge)}/>`);
        break;
      case "network":
        children.push(`<source ${a("network", nic.network)}/>`);
        break;
      case "ethernet":
        children.push(`<target ${a("dev", `tap${i}`)}/>`);
        break;
      case "direct":
        children.push(`<source ${a("dev", "eth0")} ${a("mode", "vepa")}/>`);
        break;
      case "hostdev":
        children.push(`<source><address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/></source>`);
        break;
      case "vhostuser":
        children.push(`<source ${a("type", "unix")} ${a("path", "/tmp/s.sock")} ${a("mode", "server")}/>`);
        break;
      case "vdpa":
        children.push(`<source ${a("dev", "/dev/vhost-vdpa-0")}/>`);
        break;
      case "mcast":
        children.push(`<source ${a("address", "230.0.0.1")} ${a("port", "5558")}/>`);
        break;
      case "user":
        break;
    }
    if (nic.model) children.push(`<model ${a("type", "virtio")}/>`);
    if (nic.virtualport) children.push(`<virtualport ${a("type", "openvswitch")}/>`);
    if (nic.existing === "policy") children.push(`<filterref ${a("filter", DEFAULT_POLICY.filter)}/>`);
    if (nic.existing === "other") children.push(`<filterref ${a("filter", "clean-traffic")}/>`);
    if (nic.existing === "other-params") {
      children.push(`<filterref ${a("filter", "clean-traffic")}>${nl(4)}<parameter ${a("name", "IP")} ${a("value", "10.0.0.1")}/>${nl(3)}</filterref>`);
    }
    if (nic.comment) children.push("<!-- last: <filterref filter='x'/> </interface> -->");

    xml += nl(2);
    const start = xml.length;
    const open = `<interface ${a("type", nic.type)}`;
    if (children.length === 0 && nic.layout === "selfclosing") xml += `${open}/>`;
    else if (nic.layout === "multi") xml += `${open}>${children.map((c) => nl(3) + c).join("")}${nl(2)}</interface>`;
    else xml += `${open}>${children.join("")}</interface>`;
    nics.push({ start, end: xml.length, expected: expectedFor(spec, nic) });
  });
  xml += `${nl(1)}</devices>${spec.compact ? "" : spec.eol}</domain>`;
  if (spec.trailingEol) xml += spec.eol;

  const policy: Policy = {
    ...DEFAULT_POLICY,
    source: "generated",
    enabled: spec.enabled,
    onExisting: spec.onExisting,
    exempt: {
      domains: ["lab-*"],
      networks: spec.exemptRouted ? ["routed"] : [],
      bridges: spec.exemptBridgeNew ? ["br-new"] : [],
      macs: spec.nics.flatMap((n, i) => (n.hasMac && n.exemptInPolicy ? [macOf(i, false)] : [])),
    },
  };
  return { spec, xml, policy, nics };
}

export const generatedDomain: fc.Arbitrary<GeneratedDomain> = domainSpec.map(render);

/** Small edits that turn a valid document into a nearly valid (or subtly different) one. */
export const XML_TOKENS = [
  "<",
  ">",
  "/>",
  "</",
  "'",
  '"',
  "=",
  "&",
  "&amp;",
  "&#48;",
  ";",
  " ",
  "\n",
  "\r\n",
  "\t",
  "\ufeff",
  "\0",
  "<interface type='bridge'>",
  "</interface>",
  "<interface type='network'/>",
  "<source bridge='br0'/>",
  "<devices>",
  "</devices>",
  "<domain>",
  "</domain>",
  "<!--",
  "-->",
  "<![CDATA[",
  "]]>",
  "<!DOCTYPE d [",
  "]>",
  "<?x ?>",
  "<filterref filter='x'/>",
  "<metadata>",
  "<nwfh:policy xmlns:nwfh='urn:nwfilter-hook:1' exempt='true'/>",
  "xmlns:a='urn:a'",
  "a:",
  "é",
  "\u{1F600}",
];

/** Insertions that keep a document well-formed where they land between tags. */
const BENIGN = [
  " ",
  "\n",
  "\r\n\t",
  "<!-- <interface type='bridge'/> -->",
  "<?pi x?>",
  "<x:y xmlns:x='urn:x'><interface type='bridge'/></x:y>",
  "<![CDATA[</interface>]]>",
  "&amp;",
  "&#10;",
  "text",
];

export const mutatedDomain: fc.Arbitrary<string> = fc
  .tuple(
    generatedDomain,
    fc.array(
      fc.record({
        kind: fc.constantFrom("delete", "insert", "duplicate", "truncate", "replace-char", "benign", "benign", "benign"),
        at: fc.double({ min: 0, max: 1, noNaN: true }),
        len: fc.integer({ min: 1, max: 40 }),
        token: fc.constantFrom(...XML_TOKENS),
        benign: fc.constantFrom(...BENIGN),
      }),
      { minLength: 1, maxLength: 3 },
    ),
  )
  .map(([d, edits]) => {
    let s = d.xml;
    for (const e of edits) {
      const at = Math.floor(e.at * s.length);
      if (e.kind === "delete") s = s.slice(0, at) + s.slice(at + e.len);
      else if (e.kind === "insert") s = s.slice(0, at) + e.token + s.slice(at);
      else if (e.kind === "duplicate") s = s.slice(0, at + e.len) + s.slice(at, at + e.len) + s.slice(at + e.len);
      else if (e.kind === "truncate") s = s.slice(0, at);
      else if (e.kind === "replace-char") s = s.slice(0, at) + e.token.charAt(0) + s.slice(at + 1);
      else {
        // Just after a '>' outside the prolog: usually still well-formed, but laid out differently.
        const gt = s.indexOf(">", Math.max(at, s.indexOf("<domain")));
        if (gt !== -1) s = s.slice(0, gt + 1) + e.benign + s.slice(gt + 1);
      }
    }
    return s;
  });

/** Strings made of XML-ish tokens and arbitrary characters. */
export const xmlishString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.array(fc.oneof(fc.constantFrom(...XML_TOKENS), fc.string({ maxLength: 5 })), { maxLength: 60 }).map((parts) => parts.join("")),
);
