// Reading XML with positions. The scanner below checks that a document is well-formed and finds
// its elements, their raw attributes and where each stands in the text; the splice in
// transform.ts edits the original text at those positions, so the document is never
// re-serialised. It is purpose-built rather than fast-xml-parser's parser because libvirt waits
// on the hook at every VM start: on a 4-NIC domain fast-xml-parser's validator and parser alone
// cost more than the hook's whole time budget (bench/RESULTS.md), and on 600 KB about five times
// Node's start-up. test/unit/xml-oracle.test.ts holds this scanner to fast-xml-parser's results.
//
// It refuses what libxml2 (and so libvirt, which parses without XML_PARSE_HUGE) refuses: nesting
// deeper than 256 levels below the root, names longer than 50,000 characters, and documents that
// are not namespace-well-formed. Memory stays bounded by the input: the caller says which
// elements it needs (`retain`), and the others are checked and forgotten.
import { XmlError } from "./errors.js";

export interface XmlElement {
  /** Qualified name as written, prefix included. */
  name: string;
  /** The namespace URI the element is in (its prefix's, or the default namespace), if any. */
  ns: string | undefined;
  /** Attribute values as written: entity and character references are not decoded here. */
  attrs: Readonly<Record<string, string>>;
  /** Whether an attribute other than a namespace declaration has a prefix. */
  prefixedAttrs: boolean;
  /** Offset of the '<' of the first child element, kept or not; -1 when there is none. */
  firstChild: number;
  /** Offset of '<' in the text. */
  start: number;
  /** Offset just past the '>' that ends the start tag (equal to `end` for `<x/>`). */
  tagEnd: number;
  /** Offset of the '<' of the end tag (equal to `end` for `<x/>`). */
  closeStart: number;
  /** Offset just past the element's end ('>' of its end tag, or of '/>'). */
  end: number;
  /** The child elements `retain` kept (all of them by default). */
  children: XmlElement[];
  parent: XmlElement | undefined;
}

/**
 * Whether to keep a child element of a kept element (the root is always kept). A child that is
 * not kept is still checked, but no element is built for it or for anything inside it.
 */
export type Retain = (parent: XmlElement, name: string, ns: string | undefined) => boolean;

export interface ParseOptions {
  retain?: Retain;
  /**
   * Called for each kept element once it is complete, children included; it may take the
   * element out of its parent's children (the last one) to let it go, keeping what it needs.
   */
  onEnd?: (element: XmlElement) => void;
}

/** libxml2's limits without XML_PARSE_HUGE (parserInternals.h: xmlParserMaxDepth, XML_MAX_NAME_LENGTH). */
const MAX_DEPTH = 256;
const MAX_NAME_LENGTH = 50_000;

const XML_NS = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NS = "http://www.w3.org/2000/xmlns/";

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
const VERSION_WITHOUT_DIGITS_RE = lazy(() => `<\\?xml${S}+version${S}*=${S}*(["'])1\\.\\1`);
// Production [28] up to its internal subset, which is refused; [75] ExternalID, [12] PubidLiteral.
const SYSTEM_LITERAL = `(?:"[^"]*"|'[^']*')`;
const PUBID_LITERAL = `(?:"[- \\r\\na-zA-Z0-9'()+,./:=?;!*#@$_%]*"|'[- \\r\\na-zA-Z0-9()+,./:=?;!*#@$_%]*')`;
const DOCTYPE_RE = lazy(() => `<!DOCTYPE${S}+${NAME}(?:${S}+(?:SYSTEM${S}+${SYSTEM_LITERAL}|PUBLIC${S}+${PUBID_LITERAL}${S}+${SYSTEM_LITERAL}))?${S}*([[>])`);
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
export function parseXml(text: string, file: string, options: ParseOptions = {}): XmlElement {
  if (text.trim() === "" || text === "\ufeff") throw new XmlError("empty document (expected XML)", { file });
  return new Scanner(text, file, options.retain, options.onEnd).document();
}

const keepAll: Retain = () => true;

class Scanner {
  private pos = 0;
  /** Namespace bindings in scope, innermost last ("" is the default namespace; "" as URI: none). */
  private readonly nsPrefix: string[] = [];
  private readonly nsUri: string[] = [];
  /** Next '&' at or after some offset; recomputed once the scan has passed it. */
  private amp = -1;
  /** Next "]]>", likewise. */
  private cdataEnd = -1;

