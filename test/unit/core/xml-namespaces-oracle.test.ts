// Namespaces read as libxml2 reads them, held to libxml2 itself: generated documents that use
// every form of qualified name (p:l, p:l:m, :l, p:1, p::l, p:, p:l:, and the fatal p:l:1) and of
// declaration (xmlns, xmlns:p, xmlns:xml and xmlns:xmlns, the xml and xmlns namespaces, empty
// namespace names, names that are not URIs, xmlns: as an attribute, a declaration written twice),
// with prefixes declared, undeclared or declared again inside. For each document:
// - the verdicts agree: the scanner reads it exactly when xmllint reports no fatal error
//   (namespace errors are not fatal to libxml2, nor to libvirt, which keeps such elements);
// - where both read it, every element's and every attribute's name, local name and namespace
//   are what xmllint's XPath (name(), local-name(), namespace-uri()) says, attributes in order;
// - where fast-xml-parser reads it too, it finds the same tree (names as written).
// NWFH_PROPERTY_RUNS scales the number of documents; NWFH_PROPERTY_SEED replays a run.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { XmlError } from "../../../src/core/errors.js";
import type { XmlElement } from "../../../src/core/xml-element.js";
import { XMLNS_NS, XML_NS, isDeclaration } from "../../../src/core/xml-namespaces.js";
import { parseXml } from "../../../src/core/xml-scanner.js";
import { asFxpReports, fxpRead, plainOf } from "../../support/fxp-oracle.js";
import { libxml2Names, lintFiles, type Libxml2Element } from "../../support/xmllint.js";

const RUNS = Number(process.env.NWFH_PROPERTY_RUNS ?? 300);
const SEED = Number(process.env.NWFH_PROPERTY_SEED ?? 20261206);
const CI = process.env.CI === "true";
const XMLLINT = spawnSync("xmllint", ["--version"], { stdio: "ignore" }).status === 0;

/** Prefixes: some declared here and there, `u` never, and the two reserved ones. */
const PREFIX = fc.constantFrom("a", "b", "p", "u", "xml", "xmlns");
const LOCAL = fc.constantFrom("x", "y", "type", "é", "b1", "filter");
const DIGITS = fc.constantFrom("1", "2x", "9-a");

/** The forms of a qualified name, and what xmlParseQName makes of each. */
const QNAME_FORMS = {
  plain: LOCAL,
  prefixed: fc.tuple(PREFIX, LOCAL).map(([p, l]) => `${p}:${l}`),
  twoColons: fc.tuple(PREFIX, LOCAL, LOCAL).map(([p, l, m]) => `${p}:${l}:${m}`),
  leadingColon: LOCAL.map((l) => `:${l}`),
  colonDigit: fc.tuple(PREFIX, DIGITS).map(([p, d]) => `${p}:${d}`),
  doubleColon: fc.tuple(PREFIX, LOCAL).map(([p, l]) => `${p}::${l}`),
  trailingColon: PREFIX.map((p) => `${p}:`),
  secondColonAtEnd: fc.tuple(PREFIX, LOCAL).map(([p, l]) => `${p}:${l}:`),
  colonsThenColon: fc.tuple(PREFIX, LOCAL, LOCAL).map(([p, l, m]) => `${p}:${l}::${m}`),
  // Fatal: libxml2 stops reading the name at the digit and the start tag breaks there.
  secondColonDigit: fc.tuple(PREFIX, LOCAL, DIGITS).map(([p, l, d]) => `${p}:${l}:${d}`),
};
type Form = keyof typeof QNAME_FORMS;
const FORMS = Object.keys(QNAME_FORMS) as Form[];
/** The forms libxml2 reads; the fatal one is given to a few documents' roots only (see below). */
const qname: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: QNAME_FORMS.plain, weight: 8 },
  { arbitrary: QNAME_FORMS.prefixed, weight: 8 },
  ...FORMS.filter((f) => f !== "plain" && f !== "prefixed" && f !== "secondColonDigit").map((f) => ({ arbitrary: QNAME_FORMS[f], weight: 2 })),
);

const URI = fc.constantFrom("urn:a", "urn:b", "urn:a", "urn:x&#58;y", "", XML_NS, XMLNS_NS, "a b", "rel/path");
/** Declarations, good and bad, and the ordinary attribute `xmlns:`. */
const DECL = fc.oneof(
  { arbitrary: fc.tuple(fc.constantFrom("a", "b", "p", "q", "a", "b", "xml", "xmlns", "a:b"), URI).map(([p, u]) => [`xmlns:${p}`, u] as const), weight: 6 },
  { arbitrary: URI.map((u) => ["xmlns", u] as const), weight: 2 },
  { arbitrary: URI.map((u) => ["xmlns:", u] as const), weight: 1 },
);

interface Gen {
  name: string;
  decls: Array<readonly [string, string]>;
  attrs: Array<readonly [string, string]>;
  children: Gen[];
}

/** An element and up to `depth` levels of children, so that declarations reach into content. */
function element(depth: number): fc.Arbitrary<Gen> {
  return fc.record({
    name: qname,
    // Not unique: a declaration written twice is fatal only where both would bind.
    decls: fc.array(DECL, { maxLength: 2 }),
    attrs: fc.uniqueArray(
      fc.tuple(qname, fc.constantFrom("1", "v", "&amp;")).map(([n, v]) => [n, v] as const),
      { selector: ([n]) => n, maxLength: 3 },
    ),
    children: depth === 0 ? fc.constant([]) : fc.array(element(depth - 1), { maxLength: 3 }),
  });
}

