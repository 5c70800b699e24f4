// Generated domains for the libvirt differential suite (test/e2e/libvirt-differential.test.ts):
// varied wherever libvirt lets anything through (metadata in other namespaces, undeclared
// prefixes, names with two colons, odd attribute names and declarations, text, CDATA, comments,
// references, quoting, CR LF and CR line ends; bridge, network, ethernet, direct and user NICs,
// with and without a filterref), each with a model of what the hook must find in it, written from
// the rules in README (eligible NICs, exemptions) and not from the code. A few are broken on
// purpose (libvirt must refuse those). Also: running many virsh commands in one virsh.
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { NETWORKS } from "../../support/fake-host.js";
import { URI } from "./libvirt.js";

/** Every domain of the suite is named with this prefix, and only those are ever undefined. */
export const PREFIX = "nwfh-ldiff-";
export const FILTER = "vdsm-no-mac-spoofing";

/** The host the hook sees (through its overrides): networks and bridges by kind. */
export const HOOK_NETWORKS = {
  "nwfh-ldiff-net": NETWORKS.hostBridge("nwfh-ldiff-net", "nwfh-br0"),
  "nwfh-ldiff-nat": NETWORKS.nat("nwfh-ldiff-nat", "nwfh-ldiffbr1"),
  "nwfh-ldiff-macvtap": NETWORKS.macvtap("bridge", "nwfh-ldiff-macvtap"),
};
export const HOOK_BRIDGES = { "nwfh-br0": "linux", "nwfh-ldiffbr1": "linux", "nwfh-ovs0": "ovs" } as const;

const NIC_KINDS = [
  "bridge",
  "bridge-ovs",
  "bridge-absent",
  "network",
  "network-nat",
  "network-macvtap",
  "network-missing",
  "ethernet",
  "direct",
  "user",
] as const;
type NicKind = (typeof NIC_KINDS)[number];
/** README, "Which NICs are eligible": these get the filter unless exempt or with a virtualport. */
const ELIGIBLE: ReadonlySet<NicKind> = new Set(["bridge", "bridge-absent", "network", "network-nat", "ethernet"]);

interface NicSpec {
  kind: NicKind;
  mac: boolean;
  filter: "none" | "policy" | "other" | "other-params";
  virtualport: boolean;
  model: "virtio" | "e1000" | "rtl8139" | "none";
  layout: "multi" | "oneline" | "selfclosing";
  /** Exempt by MAC in this product's metadata (only where the NIC has a MAC). */
  exempt: boolean;
}

/** Metadata of other applications, each with a form libxml2 reads with or without namespace errors. */
const METADATA = [
  (i: number, q: string) => `<app:x xmlns:app=${q}urn:app:${i}${q}>text &amp; &#65; <![CDATA[<b>&]]> <!-- c --> <?p x?></app:x>`,
  (i: number, q: string) => `<a:b:c xmlns:a=${q}urn:a:${i}${q} a:d:e=${q}1${q}/>`,
  (i: number, q: string) => `<q:r xmlns:q=${q}urn:q:${i}${q} ns0:info:x=${q}1${q} :z=${q}2${q} xmlns:=${q}3${q} u:type=${q}direct${q}/>`,
  (i: number, q: string) => `<m xmlns=${q}urn:m:${i}${q}><undeclared:interface type=${q}bridge${q}/><:w/><a:1/><a::b/><a:/></m>`,
  (i: number, q: string) =>
    `<s:t xmlns:s=${q}urn:s:${i}${q} xmlns:p=${q}${q} xmlns:xml=${q}urn:wrong${q} xmlns:xmlns=${q}urn:x${q} xmlns:r=${q}http://www.w3.org/2000/xmlns/${q}/>`,
  (i: number, q: string) => `<k:l xmlns:k=${q}urn:k:${i}${q} xmlns:k2=${q}urn:k:${i}${q} k:a=${q}1${q} k2:a=${q}2${q}/>`,
  (i: number, q: string) => `<v:w xmlns:v=${q}urn:v:${i}${q}><?p:q data?><x:y xmlns:x=${q}not a uri${q}/></v:w>`,
  (_i: number, q: string) => `<plain attr=${q}x${q}/>`,
  () => `<undeclared:thing/>`,
  (i: number, q: string) =>
    q === "'"
      ? `<e:f xmlns:e='urn:e:${i}' v='a "b" &apos;c&apos; &lt;&gt;' w='&#10;&#9;x&#13;'/>`
      : `<e:f xmlns:e="urn:e:${i}" v="a &quot;b&quot; 'c' &lt;&gt;" w="&#10;&#9;x&#13;"/>`,
  (i: number, q: string) => `<o:p xmlns:o=${q}urn:o:${i}${q}><nwfh:policy exempt=${q}true${q}/></o:p>`,
];