  constructor(
    private readonly text: string,
    private readonly file: string,
    private readonly retain: Retain = keepAll,
    private readonly onEnd?: (element: XmlElement) => void,
  ) {}

  document(): XmlElement {
    const { text } = this;
    this.characters();
    if (text.charCodeAt(0) === 0xfeff) this.pos = 1;
    const bodyStart = this.pos;
    if (text.startsWith("<?xml", this.pos) && /[ \t\r\n?]/.test(text[this.pos + 5] ?? "")) {
      const decl = XML_DECL_RE();
      decl.lastIndex = this.pos;
      if (!decl.test(text)) {
        // libxml2 (and so libvirt) reads version '1.' with a warning; production [26] does not.
        const bare = VERSION_WITHOUT_DIGITS_RE();
        bare.lastIndex = this.pos;
        this.fail(bare.test(text) ? "malformed XML declaration: version '1.' has no digit after the dot" : "malformed XML declaration", this.pos);
      }
      this.pos = decl.lastIndex;
    }
    let root: XmlElement | undefined;
    let doctype = false;
    // The open elements: their names, starts, the kept element (or undefined) and where their
    // namespace bindings begin. At most MAX_DEPTH + 1 deep.
    const names: string[] = [];
    const starts: number[] = [];
    const kept: (XmlElement | undefined)[] = [];
    const marks: number[] = [];
    const n = text.length;
    while (this.pos < n) {
      const lt = text.indexOf("<", this.pos);
      const textEnd = lt === -1 ? n : lt;
      if (textEnd > this.pos) {
        if (names.length > 0) this.charData(textEnd);
        else this.onlySpace(textEnd, root ? "text after the root element" : "text before the root element");
      }
      if (lt === -1) break;
      const c = text.charCodeAt(lt + 1);
      if (c === 0x2f /* / */) {
        const openName = names.pop();
        const name = this.name(lt + 2);
        const p = this.skipSpace(lt + 2 + (name?.length ?? 0));
        if (name === undefined || text.charCodeAt(p) !== 0x3e /* > */) this.fail("malformed end tag", lt);
        if (openName === undefined) this.fail(`end tag </${name}> without a start tag`, lt);
        const openStart = starts.pop() as number;
        if (openName !== name) {
          this.fail(`end tag </${name}> does not match start tag <${openName}> of line ${lineAt(text, openStart)}`, lt);
        }
        const open = kept.pop();
        if (open) {
          open.closeStart = lt;
          open.end = p + 1;
          this.onEnd?.(open);
        }
        const mark = marks.pop() as number;
        // Setting an array's length is a slow path: only when the element declared something.
        if (this.nsPrefix.length !== mark) {
          this.nsPrefix.length = mark;
          this.nsUri.length = mark;
        }
        this.pos = p + 1;
      } else if (c === 0x21 /* ! */) {
        if (text.startsWith("<!--", lt)) this.comment(lt);
        else if (text.startsWith("<![CDATA[", lt)) {
          if (names.length === 0) this.fail("CDATA section outside the root element", lt);
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
        const depth = names.length;
        if (depth === 0 && root) this.fail("a second root element: a document has exactly one", lt);
        // libxml2 refuses an element once MAX_DEPTH elements enclose the root's children.
        if (depth > MAX_DEPTH) this.fail(`elements nested more than ${MAX_DEPTH} levels deep (libxml2, and so libvirt, refuses them)`, lt);
        const parent = depth === 0 ? undefined : kept[depth - 1];
        const mark = this.nsPrefix.length;
        const element = this.startTag(lt, parent, depth === 0);
        if (depth === 0) root = element;
        if (this.closed) {
          if (this.nsPrefix.length !== mark) {
            this.nsPrefix.length = mark;
            this.nsUri.length = mark;
          }
          if (element) this.onEnd?.(element);
        } else {
          names.push(this.tagName);
          starts.push(lt);
          kept.push(element);
          marks.push(mark);
        }
      }
    }
    if (names.length > 0) this.fail(`element <${names[names.length - 1]}> is not closed`, starts[starts.length - 1] as number);
    if (!root) this.fail("no root element", n);
    return root;
  }

  /** The current start tag's attributes: names, where each name and value starts, where each value ends. */
  private readonly keys: string[] = [];
  private readonly keyAt: number[] = [];
  private readonly valueStart: number[] = [];
  private readonly valueEnd: number[] = [];
  /** How many of the arrays' entries are the current tag's. */
  private count = 0;
  private keySet: Set<string> | undefined;
  private prefixed = false;
  /** Next '<' at or after some offset; recomputed once the scan has passed it. */
  private lt = -1;

  /** Whether the current tag already has this attribute (a set only for tags with many). */
  private seen(key: string): boolean {
    const { keys, count } = this;
    if (count < 16) {
      for (let i = 0; i < count; i++) if (keys[i] === key) return true;
      return false;
    }
    if (count === 16 || this.keySet === undefined) this.keySet = new Set(keys.slice(0, 16));
    if (this.keySet.has(key)) return true;
    this.keySet.add(key);
    return false;
  }

  /** The offset of the next '<' at or after `from` (the text's length when there is none). */
  private nextLt(from: number): number {
    if (this.lt < from) {
      const e = this.text.indexOf("<", from);
      this.lt = e === -1 ? this.text.length : e;
    }
    return this.lt;
  }

  /** Set by startTag(): the tag's name, and whether it was written `<x/>`. */
  private tagName = "";
  private closed = false;

  /**
   * Reads a start tag and its namespace declarations (pushed onto the bindings in scope).
   * Returns the element when it is kept: always the root, else when its parent is kept and
   * `retain` says so.
   */
  private startTag(lt: number, parent: XmlElement | undefined, isRoot: boolean): XmlElement | undefined {
    const { text } = this;
    const name = this.name(lt + 1);
    if (name === undefined) this.fail("'<' that starts no tag (write &lt; in text)", lt);
    if (parent && parent.firstChild === -1) parent.firstChild = lt;
    let at = lt + 1 + name.length;
    // The attributes go to arrays kept from tag to tag: most elements are not kept, and
    // building nothing for them keeps memory and time down on large documents.
    const { keys, keyAt, valueStart, valueEnd } = this;
    let count = 0;
    this.count = 0;
    let tagEnd = -1;
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
      const at0 = p;
      p = this.skipSpace(p + key.length);
      if (text.charCodeAt(p) !== 0x3d /* = */) this.badTag(name, at);
      p = this.skipSpace(p + 1);
      c = text.charCodeAt(p);
      if (c !== 0x22 && c !== 0x27) this.badTag(name, at);
      const close = text.indexOf(c === 0x22 ? '"' : "'", p + 1);
      if (close === -1) this.badTag(name, at);
      // The calls are skipped where the cached positions already answer: this runs for every attribute.
      if ((this.lt > p ? this.lt : this.nextLt(p + 1)) < close) this.badTag(name, at);
      if (count !== 0 && this.seen(key)) this.fail(`attribute '${key}' is given twice`, at);
      if (this.amp !== -2 && this.amp < close) this.refs(p + 1, close);
      keys[count] = key;
      keyAt[count] = at0;
      valueStart[count] = p + 1;
      valueEnd[count] = close;
      this.count = ++count;
      at = close + 1;
    }
    this.pos = tagEnd;
    this.tagName = name;
    this.closed = selfClosing;
    const ns = this.namespaces(name, lt);
    if (!isRoot && !(parent && this.retain(parent, name, ns))) return undefined;
    const attrs: Record<string, string> = {};
    for (let i = 0; i < count; i++) {
      const key = keys[i] as string;
      const value = text.slice(valueStart[i], valueEnd[i]);
      if (key === "__proto__") define(attrs, key, value);
      else attrs[key] = value;
    }
    const element: XmlElement = {
      name,
      ns,
      attrs,
      prefixedAttrs: this.prefixed,
      firstChild: -1,
      start: lt,
      tagEnd,
      closeStart: selfClosing ? tagEnd : -1,
      end: selfClosing ? tagEnd : -1,
      children: [],
      parent,
    };
    parent?.children.push(element);
    return element;
  }

