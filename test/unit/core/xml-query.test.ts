// Reading kept elements as libvirt reads them (src/core/xml-query.ts): XPath's child steps,
// libxml2's xmlGetProp() for attributes, XPath's string() for text, and names.
import { describe, expect, it } from "vitest";
import type { XmlElement } from "../../../src/core/xml-element.js";
import { attr, attrKey, child, children, localName, namespaceOf, textContent } from "../../../src/core/xml-query.js";
import { parseXml } from "../../../src/core/xml-scanner.js";

const kids = (text: string) => parseXml(text, "f").children;

describe("attributes, as xmlGetProp() reads them", () => {
  it("attr() decodes references", () => {
    const a = parseXml(`<a v='a&amp;b&#x41;&#66;&quot;' w="it's" e=''/>`, "f");
    expect(attr(a, "v")).toBe(`a&bAB"`);
    expect(attr(a, "w")).toBe("it's");
    expect(attr(a, "e")).toBe("");
    expect(attr(a, "missing")).toBeUndefined();
  });

  it("attr() normalises as libxml2 does: written tabs and line ends are spaces, &#10; stays a line feed", () => {
    const a = parseXml("<a b='\tbr0\r\n' c='x\ry\nz' d='p&#10;q&#9;r' e='plain'/>", "f");
    expect(attr(a, "b")).toBe(" br0 ");
    expect(attr(a, "c")).toBe("x y z");
    expect(attr(a, "d")).toBe("p\nq\tr");
    expect(attr(a, "e")).toBe("plain");
  });

  it("the first attribute of that name, in document order, where a declared prefix does not count", () => {
    const [f, g] = kids("<r xmlns:p='u'><f p:filter='a' filter='b'/><g filter='c' p:filter='d'/></r>");
    expect(attr(f as XmlElement, "filter")).toBe("a");
    expect(attr(g as XmlElement, "filter")).toBe("c");
    expect(attrKey(f as XmlElement, "filter")).toBe("p:filter");
  });

  it("an undeclared prefix is part of the name: `ns0:type` is not `type`", () => {
    const [nic] = kids("<devices><interface ns0:type='network' type='bridge'/></devices>");
    expect(attr(nic as XmlElement, "type")).toBe("bridge");
    const [lone] = kids("<devices><interface ns0:type='network'/></devices>");
    expect(attr(lone as XmlElement, "type")).toBeUndefined();
  });

  it("an attribute whose name libxml2 cannot split keeps it whole", () => {
    const [e] = kids("<r xmlns:a='urn:a'><e :type='1' a:1='2' a:type:x='3' xmlns:='4'/></r>");
    const el = e as XmlElement;
    expect(attr(el, "type")).toBeUndefined();
    expect(attr(el, "x")).toBeUndefined();
    expect(attrKey(el, "a:type:x")).toBe("a:type:x");
    expect(attr(el, "xmlns:")).toBe("4");
  });

  it("a qualified name finds that attribute as written", () => {
    const [, g] = kids("<r xmlns:p='u'><f/><g filter='c' p:filter='d' q:filter='e'/></r>");
    expect(attr(g as XmlElement, "p:filter")).toBe("d");
    expect(attr(g as XmlElement, "q:filter")).toBe("e");
    expect(attr(g as XmlElement, "r:filter")).toBeUndefined();
  });
});

describe("child elements, as libvirt's XPath finds them", () => {
  it("child() and children() find elements in no namespace only", () => {
    const text = "<r xmlns:p='u'><p:name/><name xmlns='urn:d'/><undeclared:name/><name>x</name><name/></r>";
    const r = parseXml(text, "f");
    expect(child(r, "name")?.start).toBe(text.indexOf("<name>"));
    expect(children(r, "name").map((e) => e.start)).toEqual([text.indexOf("<name>"), text.lastIndexOf("<name/>")]);
  });

  it("namespaceOf and localName follow prefixes and default namespaces up the tree", () => {
    const r = parseXml(`<r xmlns:p="urn:p"><m xmlns="urn:d"><p:x/><y/><q:z xmlns:q="urn:q"/><u:v/></m><w/></r>`, "f");
    const [m, w] = r.children as [XmlElement, XmlElement];
    const [x, y, z, v] = m.children as [XmlElement, XmlElement, XmlElement, XmlElement];
    expect([namespaceOf(x), localName(x)]).toEqual(["urn:p", "x"]);
    expect([namespaceOf(y), localName(y)]).toEqual(["urn:d", "y"]);
    expect([namespaceOf(z), localName(z)]).toEqual(["urn:q", "z"]);
    expect([namespaceOf(v), localName(v)]).toEqual([undefined, "u:v"]);
    expect([namespaceOf(w), localName(w)]).toEqual([undefined, "w"]);
  });
});

describe("text, as XPath's string() reads it", () => {
  it("decoded, untrimmed, line ends as LF, comments and PIs dropped, CDATA literal, descendants' text", () => {
    const text = "<r><name>\r\n  a&amp;b<!-- x --><![CDATA[<&>]]><?p -lab?><i a='>'>c</i>\r</name>\n</r>";
    const name = child(parseXml(text, "f"), "name");
    expect(textContent(text, name as XmlElement)).toBe("\n  a&b<&>c\n");
    for (const empty of ["<name/>", "<name />", "<name></name>"]) expect(textContent(empty, parseXml(empty, "f"))).toBe("");
  });
});
