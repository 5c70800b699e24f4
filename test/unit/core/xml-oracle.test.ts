// The XML scanner (src/core/xml.ts) held to two references: fast-xml-parser 5.12.1 (what the hook used
// before, test/support/fxp-oracle.ts) for the tree it reads, and xmllint (libxml2, the parser
// libvirt itself uses) for what is well-formed.
//
// - Corpus: every *.xml file under shared/corpus/libvirt-10.7, 2488 files. 2487 of them (86,206
//   elements) are compared element by element: name, raw attributes in order, start, end,
//   children. The one left, qemuxmlconfdata/broken-xml-invalid.xml, both readers refuse.
// - Generated documents (fast-check): the scanner finds the tree the generator built, offsets,
//   tagEnd and closeStart included, and fast-xml-parser finds the same tree. After a random edit,
//   wherever both readers still accept the text, their trees agree.
// - Tables: malformed input the scanner refuses with a line and column (xmllint refuses each
//   too), and tricky well-formed input the scanner accepts (xmllint accepts each too). What
//   counts is xmllint's exit status: a namespace error (an undeclared prefix, a name with two
//   colons, a declaration libxml2 skips) is reported but not fatal (exit 0), and the scanner
//   reads on too. The names libxml2 then gives: xml-namespaces-oracle.test.ts.
//
// fast-xml-parser is the weaker judge of well-formedness: it accepts much that XML forbids
// (recorded per case in MALFORMED) and refuses a few well-formed documents (TRICKY); these tests
// follow xmllint there. It also reports attribute values after end-of-line handling, where the
// scanner keeps them as written (asFxpReports). STRICTER lists where the scanner refuses more
// than xmllint on purpose; DOCTYPE_IDS lists malformed external IDs, which fast-xml-parser accepts.
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { XmlError } from "../../../src/core/errors.js";
import { parseXml, type XmlElement } from "../../../src/core/xml.js";
import { asFxpReports, fxpRead, plainOf, type OracleVerdict, type PlainElement } from "../../support/fxp-oracle.js";
import { CORPUS_SKIP_NOTE, SKIP_CORPUS, corpusDir } from "../../support/paths.js";

// NWFH_PROPERTY_RUNS scales the properties; NWFH_PROPERTY_SEED replays a counterexample.
const RUNS = Number(process.env.NWFH_PROPERTY_RUNS ?? 500);
const SEED = process.env.NWFH_PROPERTY_SEED === undefined ? undefined : Number(process.env.NWFH_PROPERTY_SEED);
const params = (numRuns: number) => (SEED === undefined ? { numRuns } : { numRuns, seed: SEED });

const CI = process.env.CI === "true";
const XMLLINT = spawnSync("xmllint", ["--version"], { stdio: "ignore" }).status === 0;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * The text as a file would hold it: UTF-8, except that a lone surrogate is written as its own
 * three bytes (Buffer.from would silently turn it into U+FFFD, which is well-formed).
 */
function bytesOf(text: string): Buffer {
  const parts: Buffer[] = [];
  let from = 0;
  LONE_SURROGATE.lastIndex = 0;
  for (let m = LONE_SURROGATE.exec(text); m; m = LONE_SURROGATE.exec(text)) {
    const c = m[0].charCodeAt(0);
    parts.push(Buffer.from(text.slice(from, m.index), "utf8"), Buffer.from([0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)]));
    from = m.index + 1;
  }
  parts.push(Buffer.from(text.slice(from), "utf8"));
  return Buffer.concat(parts);
}

/** Whether `xmllint --noout -` reads the text without error (exit status 0). */
function xmllintAccepts(text: string): boolean {
  const r = spawnSync("xmllint", ["--noout", "--nonet", "-"], { input: bytesOf(text), encoding: "utf8" });
  if (r.error) throw r.error;
  return r.status === 0;
}

/** The scanner's verdict: the XmlError it throws, or undefined when it reads the text. */
function scannerError(text: string): XmlError | undefined {
  try {
    parseXml(text, "t.xml");
    return undefined;
  } catch (error) {
    if (error instanceof XmlError) return error;
    throw error;
  }
}

/** The xmllint checks skip where xmllint is missing, except under CI=true where that fails. */
const withXmllint = it.skipIf(!XMLLINT && !CI);
const requireXmllint = () => expect(XMLLINT, "xmllint (libxml2-utils) is required under CI").toBe(true);

describe("fast-xml-parser as the reference", () => {
  it("reports an element's end just past its last '>', as the scanner does", () => {
    const text = `<a x='>'>\n  <b ></b >\n  <c/>\n  <d y="1" />\n</a >\n`;
    const oracle = fxpRead(text);
    expect(oracle.ok).toBe(true);
    const root = (oracle as Extract<OracleVerdict, { ok: true }>).root;
    expect(root.end).toBe(text.indexOf("</a >") + 5);
    expect(root.children.map((c) => text.slice(c.start, c.end))).toEqual(["<b ></b >", "<c/>", `<d y="1" />`]);
    expect(root).toEqual(asFxpReports(plainOf(parseXml(text, "t.xml"))));
  });
});

