// Reading XML with positions. The scanner below checks that a document is well-formed and finds
// its elements, their raw attributes and where each stands in the text; the splice in
// transform.ts edits the original text at those positions, so the document is never
// re-serialised. It is purpose-built rather than fast-xml-parser's parser because libvirt waits
// on the hook at every VM start: on a 4-NIC domain fast-xml-parser's validator and parser alone
// cost more than the hook's whole time budget (bench/RESULTS.md), and on 600 KB about five times
// Node's start-up. test/unit/xml-oracle.test.ts holds this scanner to fast-xml-parser's results.
import { XmlError, lineOf } from "./errors.js";

export interface XmlElement {
  /** Qualified name as written, prefix included. */
  name: string;
  /** Attribute values as written: entity and character references are not decoded here. */
  attrs: Readonly<Record<string, string>>;
  /** Offset of '<' in the text. */
  start: number;
  /** Offset just past the '>' that ends the start tag (equal to `end` for `<x/>`). */
  tagEnd: number;
  /** Offset of the '<' of the end tag (equal to `end` for `<x/>`). */
  closeStart: number;
  /** Offset just past the element's end ('>' of its end tag, or of '/>'). */
  end: number;
  children: XmlElement[];
  parent: XmlElement | undefined;
}

// XML 1.0 (fifth edition) names, productions [4] and [4a]; U+10000-U+EFFFF as surrogate pairs,
// which keeps the expressions out of the slower Unicode mode.
const NAME_START =
  ":A-Z_a-z\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u1FFF\\u200C\\u200D" +
  "\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD";
const NAME_CHAR = `${NAME_START}\\-.0-9\\u00B7\\u0300-\\u036F\\u203F\\u2040`;
const ASTRAL = "[\\uD800-\\uDB7F][\\uDC00-\\uDFFF]";
const NAME = `(?:[${NAME_START}]|${ASTRAL})(?:[${NAME_CHAR}]|${ASTRAL})*`;
const S = "[ \\t\\r\\n]";

/**
 * An expression built on first use. Building one parses it, and most documents never need the
 * large ones below: ASCII names, nearly all of them, are read by name() without one, and libvirt
 * writes neither an XML declaration nor a DOCTYPE.
 */
function lazy(source: () => string): () => RegExp {
  let re: RegExp | undefined;
  return () => (re ??= new RegExp(source(), "y"));
}

