// Namespaces as libxml2 2.9.14 reads them (src/core/xml-namespaces.ts), through the scanner: the
// namespace and local name of each element and attribute, the declarations that bind nothing,
// and the few namespace mistakes that are fatal. xml-oracle.test.ts holds the same reading to
// xmllint over generated documents; the expectations here are written from libxml2's source
// (parser.c: xmlParseQName, xmlParseStartTag2).
import { describe, expect, it } from "vitest";
import { XmlError } from "../../../src/core/errors.js";
import type { XmlElement } from "../../../src/core/xml-element.js";
import { XML_NS, isDeclaration, prefixColon } from "../../../src/core/xml-namespaces.js";
import { parseXml } from "../../../src/core/xml-scanner.js";

function* walk(e: XmlElement): Generator<XmlElement> {
  yield e;
  for (const c of e.children) yield* walk(c);
}

/** Each element as `name -> namespace local`, "-" for no namespace. */
const names = (text: string) => [...walk(parseXml(text, "f"))].map((e) => `${e.name} -> ${e.ns ?? "-"} ${e.local}`);

const refused = (text: string) => {
  try {
    parseXml(text, "f");
  } catch (error) {
    if (error instanceof XmlError) return error;
    throw error;
  }
  return undefined;
};

describe("element names", () => {
  it.each([
    ["a declared prefix", `<r xmlns:p="urn:p"><p:x/></r>`, ["r -> - r", "p:x -> urn:p x"]],
    ["the default namespace, then undeclared", `<r xmlns="urn:d"><x/><y xmlns=""/></r>`, ["r -> urn:d r", "x -> urn:d x", "y -> - y"]],
    ["a prefix declared again inside", `<p:r xmlns:p="urn:p"><p:x xmlns:p="urn:q"/><p:y/></p:r>`, ["p:r -> urn:p r", "p:x -> urn:q x", "p:y -> urn:p y"]],
    ["two colons: the prefix, then the rest", `<a:b:c xmlns:a="urn:a"/>`, ["a:b:c -> urn:a b:c"]],
    ["three colons", `<a:b:c:d xmlns:a="urn:a"/>`, ["a:b:c:d -> urn:a b:c:d"]],
    ["a second colon at the end", `<a:b: xmlns:a="urn:a"/>`, ["a:b: -> urn:a b:"]],
    ["a second colon followed by another", `<a:b::c xmlns:a="urn:a"/>`, ["a:b::c -> urn:a b::c"]],
    [
      "an undeclared prefix: the whole name, in no namespace",
      `<r xmlns="urn:d"><undeclared:interface/></r>`,
      ["r -> urn:d r", "undeclared:interface -> - undeclared:interface"],
    ],
    ["a leading colon: no prefix, the default namespace", `<r xmlns="urn:d"><:a/></r>`, ["r -> urn:d r", ":a -> urn:d :a"]],
    ["a colon before a digit: no prefix", `<r xmlns="urn:d" xmlns:a="urn:a"><a:1/></r>`, ["r -> urn:d r", "a:1 -> urn:d a:1"]],
    ["two colons in a row: no prefix", `<a::b xmlns:a="urn:a"/>`, ["a::b -> - a::b"]],
    ["a trailing colon: no prefix", `<a: xmlns:a="urn:a"/>`, ["a: -> - a:"]],
    ["the xml prefix, always bound", `<xml:x/>`, [`xml:x -> ${XML_NS} x`]],
    ["the xmlns prefix, never bound", `<xmlns:x/>`, ["xmlns:x -> - xmlns:x"]],
    ["a declaration references decode", `<r xmlns:p='urn&#58;nwfilter-hook:1'><p:policy/></r>`, ["r -> - r", "p:policy -> urn:nwfilter-hook:1 policy"]],
  ])("%s", (_what, text, expected) => expect(names(text)).toEqual(expected));
});