// ---------------------------------------------------------------------------------------------
// The libvirt corpus. Like test/corpus.test.ts, a missing corpus is a failure (corpusDir throws),
// never a silent skip.

/** Corpus files neither reader accepts, and why. Any other refusal by either reader fails. */
const BOTH_REFUSE: Record<string, string> = {
  "qemuxmlconfdata/broken-xml-invalid.xml": "libvirt's own malformed-XML test: <dom> is never closed",
};

interface CorpusEntry {
  name: string;
  scanner: PlainElement | XmlError;
  oracle: OracleVerdict;
}

describe.skipIf(SKIP_CORPUS)(`libvirt 10.7 corpus: the scanner reads every file as fast-xml-parser does${CORPUS_SKIP_NOTE}`, () => {
  const entries: CorpusEntry[] = [];
  beforeAll(() => {
    const root = corpusDir();
    const names = readdirSync(root, { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".xml"))
      .sort();
    for (const name of names) {
      const text = readFileSync(join(root, name), "utf8");
      let scanner: PlainElement | XmlError;
      try {
        scanner = asFxpReports(plainOf(parseXml(text, name)));
      } catch (error) {
        if (!(error instanceof XmlError)) throw new Error(`${name}: the scanner crashed: ${(error as Error).stack}`, { cause: error });
        scanner = error;
      }
      entries.push({ name, scanner, oracle: fxpRead(text) });
    }
  }, 60_000);

  it("has the corpus", () => {
    expect(entries.length).toBeGreaterThan(2400);
    for (const dir of ["qemuxmlconfdata", "genericxml2xmlindata", "qemustatusxml2xmldata", "networkxml2xmlin", "nwfilterxml2xmlin"]) {
      expect(
        entries.some((e) => e.name.startsWith(`${dir}/`)),
        dir,
      ).toBe(true);
    }
  });

  it("gives the identical tree wherever fast-xml-parser accepts the file", () => {
    const different: string[] = [];
    let compared = 0;
    for (const e of entries) {
      if (!e.oracle.ok) continue;
      compared++;
      if (e.scanner instanceof XmlError) different.push(`${e.name}: refused: ${e.scanner.message}`);
      else if (JSON.stringify(e.scanner) !== JSON.stringify(e.oracle.root)) {
        if (different.length === 0) expect(e.scanner, e.name).toEqual(e.oracle.root); // shows the first difference
        different.push(e.name);
      }
    }
    expect(different).toEqual([]);
    expect(compared).toBe(entries.length - Object.keys(BOTH_REFUSE).length);
  });

  it("refuses a file only where fast-xml-parser refuses it too", () => {
    const scannerRefuses = entries.filter((e) => e.scanner instanceof XmlError).map((e) => e.name);
    const oracleRefuses = entries.filter((e) => !e.oracle.ok).map((e) => e.name);
    expect(scannerRefuses).toEqual(Object.keys(BOTH_REFUSE));
    expect(oracleRefuses).toEqual(Object.keys(BOTH_REFUSE));
  });
});

// ---------------------------------------------------------------------------------------------
// Generated documents.

type Eol = "\n" | "\r\n";

interface GenAttr {
  name: string;
  value: string;
  quote: "'" | '"';
  /** Whitespace before the name, then around '='. */
  lead: string;
  eqLeft: string;
  eqRight: string;
}

interface GenElement {
  kind: "element";
  name: string;
  attrs: GenAttr[];
  selfClosing: boolean;
  /** Whitespace before '>' or '/>', and before the '>' of the end tag. */
  tagSpace: string;
  closeSpace: string;
  content: GenNode[];
}

/** Text, a comment, a CDATA section or a processing instruction: markup that makes no element. */
interface GenMarkup {
  kind: "markup";
  text: string;
}

type GenNode = GenElement | GenMarkup;

interface GenDoc {
  eol: Eol;
  bom: boolean;
  decl: string;
  prolog: string;
  doctype: string;
  misc: string;
  root: GenElement;
  epilog: string;
}

/** What the scanner must report for an element: its plain tree plus tagEnd and closeStart. */
interface Placed extends Omit<PlainElement, "children"> {
  tagEnd: number;
  closeStart: number;
  children: Placed[];
}

const joined = (parts: readonly string[], maxLength: number) => fc.array(fc.constantFrom(...parts), { maxLength }).map((a) => a.join(""));
/** "]]>" may not appear in text or CDATA; writing its '>' as &gt; (or, in CDATA, as text) keeps the rest. */
const noCdataEnd = (s: string) => s.replace(/]]>/g, "]]&gt;");

