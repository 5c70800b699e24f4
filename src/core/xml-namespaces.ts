// Namespaces in XML as libxml2 2.9.14 reads them (parser.c: xmlParseQName, xmlParseStartTag2;
// SAX2.c: xmlSAX2StartElementNs), which is what libvirt stores and hands the hook. libxml2
// reports namespace errors but they are not fatal, and libvirt does not parse with namespace
// strictness: it keeps such elements in <metadata> and prints them back. So a namespace error
// is no refusal here either; each name gets the namespace and local name libxml2 gives it:
// - `p:l` is prefix p, local name l; `p:l:m` is prefix p, local name `l:m`; `:a`, and `p:`
//   followed by something that cannot start a name (`a:1`, `a::b`, `a:`), are a whole name
//   without a prefix;
// - a name without a prefix is in the default namespace in scope (elements only: attributes
//   never take it); a prefix that is not declared leaves the name as written, in no namespace;
// - a declaration libxml2 finds wrong (`xmlns:xml` elsewhere, the xml or xmlns namespace bound
//   to another prefix or as the default, `xmlns:xmlns`, `xmlns:p=""`) binds nothing; an
//   attribute named `xmlns:` (or `xmlns:1`) is an ordinary attribute.
// Fatal, as in libxml2: the same declaration twice on one element, and a name that libxml2
// stops reading part way (`p:l:` followed by a character that cannot start a name), which
// breaks the start tag. Both come through `fail`.
import { MAX_NAME_LENGTH, attrValue, startsName, startsNcName, type Fail } from "./xml-text.js";

export const XML_NS = "http://www.w3.org/XML/1998/namespace";
export const XMLNS_NS = "http://www.w3.org/2000/xmlns/";

/** A start tag's attributes as the scanner holds them: names, where each name and value starts, where each value ends. */
export interface TagAttributes {
  readonly keys: readonly string[];
  readonly keyAt: readonly number[];
  readonly valueStart: readonly number[];
  readonly valueEnd: readonly number[];
  readonly count: number;
}

/** Whether an ASCII character may start a name without ':' (the others: startsNcName). */
function asciiNcNameStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f;
}

/** Whether an attribute, by name as written, is a namespace declaration: `xmlns`, or `xmlns:` and a prefix. */
export function isDeclaration(key: string): boolean {
  if (key.charCodeAt(0) !== 0x78 || !key.startsWith("xmlns")) return false;
  return key.length === 5 || (key.charCodeAt(5) === 0x3a && (asciiNcNameStart(key.charCodeAt(6)) || startsNcName(key, 6)));
}

/**
 * Where the prefix of a name with a ':' ends, as xmlParseQName reads it: the offset of its colon,
 * or -1 when libxml2 reads the name without a prefix. Refuses, as libxml2 does, a part longer
 * than MAX_NAME_LENGTH and a second ':' followed by a character that cannot start a name.
 * `at` is where the name stands in the text.
 */
export function prefixColon(name: string, at: number, fail: Fail): number {
  const c = name.indexOf(":");
  // Nearly all: `p:l` with an ASCII letter after the colon, and parts within the limit.
  if (c > 0 && c <= MAX_NAME_LENGTH && asciiNcNameStart(name.charCodeAt(c + 1)) && name.indexOf(":", c + 1) === -1 && name.length - c - 1 <= MAX_NAME_LENGTH) {
    return c;
  }
  return readPrefix(name, c, at, fail);
}

/** prefixColon() for the rest, `c` the offset of the name's first ':'. */
function readPrefix(name: string, c: number, at: number, fail: Fail): number {
  const long = (offset: number): never => fail(`a name longer than ${MAX_NAME_LENGTH} characters (libxml2's limit)`, offset);
  if (c <= 0) {
    // No ':' (its length is the scanner's), or a name starting with one: read whole.
    if (name.length > MAX_NAME_LENGTH) long(at);
    return -1;
  }
  if (c > MAX_NAME_LENGTH) long(at);
  const rest = name.length - c - 1;
  if (!startsNcName(name, c + 1)) {
    // `p:` and a name token: the whole name, without a prefix.
    if (rest > MAX_NAME_LENGTH) long(at + c + 1);
    return -1;
  }
  const c2 = name.indexOf(":", c + 1);
  if (c2 === -1) {
    if (rest > MAX_NAME_LENGTH) long(at + c + 1);
    return c;
  }
  // `p:l:...`: after the second ':' libxml2 reads a name, which must start right there.
  if (c2 - c - 1 > MAX_NAME_LENGTH) long(at + c + 1);
  if (c2 + 1 < name.length && !startsName(name, c2 + 1)) {
    fail(`'${name}' is not a name libxml2 can read: its second ':' is followed by '${name[c2 + 1] ?? ""}', which cannot start a name`, at + c2 + 1);
  }
  if (name.length - c2 - 1 > MAX_NAME_LENGTH) long(at + c2 + 1);
  return c;
}

/**
 * The namespace declarations in scope while the scanner reads a document, and what resolve()
 * found for the last start tag. Declarations are pushed by resolve() and taken back with
 * truncate() when their element ends.
 */
