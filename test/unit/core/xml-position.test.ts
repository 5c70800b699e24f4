// Positions in a document (src/core/xml-position.ts): lines and columns for messages, and where
// an attribute's value starts for the splice.
import { describe, expect, it } from "vitest";
import { XmlError } from "../../../src/core/errors.js";
import { lineAt, lineCounter, tagEndFrom, valueStart, xmlErrorAt } from "../../../src/core/xml-position.js";
import { parseXml } from "../../../src/core/xml-scanner.js";

describe("lines", () => {
  const text = "a\nbc\r\n\nd";

  it("lineAt counts the line feeds before an offset", () => {
    expect([0, 1, 2, 5, 6, 7, 8].map((o) => lineAt(text, o))).toEqual([1, 1, 2, 2, 3, 4, 4]);
  });

  it("lineCounter gives the same lines for offsets in increasing order, and starts again for a smaller one", () => {
    const count = lineCounter(text);
    expect([0, 2, 6, 8].map(count)).toEqual([1, 2, 3, 4]);
    expect(count(1)).toBe(1);
  });

  it("xmlErrorAt says the line and the column of an offset", () => {
    const e = xmlErrorAt(text, "f.xml", "what", 3);
    expect(e).toBeInstanceOf(XmlError);
    expect([e.message, e.where]).toEqual(["what", { file: "f.xml", line: 2, column: 2 }]);
  });
});

describe("places in a start tag", () => {
  it("valueStart finds an attribute's value by reading the tag again, not by a pattern", () => {
    const text = `<interface x="type='y'" type = 'bridge' p:type="z" xmlns:p='u'/>`;
    const e = parseXml(text, "f");
    expect(text.slice(valueStart(text, e, "type"))).toMatch(/^bridge'/);
    expect(text.slice(valueStart(text, e, "p:type"))).toMatch(/^z"/);
    expect(() => valueStart(text, e, "missing")).toThrow(/internal: no attribute 'missing'/);
  });

  it("tagEndFrom skips '>' in quoted values", () => {
    const text = `<a b='>' c=">">text`;
    expect(tagEndFrom(text, 0)).toBe(text.indexOf("text"));
  });
});
