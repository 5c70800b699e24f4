// Exemptions: the domain's own (its metadata, and the policy's Domains globs on its name) and
// its NICs' (metadata per MAC), read from <metadata><policy xmlns="urn:nwfilter-hook:1">.
import { METADATA_NS } from "./constants.js";
import { XmlError } from "./errors.js";
import { globMatcher } from "./glob.js";
import type { NicReason } from "./nic-report.js";
import type { Policy } from "./policy.js";
import { attr, child, children, lineAt, localName, namespaceOf, textContent, type XmlElement } from "./xml.js";

export interface Exemptions {
  domain: NicReason | undefined;
  macs: Set<string>;
}

/** `string(./name[1])`, as libvirt reads it: untrimmed; empty means none. */
export function domainName(xml: string, domain: XmlElement): string | undefined {
  const nameEl = child(domain, "name");
  const name = nameEl ? textContent(xml, nameEl) : "";
  return name === "" ? undefined : name;
}

/** The domain's metadata exemptions, and the policy's exemption of its name. */
export function domainExemptions(xml: string, domain: XmlElement, name: string | undefined, policy: Policy, file: string): Exemptions {
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