describe("declarations that libxml2 reports and skips", () => {
  it.each([
    ["xmlns:xml bound elsewhere: xml keeps its namespace", `<r xmlns:xml="urn:x"><xml:y/></r>`, ["r -> - r", `xml:y -> ${XML_NS} y`]],
    ["xmlns:xml bound to its own namespace", `<r xmlns:xml="${XML_NS}"><xml:y/></r>`, ["r -> - r", `xml:y -> ${XML_NS} y`]],
    ["the xml namespace bound to another prefix", `<r xmlns:p="${XML_NS}"><p:y/></r>`, ["r -> - r", "p:y -> - p:y"]],
    ["the xml namespace as the default", `<r xmlns="${XML_NS}"><y/></r>`, ["r -> - r", "y -> - y"]],
    ["the xmlns namespace as the default", `<r xmlns="http://www.w3.org/2000/xmlns/"><y/></r>`, ["r -> - r", "y -> - y"]],
    ["the xmlns namespace bound to a prefix", `<r xmlns:p="http://www.w3.org/2000/xmlns/"><p:y/></r>`, ["r -> - r", "p:y -> - p:y"]],
    ["xmlns:xmlns", `<r xmlns:xmlns="urn:x"><xmlns:y/></r>`, ["r -> - r", "xmlns:y -> - xmlns:y"]],
    [
      "an empty namespace for a prefix does not undo an outer one",
      `<r xmlns:p="urn:p"><s xmlns:p=""><p:y/></s></r>`,
      ["r -> - r", "s -> - s", "p:y -> urn:p y"],
    ],
    ["a prefix with a colon binds nothing usable", `<r xmlns:a:b="urn:x"><a:b:c/></r>`, ["r -> - r", "a:b:c -> - a:b:c"]],
  ])("%s", (_what, text, expected) => expect(names(text)).toEqual(expected));

  it("an attribute named 'xmlns:' is an ordinary attribute and declares no default namespace", () => {
    const root = parseXml(`<interface xmlns:='urn:elsewhere' type='bridge'/>`, "f");
    expect([root.ns, root.local, root.attrs["xmlns:"]]).toEqual([undefined, "interface", "urn:elsewhere"]);
  });

  it.each([
    ["both empty", `<x xmlns:p="" xmlns:p=""/>`],
    ["the first empty", `<x xmlns:p="" xmlns:p="urn:p"/>`],
    ["the second empty", `<x xmlns:p="urn:p" xmlns:p=""/>`],
    ["xmlns:xml twice", `<x xmlns:xml="${XML_NS}" xmlns:xml="${XML_NS}"/>`],
    ["the xmlns namespace twice", `<x xmlns="http://www.w3.org/2000/xmlns/" xmlns="http://www.w3.org/2000/xmlns/"/>`],
  ])("a declaration written twice is read where at most one of them binds: %s", (_what, text) => expect(refused(text)).toBeUndefined());
});

describe("attribute names", () => {
  it("a declared prefix puts an attribute in its namespace, an undeclared one or a broken name leaves it in none", () => {
    const text = `<r xmlns="urn:d" xmlns:a="urn:a"><e a:x="1" ns0:type="2" a:info:x="3" :z="4" a:1="5" xml:lang="en" y="6"/></r>`;
    const e = parseXml(text, "f").children[0] as XmlElement;
    expect(e.attrNs).toEqual({ "a:x": "urn:a", "a:info:x": "urn:a", "xml:lang": XML_NS });
    expect(e.prefixedAttrs).toBe(true);
  });

  it("without prefixed attributes there is nothing to record; attributes never take the default namespace", () => {
    const e = parseXml(`<e xmlns="urn:d" y="1"/>`, "f");
    expect([e.attrNs, e.prefixedAttrs]).toEqual([undefined, false]);
    expect(parseXml(`<e xmlns:p="urn:p" p:y="1"/>`, "f").prefixedAttrs).toBe(true);
    expect(parseXml(`<e q:y="1"/>`, "f")).toMatchObject({ prefixedAttrs: true, attrNs: undefined });
  });

  it("the same local name in one namespace under two prefixes is read, both attributes kept", () => {
    const e = parseXml(`<x xmlns:p="urn:u" xmlns:q="urn:u" p:a="1" q:a="2"/>`, "f");
    expect(e.attrs).toEqual({ "xmlns:p": "urn:u", "xmlns:q": "urn:u", "p:a": "1", "q:a": "2" });
    expect(e.attrNs).toEqual({ "p:a": "urn:u", "q:a": "urn:u" });
  });
});

