// The positional XML reader (src/core/xml.ts) as transform.ts relies on it: offsets into the original
// text (CRLF, BOM and multi-byte characters included), raw attribute values, and refusals.
import { describe, expect, it } from "vitest";
import { XmlError } from "../../../src/core/errors.js";
import { attr, child, decodeAttr, endTagStart, isSelfClosing, localName, namespaceOf, parseXml, startTagEnd, textContent, type XmlElement } from "../../../src/core/xml.js";

describe("positions", () => {
  it.each([
    ["LF", "\n"],
    ["CRLF", "\r\n"],
  ])("element start and end are offsets into the text (%s)", (_what, eol) => {
    const text = `\ufeff<?xml version='1.0'?>${eol}<!-- ü -->${eol}<a x='1'>${eol}  <b>é</b>${eol}  <c/>${eol}  <d y="&lt;>"></d>${eol}</a>${eol}`;
    const a = parseXml(text, "f");
    expect(text.slice(a.start, a.end)).toMatch(/^<a x='1'>[\s\S]*<\/a>$/);
    const [b, c, d] = a.children;
    expect(text.slice(b?.start, b?.end)).toBe("<b>é</b>");
    expect(text.slice(c?.start, c?.end)).toBe("<c/>");
    expect(text.slice(d?.start, d?.end)).toBe(`<d y="&lt;>"></d>`);
    expect(b?.parent).toBe(a);
  });

  it("attribute values are raw; attr() decodes them", () => {
    const text = `<a v='a&amp;b&#x41;&#66;&quot;' w="it's" e=''/>`;
    const a = parseXml(text, "f");
    expect(a.attrs.v).toBe("a&amp;b&#x41;&#66;&quot;");
    expect(attr(a, "v", "f", text)).toBe(`a&bAB"`);
    expect(attr(a, "w", "f", text)).toBe("it's");
    expect(attr(a, "e", "f", text)).toBe("");
    expect(attr(a, "missing", "f", text)).toBeUndefined();
  });

  it("attr() normalises as libxml2 does: written tabs and line ends are spaces, &#10; stays a line feed", () => {
    const text = "<a b='\tbr0\r\n' c='x\ry\nz' d='p&#10;q&#9;r' e='plain'/>";
    const a = parseXml(text, "f");
    expect(attr(a, "b", "f", text)).toBe(" br0 ");
    expect(attr(a, "c", "f", text)).toBe("x y z");
    expect(attr(a, "d", "f", text)).toBe("p\nq\tr");
    expect(attr(a, "e", "f", text)).toBe("plain");
    expect(a.attrs.b).toBe("\tbr0\r\n"); // the raw value is kept as written
  });

  it("startTagEnd skips '>' inside quoted values; isSelfClosing and endTagStart", () => {
    const text = `<r><a x='>' y=">"><b/></a><c z='/>' /><d></d>\n</r>`;
    const r = parseXml(text, "f");
    const [a, c, d] = r.children as [XmlElement, XmlElement, XmlElement];
    expect(text.slice(startTagEnd(text, a))).toMatch(/^<b\/>/);
    expect(isSelfClosing(text, a)).toBe(false);
    expect(isSelfClosing(text, c)).toBe(true);
    expect(isSelfClosing(text, d)).toBe(false);
    expect(text.slice(endTagStart(text, a))).toMatch(/^<\/a>/);
    expect(text.slice(endTagStart(text, d))).toMatch(/^<\/d>/);
  });

  it("endTagStart finds the element's own end tag when its parent's follows at once", () => {
    const text = "<r><a><b/></a></r>";
    const a = parseXml(text, "f").children[0];
    expect(a).toBeDefined();
    expect(text.slice(endTagStart(text, a as XmlElement))).toBe("</a></r>");
  });

  it("textContent: XPath's string(): decoded, untrimmed, line ends as LF, comments and PIs dropped, CDATA literal, descendants' text", () => {
    const text = "<r><name>\r\n  a&amp;b<!-- x --><![CDATA[<&>]]><?p -lab?><i a='>'>c</i>\r</name>\n</r>";
    const name = child(parseXml(text, "f"), "name");
    expect(textContent(text, name as XmlElement, "f")).toBe("\n  a&b<&>c\n");
  });

  it("namespaceOf and localName follow prefixes and default namespaces up the tree", () => {
    const text = `<r xmlns:p="urn:p"><m xmlns="urn:d"><p:x/><y/><q:z xmlns:q="urn:q"/></m><w/></r>`;
    const r = parseXml(text, "f");
    const [m, w] = r.children as [XmlElement, XmlElement];
    const [x, y, z] = m.children as [XmlElement, XmlElement, XmlElement];
    expect([namespaceOf(x), localName(x)]).toEqual(["urn:p", "x"]);
    expect([namespaceOf(y), localName(y)]).toEqual(["urn:d", "y"]);
    expect([namespaceOf(z), localName(z)]).toEqual(["urn:q", "z"]);
    expect(namespaceOf(w)).toBeUndefined();
  });
});

describe("refusals are XmlErrors with a place", () => {
  it.each([
    ["empty", "", /empty document/],
    ["a lone BOM", "\ufeff", /empty document/],
    ["unclosed", "<a><b></a>", /malformed XML/],
    ["two roots", "<a/><b/>", /malformed XML/],
    ["text only", "hello", /malformed XML/],
    ["entity declarations", "<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>", /DOCTYPE with declarations/],
    ["entity declarations after a comment and a PI", "<?xml version='1.0'?><!-- c --><!DOCTYPE a [ ]><a/>", /DOCTYPE with declarations/],
  ])("%s", (_what, text, message) => {
    expect(() => parseXml(text, "f")).toThrow(XmlError);
    expect(() => parseXml(text, "f")).toThrow(message);
  });

  it("a DOCTYPE without a subset, and one with a quoted '[' in its system id, are fine", () => {
    expect(parseXml("<!DOCTYPE a><a/>", "f").name).toBe("a");
    expect(parseXml(`<!DOCTYPE a SYSTEM "x[1].dtd"><a/>`, "f").name).toBe("a");
  });

  it.each(["&foo;", "&#0;", "&#xZZ;", "&amp", "&#x110000;"])("decodeAttr refuses %j", (raw) => {
    expect(() => decodeAttr(raw, "f", raw, 0)).toThrow(XmlError);
  });
});