const NAME_START = ["a", "b", "x", "Z", "_", "é", "ø", "Ω", "中"];
const NAME_CHAR = [...NAME_START, "-", ".", "0", "9", "\u00b7", "\u0301"];
const ncName = fc.tuple(fc.constantFrom(...NAME_START), joined(NAME_CHAR, 4)).map(([a, b]) => a + b);
const qName = fc.tuple(fc.option(ncName, { nil: undefined }), ncName).map(([p, l]) => (p === undefined ? l : `${p}:${l}`));
const space = fc.constantFrom(" ", "  ", "\t", "\n", " \n\t");
const optSpace = fc.constantFrom("", "", " ", "\n", "\t ");

const attr: fc.Arbitrary<GenAttr> = fc
  .record({ name: qName, quote: fc.constantFrom("'" as const, '"' as const), lead: space, eqLeft: optSpace, eqRight: optSpace })
  .chain((a) =>
    joined(
      [
        "x",
        "1",
        " ",
        "é",
        "😀",
        "\t",
        "\n",
        "&amp;",
        "&lt;",
        "&gt;",
        "&quot;",
        "&apos;",
        "&#x41;",
        "&#65;",
        "&#x1F600;",
        ">",
        "/>",
        "]]>",
        "=",
        "?",
        a.quote === "'" ? '"' : "'",
      ],
      6,
    ).map((value) => ({ ...a, value })),
  );

const text = joined(
  ["x", " ", "\n", "\t", "é", "😀", "&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#x41;", "&#10;", "&#x10000;", ">", "]]", "]", "'", '"', "-->", "?>", "/"],
  6,
)
  .map(noCdataEnd)
  // A text never ends in ']', so that two texts in a row cannot make "]]>".
  .map((t) => (t.endsWith("]") ? `${t}.` : t));
const comment = joined(["x", " ", "-", "<b>", "</a>", "&", "&nbsp;", "]]>", "'", '"', "é", "\n", ">"], 6).map(
  (c) => `<!--${c.replace(/-{2,}/g, "-").replace(/-$/, "- ")}-->`,
);
const cdata = joined(["x", " ", "<b>", "</a>", "&", "&nbsp;", "]]", "]", ">", "<!--", "'", "\n", "é"], 6).map((c) => `<![CDATA[${noCdataEnd(c)}]]>`);
// No quotes in PI data: fast-xml-parser's validator treats them as opening a literal (see TRICKY).
const pi = fc
  .tuple(ncName, fc.option(joined(["x", " ", "<b>", "&", "?", ">", "]]>", "--", "\n", "é", "="], 6), { nil: undefined }), space)
  .map(([target, data, s]) => (data === undefined ? `<?${target}?>` : `<?${target}${s}${data.replace(/\?>/g, "? >")}?>`));
const markup: fc.Arbitrary<GenMarkup> = fc.oneof(text, text, comment, cdata, pi).map((t) => ({ kind: "markup" as const, text: t }));

const { element } = fc.letrec<{ element: GenElement; node: GenNode }>((tie) => ({
  element: fc.record({
    kind: fc.constant("element" as const),
    name: qName,
    attrs: fc.uniqueArray(attr, { selector: (a) => a.name, maxLength: 4 }),
    selfClosing: fc.boolean(),
    tagSpace: optSpace,
    closeSpace: optSpace,
    content: fc.array(tie("node"), { maxLength: 5 }),
  }),
  node: fc.oneof({ depthSize: "small" }, markup, tie("element")),
}));

const prologMisc = fc.array(fc.oneof(space, comment, pi), { maxLength: 3 }).map((a) => a.join(""));

/**
 * Declares every prefix the document uses on its root, each bound to a URI of its own (so that no
 * two prefixed attributes can share an expanded name). Documents left without are read too:
 * libxml2 reads on after an undeclared prefix, a namespace error, and so does the scanner.
 */
function declarePrefixes(doc: GenDoc): GenDoc {
  const prefixes = new Set<string>();
  const visit = (e: GenElement) => {
    for (const name of [e.name, ...e.attrs.map((a) => a.name)]) if (name.includes(":")) prefixes.add(name.slice(0, name.indexOf(":")));
    for (const n of e.content) if (n.kind === "element") visit(n);
  };
  visit(doc.root);
  const decls = [...prefixes].map((p): GenAttr => ({ name: `xmlns:${p}`, value: `urn:p:${p}`, quote: '"', lead: " ", eqLeft: "", eqRight: "" }));
  return { ...doc, root: { ...doc.root, attrs: [...decls, ...doc.root.attrs] } };
}