  /**
   * Namespaces in XML 1.0, as libxml2 checks them: qualified names (one ':' at most, inside),
   * declarations (xml and xmlns reserved, no empty prefixed URI), prefixes declared, and no
   * attribute twice under two prefixes of one namespace. Returns the element's namespace.
   */
  private namespaces(name: string, lt: number): string | undefined {
    const { keys, keyAt, valueStart, valueEnd, count } = this;
    this.prefixed = false;
    // Most elements: no attributes, no prefix, no declarations in scope.
    if (count === 0 && this.nsPrefix.length === 0 && name.indexOf(":") === -1) return undefined;
    let prefixed = 0;
    for (let i = 0; i < count; i++) {
      const key = keys[i] as string;
      const at = keyAt[i] as number;
      if (key.charCodeAt(0) === 0x78 /* x */ && (key === "xmlns" || key.startsWith("xmlns:"))) {
        const prefix = key === "xmlns" ? "" : key.slice(6);
        // "xmlns:" declares nothing: it is no default namespace declaration but a bad name.
        if (key !== "xmlns") this.qname(key, at);
        const uri = attrValue(this.text.slice(valueStart[i], valueEnd[i]));
        if (prefix === "xml") {
          if (uri !== XML_NS) this.fail(`the prefix 'xml' is bound to ${XML_NS} and to nothing else`, at, "namespace error: ");
        } else if (prefix === "xmlns") this.fail("the prefix 'xmlns' cannot be declared", at, "namespace error: ");
        else if (uri === XML_NS || uri === XMLNS_NS)
          this.fail(`${uri} cannot be bound to ${prefix === "" ? "the default namespace" : `the prefix '${prefix}'`}`, at, "namespace error: ");
        else if (prefix !== "" && uri === "") this.fail(`${key}: an empty namespace name is not allowed for a prefix`, at, "namespace error: ");
        this.nsPrefix.push(prefix);
        this.nsUri.push(uri);
      } else if (key.includes(":")) prefixed++;
    }
    let ns: string | undefined;
    const colon = name.indexOf(":");
    if (colon === -1) {
      ns = this.lookup("");
    } else {
      this.qname(name, lt);
      const prefix = name.slice(0, colon);
      ns = this.lookup(prefix);
      if (ns === undefined) this.fail(`namespace prefix '${prefix}' of <${name}> is not declared`, lt, "namespace error: ");
    }
    if (prefixed > 0) {
      this.prefixed = true;
      const seen = prefixed > 1 ? new Set<string>() : undefined;
      for (let i = 0; i < count; i++) {
        const key = keys[i] as string;
        if (!key.includes(":") || key.startsWith("xmlns:")) continue;
        const at = keyAt[i] as number;
        this.qname(key, at);
        const c = key.indexOf(":");
        const prefix = key.slice(0, c);
        const uri = this.lookup(prefix);
        if (uri === undefined) this.fail(`namespace prefix '${prefix}' of attribute '${key}' on <${name}> is not declared`, at, "namespace error: ");
        const expanded = `${uri} ${key.slice(c + 1)}`;
        if (seen?.has(expanded)) this.fail(`attribute '${key.slice(c + 1)}' in namespace ${uri} is given twice on <${name}>`, at, "namespace error: ");
        seen?.add(expanded);
      }
    }
    return ns === "" ? undefined : ns;
  }

