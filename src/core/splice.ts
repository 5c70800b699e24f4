// The splice: the filterref written into the original text, indented like its siblings, or
// the filter attribute's value rewritten in place; nothing else of the text is touched.
import { XmlError } from "./errors.js";
import type { Nic } from "./nic-table.js";
import { isXmlSpace, lineAt } from "./xml.js";
import type { Edit } from "./xml-bytes.js";

/** `<filterref filter='NAME'/>` as the last child, on its own line and indented like its siblings. */
export function insertFilterref(xml: string, nic: Nic, filter: string): Edit {
  const element = `<filterref filter='${filter}'/>`;
  if (nic.tagEnd === nic.end) {
    // `<interface .../>` becomes `<interface ...><filterref .../></interface>`.
    const slash = xml.lastIndexOf("/", nic.end - 1);
    return { at: slash, remove: nic.end - slash, insert: `>${element}</interface>` };
  }
  const close = nic.closeStart;
  let contentEnd = close;
  while (contentEnd > nic.start && isXmlSpace(xml.charCodeAt(contentEnd - 1))) contentEnd--;
  const gap = xml.slice(contentEnd, close);
  const newline = gap.lastIndexOf("\n");
  if (newline === -1) return { at: close, remove: 0, insert: element }; // written on one line
  const eol = gap[newline - 1] === "\r" ? "\r\n" : "\n";
  return { at: contentEnd, remove: 0, insert: `${eol}${childIndent(xml, nic, gap.slice(newline + 1))}${element}` };
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
