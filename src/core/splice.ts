// The splice: the filterref written into the original text, indented like its siblings, the
// filter attribute's value rewritten in place, or (where its parameters change) the filterref
// element written anew in its own place; nothing else of the text is touched.
import { XmlError } from "./errors.js";
import type { FilterParameter } from "./filter-params.js";
import type { Nic } from "./nic-table.js";
import { isXmlSpace, lineAt } from "./xml.js";
import type { Edit } from "./xml-bytes.js";

/** How a filterref with parameters is laid out: on lines of their own, or (undefined) on one line. */
interface Layout {
  eol: string;
  /** The filterref's own indentation. */
  indent: string;
  /** One more level, for its <parameter>s. */
  unit: string;
}

/** Escapes what an attribute value in single quotes cannot hold as it is (a NIC's own values may hold anything). */
function escapeAttr(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/'/g, "&apos;");
}

/** `<filterref filter='NAME'/>`, or with one `<parameter name='N' value='V'/>` child per value. */
export function filterrefText(filter: string, params: readonly FilterParameter[], layout: Layout | undefined): string {
  if (params.length === 0) return `<filterref filter='${filter}'/>`;
  const items = params.map((p) => `<parameter name='${escapeAttr(p.name)}' value='${escapeAttr(p.value)}'/>`);
  if (layout === undefined) return `<filterref filter='${filter}'>${items.join("")}</filterref>`;
  const { eol, indent, unit } = layout;
  return `<filterref filter='${filter}'>${items.map((i) => `${eol}${indent}${unit}${i}`).join("")}${eol}${indent}</filterref>`;
}

/** The indentation step between an outer and an inner indentation, or the usual one. */
function unitBetween(outer: string, inner: string): string {
  if (inner.length > outer.length && inner.startsWith(outer)) return inner.slice(outer.length);
  return inner.includes("\t") ? "\t" : "  ";
}

/** The whitespace before `at` on its line, when only whitespace stands there after `after`. */
function lineIndent(xml: string, at: number, after: number): string | undefined {
  const lineStart = xml.lastIndexOf("\n", at - 1) + 1;
  if (lineStart <= after) return undefined;
  const before = xml.slice(lineStart, at);
  return /^[ \t]*$/.test(before) ? before : undefined;
}

/** The filterref as the last child, on its own line and indented like its siblings. */
export function insertFilterref(xml: string, nic: Nic, filter: string, params: readonly FilterParameter[] = []): Edit {
  const inline = filterrefText(filter, params, undefined);
  if (nic.tagEnd === nic.end) {
    // `<interface .../>` becomes `<interface ...><filterref .../></interface>`.
    const slash = xml.lastIndexOf("/", nic.end - 1);
    return { at: slash, remove: nic.end - slash, insert: `>${inline}</interface>` };
  }
  const close = nic.closeStart;
  let contentEnd = close;
  while (contentEnd > nic.start && isXmlSpace(xml.charCodeAt(contentEnd - 1))) contentEnd--;
  const gap = xml.slice(contentEnd, close);
  const newline = gap.lastIndexOf("\n");
  if (newline === -1) return { at: close, remove: 0, insert: inline }; // written on one line
  const eol = gap[newline - 1] === "\r" ? "\r\n" : "\n";
  const closing = gap.slice(newline + 1);
  const indent = childIndent(xml, nic, closing);
  return { at: contentEnd, remove: 0, insert: `${eol}${indent}${filterrefText(filter, params, { eol, indent, unit: unitBetween(closing, indent) })}` };
}

/** The first filterref written anew where it stands, its filter and parameters those given. */
export function rewriteFilterref(xml: string, nic: Nic, filter: string, params: readonly FilterParameter[]): Edit {
  const indent = lineIndent(xml, nic.refStart, nic.tagEnd - 1);
  let layout: Layout | undefined;
  if (indent !== undefined) {
    const lineStart = nic.refStart - indent.length;
    const eol = xml[lineStart - 2] === "\r" ? "\r\n" : "\n";
    layout = { eol, indent, unit: unitBetween(lineIndent(xml, nic.start, -1) ?? "", indent) };
  }
  return { at: nic.refStart, remove: nic.refEnd - nic.refStart, insert: filterrefText(filter, params, layout) };
}

/** The indentation of the NIC's first child when it starts a line, else the NIC's own plus two spaces. */
function childIndent(xml: string, nic: Nic, closingIndent: string): string {
  const first = nic.firstChild;
  if (first !== -1) {
    const lineStart = xml.lastIndexOf("\n", first - 1) + 1;
    const before = xml.slice(lineStart, first);
    if (lineStart > nic.tagEnd && /^[ \t]*$/.test(before)) return before;
  }
  const unit = closingIndent.includes("\t") ? "\t" : "  ";
  return closingIndent + unit;
}

/**
 * Rewrites only the value of the filter attribute libvirt reads on the first filterref, at the
 * position the scanner found it, keeping its quotes and parameters.
 */
export function replaceFilter(nic: Nic, filter: string, file: string, xml: string): Edit {
  if (nic.filterAt === -1) throw new XmlError("filterref without a filter attribute", { file, line: lineAt(xml, nic.start) });
  return { at: nic.filterAt, remove: nic.filterLength, insert: filter };
}