  /** The URI a prefix is bound to where the scan stands ("" for the default namespace). */
  private lookup(prefix: string): string | undefined {
    if (prefix === "xml") return XML_NS;
    for (let i = this.nsPrefix.length - 1; i >= 0; i--) if (this.nsPrefix[i] === prefix) return this.nsUri[i];
    return prefix === "" ? "" : undefined;
  }

  /** A qualified name: no ':' at its start or end, at most one, and parts of at most MAX_NAME_LENGTH. */
  private qname(name: string, at: number): void {
    const c = name.indexOf(":");
    if (c === 0 || c === name.length - 1 || name.indexOf(":", c + 1) !== -1) {
      this.fail(`'${name}' is not a qualified name (a prefix, ':' and a local name)`, at, "namespace error: ");
    }
    if (c > MAX_NAME_LENGTH || name.length - c - 1 > MAX_NAME_LENGTH) this.fail(`a name longer than ${MAX_NAME_LENGTH} characters (libxml2's limit)`, at);
  }

  /** The offset of the first character at or after `at` that is not XML whitespace. */
  private skipSpace(at: number): number {
    let p = at;
    while (isXmlSpace(this.text.charCodeAt(p))) p++;
    return p;
  }

  /**
   * The XML name that starts at `at`, if any. A name without ':' longer than MAX_NAME_LENGTH is
   * refused here; qname() checks each part of a prefixed one.
   */
  private name(at: number): string | undefined {
    const { text } = this;
    let p = at;
    let c = text.charCodeAt(p);
    let end: number;
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c === 0x3a) {
      do c = text.charCodeAt(++p);
      while ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x3a || c === 0x2d || c === 0x2e);
      end = p;
    } else if (!(c >= 0x80)) return undefined;
    else end = -1;
    if (end === -1 || c >= 0x80) {
      const re = NAME_RE();
      re.lastIndex = at;
      if (!re.test(text)) return undefined;
      end = re.lastIndex;
    }
    if (end - at > MAX_NAME_LENGTH && text.lastIndexOf(":", end - 1) < at) this.fail(`a name longer than ${MAX_NAME_LENGTH} characters (libxml2's limit)`, at);
    return text.slice(at, end);
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
        const ok =
          code === 0x9 ||
          code === 0xa ||
          code === 0xd ||
          (code >= 0x20 && code <= 0xd7ff) ||
          (code >= 0xe000 && code <= 0xfffd) ||
          (code >= 0x10000 && code <= 0x10ffff);
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
    if (target.length > MAX_NAME_LENGTH) this.fail(`a name longer than ${MAX_NAME_LENGTH} characters (libxml2's limit)`, lt + 2);
    if (target.includes(":")) this.fail(`a processing instruction's target may not contain ':' ('${target}')`, lt + 2, "namespace error: ");
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
    const line = lineAt(this.text, offset);
    const column = offset - (this.text.lastIndexOf("\n", offset - 1) + 1) + 1;
    throw new XmlError(`${prefix}${message}`, { file: this.file, line, column });
  }
}

