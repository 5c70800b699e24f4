// Positions in a document the scanner read: lines and columns for messages, and the places in a
// start tag that the splice in transform.ts edits, found again as the scanner found them.
import { XmlError } from "./errors.js";
import type { XmlElement } from "./xml-element.js";
import { isXmlSpace } from "./xml-text.js";

/** 1-based line of an offset, counted without an index: for one error or one look-up. */
export function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

/**
 * Lines of offsets asked for in increasing order (such as the NICs of a document), counted in
 * one pass over the text, whatever its number of lines.
 */
export function lineCounter(text: string): (offset: number) => number {
  let line = 1;
  // The first line feed not yet counted (-1: none left); a text without any is searched once.
  let next = text.indexOf("\n");
  let from = 0;
  return (offset) => {
    if (offset < from) {
      line = 1;
      next = text.indexOf("\n");
    }
    from = offset;
    while (next !== -1 && next < offset) {
      line++;
      next = text.indexOf("\n", next + 1);
    }
    return line;
  };
}

/** An XmlError for what is wrong at `offset`, with its line and column. */
export function xmlErrorAt(text: string, file: string, message: string, offset: number): XmlError {
  const line = lineAt(text, offset);
  const column = offset - (text.lastIndexOf("\n", offset - 1) + 1) + 1;
  return new XmlError(message, { file, line, column });
}

/**
 * Where the value of the attribute `key` (as written) starts in the element's start tag: read
 * again as the scanner read it (name, '=', quote), never searched for with a pattern.
 */
export function valueStart(text: string, element: XmlElement, key: string): number {
  let p = element.start + 1 + element.name.length;
  for (;;) {
    while (isXmlSpace(text.charCodeAt(p))) p++;
    const c = text.charCodeAt(p);
    if (c === 0x3e || c === 0x2f) throw new Error(`internal: no attribute '${key}' in <${element.name}>`);
    // The name runs to a space or '=', and a quote opens the value: names hold neither.
    const after = text.charCodeAt(p + key.length);
    const found = (after === 0x3d || isXmlSpace(after)) && text.startsWith(key, p);
    let q = p;
    while (text.charCodeAt(q) !== 0x22 && text.charCodeAt(q) !== 0x27) q++;
    if (found) return q + 1;
    p = text.indexOf(text[q] as string, q + 1) + 1;
  }
}

/** Offset just past the '>' of a tag the scanner accepted, skipping quoted values. */
export function tagEndFrom(text: string, lt: number): number {
  let p = lt + 1;
  for (;;) {
    const c = text.charCodeAt(p);
    if (c === 0x3e) return p + 1;
    if (c === 0x22 || c === 0x27) p = text.indexOf(c === 0x22 ? '"' : "'", p + 1);
    p++;
  }
}
