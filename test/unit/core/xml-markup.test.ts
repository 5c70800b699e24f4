// The markup that makes no element (src/core/xml-markup.ts): each function reads one construct
// where the scanner found it and returns where it ends, or says what is wrong and where.
import { describe, expect, it } from "vitest";
import { commentEnd, doctypeEnd, isXmlDeclaration, piEnd, xmlDeclarationEnd } from "../../../src/core/xml-markup.js";

const fail = (message: string, offset: number): never => {
  throw new Error(`${offset}: ${message}`);
};

describe("the XML declaration", () => {
  it("is recognised by its name and read to its end", () => {
    const text = `<?xml version="1.0" encoding='UTF-8' standalone="no"?><a/>`;
    expect(isXmlDeclaration(text, 0)).toBe(true);
    expect(isXmlDeclaration("<?xml-stylesheet href='x'?>", 0)).toBe(false);
    expect(xmlDeclarationEnd(text, 0, fail)).toBe(text.indexOf("<a/>"));
  });

  it.each([
    [`<?xml version='1.'?>`, /^0: malformed XML declaration: version '1\.' has no digit after the dot$/],
    [`<?xml encoding='UTF-8'?>`, /^0: malformed XML declaration$/],
    [`<?xml version='1.0' standalone='yes' encoding='UTF-8'?>`, /^0: malformed XML declaration$/],
  ])("refuses %s", (text, message) => expect(() => xmlDeclarationEnd(text, 0, fail)).toThrow(message));
});

describe("comments and processing instructions", () => {
  it("a comment ends after '-->' and may not hold '--'", () => {
    expect(commentEnd("<!-- a - b -->x", 0, fail)).toBe(14);
    expect(() => commentEnd("<!-- a -- b -->", 0, fail)).toThrow(/^7: '--' inside a comment/);
    expect(() => commentEnd("<!-- a", 0, fail)).toThrow(/^0: unclosed comment/);
  });

  it("a processing instruction may have ':' in its target (a namespace error only), not the name xml", () => {
    expect(piEnd("<a><?p:q data?></a>", 3, 0, fail)).toBe(15);
    expect(() => piEnd("<a><?XmL x?></a>", 3, 0, fail)).toThrow(/^3: XML declaration not at the start of the document/);
    expect(() => piEnd("<?xml x?><a/>", 0, 0, fail)).toThrow(/^0: malformed XML declaration/);
    expect(() => piEnd("<a><? x?></a>", 3, 0, fail)).toThrow(/without a target/);
    expect(() => piEnd("<a><?p", 3, 0, fail)).toThrow(/malformed processing instruction/);
    expect(() => piEnd("<a><?p x", 3, 0, fail)).toThrow(/unclosed processing instruction/);
  });
});

describe("the DOCTYPE", () => {
  it("a name and an external ID at most", () => {
    const text = `<!DOCTYPE domain PUBLIC "-//x//y" 'a.dtd'><a/>`;
    expect(doctypeEnd(text, 0, fail, fail)).toBe(text.indexOf("<a/>"));
    expect(() => doctypeEnd("<!DOCTYPE a SYSTEM><a/>", 0, fail, fail)).toThrow(/malformed DOCTYPE/);
  });

  it("an internal subset is refused through the second callback", () => {
    const bare = (message: string): never => {
      throw new Error(`bare: ${message}`);
    };
    expect(() => doctypeEnd("<!DOCTYPE a [<!ENTITY e 'x'>]><a/>", 0, fail, bare)).toThrow(/^bare: a DOCTYPE with declarations/);
  });
});