function render(e: Gen): string {
  const attrs = [...e.decls, ...e.attrs].map(([n, v]) => ` ${n}='${v}'`).join("");
  return e.children.length === 0 ? `<${e.name}${attrs}/>` : `<${e.name}${attrs}>${e.children.map(render).join("")}</${e.name}>`;
}

function* walk(e: XmlElement): Generator<XmlElement> {
  yield e;
  for (const c of e.children) yield* walk(c);
}

/** The scanner's reading of each element, reduced to what xmllint's XPath reports. */
function asLibxml2(root: XmlElement): Libxml2Element[] {
  return [...walk(root)].map((e) => ({
    name: e.name,
    local: e.local,
    ns: e.ns ?? "",
    attrs: Object.keys(e.attrs)
      .filter((k) => !isDeclaration(k))
      .map((k) => {
        const ns = e.attrNs?.[k];
        return { name: k, local: ns === undefined ? k : k.slice(k.indexOf(":") + 1), ns: ns ?? "" };
      }),
  }));
}

const dir = mkdtempSync(join(tmpdir(), "nwfh-xml-ns-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!XMLLINT && !CI)("namespaces against libxml2 (xmllint)", () => {
  it(`reads every name as libxml2 does over ${RUNS} generated documents (seed ${SEED})`, () => {
    expect(XMLLINT, "xmllint (libxml2-utils) is required under CI").toBe(true);
    const documents = fc.tuple(element(3), fc.oneof({ arbitrary: fc.constant(undefined), weight: 7 }, { arbitrary: QNAME_FORMS.secondColonDigit, weight: 1 }));
    const texts = fc.sample(documents, { numRuns: RUNS, seed: SEED }).map(([root, fatal]) => render(fatal === undefined ? root : { ...root, name: fatal }));
    const files = texts.map((_, i) => join(dir, `n${i}.xml`));
    texts.forEach((t, i) => writeFileSync(files[i] as string, t));
    const lint = lintFiles(files);
    const tally = { read: 0, readWithNamespaceErrors: 0, refused: 0, fxpTrees: 0, names: 0 };
    const formsRead = new Set<string>();
    texts.forEach((text, i) => {
      const file = files[i] as string;
      const verdict = lint.get(file) ?? { fatal: ["missing"], namespace: [] };
      let root: XmlElement | undefined;
      let error: XmlError | undefined;
      try {
        root = parseXml(text, file);
      } catch (e) {
        if (!(e instanceof XmlError)) throw e;
        error = e;
      }
      const where = `${text}\nxmllint: ${JSON.stringify(verdict)}\nscanner: ${error?.message ?? "reads it"}`;
      expect(root !== undefined, where).toBe(verdict.fatal.length === 0);
      if (root === undefined) {
        tally.refused++;
        return;
      }
      tally.read++;
      if (verdict.namespace.length > 0) tally.readWithNamespaceErrors++;
      const ours = asLibxml2(root);
      const theirs = libxml2Names(
        file,
        ours.map((e) => e.attrs.length),
      );
      expect(theirs.count, where).toBe(ours.length);
      expect(
        theirs.elements.map(({ attrCount, ...e }) => ({ ...e, attrs: e.attrs.slice(0, attrCount) })),
        where,
      ).toEqual(ours);
      tally.names += ours.reduce((n, e) => n + 1 + e.attrs.length, 0);
      for (const form of FORMS) if (ours.some((e) => matches(form, e.name) || e.attrs.some((a) => matches(form, a.name)))) formsRead.add(form);
      const fxp = fxpRead(text);
      if (fxp.ok) {
        expect(fxp.root, where).toEqual(asFxpReports(plainOf(root)));
        tally.fxpTrees++;
      }
    });
    // Not vacuous: both verdicts happen, namespace errors among the documents read, and every
    // form of name that libxml2 reads was read.
    expect(tally.read, JSON.stringify(tally)).toBeGreaterThan(RUNS / 3);
    expect(tally.refused, JSON.stringify(tally)).toBeGreaterThan(0);
    expect(tally.readWithNamespaceErrors, JSON.stringify(tally)).toBeGreaterThan(RUNS / 10);
    expect(tally.fxpTrees, JSON.stringify(tally)).toBeGreaterThan(RUNS / 10);
    expect([...formsRead].sort()).toEqual(FORMS.filter((f) => f !== "secondColonDigit").sort());
  }, 120_000);
});

/** Whether a name as written has the shape of a form (for the tally only). */
function matches(form: Form, name: string): boolean {
  const shapes: Record<Form, RegExp> = {
    plain: /^[^:]+$/,
    prefixed: /^[^:]+:[^:0-9-][^:]*$/,
    twoColons: /^[^:]+:[^:]+:[^:0-9-][^:]*$/,
    leadingColon: /^:[^:]+$/,
    colonDigit: /^[^:]+:[0-9]/,
    doubleColon: /^[^:]+::[^:]+$/,
    trailingColon: /^[^:]+:$/,
    secondColonAtEnd: /^[^:]+:[^:]+:$/,
    colonsThenColon: /^[^:]+:[^:]+::[^:]+$/,
    secondColonDigit: /^[^:]+:[^:]+:[0-9]/,
  };
  return shapes[form].test(name);
}
