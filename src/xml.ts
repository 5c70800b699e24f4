// Reading XML with positions. fast-xml-parser finds the elements and where they stand in the
// text; the splice in transform.ts edits the original text at those positions, so the document
// is never re-serialised.
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { XML_PARSER_OPTIONS, XML_VALIDATOR_OPTIONS } from "./constants.js";
import { XmlError, lineOf, oneLine } from "./errors.js";

export interface XmlElement {
  /** Qualified name as written, prefix included. */
  name: string;
  /** Attribute values as written: entity and character references are not decoded here. */
  attrs: Readonly<Record<string, string>>;
  /** Offset of '<' in the text. */
  start: number;
  /** Offset just past the element's end ('>' of its end tag, or of '/>'). */
  end: number;
  children: XmlElement[];
  parent: XmlElement | undefined;
}

const META = XMLParser.getMetaDataSymbol();
const ATTRS = ":@";

type FxpNode = Record<string, unknown> & { [ATTRS]?: Record<string, unknown> };

/**
 * Parses a document and returns its root element. Throws XmlError (with line and column) for
 * empty or malformed input, more than one root, or a DOCTYPE with an internal subset: entity
 * declarations are refused outright rather than expanded.
 */
export function parseXml(text: string, file: string): XmlElement {
  if (text.trim() === "" || text === "\ufeff") throw new XmlError("empty document (expected XML)", { file });
  refuseDoctypeSubset(text, file);
  const verdict = XMLValidator.validate(text, XML_VALIDATOR_OPTIONS);
  if (verdict !== true) {
    const { msg, line, col } = verdict.err;
    throw new XmlError(`malformed XML: ${msg}`, { file, line, column: col });
  }
  let nodes: FxpNode[];
  try {
    nodes = new XMLParser(XML_PARSER_OPTIONS).parse(text) as FxpNode[];
  } catch (error) {
    // The parser refuses a few inputs the validator lets through (an unclosed comment after
    // the root, a second DOCTYPE): malformed all the same.
    throw new XmlError(`malformed XML: ${oneLine((error as Error).message)}`, { file });
  }
  const roots: XmlElement[] = [];
  convert(nodes, undefined, roots);
  if (roots.length !== 1) {
    const second = roots[1];
    throw new XmlError(`malformed XML: ${roots.length} root elements, expected one`, {
      file,
      line: second ? lineOf(text, second.start) : undefined,
    });
  }
  return roots[0] as XmlElement;
}

function convert(nodes: FxpNode[], parent: XmlElement | undefined, out: XmlElement[]): void {
  for (const node of nodes) {
    const meta = node[META as unknown as string] as { startIndex: number; endIndex: number } | undefined;
    if (meta === undefined) continue; // text, comments and CDATA carry no element
    let name: string | undefined;
    for (const key in node) {
      if (key !== ATTRS) {
        name = key;
        break;
      }
    }
    if (name === undefined) continue;
    const rawAttrs = node[ATTRS];
    const attrs: Record<string, string> = {};
    if (rawAttrs) for (const k in rawAttrs) attrs[k] = rawAttrs[k] === true ? "" : String(rawAttrs[k]);
    const element: XmlElement = { name, attrs, start: meta.startIndex, end: meta.endIndex, children: [], parent };
    out.push(element);
    const kids = node[name];
    if (Array.isArray(kids)) convert(kids as FxpNode[], element, element.children);
  }
}

/** Skips the prolog (BOM, XML declaration, comments, PIs) and refuses a DOCTYPE with "[...]". */
function refuseDoctypeSubset(text: string, file: string): void {
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (;;) {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
    if (text.startsWith("<?", i)) {
      const e = text.indexOf("?>", i + 2);
      if (e === -1) return;
      i = e + 2;
    } else if (text.startsWith("<!--", i)) {
      const e = text.indexOf("-->", i + 4);
      if (e === -1) return;
      i = e + 3;
    } else break;
  }
  if (!text.startsWith("<!DOCTYPE", i)) return;
  let quote = "";
  for (let j = i + 9; j < text.length; j++) {
    const c = text[j];
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === '"' || c === "'") quote = c;
    else if (c === ">") return;
    else if (c === "[") {
      throw new XmlError("a DOCTYPE with declarations ([...]) is refused: entities are never expanded", {
        file,
        line: lineOf(text, i),
      });
    }
  }
}

const PREDEFINED: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

/** Decodes the five predefined entities and character references in an attribute value. */
export function decodeAttr(raw: string, file: string, text: string, at: number): string {
  if (!raw.includes("&")) return raw;
  return raw.replace(/&([^;&]*);?/g, (whole, ref: string) => {
    let code: number | undefined;
    if (/^#[0-9]+$/.test(ref)) code = Number.parseInt(ref.slice(1), 10);
    else if (/^#x[0-9a-fA-F]+$/.test(ref)) code = Number.parseInt(ref.slice(2), 16);
    else if (whole.endsWith(";") && PREDEFINED[ref] !== undefined) return PREDEFINED[ref] as string;
    if (code !== undefined && whole.endsWith(";") && code > 0 && code <= 0x10ffff) return String.fromCodePoint(code);
    throw new XmlError(`undefined or malformed entity reference '${whole}' in an attribute`, {
      file,
      line: lineOf(text, at),
    });
  });
}

export function child(element: XmlElement, name: string): XmlElement | undefined {
  return element.children.find((c) => c.name === name);
}

/** The attribute decoded, or undefined. */
export function attr(element: XmlElement, name: string, file: string, text: string): string | undefined {
  const raw = element.attrs[name];
  return raw === undefined ? undefined : decodeAttr(raw, file, text, element.start);
}

/** The namespace URI an element's prefix (or the default namespace) is bound to where it stands. */
export function namespaceOf(element: XmlElement): string | undefined {
  const colon = element.name.indexOf(":");
  const decl = colon === -1 ? "xmlns" : `xmlns:${element.name.slice(0, colon)}`;
  for (let e: XmlElement | undefined = element; e; e = e.parent) {
    const uri = e.attrs[decl];
    if (uri !== undefined) return uri;
  }
  return undefined;
}

export function localName(element: XmlElement): string {
  const colon = element.name.indexOf(":");
  return colon === -1 ? element.name : element.name.slice(colon + 1);
}

/** Offset just past the '>' that ends the element's start tag. */
export function startTagEnd(text: string, element: XmlElement): number {
  let quote = "";
  for (let i = element.start + 1; i < element.end; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === '"' || c === "'") quote = c;
    else if (c === ">") return i + 1;
  }
  return element.end;
}

/** Whether the element is written as `<x/>`. */
export function isSelfClosing(text: string, element: XmlElement): boolean {
  return startTagEnd(text, element) === element.end && text[element.end - 2] === "/";
}

/** Offset of the '<' of the element's end tag (its end when it is self-closing). */
export function endTagStart(text: string, element: XmlElement): number {
  if (isSelfClosing(text, element)) return element.end;
  return text.lastIndexOf("</", element.end - 1);
}

/** The character data of a simple element such as <name>, entity references decoded. */
export function textContent(text: string, element: XmlElement, file: string): string {
  if (isSelfClosing(text, element)) return "";
  const raw = text.slice(startTagEnd(text, element), endTagStart(text, element));
  const plain = raw.replace(/<!--[\s\S]*?-->/g, "").replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, (_, c: string) => c.replace(/&/g, "&amp;"));
  return decodeAttr(plain, file, text, element.start).trim();
}
