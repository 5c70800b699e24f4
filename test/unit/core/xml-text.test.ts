// XML at the level of characters (src/core/xml-text.ts).
import { describe, expect, it } from "vitest";
import { attrValue, badCharacter, decodeRefs, eol, isXmlSpace, nameEnd, referenceEnd, startsName, startsNcName } from "../../../src/core/xml-text.js";

describe("characters", () => {
  it("XML's whitespace is space, tab, LF and CR only", () => {
    expect([" ", "\t", "\n", "\r", "\u00a0", "\f", "x"].map((c) => isXmlSpace(c.charCodeAt(0)))).toEqual([true, true, true, true, false, false, false]);
  });

  it.each([
    ["a", true, true],
    ["_", true, true],
    [":", true, false],
    ["é", true, true],
    ["\u{10000}", true, true],
    ["1", false, false],
    ["-", false, false],
    [".", false, false],
    ["\u00b7", false, false],
    ["\u0301", false, false],
    ["", false, false],
  ])("%j may start a name: %s; a name without ':': %s", (c, name, ncName) => {
    expect(startsName(`x${c}`, 1)).toBe(name);
    expect(startsNcName(`x${c}`, 1)).toBe(ncName);
  });
});

describe("names, characters and references", () => {
  it.each([
    ["abc def", 0, 3],
    ["a:b.c-d_1>", 0, 9],
    ["éa\u0301·x y", 0, 5],
    ["x\u{10000}y/", 0, 4],
    ["1a", 0, -1],
    ["<a", 0, -1],
    ["a", 1, -1],
  ])("nameEnd(%j, %i) is %i", (text, at, end) => expect(nameEnd(text, at)).toBe(end));

  it("badCharacter finds the first character XML forbids; a surrogate pair is one allowed character", () => {
    expect(badCharacter("ok \u{10000} \ufffd\t\r\n")).toBe(-1);
    expect(badCharacter("ab\u0001")).toBe(2);
    expect(badCharacter("a\ud800b")).toBe(1);
    expect(badCharacter("ab\udc00")).toBe(2);
    expect(badCharacter("\ufffe")).toBe(0);
  });

  const fail = (message: string, offset: number): never => {
    throw new Error(`${offset}: ${message}`);
  };

  it("referenceEnd reads the references XML has without a DTD, and names what is wrong with others", () => {
    expect(referenceEnd("x&amp;y", 1, fail)).toBe(6);
    expect(referenceEnd("&#x10FFFF;", 0, fail)).toBe(10);
    expect(() => referenceEnd("&nbsp;", 0, fail)).toThrow(/^0: undefined entity &nbsp;/);
    expect(() => referenceEnd("&#0;", 0, fail)).toThrow(/names a character XML does not allow/);
    expect(() => referenceEnd("a & b", 2, fail)).toThrow(/^2: malformed reference '&'/);
  });
});

describe("values", () => {
  it("references are decoded, the five entities and character references alike", () => {
    expect(decodeRefs("&lt;&gt;&amp;&quot;&apos;&#65;&#x1F600;")).toBe(`<>&"'A\u{1F600}`);
  });

  it("attribute values are normalised before references are decoded", () => {
    expect(attrValue("a\r\nb\rc\nd\te&#10;f&#9;")).toBe("a b c d e\nf\t");
  });

  it("end-of-line handling turns CR LF and a lone CR into LF", () => {
    expect(eol("a\r\nb\rc\n")).toBe("a\nb\nc\n");
  });
});