describe("fatal, as in libxml2", () => {
  it.each([
    ["a declaration that binds, written twice", `<x xmlns:p="urn:u" xmlns:p="urn:v"/>`, /attribute 'xmlns:p' is given twice/, 20],
    ["the default namespace declared twice", `<x xmlns="urn:u" xmlns="urn:v"/>`, /attribute 'xmlns' is given twice/, 18],
    ["the default namespace undeclared, then declared", `<x xmlns="" xmlns="urn:v"/>`, /attribute 'xmlns' is given twice/, 13],
    ["an attribute written twice", `<x a="1" a="2"/>`, /attribute 'a' is given twice/, 9],
    ["an element name whose second ':' is followed by a digit", `<a:b:1 xmlns:a="urn:a"/>`, /'a:b:1' is not a name libxml2 can read/, 6],
    ["an attribute name likewise", `<x a:b:-c="2"/>`, /'a:b:-c' is not a name libxml2 can read/, 8],
    ["a declaration likewise", `<x xmlns:a:.b="urn:x"/>`, /'xmlns:a:\.b' is not a name libxml2 can read/, 12],
  ])("%s", (_what, text, message, column) => {
    const e = refused(text);
    expect(e?.message).toMatch(/^malformed XML: /);
    expect(e?.message).toMatch(message);
    expect(e?.where).toMatchObject({ line: 1, column });
  });

  it("each part of a name is held to libxml2's 50,000 characters, as it reads the parts", () => {
    const long = "a".repeat(50_000);
    expect(refused(`<p:${long} xmlns:p='urn:p'/>`)).toBeUndefined();
    expect(refused(`<${long}:x xmlns:${long}='urn:p'/>`)).toBeUndefined();
    expect(refused(`<p:${long}:${long} xmlns:p='urn:p'/>`)).toBeUndefined();
    expect(refused(`<p:${long}b xmlns:p='urn:p'/>`)?.message).toMatch(/a name longer than 50000 characters/);
    expect(refused(`<x p:${long}b='1'/>`)?.message).toMatch(/a name longer than 50000 characters/);
    expect(refused(`<:${long}/>`)?.message).toMatch(/a name longer than 50000 characters/);
    expect(refused(`<a:1${long}/>`)?.message).toMatch(/a name longer than 50000 characters/);
  });
});

describe("the parts, directly", () => {
  const fail = (message: string, offset: number): never => {
    throw new Error(`${offset}: ${message}`);
  };

  it.each([
    ["x", -1],
    ["p:x", 1],
    ["pre:l:m", 3],
    ["p:l:", 1],
    [":a", -1],
    ["a:1", -1],
    ["a::b", -1],
    ["a:", -1],
    ["é:ü", 1],
    ["a:\u00b7", -1],
  ])("prefixColon(%j) is %i", (name, colon) => expect(prefixColon(name, 0, fail)).toBe(colon));

  it("prefixColon says where a name breaks, from where it stands", () => {
    expect(() => prefixColon("a:b:1", 10, fail)).toThrow(/^14: /);
  });

  it.each([
    ["xmlns", true],
    ["xmlns:p", true],
    ["xmlns:p:q", true],
    ["xmlns:", false],
    ["xmlns:1", false],
    ["xmlns::p", false],
    ["xmlnsp", false],
    ["XMLNS:p", false],
    ["p:xmlns", false],
  ])("isDeclaration(%j) is %s", (key, declaration) => expect(isDeclaration(key)).toBe(declaration));
});
