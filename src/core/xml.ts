// Reading XML with positions, as libvirt's libxml2 reads it: the one entry the rest of the code
// imports. Its parts:
// - xml-scanner.ts: parseXml(), the one-pass well-formedness check that finds the elements kept
//   and where each stands (xml-markup.ts reads the declaration, DOCTYPE, comments and PIs);
// - xml-namespaces.ts: qualified names and namespace declarations as libxml2 reads them;
// - xml-query.ts: child elements, attributes and text as libvirt reads them;
// - xml-position.ts: lines, and the places in a start tag that the splice edits;
// - xml-text.ts: names, whitespace, references and attribute-value normalisation.
export type { ParseOptions, Retain, XmlElement } from "./xml-element.js";
export { parseXml } from "./xml-scanner.js";
export { attr, attrKey, child, children, localName, namespaceOf, textContent } from "./xml-query.js";
export { lineAt, lineCounter, valueStart } from "./xml-position.js";
export { attrValue, isXmlSpace } from "./xml-text.js";
