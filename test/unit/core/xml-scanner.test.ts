// The scanner (src/core/xml-scanner.ts) as transform.ts relies on it: offsets into the original
// text (CRLF, BOM and multi-byte characters included), raw attribute values, what it keeps, and
// refusals with their place. Namespaces: xml-namespaces.test.ts; against xmllint and
// fast-xml-parser: xml-oracle.test.ts.
import { describe, expect, it } from "vitest";
import { XmlError } from "../../../src/core/errors.js";
import type { XmlElement } from "../../../src/core/xml-element.js";
import { parseXml } from "../../../src/core/xml-scanner.js";

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

  it("attribute values are kept as written", () => {
    const a = parseXml(`<a v='a&amp;b&#x41;&#66;&quot;' w="it's" e='' t='\tbr0\r\n'/>`, "f");
    expect(a.attrs).toEqual({ v: "a&amp;b&#x41;&#66;&quot;", w: "it's", e: "", t: "\tbr0\r\n" });
  });

  it("an attribute named __proto__ is an attribute like any other", () => {
    const a = parseXml(`<a __proto__='x' b='y'/>`, "f");
    expect(Object.keys(a.attrs)).toEqual(["__proto__", "b"]);
    expect(a.attrs.__proto__).toBe("x");
    expect(Object.getPrototypeOf(a.attrs)).toBe(Object.prototype);
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
});

describe("what is kept", () => {
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

  it("retain is asked with the name as written and the namespace as resolved", () => {
    const asked: string[] = [];
    parseXml(`<r xmlns:p="urn:p"><p:x/><undeclared:y/><z xmlns="urn:d"/></r>`, "f", {
      retain: (_parent, name, ns) => {
        asked.push(`${name} ${ns ?? "-"}`);
        return false;
      },
    });
    expect(asked).toEqual(["p:x urn:p", "undeclared:y -", "z urn:d"]);
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

describe("libxml2's limits without XML_PARSE_HUGE", () => {
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

  it("names: 50,000 characters are read, 50,001 refused", () => {
    expect(refused(`<${"a".repeat(50_000)}/>`)).toBeUndefined();
    expect(refused(`<${"a".repeat(50_001)}/>`)?.message).toMatch(/a name longer than 50000 characters/);
    expect(refused(`<a ${"b".repeat(50_001)}='1'/>`)?.message).toMatch(/a name longer than 50000 characters/);
    expect(refused(`<a><?${"p".repeat(50_001)}?></a>`)?.message).toMatch(/a name longer than 50000 characters/);
  });

  it("namespace errors are not refusals: libxml2 reports them and reads on, and so does libvirt", () => {
    for (const text of ["<p:a/>", "<a:b:c xmlns:a='u'/>", "<a ns0:info:x='1'/>", "<a xmlns:p=''/>", "<a><?p:q?></a>"]) {
      expect(refused(text), text).toBeUndefined();
    }
  });
});
