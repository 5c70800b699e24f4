// The filter definition as XML, purely: its <uuid> set anew, and a form of it that ignores
// formatting, so that a redefinition happens only when libvirt's copy says something else.
import { create } from "xmlbuilder2";
import { attr, child, parseXml, textContent, type XmlElement } from "./xml.js";

/** The little of xmlbuilder2's DOM that withUuid needs (the project's lib has no DOM types). */
interface DomElement {
  nodeName: string;
  childNodes: ArrayLike<DomElement>;
  firstChild: DomElement | null;
  ownerDocument: DomDocument | null;
  textContent: string | null;
  removeChild(node: DomElement): DomElement;
  insertBefore(node: DomElement, ref: DomElement | null): DomElement;
}
interface DomDocument {
  createElement(name: string): DomElement;
}

/** The definition with its <uuid> set to `uuid` (first child), built anew with xmlbuilder2. */
export function withUuid(text: string, uuid: string): string {
  const doc = create(text);
  const root = doc.root().node as unknown as DomElement;
  for (const node of Array.from(root.childNodes)) if (node.nodeName === "uuid") root.removeChild(node);
  const element = (root.ownerDocument as DomDocument).createElement("uuid");
  element.textContent = uuid;
  root.insertBefore(element, root.firstChild);
  return `${doc.end({ headless: true, prettyPrint: true })}\n`;
}

/** A form of the document that ignores formatting, attribute order and comments. */
export function canonical(text: string, file: string): string {
  const walk = (e: XmlElement): string => {
    const attrs = Object.keys(e.attrs)
      .sort()
      .map((k) => `${k}=${JSON.stringify(attr(e, k))}`)
      .join(" ");
    const inner = e.children.length > 0 ? e.children.map(walk).join("") : JSON.stringify(textContent(text, e).trim());
    return `<${e.name} ${attrs}>${inner}</>`;
  };
  return walk(parseXml(text, file));
}

export function uuidOf(text: string, file: string): string | undefined {
  const root = parseXml(text, file);
  const el = child(root, "uuid");
  return el ? textContent(text, el).trim() : undefined;
}