export class Namespaces {
  /** Bindings in scope, innermost last ("" is the default namespace; "" as URI: none). */
  private readonly prefixes: string[] = [];
  private readonly uris: string[] = [];
  /** Set by resolve(): see XmlElement's fields of the same names. */
  ns: string | undefined;
  prefixedAttrs = false;
  /** Set by resolve(): where the local name starts in the tag's name (0: the whole name). */
  private localFrom = 0;

  constructor(
    private readonly text: string,
    private readonly fail: Fail,
  ) {}

  /**
   * How many bindings are in scope: the mark to truncate() to when the element ends. A field
   * rather than a getter: the scanner reads it for every element.
   */
  size = 0;

  /** Takes back the bindings made since `mark` (the scanner calls it only when there are some). */
  truncate(mark: number): void {
    this.prefixes.length = mark;
    this.uris.length = mark;
    this.size = mark;
  }

  /**
   * Reads a start tag's names: binds its declarations, resolves the element's name and checks
   * its attributes' names (attributeNamespaces() resolves them, for the elements kept).
   * `duplicate`: some declaration is written twice (the scanner lets that through, as only a
   * declaration that binds may not be repeated).
   */
  resolve(name: string, lt: number, tag: TagAttributes, duplicate: boolean): void {
    const { count } = tag;
    const colon = name.indexOf(":");
    this.prefixedAttrs = false;
    this.localFrom = 0;
    // Most elements: no attributes, no prefix, no declarations in scope.
    if (count === 0 && this.size === 0 && colon === -1) {
      this.ns = undefined;
      return;
    }
    const { keys, keyAt } = tag;
    const mark = this.prefixes.length;
    let prefixed = 0;
    for (let i = 0; i < count; i++) {
      const key = keys[i] as string;
      // The first character rules out nearly every attribute without a call.
      if (key.charCodeAt(0) === 0x78 && isDeclaration(key)) {
        if (key.length > 5) prefixColon(key, keyAt[i] as number, this.fail);
        this.declare(key, i, tag, mark, duplicate);
      } else if (key.indexOf(":") !== -1) prefixed++;
    }
    const c = colon === -1 ? -1 : prefixColon(name, lt + 1, this.fail);
    if (c === -1) {
      const uri = this.size === 0 ? "" : this.lookup("");
      this.ns = uri === "" ? undefined : uri;
    } else {
      this.ns = this.lookup(name.slice(0, c));
      if (this.ns !== undefined) this.localFrom = c + 1;
    }
    if (prefixed === 0) return;
    this.prefixedAttrs = true;
    for (let i = 0; i < count; i++) {
      const key = keys[i] as string;
      if (key.indexOf(":") !== -1 && !isDeclaration(key)) prefixColon(key, keyAt[i] as number, this.fail);
    }
  }

  /** The local name of the tag resolve() read last, given its name. */
  localName(name: string): string {
    return this.localFrom === 0 ? name : name.slice(this.localFrom);
  }

  /**
   * The namespace of each attribute of the tag resolve() read last whose prefix is declared, by
   * name as written; undefined when there is none. Only for elements kept: most are not, and
   * they need no record.
   */
  attributeNamespaces(tag: TagAttributes): Record<string, string> | undefined {
    if (!this.prefixedAttrs) return undefined;
    let found: Record<string, string> | undefined;
    for (let i = 0; i < tag.count; i++) {
      const key = tag.keys[i] as string;
      if (key.indexOf(":") === -1 || isDeclaration(key)) continue;
      const k = prefixColon(key, tag.keyAt[i] as number, this.fail);
      const uri = k === -1 ? undefined : this.lookup(key.slice(0, k));
      if (uri !== undefined) (found ??= {})[key] = uri;
    }
    return found;
  }

  /** Binds a declaration unless libxml2 skips it (a namespace error); refuses one bound twice. */
  private declare(key: string, i: number, tag: TagAttributes, mark: number, duplicate: boolean): void {
    const prefix = key.length === 5 ? "" : key.slice(6);
    const uri = attrValue(this.text.slice(tag.valueStart[i], tag.valueEnd[i]));
    if (prefix === "") {
      if (uri === XML_NS || uri === XMLNS_NS) return;
    } else if (prefix === "xml" || prefix === "xmlns" || uri === XML_NS || uri === XMLNS_NS || uri === "") return;
    if (duplicate) {
      for (let j = mark; j < this.prefixes.length; j++) {
        if (this.prefixes[j] === prefix) this.fail(`attribute '${key}' is given twice`, tag.keyAt[i] as number);
      }
    }
    this.prefixes.push(prefix);
    this.size = this.uris.push(uri);
  }

  /** The URI a prefix is bound to where the scan stands ("" for the default namespace when none). */
  lookup(prefix: string): string | undefined {
    if (prefix === "xml") return XML_NS;
    for (let i = this.prefixes.length - 1; i >= 0; i--) if (this.prefixes[i] === prefix) return this.uris[i];
    return prefix === "" ? "" : undefined;
  }
}