/** Sets a property, "__proto__" too: an attribute name like any other, not the object's prototype. */
function define<T>(record: Record<string, T>, key: string, value: T): void {
  if (key === "__proto__") Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
  else record[key] = value;
}

/** 1-based line of an offset, counted without an index: for one error or one look-up. */
export function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

/**
 * Lines of offsets asked for in increasing order (such as the NICs of a document), counted in
 * one pass over the text, whatever its number of lines.
 */
export function lineCounter(text: string): (offset: number) => number {
  let line = 1;
  // The first line feed not yet counted (-1: none left); a text without any is searched once.
  let next = text.indexOf("\n");
  let from = 0;
  return (offset) => {
    if (offset < from) {
      line = 1;
      next = text.indexOf("\n");
    }
    from = offset;
    while (next !== -1 && next < offset) {
      line++;
      next = text.indexOf("\n", next + 1);
    }
    return line;
  };
}

const PREDEFINED: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };
const REFS_RE = /&(?:(lt|gt|amp|quot|apos)|#([0-9]+)|#x([0-9a-fA-F]+));/g;

/** Decodes the predefined entities and character references of text the scanner accepted. */
function decodeRefs(raw: string): string {
  if (!raw.includes("&")) return raw;
  return raw.replace(REFS_RE, (_whole, named: string | undefined, dec: string | undefined, hex: string | undefined) =>
    named !== undefined ? (PREDEFINED[named] as string) : String.fromCodePoint(Number.parseInt((dec ?? hex) as string, dec !== undefined ? 10 : 16)),
  );
}

/**
 * An attribute's value as an XML parser reports it, from its raw text: XML's end-of-line handling
 * and attribute-value normalisation (sections 2.11 and 3.3.3: each CR LF, CR, LF or tab written
 * in the value reads as one space), then references decoded (so &#10; stays a line feed).
 */
export function attrValue(raw: string): string {
  const normalised = raw.includes("\n") || raw.includes("\r") || raw.includes("\t") ? raw.replace(/\r\n?|[\n\t]/g, " ") : raw;
  return decodeRefs(normalised);
}

/**
 * The first child element of that name in no namespace: what libvirt's XPath (`./devices`,
 * `./source`) finds. `<p:source>` and `<source xmlns="urn:x">` are other elements.
 */
export function child(element: XmlElement, name: string): XmlElement | undefined {
  return element.children.find((c) => c.name === name && c.ns === undefined);
}

/** Every child element of that name in no namespace (`./devices` finds them all). */
export function children(element: XmlElement, name: string): XmlElement[] {
  return element.children.filter((c) => c.name === name && c.ns === undefined);
}

/**
 * The attribute libvirt reads for a name: libxml2's xmlGetProp(), which libvirt's
 * virXMLPropString() calls, takes the first attribute of that local name in document order,
 * whatever its prefix; namespace declarations are not attributes to it.
 */
export function attrKey(element: XmlElement, name: string): string | undefined {
  // A qualified name asks for that attribute as written; without prefixed attributes, so does any.
  if (!element.prefixedAttrs || name.includes(":")) return Object.hasOwn(element.attrs, name) ? name : undefined;
  for (const key in element.attrs) {
    const colon = key.indexOf(":");
    if (colon === -1 ? key === name : key.slice(colon + 1) === name && !key.startsWith("xmlns:")) return key;
  }
  return undefined;
}

/** The attribute as libvirt reads it (normalised, references decoded), or undefined. */
export function attr(element: XmlElement, name: string): string | undefined {
  const key = attrKey(element, name);
  return key === undefined ? undefined : attrValue(element.attrs[key] as string);
}

/**
 * Where the value of the attribute `key` (as written) starts in the element's start tag: read
 * again as the scanner read it (name, '=', quote), never searched for with a pattern.
 */
export function valueStart(text: string, element: XmlElement, key: string): number {
  let p = element.start + 1 + element.name.length;
  for (;;) {
    while (isXmlSpace(text.charCodeAt(p))) p++;
    const c = text.charCodeAt(p);
    if (c === 0x3e || c === 0x2f) throw new Error(`internal: no attribute '${key}' in <${element.name}>`);
    // The name runs to a space or '=', and a quote opens the value: names hold neither.
    const after = text.charCodeAt(p + key.length);
    const found = (after === 0x3d || isXmlSpace(after)) && text.startsWith(key, p);
    let q = p;
    while (text.charCodeAt(q) !== 0x22 && text.charCodeAt(q) !== 0x27) q++;
    if (found) return q + 1;
    p = text.indexOf(text[q] as string, q + 1) + 1;
  }
}

/** The namespace URI an element is in, as the scanner resolved it (declarations decoded). */
export function namespaceOf(element: XmlElement): string | undefined {
  return element.ns;
}

export function localName(element: XmlElement): string {
  const colon = element.name.indexOf(":");
  return colon === -1 ? element.name : element.name.slice(colon + 1);
}

/**
 * An element's string value, as XPath's string() and so libvirt reads `<name>`: the character
 * data of the element and its descendants with references decoded and line ends as an XML
 * parser reports them (LF), CDATA sections as written, comments and processing instructions
 * left out. Nothing is trimmed. The element must come from parseXml().
 */
export function textContent(text: string, element: XmlElement): string {
  // For <x/>, tagEnd and closeStart are both its end: nothing to read.
  const stop = element.closeStart;
  let out = "";
  let p = element.tagEnd;
  while (p < stop) {
    let lt = text.indexOf("<", p);
    if (lt === -1 || lt > stop) lt = stop;
    if (lt > p) out += decodeRefs(eol(text.slice(p, lt)));
    if (lt === stop) break;
    if (text.startsWith("<!--", lt)) p = text.indexOf("-->", lt + 4) + 3;
    else if (text.startsWith("<![CDATA[", lt)) {
      const e = text.indexOf("]]>", lt + 9);
      out += eol(text.slice(lt + 9, e));
      p = e + 3;
    } else if (text.startsWith("<?", lt)) p = text.indexOf("?>", lt + 2) + 2;
    else p = tagEndFrom(text, lt);
  }
  return out;
}

/** XML's end-of-line handling (section 2.11): CR LF and a lone CR read as LF. */
function eol(s: string): string {
  return s.includes("\r") ? s.replace(/\r\n?/g, "\n") : s;
}

/** Offset just past the '>' of a tag the scanner accepted, skipping quoted values. */
function tagEndFrom(text: string, lt: number): number {
  let p = lt + 1;
  for (;;) {
    const c = text.charCodeAt(p);
    if (c === 0x3e) return p + 1;
    if (c === 0x22 || c === 0x27) p = text.indexOf(c === 0x22 ? '"' : "'", p + 1);
    p++;
  }
}
