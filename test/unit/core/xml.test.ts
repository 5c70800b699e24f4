// The positional XML reader (src/core/xml.ts) as transform.ts relies on it: offsets into the original
// text (CRLF, BOM and multi-byte characters included), raw attribute values, and refusals.
import { describe, expect, it } from "vitest";
import { XmlError } from "../../../src/core/errors.js";
import { attr, child, localName, namespaceOf, parseXml, textContent, type XmlElement } from "../../../src/core/xml.js";

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
    expect(attr(a, "v")).toBe(`a&bAB"`);
    expect(attr(a, "w")).toBe("it's");
    expect(attr(a, "e")).toBe("");
    expect(attr(a, "missing")).toBeUndefined();
  });

  it("attr() normalises as libxml2 does: written tabs and line ends are spaces, &#10; stays a line feed", () => {
    const text = "<a b='\tbr0\r\n' c='x\ry\nz' d='p&#10;q&#9;r' e='plain'/>";
    const a = parseXml(text, "f");
    expect(attr(a, "b")).toBe(" br0 ");
    expect(attr(a, "c")).toBe("x y z");
    expect(attr(a, "d")).toBe("p\nq\tr");
    expect(attr(a, "e")).toBe("plain");
    expect(a.attrs.b).toBe("\tbr0\r\n"); // the raw value is kept as written
  });

  it("tagEnd skips '>' inside quoted values; closeStart is the end tag's '<', both the end for <x/>", () => {
    const text = `<r><a x='>' y=">"><b/></a><c z='/>' /><d></d>\n</r>`;
    const r = parseXml(text, "f");
    const [a, c, d] = r.children as [XmlElement, XmlElement, XmlElement];
    expect(text.slice(a.tagEnd)).toMatch(/^<b\/>/);
    expect(text.slice(a.closeStart)).toMatch(/^<\/a>/);
    expect([c.tagEnd, c.closeStart]).toEqual([c.end, c.end]);
    expect(text.slice(c.start, c.end)).toBe("<c z='/>' />");
    expect(text.slice(d.tagEnd)).toMatch(/^<\/d>/);
    expect(text.slice(d.closeStart)).toMatch(/^<\/d>/);
  });

  it("closeStart is the element's own end tag when its parent's follows at once", () => {
    const text = "<r><a><b/></a></r>";
    const a = parseXml(text, "f").children[0];
    expect(a).toBeDefined();
    expect(text.slice(a?.closeStart)).toBe("</a></r>");
  });

  it("textContent: XPath's string(): decoded, untrimmed, line ends as LF, comments and PIs dropped, CDATA literal, descendants' text", () => {
    const text = "<r><name>\r\n  a&amp;b<!-- x --><![CDATA[<&>]]><?p -lab?><i a='>'>c</i>\r</name>\n</r>";
    const name = child(parseXml(text, "f"), "name");
    expect(textContent(text, name as XmlElement)).toBe("\n  a&b<&>c\n");
    for (const empty of ["<name/>", "<name />", "<name></name>"]) expect(textContent(empty, parseXml(empty, "f"))).toBe("");
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

  it.each(["&foo;", "&#0;", "&#xZZ;", "&amp", "&#x110000;"])("%j in an attribute value, where it stands", (raw) => {
    const text = `<a>\n  <b c='x${raw}'/>\n</a>`;
    let error: unknown;
    try {
      parseXml(text, "f");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(XmlError);
    expect((error as XmlError).message).toMatch(/^malformed XML: /);
    expect((error as XmlError).where).toMatchObject({ file: "f", line: 2, column: 10 });
  });
});

describe("as libxml2 and libvirt read it", () => {
  const refused = (text: string) => {
    try {
      parseXml(text, "f");
    } catch (error) {
      if (error instanceof XmlError) return error;
      throw error;
    }
    return undefined;
  };

  it("nesting: 257 elements are read, the 258th refused with its position", () => {
    expect(refused("<a>".repeat(257) + "</a>".repeat(257))).toBeUndefined();
    const e = refused("<a>".repeat(257) + "<b/>" + "</a>".repeat(257));
    expect(e?.message).toMatch(/nested more than 256 levels deep/);
    expect(e?.where?.column).toBe(257 * 3 + 1);
  });

  it("names: 50,000 characters per part are read, 50,001 refused", () => {
    expect(refused(`<${"a".repeat(50_000)}/>`)).toBeUndefined();
    expect(refused(`<p:${"a".repeat(50_000)} xmlns:p='urn:p'/>`)).toBeUndefined();
    expect(refused(`<${"a".repeat(50_001)}/>`)?.message).toMatch(/a name longer than 50000 characters/);
    expect(refused(`<a ${"b".repeat(50_001)}='1'/>`)?.message).toMatch(/a name longer than 50000 characters/);
    expect(refused(`<a><?${"p".repeat(50_001)}?></a>`)?.message).toMatch(/a name longer than 50000 characters/);
  });

  it.each([
    ["<p:a/>", /namespace prefix 'p' of <p:a> is not declared/],
    ["<a p:x='1'/>", /namespace prefix 'p' of attribute 'p:x'/],
    ["<a:b:c xmlns:a='u'/>", /'a:b:c' is not a qualified name/],
    ["<:a/>", /':a' is not a qualified name/],
    ["<a: xmlns:a='u'/>", /'a:' is not a qualified name/],
    ["<a xmlns:='u'/>", /'xmlns:' is not a qualified name/],
    ["<a xmlns:xml='u'/>", /the prefix 'xml' is bound to/],
    ["<a xmlns:xmlns='u'/>", /the prefix 'xmlns' cannot be declared/],
    ["<a xmlns:p='http://www.w3.org/XML/1998/namespace'/>", /cannot be bound to the prefix 'p'/],
    ["<a xmlns='http://www.w3.org/2000/xmlns/'/>", /cannot be bound to the default namespace/],
    ["<a xmlns:p=''/>", /an empty namespace name is not allowed/],
    ["<a xmlns:p='u' xmlns:q='u' p:x='1' q:x='2'/>", /attribute 'x' in namespace u is given twice/],
    ["<a xmlns:p='u&#58;v' xmlns:q='u:v' p:x='1' q:x='2'/>", /attribute 'x' in namespace u:v is given twice/],
    ["<a><?p:q?></a>", /a processing instruction's target may not contain ':'/],
  ])("namespace error %s is refused with its position", (text, message) => {
    const e = refused(text);
    expect(e?.message).toMatch(/^namespace error: /);
    expect(e?.message).toMatch(message);
    expect(e?.where?.line).toBe(1);
  });

  it.each([
    "<a xmlns:xml='http://www.w3.org/XML/1998/namespace' xml:lang='en'/>",
    "<a xmlns=''/>",
    "<p:a xmlns:p='u'><p:b xmlns:p='v' p:x='1'/></p:a>",
    "<a x='1' p:x='2' xmlns:p='u'/>",
  ])("namespace-well-formed %s is read", (text) => expect(refused(text)).toBeUndefined());

  it("namespaces are resolved with the declaration's references decoded", () => {
    const text = "<r xmlns:p='urn&#58;nwfilter-hook:1'><p:policy/><q xmlns='urn:d'/></r>";
    const [policy, q] = parseXml(text, "f").children as [XmlElement, XmlElement];
    expect(namespaceOf(policy)).toBe("urn:nwfilter-hook:1");
    expect(namespaceOf(q)).toBe("urn:d");
  });

  it("attr() takes the first attribute of that local name, whatever its prefix, as xmlGetProp does", () => {
    const text = "<r xmlns:p='u'><f p:filter='a' filter='b'/><g filter='c' p:filter='d'/></r>";
    const [f, g] = parseXml(text, "f").children as [XmlElement, XmlElement];
    expect(attr(f, "filter")).toBe("a");
    expect(attr(g, "filter")).toBe("c");
    // A qualified name asks for that attribute as written.
    expect(attr(g, "p:filter")).toBe("d");
    expect(attr(g, "q:filter")).toBeUndefined();
  });

  it("child() finds elements in no namespace only, as libvirt's XPath does", () => {
    const text = "<r xmlns:p='u'><p:name/><name xmlns='urn:d'/><name>x</name></r>";
    const r = parseXml(text, "f");
    expect(child(r, "name")?.start).toBe(text.lastIndexOf("<name>"));
  });

  it("retain keeps only what is asked for, and onEnd sees each kept element complete", () => {
    const text = "<r><keep><a/><b>t</b></keep><drop><keep/></drop></r>";
    const ended: string[] = [];
    const r = parseXml(text, "f", {
      retain: (parent, name) => name === "keep" || parent.name === "keep",
      onEnd: (e) => ended.push(`${e.name}@${e.start}-${e.end}`),
    });
    expect(r.children.map((c) => c.name)).toEqual(["keep"]);
    expect(r.children[0]?.children.map((c) => c.name)).toEqual(["a", "b"]);
    expect(ended).toEqual(["a@9-13", "b@13-21", "keep@3-28", "r@0-52"]);
    // A child not kept still counts as the first child.
    expect(parseXml("<r><x/><y/></r>", "f", { retain: (_p, n) => n === "y" }).firstChild).toBe(3);
  });
});