/** Broken on purpose: libvirt refuses each (a name libxml2 stops reading, a declaration given twice, no <os>). */
const BROKEN = ["fatal-name", "declared-twice", "no-os"] as const;

export interface DomainSpec {
  nameStyle: "plain" | "charref" | "cdata" | "comment";
  eol: "\n" | "\r\n" | "\r";
  quote: "'" | '"';
  indent: string;
  declaration: boolean;
  comments: boolean;
  qemuNamespace: boolean;
  title: boolean;
  description: boolean;
  metadata: number[];
  policy: "none" | "exempt-domain" | "exempt-nics" | "not-exempt";
  nics: NicSpec[];
  broken: (typeof BROKEN)[number] | "none";
}

const nicSpec: fc.Arbitrary<NicSpec> = fc.record({
  kind: fc.oneof({ arbitrary: fc.constantFrom<NicKind>("bridge", "network", "ethernet"), weight: 3 }, { arbitrary: fc.constantFrom(...NIC_KINDS), weight: 3 }),
  mac: fc.oneof({ arbitrary: fc.constant(true), weight: 3 }, { arbitrary: fc.constant(false), weight: 1 }),
  filter: fc.constantFrom("none", "none", "none", "policy", "other", "other-params"),
  virtualport: fc.oneof({ arbitrary: fc.constant(false), weight: 8 }, { arbitrary: fc.constant(true), weight: 1 }),
  model: fc.constantFrom("virtio", "e1000", "rtl8139", "none"),
  layout: fc.constantFrom("multi", "multi", "oneline", "selfclosing"),
  exempt: fc.oneof({ arbitrary: fc.constant(false), weight: 5 }, { arbitrary: fc.constant(true), weight: 1 }),
});

export const domainSpec: fc.Arbitrary<DomainSpec> = fc.record({
  nameStyle: fc.constantFrom("plain", "plain", "charref", "cdata", "comment"),
  eol: fc.constantFrom("\n", "\n", "\r\n", "\r"),
  quote: fc.constantFrom("'", '"'),
  indent: fc.constantFrom("  ", "    ", "\t", ""),
  declaration: fc.boolean(),
  comments: fc.boolean(),
  qemuNamespace: fc.boolean(),
  title: fc.boolean(),
  description: fc.boolean(),
  metadata: fc.uniqueArray(fc.integer({ min: 0, max: METADATA.length - 1 }), { maxLength: 5 }),
  policy: fc.constantFrom("none", "none", "exempt-domain", "exempt-nics", "not-exempt"),
  nics: fc.array(nicSpec, { maxLength: 4 }),
  broken: fc.oneof({ arbitrary: fc.constant("none" as const), weight: 30 }, { arbitrary: fc.constantFrom(...BROKEN), weight: 1 }),
});

export interface GeneratedDomain {
  /** The domain's name as libvirt reads it. */
  name: string;
  /** The XML given to `virsh define`. */
  xml: string;
  /** Whether libvirt must refuse it (broken on purpose). */
  broken: boolean;
  /** The positions (among its NICs) of the NICs the hook must find lacking the filter. */
  missing: number[];
  spec: DomainSpec;
}

const hex = (n: number) => (n & 0xff).toString(16).padStart(2, "0");