const NAME_RE = lazy(() => NAME);
const REF_RE = /&(?:(lt|gt|amp|quot|apos)|#([0-9]+)|#x([0-9a-fA-F]+));/y;
const XML_DECL_RE = lazy(
  () =>
    `<\\?xml${S}+version${S}*=${S}*(?:"1\\.[0-9]+"|'1\\.[0-9]+')` +
    `(?:${S}+encoding${S}*=${S}*(?:"[A-Za-z][A-Za-z0-9._-]*"|'[A-Za-z][A-Za-z0-9._-]*'))?` +
    `(?:${S}+standalone${S}*=${S}*(?:"(?:yes|no)"|'(?:yes|no)'))?${S}*\\?>`,
);
// Production [28] up to its internal subset, which is refused; [75] ExternalID, [12] PubidLiteral.
const SYSTEM_LITERAL = `(?:"[^"]*"|'[^']*')`;
const PUBID_LITERAL = `(?:"[- \\r\\na-zA-Z0-9'()+,./:=?;!*#@$_%]*"|'[- \\r\\na-zA-Z0-9()+,./:=?;!*#@$_%]*')`;
const DOCTYPE_RE = lazy(
  () => `<!DOCTYPE${S}+${NAME}(?:${S}+(?:SYSTEM${S}+${SYSTEM_LITERAL}|PUBLIC${S}+${PUBID_LITERAL}${S}+${SYSTEM_LITERAL}))?${S}*([[>])`,
);
// Characters XML 1.0 forbids anywhere (production [2]); surrogates are looked at more closely.
// eslint-disable-next-line no-control-regex -- finding these control characters is its job
const SUSPECT_CHAR_RE = /[\x00-\x08\x0B\x0C\x0E-\x1F\uD800-\uDFFF\uFFFE\uFFFF]/g;

/** XML's whitespace (production [3]): space, tab, line feed, carriage return. */
export function isXmlSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

/**
 * Parses a document and returns its root element. Throws XmlError (with line and column) for
 * empty or not well-formed input, more than one root, or a DOCTYPE with an internal subset:
 * entity declarations are refused outright rather than expanded, and the only entity references
 * accepted are XML's five predefined ones and character references.
 */
export function parseXml(text: string, file: string): XmlElement {
  if (text.trim() === "" || text === "\ufeff") throw new XmlError("empty document (expected XML)", { file });
  return new Scanner(text, file).document();
}

class Scanner {
  private pos = 0;
  /** Next '&' at or after some offset; recomputed once the scan has passed it. */
  private amp = -1;
  /** Next "]]>", likewise. */
  private cdataEnd = -1;

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  document(): XmlElement {
    const { text } = this;
    this.characters();
    if (text.charCodeAt(0) === 0xfeff) this.pos = 1;
    const bodyStart = this.pos;
    if (text.startsWith("<?xml", this.pos) && /[ \t\r\n?]/.test(text[this.pos + 5] ?? "")) {
      const decl = XML_DECL_RE();
      decl.lastIndex = this.pos;
      if (!decl.test(text)) this.fail("malformed XML declaration", this.pos);
      this.pos = decl.lastIndex;
    }
    let root: XmlElement | undefined;
    let doctype = false;
    const stack: XmlElement[] = [];
    const n = text.length;
    while (this.pos < n) {
      const lt = text.indexOf("<", this.pos);
      const textEnd = lt === -1 ? n : lt;
      if (textEnd > this.pos) {
        if (stack.length > 0) this.charData(textEnd);
        else this.onlySpace(textEnd, root ? "text after the root element" : "text before the root element");
      }
      if (lt === -1) break;
      const c = text.charCodeAt(lt + 1);
      if (c === 0x2f /* / */) {
        const open = stack.pop();
        const name = this.name(lt + 2);
        const p = this.skipSpace(lt + 2 + (name?.length ?? 0));
        if (name === undefined || text.charCodeAt(p) !== 0x3e /* > */) this.fail("malformed end tag", lt);
        if (!open) this.fail(`end tag </${name}> without a start tag`, lt);
        if (open.name !== name) {
          this.fail(`end tag </${name}> does not match start tag <${open.name}> of line ${lineOf(text, open.start)}`, lt);
        }
        open.closeStart = lt;
        open.end = p + 1;
        this.pos = open.end;
      } else if (c === 0x21 /* ! */) {
        if (text.startsWith("<!--", lt)) this.comment(lt);
        else if (text.startsWith("<![CDATA[", lt)) {
          if (stack.length === 0) this.fail("CDATA section outside the root element", lt);
          const e = text.indexOf("]]>", lt + 9);
          if (e === -1) this.fail("unclosed CDATA section", lt);
          this.pos = e + 3;
        } else if (text.startsWith("<!DOCTYPE", lt)) {
          if (root || doctype) this.fail(root ? "DOCTYPE after the root element" : "a second DOCTYPE", lt);
          doctype = true;
          this.doctype(lt);
        } else this.fail("unexpected '<!'", lt);
      } else if (c === 0x3f /* ? */) {
        this.pi(lt, bodyStart);
      } else {
        const parent = stack[stack.length - 1];
        if (!parent && root) this.fail("a second root element: a document has exactly one", lt);
        const element = this.startTag(lt, parent);
        if (parent) parent.children.push(element);
        else root = element;
        if (element.end === -1) stack.push(element);
      }
    }
    const open = stack[stack.length - 1];
    if (open) this.fail(`element <${open.name}> is not closed`, open.start);
    if (!root) this.fail("no root element", n);
    return root;
  }

  private startTag(lt: number, parent: XmlElement | undefined): XmlElement {
    const { text } = this;
    const name = this.name(lt + 1);
    if (name === undefined) this.fail("'<' that starts no tag (write &lt; in text)", lt);
    let at = lt + 1 + name.length;
    const attrs: Record<string, string> = {};
    let tagEnd: number;
    let selfClosing = false;
    for (;;) {
      let p = this.skipSpace(at);
      let c = text.charCodeAt(p);
      if (c === 0x3e /* > */) {
        tagEnd = p + 1;
        break;
      }
      if (c === 0x2f /* / */ && text.charCodeAt(p + 1) === 0x3e) {
        tagEnd = p + 2;
        selfClosing = true;
        break;
      }
      // An attribute: name, '=', a quoted value without '<'.
      const key = p > at ? this.name(p) : undefined;
      if (key === undefined) this.badTag(name, at);
      p = this.skipSpace(p + key.length);
      if (text.charCodeAt(p) !== 0x3d /* = */) this.badTag(name, at);
      p = this.skipSpace(p + 1);
      c = text.charCodeAt(p);
      if (c !== 0x22 && c !== 0x27) this.badTag(name, at);
      const close = text.indexOf(c === 0x22 ? '"' : "'", p + 1);
      if (close === -1) this.badTag(name, at);
      const value = text.slice(p + 1, close);
      if (value.includes("<")) this.badTag(name, at);
      if (Object.hasOwn(attrs, key)) this.fail(`attribute '${key}' is given twice`, at);
      if (value.includes("&")) this.refs(p + 1, close);
      // "__proto__" is an attribute name like any other, not the object's prototype.
      if (key === "__proto__") Object.defineProperty(attrs, key, { value, enumerable: true, writable: true, configurable: true });
      else attrs[key] = value;
      at = close + 1;
    }
    this.pos = tagEnd;
    return {
      name,
      attrs,
      start: lt,
      tagEnd,
      closeStart: selfClosing ? tagEnd : -1,
      end: selfClosing ? tagEnd : -1,
      children: [],
      parent,
    };
  }

  /** The offset of the first character at or after `at` that is not XML whitespace. */
  private skipSpace(at: number): number {
    let p = at;
    while (isXmlSpace(this.text.charCodeAt(p))) p++;
    return p;
  }

  /** The XML name that starts at `at`, if any. */
  private name(at: number): string | undefined {
    const { text } = this;
    let p = at;
    let c = text.charCodeAt(p);
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c === 0x3a) {
      do c = text.charCodeAt(++p);
      while ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x3a || c === 0x2d || c === 0x2e);
      if (!(c >= 0x80)) return text.slice(at, p);
    } else if (!(c >= 0x80)) return undefined;
    const re = NAME_RE();
    re.lastIndex = at;
    return re.test(text) ? text.slice(at, re.lastIndex) : undefined;
  }

  /** Refuses characters XML does not allow, including surrogates that do not pair up. */
  private characters(): void {
    const { text } = this;
    SUSPECT_CHAR_RE.lastIndex = 0;
    for (let m = SUSPECT_CHAR_RE.exec(text); m; m = SUSPECT_CHAR_RE.exec(text)) {
      const i = m.index;
      const c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff) {
        const next = text.charCodeAt(i + 1);
        if (next >= 0xdc00 && next <= 0xdfff) {
          SUSPECT_CHAR_RE.lastIndex = i + 2;
          continue;
        }
      }
      this.fail(`character U+${c.toString(16).toUpperCase().padStart(4, "0")} is not allowed in XML`, i);
    }
  }

  /** Says what is wrong at `at` inside the start tag of <name>. */
  private badTag(name: string, at: number): never {
    const { text } = this;
    const p = this.skipSpace(at);
    if (p >= text.length) this.fail(`start tag <${name}> is not closed`, at);
    const attr = this.name(p);
    if (attr === undefined) this.fail(`unexpected character in start tag <${name}>`, p);
    if (p === at) this.fail(`no space before attribute '${attr}' in <${name}>`, p);
    let q = this.skipSpace(p + attr.length);
    if (text[q] !== "=") this.fail(`attribute '${attr}' of <${name}> has no value`, p);
    q = this.skipSpace(q + 1);
    const quote = text[q];
    if (quote !== '"' && quote !== "'") this.fail(`value of attribute '${attr}' of <${name}> is not quoted`, q);
    const closing = text.indexOf(quote, q + 1);
    if (closing === -1) this.fail(`value of attribute '${attr}' of <${name}> is not closed`, q);
    this.fail(`'<' in the value of attribute '${attr}' of <${name}> (write &lt;)`, text.indexOf("<", q));
  }

  /** Character data inside the root, up to `stop`: references must be well-formed, "]]>" absent. */
  private charData(stop: number): void {
    const { text } = this;
    if (this.cdataEnd !== -2 && this.cdataEnd < this.pos) {
      const e = text.indexOf("]]>", this.pos);
      this.cdataEnd = e === -1 ? -2 : e;
    }
    if (this.cdataEnd >= 0 && this.cdataEnd < stop) this.fail("']]>' in text", this.cdataEnd);
    this.refs(this.pos, stop);
    this.pos = stop;
  }

  /** Checks every '&' in [from, stop) starts one of the references XML allows without a DTD. */
  private refs(from: number, stop: number): void {
    const { text } = this;
    for (;;) {
      if (this.amp !== -2 && this.amp < from) {
        const e = text.indexOf("&", from);
        this.amp = e === -1 ? -2 : e;
      }
      if (this.amp < 0 || this.amp >= stop) return;
      const at = this.amp;
      REF_RE.lastIndex = at;
      const m = REF_RE.exec(text);
      if (!m) {
        const semi = text.indexOf(";", at);
        const shown = semi !== -1 && semi - at <= 32 ? text.slice(at, semi + 1) : "&";
        this.fail(
          /^&[^\s&<;'"]+;$/.test(shown) && !shown.startsWith("&#")
            ? `undefined entity ${shown}: only &lt; &gt; &amp; &quot; &apos; and character references are allowed`
            : `malformed reference '${shown}' (write &amp; for '&')`,
          at,
        );
      }
      const num = m[2] ?? m[3];
      if (num !== undefined) {
        const code = Number.parseInt(num, m[2] !== undefined ? 10 : 16);
        const ok = code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff);
        if (!ok) this.fail(`character reference ${m[0]} names a character XML does not allow`, at);
      }
      from = REF_RE.lastIndex;
      this.amp = -1;
    }
  }

  private onlySpace(stop: number, what: string): void {
    const { text } = this;
    for (let p = this.pos; p < stop; p++) if (!isXmlSpace(text.charCodeAt(p))) this.fail(what, p);
    this.pos = stop;
  }

  private comment(lt: number): void {
    const e = this.text.indexOf("-->", lt + 4);
    if (e === -1) this.fail("unclosed comment", lt);
    if (this.text.indexOf("--", lt + 4) !== e) this.fail("'--' inside a comment", this.text.indexOf("--", lt + 4));
    this.pos = e + 3;
  }

  private pi(lt: number, bodyStart: number): void {
    const { text } = this;
    const target = this.name(lt + 2);
    if (target === undefined) this.fail("processing instruction without a target", lt);
    if (target.toLowerCase() === "xml") {
      this.fail(lt === bodyStart ? "malformed XML declaration" : "XML declaration not at the start of the document", lt);
    }
    const after = lt + 2 + target.length;
    if (!text.startsWith("?>", after) && !/[ \t\r\n]/.test(text[after] ?? "")) this.fail("malformed processing instruction", lt);
    const e = text.indexOf("?>", after);
    if (e === -1) this.fail("unclosed processing instruction", lt);
    this.pos = e + 2;
  }

  private doctype(lt: number): void {
    const doctype = DOCTYPE_RE();
    doctype.lastIndex = lt;
    const m = doctype.exec(this.text);
    if (!m) this.fail("malformed DOCTYPE (expected <!DOCTYPE name>, with SYSTEM or PUBLIC identifiers)", lt);
    if (m[1] === "[") this.fail("a DOCTYPE with declarations ([...]) is refused: entities are never expanded", lt, "");
    this.pos = doctype.lastIndex;
  }

  private fail(message: string, offset: number, prefix = "malformed XML: "): never {
    const line = lineOf(this.text, offset);
    const column = offset - (this.text.lastIndexOf("\n", offset - 1) + 1) + 1;
    throw new XmlError(`${prefix}${message}`, { file: this.file, line, column });
  }
}