const document: fc.Arbitrary<GenDoc> = fc
  .record({
    eol: fc.constantFrom("\n" as const, "\r\n" as const),
    bom: fc.boolean(),
    decl: fc.constantFrom(
      "",
      `<?xml version="1.0"?>`,
      `<?xml version='1.0' encoding='UTF-8'?>`,
      `<?xml version="1.0" encoding="utf-8" standalone="yes"?>`,
      `<?xml version = '1.1'\n standalone = 'no' ?>`,
    ),
    prolog: prologMisc,
    doctype: fc.constantFrom(
      "",
      "<!DOCTYPE domain>",
      `<!DOCTYPE domain SYSTEM "domain.dtd">`,
      `<!DOCTYPE p:x PUBLIC '-//libvirt//DTD x//EN' "x.dtd">`,
      "<!DOCTYPE  a\n>",
    ),
    misc: prologMisc,
    root: element,
    epilog: prologMisc,
    declared: fc.boolean(),
  })
  .map(({ declared, ...doc }) => (declared ? declarePrefixes(doc) : doc));

/** The document's text, and the tree the scanner must find in it. */
function render(doc: GenDoc): { text: string; root: Placed } {
  let out = "";
  const eol = (s: string) => s.replace(/\n/g, doc.eol);
  const put = (s: string) => {
    out += eol(s);
  };
  const place = (e: GenElement): Placed => {
    const start = out.length;
    put(`<${e.name}`);
    for (const a of e.attrs) put(`${a.lead}${a.name}${a.eqLeft}=${a.eqRight}${a.quote}${a.value}${a.quote}`);
    put(`${e.tagSpace}${e.selfClosing ? "/>" : ">"}`);
    const tagEnd = out.length;
    const children: Placed[] = [];
    let closeStart = tagEnd;
    if (!e.selfClosing) {
      for (const n of e.content) {
        if (n.kind === "element") children.push(place(n));
        else put(n.text);
      }
      closeStart = out.length;
      put(`</${e.name}${e.closeSpace}>`);
    }
    const attrs = e.attrs.map((a): [string, string] => [a.name, eol(a.value)]);
    return { name: e.name, attrs, start, tagEnd, closeStart, end: out.length, children };
  };
  if (doc.bom) out += "\ufeff";
  put(doc.decl + doc.prolog + doc.doctype + doc.misc);
  const root = place(doc.root);
  put(doc.epilog);
  return { text: out, root };
}

function placedOf(e: XmlElement): Placed {
  return { ...plainOf(e), tagEnd: e.tagEnd, closeStart: e.closeStart, children: e.children.map(placedOf) };
}

function* walk(e: XmlElement): Generator<XmlElement> {
  yield e;
  for (const c of e.children) yield* walk(c);
}

/** Checks text.slice(start, tagEnd) is the start tag and text.slice(closeStart, end) the end tag. */
function checkTagBounds(text: string, e: XmlElement): void {
  const startTag = text.slice(e.start, e.tagEnd);
  expect(startTag.startsWith(`<${e.name}`) && startTag.endsWith(">"), startTag).toBe(true);
  expect(/^[\s/>]/.test(startTag.slice(e.name.length + 1)), startTag).toBe(true);
  if (e.tagEnd === e.end) {
    expect(startTag.endsWith("/>"), startTag).toBe(true);
    expect(e.closeStart).toBe(e.end);
  } else {
    expect(startTag.endsWith("/>"), startTag).toBe(false);
    const endTag = text.slice(e.closeStart, e.end);
    expect(endTag, endTag).toMatch(new RegExp(`^</${e.name.replace(/[.]/g, "\\.")}[ \\t\\r\\n]*>$`, "u"));
    expect(e.tagEnd).toBeLessThanOrEqual(e.closeStart);
  }
}

