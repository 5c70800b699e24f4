// The NICs of a document as the scanner finds them: which elements the transformation keeps,
// and a table of numbers per NIC (where it stands, and the attributes libvirt reads of it) that
// holds tens of thousands of NICs until the metadata that may follow them has been read.
import { METADATA_NS } from "./constants.js";
import type { FilterParameter } from "./filter-params.js";
import { attr, attrKey, attrValue, child, children, valueStart, type Retain, type XmlElement } from "./xml.js";

/** What <interface> children judge() reads. */
const NIC_CHILDREN: ReadonlySet<string> = new Set(["mac", "source", "filterref", "virtualport", "target"]);

/**
 * The elements transform reads, and no others: a domain's <name>, <devices> and <metadata>,
 * the <interface>s of every <devices>, what judge() reads of each (the filterref's <parameter>s
 * too), and this product's policy elements in <metadata>. Everything else (a large <metadata>
 * of the user's, say) is checked by the scanner and not kept, so that memory does not grow with it.
 */
export const retainNics: Retain = (parent, name, ns) => {
  // Inside a policy element everything is kept, so that the metadata reader refuses what it does
  // not know; such an element is kept only inside <metadata> (below), and so are its children.
  if (parent.ns === METADATA_NS) return true;
  const grand = parent.parent;
  if (grand === undefined) {
    // The root's children; a lone <interface>'s are what judge() reads.
    if (ns !== undefined) return false;
    return parent.name === "interface" ? NIC_CHILDREN.has(name) : name === "name" || name === "devices" || name === "metadata";
  }
  if (parent.name === "filterref" && parent.ns === undefined) return name === "parameter" && ns === undefined;
  if (grand.parent === undefined) {
    if (parent.name === "metadata" && parent.ns === undefined) return ns === METADATA_NS;
    return parent.name === "devices" && parent.ns === undefined && name === "interface" && ns === undefined;
  }
  if (grand.parent.parent !== undefined) return false;
  return parent.name === "interface" && ns === undefined && NIC_CHILDREN.has(name);
};

/** What judge() and the splice need of an <interface>, read as libvirt reads it. */
export interface Nic {
  start: number;
  tagEnd: number;
  closeStart: number;
  end: number;
  firstChild: number;
  type: string;
  mac: string | undefined;
  network: string | undefined;
  portgroup: string | undefined;
  bridge: string | undefined;
  sourceDev: string | undefined;
  targetDev: string | undefined;
  /** The first filterref's filter attribute ("" when it has none); undefined: no filterref. */
  filter: string | undefined;
  /** Where that attribute's value is written, and its length as written (-1: nowhere). */
  filterAt: number;
  filterLength: number;
  /** Where the first filterref stands (-1: there is none). */
  refStart: number;
  refEnd: number;
  /** Its <parameter name value> children, as libvirt reads them. */
  parameters: FilterParameter[];
  virtualport: boolean;
}

// The table's columns, 32-bit integers all: where the NIC stands, and for each attribute judge()
// reads, a pair: -1 when there is none; -2 - i for the i-th of the values shared by many NICs;
// else where the value is written and its length as written.
const START = 0;
const TAG_END = 1;
const CLOSE_START = 2;
const END = 3;
const FIRST_CHILD = 4;
const FLAGS = 5;
const TYPE = 6;
const MAC = 8;
const NETWORK = 10;
const PORTGROUP = 12;
const BRIDGE = 14;
const SOURCE_DEV = 16;
const TARGET_DEV = 18;
const FILTER = 20;
const REF_START = 22;
const REF_END = 23;
const COLUMNS = 24;
// FLAGS bits.
const HAS_FILTERREF = 1;
const HAS_VIRTUALPORT = 2;
/** Distinct values shared at most: types, bridges and networks repeat from NIC to NIC. */
const SHARED = 256;

/**
 * The NICs of a document as they are found, as numbers rather than objects and strings: a domain
 * may have 65,536 NICs, all kept until the metadata that may follow them has been read, and
 * numbers in one typed array cost the garbage collector nothing. A value that repeats is kept
 * once; the others (MACs, and the filter, whose position the splice needs) are read from the
 * text again when the NIC is judged.
 */
export class NicTable {
  length = 0;
  private table = new Int32Array(COLUMNS * 16);
  private readonly values: string[] = [];
  private readonly ids = new Map<string, number>();
  /** The filterref parameters of the NICs that have any (few do), by NIC. */
  private readonly params = new Map<number, FilterParameter[]>();