const PREDEFINED: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

/** Decodes the five predefined entities and character references in an attribute value. */
export function decodeAttr(raw: string, file: string, text: string, at: number): string {
  if (!raw.includes("&")) return raw;
  return raw.replace(/&([^;&]*);?/g, (whole, ref: string) => {
    let code: number | undefined;
    if (/^#[0-9]+$/.test(ref)) code = Number.parseInt(ref.slice(1), 10);
    else if (/^#x[0-9a-fA-F]+$/.test(ref)) code = Number.parseInt(ref.slice(2), 16);
    else if (whole.endsWith(";") && PREDEFINED[ref] !== undefined) return PREDEFINED[ref];
    if (code !== undefined && whole.endsWith(";") && code > 0 && code <= 0x10ffff) return String.fromCodePoint(code);
    throw new XmlError(`undefined or malformed entity reference '${whole}' in an attribute`, {
      file,
      line: lineOf(text, at),
    });
  });
}

export function child(element: XmlElement, name: string): XmlElement | undefined {
  return element.children.find((c) => c.name === name);
}

/** The attribute as libvirt reads it (normalised, references decoded), or undefined. */
export function attr(element: XmlElement, name: string, file: string, text: string): string | undefined {
  const raw = element.attrs[name];
  return raw === undefined ? undefined : decodeAttr(normalizeAttr(raw), file, text, element.start);
}

/**
 * XML's attribute-value normalisation (section 3.3.3), as libxml2 and so libvirt apply it: each
 * line end (CR LF, CR or LF) and each tab written in the value reads as one space. Characters
 * written as references (&#10;) are kept, since they are decoded afterwards.
 */
function normalizeAttr(raw: string): string {
  return raw.includes("\n") || raw.includes("\r") || raw.includes("\t") ? raw.replace(/\r\n?|[\n\t]/g, " ") : raw;
}

/** The namespace URI an element's prefix (or the default namespace) is bound to where it stands. */
export function namespaceOf(element: XmlElement): string | undefined {
  const colon = element.name.indexOf(":");
  const decl = colon === -1 ? "xmlns" : `xmlns:${element.name.slice(0, colon)}`;
  for (let e: XmlElement | undefined = element; e; e = e.parent) {
    const uri = e.attrs[decl];
    if (uri !== undefined) return uri;
  }
  return undefined;
}

export function localName(element: XmlElement): string {
  const colon = element.name.indexOf(":");
  return colon === -1 ? element.name : element.name.slice(colon + 1);
}

/** Offset just past the '>' that ends the element's start tag. */
export function startTagEnd(_text: string, element: XmlElement): number {
  return element.tagEnd;
}

/** Whether the element is written as `<x/>`. */
export function isSelfClosing(_text: string, element: XmlElement): boolean {
  return element.tagEnd === element.end;
}

/** Offset of the '<' of the element's end tag (its end when it is self-closing). */
export function endTagStart(_text: string, element: XmlElement): number {
  return element.closeStart;
}

/** The character data of a simple element such as <name>, entity references decoded. */
export function textContent(text: string, element: XmlElement, file: string): string {
  if (isSelfClosing(text, element)) return "";
  const raw = text.slice(startTagEnd(text, element), endTagStart(text, element));
  // Only comments and CDATA sections start with '<' in a simple element's content; most have none.
  const plain = !raw.includes("<")
    ? raw
    : raw.replace(/<!--[\s\S]*?-->/g, "").replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, (_, c: string) => c.replace(/&/g, "&amp;"));
  return decodeAttr(plain, file, text, element.start).trim();
}