/** The domain's XML and what the hook must find in it; `index` makes its name and MACs unique. */
export function render(spec: DomainSpec, index: number): GeneratedDomain {
  const q = spec.quote;
  const a = (name: string, value: string) => `${name}=${q}${value}${q}`;
  const name = `${PREFIX}${index}`;
  const mac = (j: number) => `52:54:00:${hex(index >> 8)}:${hex(index)}:${hex(j)}`;
  const lines: string[] = [];
  const put = (level: number, text: string) => lines.push(spec.indent.repeat(level) + text);
  if (spec.declaration) lines.push(`<?xml version=${q}1.0${q} encoding=${q}UTF-8${q}?>`);
  if (spec.comments) lines.push("<!-- generated: <domain> & <interface type='bridge'/> -->");
  put(0, `<domain ${a("type", "qemu")}${spec.qemuNamespace ? ` ${a("xmlns:qemu", "http://libvirt.org/schemas/domain/qemu/1.0")}` : ""}>`);
  const written = {
    plain: name,
    charref: name.replace("-", "&#45;"),
    cdata: `${PREFIX}<![CDATA[${index}]]>`,
    comment: `${PREFIX.slice(0, -1)}<!-- the name -->-${index}`,
  }[spec.nameStyle];
  put(1, `<name>${written}</name>`);
  if (spec.title) put(1, `<title>A &amp; B &#x263A; <![CDATA[<c>]]> 'q' "d"</title>`);
  if (spec.description) lines.push(`${spec.indent}<description>line one\nline &lt;two&gt;\n<![CDATA[& three]]></description>`);
  const exemptNics = spec.policy === "exempt-nics" ? spec.nics.flatMap((n, j) => (n.mac && n.exempt ? [j] : [])) : [];
  const metadata = spec.metadata.map((m) => (METADATA[m] as (i: number, q: string) => string)(index, q));
  if (spec.policy === "exempt-domain") metadata.unshift(`<nwfh:policy ${a("xmlns:nwfh", "urn:nwfilter-hook:1")} ${a("exempt", "true")}/>`);
  if (spec.policy === "not-exempt") metadata.unshift(`<policy ${a("xmlns", "urn:nwfilter-hook:1")} ${a("exempt", "false")}/>`);
  if (spec.policy === "exempt-nics") {
    metadata.unshift(
      `<n:policy ${a("xmlns:n", "urn:nwfilter-hook:1")}>${exemptNics.map((j) => `<n:interface ${a("mac", mac(j))} ${a("exempt", "true")}/>`).join("")}</n:policy>`,
    );
  }
  if (spec.broken === "fatal-name") metadata.push(`<a:b:1 ${a("xmlns:a", "urn:broken")}/>`);
  if (spec.broken === "declared-twice") metadata.push(`<x:y ${a("xmlns:x", "urn:1")} ${a("xmlns:x", "urn:2")}/>`);
  if (metadata.length > 0) {
    put(1, "<metadata>");
    for (const m of metadata) put(2, m);
    put(1, "</metadata>");
  }
  put(1, `<memory ${a("unit", "MiB")}>32</memory>`);
  if (spec.broken !== "no-os") put(1, `<os><type ${a("arch", "x86_64")} ${a("machine", "pc")}>hvm</type></os>`);
  put(1, "<devices>");
  spec.nics.forEach((nic, j) => {
    if (spec.comments) put(2, `<!-- NIC ${j}: <filterref filter='${FILTER}'/> -->`);
    const children: string[] = [];
    if (nic.mac) children.push(`<mac ${a("address", mac(j))}/>`);
    const type = nic.kind.startsWith("bridge") ? "bridge" : nic.kind.startsWith("network") ? "network" : nic.kind;
    const source = {
      bridge: `<source ${a("bridge", "nwfh-br0")}/>`,
      "bridge-ovs": `<source ${a("bridge", "nwfh-ovs0")}/>`,
      "bridge-absent": `<source ${a("bridge", "nwfh-gone0")}/>`,
      network: `<source ${a("network", "nwfh-ldiff-net")}/>`,
      "network-nat": `<source ${a("network", "nwfh-ldiff-nat")}/>`,
      "network-macvtap": `<source ${a("network", "nwfh-ldiff-macvtap")}/>`,
      "network-missing": `<source ${a("network", "nwfh-ldiff-nosuch")}/>`,
      ethernet: `<target ${a("dev", `ldt${hex(index >> 8)}${hex(index)}${j}`)}/>`,
      direct: `<source ${a("dev", "eth0")} ${a("mode", "vepa")}/>`,
      user: "",
    }[nic.kind];
    if (source) children.push(source);
    if (nic.model !== "none") children.push(`<model ${a("type", nic.model)}/>`);
    if (nic.virtualport && type === "bridge") children.push(`<virtualport ${a("type", "openvswitch")}/>`);
    if (nic.filter === "policy") children.push(`<filterref ${a("filter", FILTER)}/>`);
    if (nic.filter === "other") children.push(`<filterref ${a("filter", "clean-traffic")}/>`);
    if (nic.filter === "other-params")
      children.push(`<filterref ${a("filter", "clean-traffic")}><parameter ${a("name", "IP")} ${a("value", "10.0.0.1")}/></filterref>`);
    const open = `<interface ${a("type", type)}`;
    if (children.length === 0 && nic.layout === "selfclosing") put(2, `${open}/>`);
    else if (nic.layout === "oneline" || nic.layout === "selfclosing") put(2, `${open}>${children.join("")}</interface>`);
    else {
      put(2, `${open}>`);
      for (const c of children) put(3, c);
      put(2, "</interface>");
    }
  });
  put(2, `<memballoon ${a("model", "none")}/>`);
  put(1, "</devices>");
  put(0, "</domain>");
  const xml = `${lines.join("\n").replace(/\n/g, spec.eol)}${spec.eol}`;
  const domainExempt = spec.policy === "exempt-domain";
  const missing = spec.nics.flatMap((nic, j) => {
    const virtualport = nic.virtualport && nic.kind.startsWith("bridge");
    const eligible = ELIGIBLE.has(nic.kind) && !virtualport;
    return eligible && nic.filter === "none" && !domainExempt && !exemptNics.includes(j) ? [j] : [];
  });
  return { name, xml, broken: spec.broken !== "none", missing, spec };
}