  constructor(private readonly text: string) {}

  add(e: XmlElement): void {
    if (this.table.length < (this.length + 1) * COLUMNS) {
      const grown = new Int32Array(this.table.length * 2);
      grown.set(this.table);
      this.table = grown;
    }
    const t = this.table;
    const o = this.length++ * COLUMNS;
    const source = child(e, "source");
    const ref = child(e, "filterref");
    t[o + START] = e.start;
    t[o + TAG_END] = e.tagEnd;
    t[o + CLOSE_START] = e.closeStart;
    t[o + END] = e.end;
    t[o + FIRST_CHILD] = e.firstChild;
    t[o + FLAGS] = (ref ? HAS_FILTERREF : 0) | (child(e, "virtualport") ? HAS_VIRTUALPORT : 0);
    this.value(o + TYPE, e, "type", true);
    this.value(o + MAC, child(e, "mac"), "address", false);
    this.value(o + NETWORK, source, "network", true);
    this.value(o + PORTGROUP, source, "portgroup", true);
    this.value(o + BRIDGE, source, "bridge", true);
    this.value(o + SOURCE_DEV, source, "dev", true);
    this.value(o + TARGET_DEV, child(e, "target"), "dev", false);
    this.value(o + FILTER, ref, "filter", false);
    t[o + REF_START] = ref ? ref.start : -1;
    t[o + REF_END] = ref ? ref.end : -1;
    if (ref && ref.children.length > 0) {
      const list: FilterParameter[] = [];
      for (const p of children(ref, "parameter")) {
        const name = attr(p, "name");
        const value = attr(p, "value");
        if (name !== undefined && value !== undefined) list.push({ name, value });
      }
      if (list.length > 0) this.params.set(this.length - 1, list);
    }
  }

  /** The NIC at `i`, as a record for judging it (made anew, and let go once judged). */
  get(i: number): Nic {
    const t = this.table;
    const o = i * COLUMNS;
    const flags = t[o + FLAGS] as number;
    return {
      start: t[o + START] as number,
      tagEnd: t[o + TAG_END] as number,
      closeStart: t[o + CLOSE_START] as number,
      end: t[o + END] as number,
      firstChild: t[o + FIRST_CHILD] as number,
      type: this.read(o + TYPE) ?? "",
      mac: this.read(o + MAC)?.toLowerCase(),
      network: this.read(o + NETWORK),
      portgroup: this.read(o + PORTGROUP),
      bridge: this.read(o + BRIDGE),
      sourceDev: this.read(o + SOURCE_DEV),
      targetDev: this.read(o + TARGET_DEV),
      filter: flags & HAS_FILTERREF ? (this.read(o + FILTER) ?? "") : undefined,
      filterAt: t[o + FILTER] as number,
      filterLength: t[o + FILTER] === -1 ? -1 : (t[o + FILTER + 1] as number),
      refStart: t[o + REF_START] as number,
      refEnd: t[o + REF_END] as number,
      parameters: this.params.get(i) ?? [],
      virtualport: (flags & HAS_VIRTUALPORT) !== 0,
    };
  }

  /** Records the attribute libvirt reads for `name`, if any: shared, or where it is written. */
  private value(at: number, el: XmlElement | undefined, name: string, share: boolean): void {
    const t = this.table;
    const key = el && attrKey(el, name);
    if (el === undefined || key === undefined) {
      t[at] = -1;
      return;
    }
    const raw = el.attrs[key] as string;
    if (share) {
      const value = attrValue(raw);
      let id = this.ids.get(value);
      if (id === undefined && this.values.length < SHARED) {
        id = this.values.push(value) - 1;
        this.ids.set(value, id);
      }
      if (id !== undefined) {
        t[at] = -2 - id;
        return;
      }
    }
    t[at] = valueStart(this.text, el, key);
    t[at + 1] = raw.length;
  }

  /** The attribute recorded at `at`, as libvirt reads it (normalised, references decoded). */
  private read(at: number): string | undefined {
    const start = this.table[at] as number;
    if (start === -1) return undefined;
    if (start < -1) return this.values[-2 - start];
    return attrValue(this.text.slice(start, start + (this.table[at + 1] as number)));
  }
}
