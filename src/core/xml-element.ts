// What the scanner (xml-scanner.ts) gives back: elements with their names, namespaces, raw
// attributes and positions in the text, and how a caller chooses which elements to keep.

export interface XmlElement {
  /** Qualified name as written, prefix included. */
  name: string;
  /**
   * The namespace URI the element is in, as libxml2 resolves it: its prefix's, or for a name
   * without a prefix the default namespace in scope. A prefix that is not declared leaves the
   * element in no namespace, its name the whole qualified name.
   */
  ns: string | undefined;
  /**
   * The name libxml2 gives the element (what libvirt and XPath's local-name() see): the part
   * after its prefix when the prefix is declared, else the name as written (`p:l:m` with `p`
   * declared is `l:m`; `undeclared:interface`, `:a` and `a:1` are themselves).
   */
  local: string;
  /** Attribute values as written: entity and character references are not decoded here. */
  attrs: Readonly<Record<string, string>>;
  /** Whether an attribute other than a namespace declaration has a ':' in its name. */
  prefixedAttrs: boolean;
  /**
   * The namespace of each attribute whose prefix is declared, by name as written; undefined
   * when no attribute is in a namespace. Attributes never take the default namespace.
   */
  attrNs: Readonly<Record<string, string>> | undefined;
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
 * not kept is still checked, but no element is built for it or for anything inside it. `name`
 * is the child's name as written, `ns` its namespace.
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