/** `count` domains from `seed`, numbered from `first`. */
export function generateDomains(count: number, seed: number, first = 0): GeneratedDomain[] {
  return fc.sample(domainSpec, { numRuns: count, seed }).map((spec, i) => render(spec, first + i));
}

/**
 * Runs virsh commands in one virsh (`virsh -q "c1; c2; ..."`): it goes on past a failing command.
 * Arguments must hold no spaces, quotes or ';'. stdout and stderr as they came.
 */
export function virshBatch(commands: readonly string[], timeoutMs = 600_000): { stdout: string; stderr: string } {
  const r = spawnSync("virsh", ["-q", "-c", URI, commands.join(" ; ")], {
    encoding: "utf8",
    env: { ...process.env, LC_ALL: "C" },
    maxBuffer: 1024 * 1024 * 1024,
    timeout: timeoutMs,
  });
  if (r.error) throw r.error;
  return { stdout: r.stdout, stderr: r.stderr };
}

/**
 * `virsh dumpxml` of each domain (and with --migratable), in one virsh: each output between
 * markers, without the line feed virsh adds after it. A domain that does not exist has none.
 */
export function dumpAll(names: readonly string[], migratable: boolean): Map<string, string> {
  const commands = names.flatMap((n, i) => [`echo @@nwfh-dump-${i}@@`, migratable ? `dumpxml --migratable ${n}` : `dumpxml ${n}`]);
  const { stdout } = virshBatch(commands);
  const out = new Map<string, string>();
  const parts = stdout.split(/@@nwfh-dump-(\d+)@@/);
  for (let k = 1; k + 1 < parts.length; k += 2) {
    const text = parts[k + 1] as string;
    if (text !== "") out.set(names[Number(parts[k])] as string, text.endsWith("\n") ? text.slice(0, -1) : text);
  }
  return out;
}

/** The suite's domains libvirt has now (any left by an earlier run too). */
export function suiteDomains(): string[] {
  const { stdout } = virshBatch(["list --all --name"]);
  return stdout
    .split("\n")
    .map((l) => l.trim())
    .filter((n) => n.startsWith(PREFIX));
}

/** Undefines the suite's domains (defined only: the suite never starts one). */
export function undefineAll(names: readonly string[]): void {
  for (let i = 0; i < names.length; i += 200) virshBatch(names.slice(i, i + 200).map((n) => `undefine ${n}`));
}
