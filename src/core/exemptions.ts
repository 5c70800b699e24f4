// What a domain says about itself, and what the policy says about its name: exemptions (the
// domain's metadata, the policy's Domains globs) and, per NIC, the filter and parameters its
// metadata chooses, read strictly from <metadata><policy xmlns="urn:nwfilter-hook:1">. Under
// DomainMetadata = ignore the metadata is still read (and refused when malformed) but changes
// nothing; what it would have changed is kept so that reports can say it was ignored.
import { METADATA_NS } from "./constants.js";
import { XmlError } from "./errors.js";
import { parameterProblem, parametersText, type FilterParameter } from "./filter-params.js";
import { globMatcher } from "./glob.js";
import type { NicReason } from "./nic-report.js";
import { FILTER_NAME_RE, type Policy } from "./policy.js";
import { attr, child, children, lineAt, localName, namespaceOf, textContent, type XmlElement } from "./xml.js";

/** One <nwfh:interface>: the NIC's own choice. */
export interface NicMetadata {
  exempt: boolean;
  /** The filter it chooses; null for "none"; undefined when it gives parameters only. */
  filter: string | null | undefined;
  parameters: FilterParameter[];
}

export interface Exemptions {
  domain: NicReason | undefined;
  /** Lower-case MACs that the metadata exempts. */
  macs: Set<string>;
  /** Per lower-case MAC, the metadata's choice (trusted metadata only). */
  choices: Map<string, NicMetadata>;
  /** Under DomainMetadata = ignore: the domain-wide exemption it ignored. */
  ignoredDomain: boolean;
  /** Under DomainMetadata = ignore: per lower-case MAC, what it ignored ("exempt=true", "filter 'x'"). */
  ignored: Map<string, string>;
}

export function noExemptions(): Exemptions {
  return { domain: undefined, macs: new Set(), choices: new Map(), ignoredDomain: false, ignored: new Map() };
}

/** `string(./name[1])`, as libvirt reads it: untrimmed; empty means none. */
export function domainName(xml: string, domain: XmlElement): string | undefined {
  const nameEl = child(domain, "name");
  const name = nameEl ? textContent(xml, nameEl) : "";
  return name === "" ? undefined : name;
}

/** The domain's metadata exemptions and choices, and the policy's exemption of its name. */
export function domainExemptions(xml: string, domain: XmlElement, name: string | undefined, policy: Policy, file: string): Exemptions {
  const found = readMetadata(xml, domain, file);
  const exemptions = noExemptions();
  if (policy.domainMetadata === "trust") {
    if (found.domainExempt) exemptions.domain = "domain-metadata";
    for (const [mac, nic] of found.nics) {
      if (nic.exempt) exemptions.macs.add(mac);
      if (nic.filter !== undefined || nic.parameters.length > 0) exemptions.choices.set(mac, nic);
    }
  } else {
    exemptions.ignoredDomain = found.domainExempt;
    for (const [mac, nic] of found.nics) {
      const what = [
        nic.exempt ? "exempt=true" : "",
        nic.filter === undefined ? "" : `filter '${nic.filter ?? "none"}'`,
        nic.parameters.length > 0 ? `parameters ${parametersText(nic.parameters)}` : "",
      ].filter((w) => w !== "");
      if (what.length > 0) exemptions.ignored.set(mac, what.join(", "));
    }
  }
  if (exemptions.domain === undefined && name !== undefined && policy.exempt.domains.length > 0) {
    if (globMatcher(policy.exempt.domains)(name)) exemptions.domain = "domain-policy";
  }
  return exemptions;
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** Everything <metadata><policy xmlns="urn:nwfilter-hook:1"> says, checked. */
function readMetadata(xml: string, domain: XmlElement, file: string): { domainExempt: boolean; nics: Map<string, NicMetadata> } {
  let domainExempt = false;
  const nics = new Map<string, NicMetadata>();
  const lines = new Map<string, number>();
  for (const metadata of children(domain, "metadata")) {
    for (const policy of metadata.children) {
      if (namespaceOf(policy) !== METADATA_NS) continue;
      if (localName(policy) !== "policy") throw metadataError(xml, policy, file, `unknown element <${policy.name}> (expected policy)`);
      checkAttrs(xml, policy, ["exempt"], file);
      if (readBool(xml, policy, file)) domainExempt = true;
      for (const nic of policy.children) {
        if (namespaceOf(nic) !== METADATA_NS || localName(nic) !== "interface") {
          throw metadataError(xml, nic, file, `unexpected element <${nic.name}> in the policy (expected interface)`);
        }
        checkAttrs(xml, nic, ["mac", "exempt", "filter"], file);
        const raw = attr(nic, "mac");
        if (raw === undefined || !MAC_RE.test(raw)) {
          throw metadataError(xml, nic, file, `interface needs mac="xx:xx:xx:xx:xx:xx", got ${raw === undefined ? "none" : `'${raw}'`}`);
        }
        const mac = raw.toLowerCase();
        const first = lines.get(mac);
        if (first !== undefined) throw metadataError(xml, nic, file, `interface ${mac} is given twice (first on line ${first})`);
        lines.set(mac, lineAt(xml, nic.start));
        nics.set(mac, { exempt: readBool(xml, nic, file), filter: readFilter(xml, nic, file), parameters: readParameters(xml, nic, file) });
      }
    }
  }
  return { domainExempt, nics };
}

function readFilter(xml: string, nic: XmlElement, file: string): string | null | undefined {
  const value = attr(nic, "filter");
  if (value === undefined) return undefined;
  if (value === "none") return null;
  if (!FILTER_NAME_RE.test(value)) throw metadataError(xml, nic, file, `filter must be an nwfilter name or none, got '${value}'`);
  return value;
}

function readParameters(xml: string, nic: XmlElement, file: string): FilterParameter[] {
  const out: FilterParameter[] = [];
  for (const p of nic.children) {
    if (namespaceOf(p) !== METADATA_NS || localName(p) !== "parameter") {
      throw metadataError(xml, p, file, `unexpected element <${p.name}> in an interface (expected parameter)`);
    }
    checkAttrs(xml, p, ["name", "value"], file);
    const first = p.children[0];
    if (first) throw metadataError(xml, first, file, `unexpected element <${first.name}> in a parameter`);
    const name = attr(p, "name");
    const value = attr(p, "value");
    if (name === undefined || value === undefined) throw metadataError(xml, p, file, "parameter needs name=... and value=...");
    const problem = parameterProblem(name, value);
    if (problem !== undefined) throw metadataError(xml, p, file, `parameter ${problem}`);
    out.push({ name, value });
  }
  return out;
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
