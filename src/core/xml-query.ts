// Reading the elements the scanner kept as libvirt reads them: its XPath steps (`./devices`,
// `./source`), libxml2's xmlGetProp() for attributes, and XPath's string() for text.
import type { XmlElement } from "./xml-element.js";
import { tagEndFrom } from "./xml-position.js";
import { attrValue, decodeRefs, eol } from "./xml-text.js";

/**
 * The first child element of that name in no namespace: what libvirt's XPath (`./devices`,
 * `./source`) finds. `<p:source>`, `<source xmlns="urn:x">` and `<undeclared:source>` are other
 * elements.
 */
export function child(element: XmlElement, name: string): XmlElement | undefined {
  return element.children.find((c) => c.name === name && c.ns === undefined);
}

/** Every child element of that name in no namespace (`./devices` finds them all). */
export function children(element: XmlElement, name: string): XmlElement[] {
  return element.children.filter((c) => c.name === name && c.ns === undefined);
}

/**
 * The attribute libvirt reads for a name: libxml2's xmlGetProp(), which libvirt's
 * virXMLPropString() calls, takes the first attribute in document order whose name is that,
 * whatever its namespace. libxml2 names an attribute in a namespace (its prefix declared) by its
 * local part, any other by the whole name as written: `p:type` is found as `type` where `p` is
 * declared, an undeclared `ns0:type` is not. Namespace declarations are not attributes to it.
 * A qualified name (which libvirt never asks for) finds that attribute as written.
 */
export function attrKey(element: XmlElement, name: string): string | undefined {
  const inNamespace = element.attrNs;
  // Where no attribute is in a namespace, each is named as written.
  if (inNamespace === undefined || name.includes(":")) return Object.hasOwn(element.attrs, name) ? name : undefined;
  for (const key in element.attrs) {
    if (key === name || (inNamespace[key] !== undefined && key.slice(key.indexOf(":") + 1) === name)) return key;
  }
  return undefined;
}

/** The attribute as libvirt reads it (normalised, references decoded), or undefined. */
export function attr(element: XmlElement, name: string): string | undefined {
  const key = attrKey(element, name);
  return key === undefined ? undefined : attrValue(element.attrs[key] as string);
}

/** The namespace URI an element is in, as the scanner resolved it (declarations decoded). */
export function namespaceOf(element: XmlElement): string | undefined {
  return element.ns;
}

/** The element's name as libxml2 gives it: without its prefix where that is declared. */
export function localName(element: XmlElement): string {
  return element.local;
}

/**
 * An element's string value, as XPath's string() and so libvirt reads `<name>`: the character
 * data of the element and its descendants with references decoded and line ends as an XML
 * parser reports them (LF), CDATA sections as written, comments and processing instructions
 * left out. Nothing is trimmed. The element must come from parseXml().
 */
export function textContent(text: string, element: XmlElement): string {
  // For <x/>, tagEnd and closeStart are both its end: nothing to read.
  const stop = element.closeStart;
  let out = "";
  let p = element.tagEnd;
  while (p < stop) {
    let lt = text.indexOf("<", p);
    if (lt === -1 || lt > stop) lt = stop;
    if (lt > p) out += decodeRefs(eol(text.slice(p, lt)));
    if (lt === stop) break;
    if (text.startsWith("<!--", lt)) p = text.indexOf("-->", lt + 4) + 3;
    else if (text.startsWith("<![CDATA[", lt)) {
      const e = text.indexOf("]]>", lt + 9);
      out += eol(text.slice(lt + 9, e));
      p = e + 3;
    } else if (text.startsWith("<?", lt)) p = text.indexOf("?>", lt + 2) + 2;
    else p = tagEndFrom(text, lt);
  }
  return out;
}
