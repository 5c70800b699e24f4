// The markup that makes no element: the XML declaration, the DOCTYPE, comments and processing
// instructions. Each function checks one construct where the scanner found it and returns the
// offset just past it; what is wrong comes through `fail`, with the offset it is at.
import { MAX_NAME_LENGTH, NAME, S, lazy, nameEnd, type Fail } from "./xml-text.js";

const XML_DECL_RE = lazy(
  () =>
    `<\\?xml${S}+version${S}*=${S}*(?:"1\\.[0-9]+"|'1\\.[0-9]+')` +
    `(?:${S}+encoding${S}*=${S}*(?:"[A-Za-z][A-Za-z0-9._-]*"|'[A-Za-z][A-Za-z0-9._-]*'))?` +
    `(?:${S}+standalone${S}*=${S}*(?:"(?:yes|no)"|'(?:yes|no)'))?${S}*\\?>`,
);
const VERSION_WITHOUT_DIGITS_RE = lazy(() => `<\\?xml${S}+version${S}*=${S}*(["'])1\\.\\1`);
// Production [28] up to its internal subset, which is refused; [75] ExternalID, [12] PubidLiteral.
const SYSTEM_LITERAL = `(?:"[^"]*"|'[^']*')`;
const PUBID_LITERAL = `(?:"[- \\r\\na-zA-Z0-9'()+,./:=?;!*#@$_%]*"|'[- \\r\\na-zA-Z0-9()+,./:=?;!*#@$_%]*')`;
const DOCTYPE_RE = lazy(() => `<!DOCTYPE${S}+${NAME}(?:${S}+(?:SYSTEM${S}+${SYSTEM_LITERAL}|PUBLIC${S}+${PUBID_LITERAL}${S}+${SYSTEM_LITERAL}))?${S}*([[>])`);

/** Whether an XML declaration starts at `at` (the name `xml`, then whitespace or '?'). */
export function isXmlDeclaration(text: string, at: number): boolean {
  return text.startsWith("<?xml", at) && /[ \t\r\n?]/.test(text[at + 5] ?? "");
}

/** The XML declaration at `at`: version, then optionally encoding and standalone, in that order. */
export function xmlDeclarationEnd(text: string, at: number, fail: Fail): number {
  const decl = XML_DECL_RE();
  decl.lastIndex = at;
  if (!decl.test(text)) {
    // libxml2 (and so libvirt) reads version '1.' with a warning; production [26] does not.
    const bare = VERSION_WITHOUT_DIGITS_RE();
    bare.lastIndex = at;
    fail(bare.test(text) ? "malformed XML declaration: version '1.' has no digit after the dot" : "malformed XML declaration", at);
  }
  return decl.lastIndex;
}

/** A comment at `lt`: closed, and without "--" inside. */
export function commentEnd(text: string, lt: number, fail: Fail): number {
  const e = text.indexOf("-->", lt + 4);
  if (e === -1) fail("unclosed comment", lt);
  const dashes = text.indexOf("--", lt + 4);
  if (dashes !== e) fail("'--' inside a comment", dashes);
  return e + 3;
}

/**
 * A processing instruction at `lt`: a target (not `xml`, which only the declaration at
 * `bodyStart` may use) and data up to "?>". A ':' in the target is a namespace error to libxml2,
 * not a fatal one.
 */
export function piEnd(text: string, lt: number, bodyStart: number, fail: Fail): number {
  const after = nameEnd(text, lt + 2);
  if (after === -1) fail("processing instruction without a target", lt);
  if (after - lt - 2 > MAX_NAME_LENGTH) fail(`a name longer than ${MAX_NAME_LENGTH} characters (libxml2's limit)`, lt + 2);
  if (after - lt - 2 === 3 && text.slice(lt + 2, after).toLowerCase() === "xml") {
    fail(lt === bodyStart ? "malformed XML declaration" : "XML declaration not at the start of the document", lt);
  }
  if (!text.startsWith("?>", after) && !/[ \t\r\n]/.test(text[after] ?? "")) fail("malformed processing instruction", lt);
  const e = text.indexOf("?>", after);
  if (e === -1) fail("unclosed processing instruction", lt);
  return e + 2;
}

/**
 * A DOCTYPE at `lt`: a name and an external ID at most. One with an internal subset is refused:
 * entity declarations are never expanded. `fail` gets `bare` for that one, whose message needs
 * no "malformed" before it.
 */
export function doctypeEnd(text: string, lt: number, fail: Fail, bare: Fail): number {
  const doctype = DOCTYPE_RE();
  doctype.lastIndex = lt;
  const m = doctype.exec(text);
  if (!m) fail("malformed DOCTYPE (expected <!DOCTYPE name>, with SYSTEM or PUBLIC identifiers)", lt);
  if (m[1] === "[") bare("a DOCTYPE with declarations ([...]) is refused: entities are never expanded", lt);
  return doctype.lastIndex;
}
