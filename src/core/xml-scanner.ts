// The scanner: checks in one pass that a document is well-formed and finds its elements, their
// raw attributes and where each stands in the text; the splice in transform.ts edits the
// original text at those positions, so the document is never re-serialised. It is purpose-built
// rather than fast-xml-parser's parser because libvirt waits on the hook at every VM start
// (bench/RESULTS.md); test/unit/core/xml-oracle.test.ts holds it to fast-xml-parser and xmllint.
//
// It refuses what libxml2 (and so libvirt, which parses without XML_PARSE_HUGE) refuses: nesting
// deeper than 256 levels below the root, names longer than 50,000 characters, and what is not
// well-formed; namespaces are read as libxml2 reads them (xml-namespaces.ts). Memory stays
// bounded by the input: the caller says which elements it needs (`retain`), and the others are
// checked and forgotten.
import { XmlError } from "./errors.js";
import type { ParseOptions, Retain, XmlElement } from "./xml-element.js";
import { commentEnd, doctypeEnd, isXmlDeclaration, piEnd, xmlDeclarationEnd } from "./xml-markup.js";
import { Namespaces, isDeclaration, type TagAttributes } from "./xml-namespaces.js";
import { lineAt, xmlErrorAt } from "./xml-position.js";
import { MAX_NAME_LENGTH, badCharacter, isXmlSpace, nameEnd, referenceEnd } from "./xml-text.js";

/** libxml2's limit without XML_PARSE_HUGE (parserInternals.h: xmlParserMaxDepth). */
const MAX_DEPTH = 256;

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

class Scanner implements TagAttributes {
  private pos = 0;
  private readonly namespaces: Namespaces;
  /** Next '&' at or after some offset; recomputed once the scan has passed it. */
  private amp = -1;
  /** Next "]]>", likewise. */
  private cdataEnd = -1;
  /** Next '<', likewise (the text's length when there is none). */
  private lt = -1;
  private readonly failHere = (message: string, offset: number): never => this.fail(message, offset);

  constructor(
    private readonly text: string,
    private readonly file: string,
    private readonly retain: Retain = keepAll,
    private readonly onEnd?: (element: XmlElement) => void,
  ) {
    this.namespaces = new Namespaces(text, this.failHere);
  }

  document(): XmlElement {
    const { text, namespaces } = this;
    const bad = badCharacter(text);
    if (bad !== -1) this.fail(`character U+${text.charCodeAt(bad).toString(16).toUpperCase().padStart(4, "0")} is not allowed in XML`, bad);
    if (text.charCodeAt(0) === 0xfeff) this.pos = 1;
    const bodyStart = this.pos;
    if (isXmlDeclaration(text, this.pos)) this.pos = xmlDeclarationEnd(text, this.pos, this.failHere);
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
        if (namespaces.size !== mark) namespaces.truncate(mark);
        this.pos = p + 1;
      } else if (c === 0x21 /* ! */) {
        if (text.startsWith("<!--", lt)) this.pos = commentEnd(text, lt, this.failHere);
        else if (text.startsWith("<![CDATA[", lt)) {
          if (names.length === 0) this.fail("CDATA section outside the root element", lt);
          const e = text.indexOf("]]>", lt + 9);
          if (e === -1) this.fail("unclosed CDATA section", lt);
          this.pos = e + 3;
        } else if (text.startsWith("<!DOCTYPE", lt)) {
          if (root || doctype) this.fail(root ? "DOCTYPE after the root element" : "a second DOCTYPE", lt);
          doctype = true;
          this.pos = doctypeEnd(text, lt, this.failHere, (message, offset) => this.fail(message, offset, ""));
        } else this.fail("unexpected '<!'", lt);
      } else if (c === 0x3f /* ? */) {
        this.pos = piEnd(text, lt, bodyStart, this.failHere);
      } else {
        const depth = names.length;
        if (depth === 0 && root) this.fail("a second root element: a document has exactly one", lt);
        // libxml2 refuses an element once MAX_DEPTH elements enclose the root's children.
        if (depth > MAX_DEPTH) this.fail(`elements nested more than ${MAX_DEPTH} levels deep (libxml2, and so libvirt, refuses them)`, lt);
        const parent = depth === 0 ? undefined : kept[depth - 1];
        const mark = namespaces.size;
        const element = this.startTag(lt, parent, depth === 0);
        if (depth === 0) root = element;
        if (this.closed) {
          if (namespaces.size !== mark) namespaces.truncate(mark);
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
  readonly keys: string[] = [];
  readonly keyAt: number[] = [];
  readonly valueStart: number[] = [];
  readonly valueEnd: number[] = [];
  /** How many of the arrays' entries are the current tag's. */
  count = 0;
  private keySet: Set<string> | undefined;

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
   * Reads a start tag and its namespace declarations (bound for its content). Returns the element
   * when it is kept: always the root, else when its parent is kept and `retain` says so.
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
    // A namespace declaration written twice is fatal only where both would bind (resolve() checks).
    let duplicate = false;
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
      if (count !== 0 && this.seen(key)) {
        if (isDeclaration(key)) duplicate = true;
        else this.fail(`attribute '${key}' is given twice`, at);
      }
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
    const namespaces = this.namespaces;
    namespaces.resolve(name, lt, this, duplicate);
    const ns = namespaces.ns;
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
      local: namespaces.localName(name),
      attrs,
      prefixedAttrs: namespaces.prefixedAttrs,
      attrNs: namespaces.attributeNamespaces(this),
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

  /** The offset of the first character at or after `at` that is not XML whitespace. */
  private skipSpace(at: number): number {
    let p = at;
    while (isXmlSpace(this.text.charCodeAt(p))) p++;
    return p;
  }

  /**
   * The XML name that starts at `at`, if any. A name without ':' longer than MAX_NAME_LENGTH is
   * refused here; the namespace part checks each part of one with a ':' as libxml2 reads it.
   */
  private name(at: number): string | undefined {
    const { text } = this;
    let p = at;
    let c = text.charCodeAt(p);
    // ASCII names, nearly all of them, are read here: this runs for every tag and attribute.
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c === 0x3a) {
      do c = text.charCodeAt(++p);
      while ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x3a || c === 0x2d || c === 0x2e);
    }
    const end = c >= 0x80 || p === at ? nameEnd(text, at) : p;
    if (end === -1) return undefined;
    if (end - at > MAX_NAME_LENGTH && text.lastIndexOf(":", end - 1) < at) this.fail(`a name longer than ${MAX_NAME_LENGTH} characters (libxml2's limit)`, at);
    return text.slice(at, end);
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
      from = referenceEnd(text, this.amp, this.failHere);
      this.amp = -1;
    }
  }

  private onlySpace(stop: number, what: string): void {
    const { text } = this;
    for (let p = this.pos; p < stop; p++) if (!isXmlSpace(text.charCodeAt(p))) this.fail(what, p);
    this.pos = stop;
  }

  private fail(message: string, offset: number, prefix = "malformed XML: "): never {
    throw xmlErrorAt(this.text, this.file, `${prefix}${message}`, offset);
  }
}

/** Sets a property, "__proto__" too: an attribute name like any other, not the object's prototype. */
function define<T>(record: Record<string, T>, key: string, value: T): void {
  if (key === "__proto__") Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
  else record[key] = value;
}
