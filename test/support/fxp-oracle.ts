// fast-xml-parser as a reference reader for the scanner in src/core/xml.ts. This is how the project
// read XML before the scanner replaced it on the hook's path: the validator decides whether the
// document is well-formed, then the parser (preserveOrder + captureMetaData) gives each element
// its name, raw attributes and offsets. Both readers are reduced to the same plain tree so that
// a test can compare them with toEqual.
import { XMLParser, XMLValidator } from "fast-xml-parser";
import type { XmlElement } from "../../src/core/xml.js";

/** An element as both readers report it: attributes raw and in document order, offsets into the text. */
export interface PlainElement {
  name: string;
  attrs: Array<[string, string]>;
  /** Offset of '<'. */
  start: number;
  /** Offset just past the element's last '>'. */
  end: number;
  children: PlainElement[];
}

export type OracleVerdict = { ok: true; root: PlainElement } | { ok: false; reason: string };

export const FXP_VALIDATOR_OPTIONS = { allowBooleanAttributes: false } as const;

export const FXP_PARSER_OPTIONS = {
  preserveOrder: true,
  captureMetaData: true,
  ignoreAttributes: false,
  attributeNamePrefix: "",
  allowBooleanAttributes: true,
  processEntities: false,
  htmlEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  jPath: false,
} as const;

const META = XMLParser.getMetaDataSymbol();
const ATTRS = ":@";

type FxpNode = Record<string, unknown> & { [ATTRS]?: Record<string, unknown> };

/**
 * Reads a document with fast-xml-parser. Refuses what the validator refuses, what the parser
 * throws on, and a document without exactly one root element (the validator lets `<a/><b/>`
 * through; the project always counted the roots itself).
 */
export function fxpRead(text: string): OracleVerdict {
  const verdict = XMLValidator.validate(text, FXP_VALIDATOR_OPTIONS);
  if (verdict !== true) return { ok: false, reason: `${verdict.err.msg} (${verdict.err.line}:${verdict.err.col})` };
  let nodes: FxpNode[];
  try {
    nodes = new XMLParser(FXP_PARSER_OPTIONS).parse(text) as FxpNode[];
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
  const roots: PlainElement[] = [];
  convert(nodes, roots);
  const [root] = roots;
  if (roots.length !== 1 || !root) return { ok: false, reason: `${roots.length} root elements` };
  return { ok: true, root };
}

/** preserveOrder output to plain elements: one key per node (the tag name) besides ":@". */
function convert(nodes: FxpNode[], out: PlainElement[]): void {
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
    const attrs: Array<[string, string]> = [];
    if (rawAttrs) for (const k in rawAttrs) attrs.push([k, rawAttrs[k] === true ? "" : String(rawAttrs[k])]);
    const element: PlainElement = { name, attrs, start: meta.startIndex, end: meta.endIndex, children: [] };
    out.push(element);
    const kids = node[name];
    if (Array.isArray(kids)) convert(kids as FxpNode[], element.children);
  }
}

/** The scanner's element reduced to what fast-xml-parser reports. */
export function plainOf(element: XmlElement): PlainElement {
  return {
    name: element.name,
    attrs: Object.entries(element.attrs),
    start: element.start,
    end: element.end,
    children: element.children.map(plainOf),
  };
}

/**
 * A plain tree as fast-xml-parser reports it: it applies XML's end-of-line handling (section
 * 2.11: CRLF and a lone CR become LF) to attribute values, where the scanner keeps the value
 * exactly as written.
 */
export function asFxpReports(element: PlainElement): PlainElement {
  return {
    ...element,
    attrs: element.attrs.map(([k, v]): [string, string] => [k, v.replace(/\r\n?/g, "\n")]),
    children: element.children.map(asFxpReports),
  };
}