describe("over generated well-formed documents", () => {
  it("the scanner finds the tree the document was built from, and fast-xml-parser finds the same", () => {
    fc.assert(
      fc.property(document, (doc) => {
        const { text, root } = render(doc);
        const scanned = parseXml(text, "generated.xml");
        expect(placedOf(scanned)).toEqual(root);
        expect(fxpRead(text)).toEqual({ ok: true, root: asFxpReports(plainOf(scanned)) });
        for (const e of walk(scanned)) checkTagBounds(text, e);
      }),
      params(RUNS),
    );
  });

  it("after a random edit, wherever both readers accept the text they find the same tree", () => {
    const edit = fc.record({
      at: fc.nat(),
      drop: fc.nat({ max: 3 }),
      insert: fc.constantFrom("", "<", ">", "/", "'", '"', "&", ";", "=", "-", "?", "!", "[", "]", " ", "x", "</a>", "<a>", "<!--", "-->", "]]>"),
    });
    let both = 0;
    fc.assert(
      fc.property(document, edit, (doc, { at, drop, insert }) => {
        const { text } = render(doc);
        const p = at % (text.length + 1);
        const edited = text.slice(0, p) + insert + text.slice(p + drop);
        const error = scannerError(edited);
        const oracle = fxpRead(edited);
        if (error || !oracle.ok) return;
        both++;
        const scanned = parseXml(edited, "edited.xml");
        expect(oracle.root).toEqual(asFxpReports(plainOf(scanned)));
        for (const e of walk(scanned)) checkTagBounds(edited, e);
      }),
      params(RUNS),
    );
    expect(both).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------------------------
// Malformed input: the scanner refuses each with an XmlError that says where (line:column), and
// xmllint refuses each too. `fxp` records what fast-xml-parser 5.12.1 makes of it ("refuses"
// counts a document whose root elements it finds are not exactly one).

interface Malformed {
  what: string;
  text: string;
  /** line:column of the scanner's error. */
  at: string;
  fxp: "accepts" | "refuses";
}

const MALFORMED: Malformed[] = [
  { what: "mismatched end tag", text: "<domain>\n  <name>x</domain>\n</name>", at: "2:10", fxp: "refuses" },
  { what: "mismatched prefixed end tag", text: "<a xmlns:p='u'><p:b></p:c></a>", at: "1:21", fxp: "refuses" },
  { what: "unclosed element", text: "<domain>\n  <name>x</name>\n", at: "1:1", fxp: "refuses" },
  { what: "end tag without a start tag", text: "<a/></a>", at: "1:5", fxp: "refuses" },
  { what: "two root elements", text: "<a/>\n<b/>", at: "2:1", fxp: "refuses" },
  { what: "text before the root", text: "x<a/>", at: "1:1", fxp: "refuses" },
  { what: "text after the root", text: "<a/>\nx", at: "2:1", fxp: "accepts" },
  { what: "'<' in an attribute value", text: "<a b='<'/>", at: "1:7", fxp: "accepts" },
  { what: "unquoted attribute value", text: "<a b=c/>", at: "1:6", fxp: "refuses" },
  { what: "attribute without a value", text: "<a b/>", at: "1:4", fxp: "refuses" },
  { what: "attribute with nothing after '='", text: "<a b=/>", at: "1:6", fxp: "refuses" },
  { what: "duplicate attribute", text: `<a b='1' b="2"/>`, at: "1:9", fxp: "refuses" },
  { what: "no space between attributes", text: "<a b='1'c='2'/>", at: "1:9", fxp: "refuses" },
  { what: "unclosed attribute value", text: "<a b='1>", at: "1:6", fxp: "refuses" },
  { what: "unclosed start tag", text: "<a b='1'", at: "1:9", fxp: "refuses" },
  { what: "unclosed end tag", text: "<a></a", at: "1:4", fxp: "refuses" },
  { what: "'/' then space in an empty-element tag", text: "<a/ >", at: "1:3", fxp: "refuses" },
  { what: "&nbsp; in text", text: "<a>\n  &nbsp;\n</a>", at: "2:3", fxp: "accepts" },
  { what: "&nbsp; in an attribute value", text: "<a b='x&nbsp;'/>", at: "1:8", fxp: "accepts" },
  { what: "bare '&' in text", text: "<a>AT&T</a>", at: "1:6", fxp: "refuses" },
  { what: "bare '&' in an attribute value", text: "<a b='&'/>", at: "1:7", fxp: "accepts" },
  { what: "reference without ';'", text: "<a>&amp</a>", at: "1:4", fxp: "refuses" },
  { what: "&#0;", text: "<a>&#0;</a>", at: "1:4", fxp: "accepts" },
  { what: "&#xD800; (a surrogate)", text: "<a>&#xD800;</a>", at: "1:4", fxp: "accepts" },
  { what: "&#x110000; in an attribute value", text: "<a b='&#x110000;'/>", at: "1:7", fxp: "accepts" },
  { what: "&#X41; (upper-case X)", text: "<a>&#X41;</a>", at: "1:4", fxp: "refuses" },
  { what: "empty character reference", text: "<a>&#;</a>", at: "1:4", fxp: "accepts" },
  { what: "']]>' in text", text: "<a>x]]>y</a>", at: "1:5", fxp: "accepts" },
  { what: "'--' in a comment", text: "<a><!-- x -- y --></a>", at: "1:11", fxp: "accepts" },
  { what: "comment ending in '--->'", text: "<a><!-- x ---></a>", at: "1:11", fxp: "accepts" },
  { what: "'--' in a comment after the root", text: "<a/><!-- -- -->", at: "1:10", fxp: "accepts" },
  { what: "unclosed comment", text: "<a><!-- x </a>", at: "1:4", fxp: "refuses" },
  { what: "unclosed CDATA section", text: "<a><![CDATA[x</a>", at: "1:4", fxp: "refuses" },
  { what: "unclosed processing instruction", text: "<a><?pi x</a>", at: "1:4", fxp: "refuses" },
  { what: "lower-case CDATA keyword", text: "<a><![cdata[x]]></a>", at: "1:4", fxp: "accepts" },
  { what: "CDATA section before the root", text: "<![CDATA[x]]><a/>", at: "1:1", fxp: "accepts" },
  { what: "CDATA section after the root", text: "<a/><![CDATA[x]]>", at: "1:5", fxp: "accepts" },
  { what: "XML declaration after the root", text: "<a/><?xml version='1.0'?>", at: "1:5", fxp: "accepts" },
  { what: "XML declaration after whitespace", text: " <?xml version='1.0'?><a/>", at: "1:2", fxp: "refuses" },
  { what: "XML declaration after a comment", text: "<!-- c --><?xml version='1.0'?><a/>", at: "1:11", fxp: "refuses" },
  { what: "XML declaration inside the root", text: "<a><?xml version='1.0'?></a>", at: "1:4", fxp: "accepts" },
  { what: "XML declaration without version", text: "<?xml encoding='UTF-8'?><a/>", at: "1:1", fxp: "accepts" },
  { what: "XML declaration with standalone before encoding", text: "<?xml version='1.0' standalone='yes' encoding='UTF-8'?><a/>", at: "1:1", fxp: "accepts" },
  { what: "XML declaration with standalone='maybe'", text: "<?xml version='1.0' standalone='maybe'?><a/>", at: "1:1", fxp: "accepts" },
  { what: "XML declaration without space between pseudo-attributes", text: "<?xml version='1.0'encoding='UTF-8'?><a/>", at: "1:1", fxp: "accepts" },
  { what: "processing instruction named XML", text: "<?XML version='1.0'?><a/>", at: "1:1", fxp: "accepts" },
  { what: "processing instruction target followed by '?x'", text: "<?pi?x?><a/>", at: "1:1", fxp: "accepts" },
  { what: "second DOCTYPE", text: "<!DOCTYPE a>\n<!DOCTYPE a>\n<a/>", at: "2:1", fxp: "refuses" },
  { what: "DOCTYPE after the root", text: "<a/><!DOCTYPE a>", at: "1:5", fxp: "accepts" },
  { what: "DOCTYPE inside the root", text: "<a><!DOCTYPE a></a>", at: "1:4", fxp: "accepts" },
  { what: "DOCTYPE without a name", text: "<!DOCTYPE>\n<a/>", at: "1:1", fxp: "accepts" },
  { what: "lower-case doctype keyword", text: "<!doctype a><a/>", at: "1:1", fxp: "refuses" },
  { what: "markup declaration in content", text: "<a><!ELEMENT a></a>", at: "1:4", fxp: "accepts" },
  { what: "U+0001 in text", text: "<a>\u0001</a>", at: "1:4", fxp: "accepts" },
  { what: "U+0001 in an attribute value", text: "<a b='\u0001'/>", at: "1:7", fxp: "accepts" },
  { what: "U+000B in text", text: "<a>x\u000by</a>", at: "1:5", fxp: "accepts" },
  { what: "U+FFFE in text", text: "<a>\ufffe</a>", at: "1:4", fxp: "accepts" },
  { what: "lone high surrogate", text: "<a>\ud800</a>", at: "1:4", fxp: "accepts" },
  { what: "lone low surrogate", text: "<a>x\udc00</a>", at: "1:5", fxp: "accepts" },
  { what: "'<' followed by a space", text: "< a/>", at: "1:1", fxp: "refuses" },
  { what: "'<' followed by a space in content", text: "<a>< b</a>", at: "1:4", fxp: "refuses" },
  { what: "'</' followed by a space", text: "<a></ a>", at: "1:4", fxp: "refuses" },
  { what: "name starting with a digit", text: "<1a/>", at: "1:1", fxp: "refuses" },
  { what: "name starting with U+00B7", text: "<\u00b7a/>", at: "1:1", fxp: "refuses" },
  { what: "a digit after a name's second ':'", text: "<a:b:1 xmlns:a='u'/>", at: "1:6", fxp: "accepts" },
  { what: "a declaration that binds, written twice", text: "<x xmlns:p='u' xmlns:p='v'/>", at: "1:16", fxp: "refuses" },
];

/**
 * A DOCTYPE's external ID is `SYSTEM S SystemLiteral` or `PUBLIC S PubidLiteral S SystemLiteral`
 * and nothing else (production [75]). xmllint refuses each of these; fast-xml-parser accepts each.
 */
const DOCTYPE_IDS: Array<{ what: string; text: string }> = [
  { what: "SYSTEM without a literal", text: "<!DOCTYPE a SYSTEM><a/>" },
  { what: "PUBLIC without a system literal", text: "<!DOCTYPE a PUBLIC 'x'><a/>" },
  { what: "a word that is neither SYSTEM nor PUBLIC", text: "<!DOCTYPE a foo><a/>" },
  { what: "something after the system literal", text: "<!DOCTYPE a SYSTEM 'x' junk><a/>" },
  { what: "no space before the system literal", text: `<!DOCTYPE a SYSTEM"x"><a/>` },
];

describe("malformed input", () => {
  it.each(MALFORMED)("refuses $what, saying where", ({ text, at }) => {
    const error = scannerError(text);
    expect(error, "accepted").toBeInstanceOf(XmlError);
    expect(error?.message).toMatch(/^malformed XML: /);
    expect(`${error?.where?.line}:${error?.where?.column}`).toBe(at);
  });

  it("fast-xml-parser refuses only some of it (recorded per case)", () => {
    const seen = MALFORMED.map(({ what, text }) => ({ what, fxp: fxpRead(text).ok ? "accepts" : "refuses" }));
    expect(seen).toEqual(MALFORMED.map(({ what, fxp }) => ({ what, fxp })));
  });

  withXmllint("xmllint refuses every case too, the scanner's known gaps included", () => {
    requireXmllint();
    const accepted = [...MALFORMED, ...DOCTYPE_IDS].filter((c) => xmllintAccepts(c.text)).map((c) => c.what);
    expect(accepted).toEqual([]);
  });

  it.each(DOCTYPE_IDS)("refuses a DOCTYPE with a malformed external ID: $what", ({ text }) => {
    const error = scannerError(text);
    expect(error).toBeInstanceOf(XmlError);
    expect(error?.message).toMatch(/malformed DOCTYPE/);
    expect([error?.where?.line, error?.where?.column]).toEqual([1, 1]);
  });
});

// ---------------------------------------------------------------------------------------------
// Well-formed input that is easy to get wrong. The scanner accepts each, xmllint too, and
// fast-xml-parser finds the same tree, except where `fxp` records that it refuses a well-formed
// document (these tests follow xmllint there).

const TRICKY: Array<{ what: string; text: string; fxp?: string }> = [
  { what: "'>' in an attribute value", text: "<a b='>'/>" },
  { what: "quotes of the other kind in values", text: `<a b="'" c='"'/>` },
  { what: "']]' in text", text: "<a>]]</a>" },
  { what: "']]&gt;' in text", text: "<a>]]&gt;</a>" },
  { what: "']]>' in an attribute value", text: "<a b=']]>'/>" },
  { what: "'->' and '?>' in text", text: "<a>-> a?>b</a>" },
  { what: "&#x10000;", text: "<a>&#x10000;</a>" },
  { what: "&#x10FFFF; in an attribute value", text: "<a b='&#x10FFFF;'/>" },
  { what: "character references with leading zeros", text: "<a>&#x0041;&#0065;</a>" },
  { what: "tab, LF and CR as character references", text: "<a>&#9;&#xA;&#xD;</a>" },
  { what: "all five predefined entities", text: "<a b='&lt;&gt;&amp;&quot;&apos;'>&lt;&gt;&amp;&quot;&apos;</a>" },
  { what: "characters at the edges of the allowed ranges", text: "<a>\u007f\u0085\ud7ff\ue000\ufffd\u{10000}\u{10ffff}</a>" },
  { what: "a non-ASCII name", text: "<é/>" },
  { what: "name characters '.', '-', '_', digits, U+00B7 and combining marks", text: "<a.b-c_1\u00b7\u0301/>" },
  { what: "a name outside the BMP", text: "<\u{10000}/>", fxp: "refuses names outside the BMP" },
  { what: "a prefixed element", text: "<a xmlns:p='u'><p:b/></a>" },
  { what: "an empty comment", text: "<a><!----></a>" },
  { what: "a comment before the root", text: "<!----><a/>" },
  { what: "markup-like text in a comment", text: "<a><!-- <b> & ]]> - --></a>" },
  { what: "a processing instruction without data", text: "<a><?pi?></a>" },
  { what: "a processing instruction before the root", text: "<?pi?><a/>" },
  { what: "markup-like data in a processing instruction", text: "<a><?pi <b> -- ]]> ?? ?></a>" },
  { what: "a quote in processing-instruction data", text: "<?pi don't?><a/>", fxp: "takes the quote for a literal: 'Pi Tag is not closed'" },
  { what: "xml-stylesheet in the prolog", text: "<?xml-stylesheet href='x'?><a/>" },
  { what: "BOM, declaration with encoding and standalone", text: `\ufeff<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<a/>` },
  { what: "a declaration with spaces around '='", text: "<?xml version = '1.0' encoding = 'utf-8' standalone = 'no' ?><a/>" },
  { what: "version 1.1", text: "<?xml version='1.1'?><a/>" },
  { what: "whitespace inside tags", text: "<a  x = 'y' ><b\n/></a >" },
  { what: "tab, CR and LF around '='", text: `<a\tb\n=\r\n"1"/>` },
  { what: "CDATA with markup and ']'", text: "<a><![CDATA[<b>&]]]></a>" },
  { what: "an empty CDATA section", text: "<a><![CDATA[]]></a>" },
  { what: "DOCTYPE with a name only", text: "<!DOCTYPE a><a/>" },
  { what: "DOCTYPE with SYSTEM", text: `<!DOCTYPE a SYSTEM "a.dtd"><a/>` },
  { what: "DOCTYPE with PUBLIC", text: `<!DOCTYPE a PUBLIC "-//x//y" 'a.dtd'><a/>` },
  { what: "'>' in a DOCTYPE's system literal", text: `<!DOCTYPE a SYSTEM "x>"><a/>`, fxp: "ends the DOCTYPE at the '>' inside the literal" },
  { what: "CRLF, comment and PI after the root", text: "<a/>\r\n<!-- c -->\r\n<?p x?>\r\n" },
  { what: "a BOM only", text: "\ufeff<a/>" },
  { what: "leading whitespace without a declaration", text: " \n<a/>" },
  { what: "an undeclared prefix (a namespace error: read on)", text: "<p:a q:b='1'/>" },
  { what: "two colons in a name", text: "<a:b:c xmlns:a='u' a:d:e='1'/>" },
  { what: "names libxml2 reads without a prefix", text: "<r><:a/><a:1/><a::b/><a:/></r>" },
  { what: "declarations libxml2 skips", text: "<a xmlns:p='' xmlns:xml='u' xmlns:xmlns='v' xmlns:q='http://www.w3.org/2000/xmlns/'/>" },
  { what: "an attribute named xmlns:", text: "<a xmlns:='u'/>" },
  { what: "one attribute under two prefixes of one namespace", text: "<a xmlns:p='u' xmlns:q='u' p:x='1' q:x='2'/>" },
  { what: "a ':' in a processing instruction's target", text: "<a><?p:q?></a>" },
];

describe("tricky well-formed input", () => {
  it.each(TRICKY)("reads $what", ({ text, fxp }) => {
    const root = parseXml(text, "t.xml");
    for (const e of walk(root)) checkTagBounds(text, e);
    const oracle = fxpRead(text);
    if (fxp === undefined) expect(oracle).toEqual({ ok: true, root: asFxpReports(plainOf(root)) });
    else expect(oracle.ok, `fast-xml-parser ${fxp}`).toBe(false);
  });

  withXmllint("xmllint accepts every case too", () => {
    requireXmllint();
    expect(TRICKY.filter((c) => !xmllintAccepts(c.text)).map((c) => c.what)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Where the scanner is stricter than xmllint (libxml2 2.9.14), on purpose. xmllint accepts each.

const STRICTER: Array<{ what: string; text: string; why: string }> = [
  {
    what: "a DOCTYPE with an internal subset",
    text: "<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>",
    why: "well-formed, but entity declarations are refused outright rather than expanded",
  },
  { what: "an empty internal subset", text: "<!DOCTYPE a []><a/>", why: "the same rule, kept simple" },
  {
    what: "an undefined entity under an external DTD",
    text: "<!DOCTYPE a SYSTEM 'a.dtd'><a>&nbsp;</a>",
    why: "the unread external subset might declare it, so XML does not call it malformed (xmllint reports it, exit status 0); the hook never expands entities",
  },
  { what: "version '1.'", text: "<?xml version='1.'?><a/>", why: "VersionNum is '1.' [0-9]+ (production [26]); libxml2 only warns" },
  { what: "no space after <!DOCTYPE", text: "<!DOCTYPEa><a/>", why: "production [28] requires it; libxml2 does not check" },
  { what: "U+0000 after the root", text: "<a/>\n\u0000", why: "not an XML character; xmllint stops reading at a NUL byte" },
];

describe("stricter than xmllint", () => {
  it.each(STRICTER)("refuses $what", ({ text }) => {
    const error = scannerError(text);
    expect(error, "accepted").toBeInstanceOf(XmlError);
    expect(error?.where?.line).toBeTypeOf("number");
  });

  it("says what is wrong with version '1.'", () => {
    expect(scannerError(`<?xml version="1." encoding="UTF-8"?><a/>`)?.message).toContain("version '1.' has no digit after the dot");
    expect(scannerError("<?xml version='1.0' bogus='1'?><a/>")?.message).not.toContain("version");
  });
});
