// The variables a filter needs, found as libvirt finds them (src/nwfilter/nwfilter_gentech_driver.c,
// virNWFilterDetermineMissingVarsRec): every rule's attributes that read `$NAME`, `$NAME[N]` or
// `$NAME[@N]`, through the filters it includes (`<filterref>` inside a filter), whose own
// `<parameter>`s stand in for the including filter's variables of that name. libvirt then gives
// MAC itself, learns IP when it is the only one missing (unless CTRL_IP_LEARNING = none), and
// fails the start on anything else: "Cannot instantiate filter due to unresolvable variables",
// naming what is missing besides IP.
// Definitions come through HostFacts (the hook reads /etc/libvirt/nwfilter/NAME.xml); each
// filter is read and walked once per walker, and only when a NIC needs it.
import { XmlError } from "./errors.js";
import { MAC_VARIABLE, byName, type FilterParameter } from "./filter-params.js";
import type { HostFacts } from "./host-facts.js";
import type { FilterProblem } from "./nic-report.js";
import { attr, children, parseXml, type XmlElement } from "./xml.js";

/** One use of a variable by a rule: `$NAME` (index undefined), `$NAME[N]` (needs N + 1 values), `$NAME[@N]`. */
export interface VarUse {
  name: string;
  index: number | undefined;
  /** As libvirt prints it in its error: NAME, NAME[N] or NAME[@N]. */
  key: string;
  /** Left unresolved by an include's own parameter of that name, whatever the NIC gives. */
  always: boolean;
}

export interface FilterTree {
  /** What the filter's rules need from the NIC's parameters. */
  uses: VarUse[];
  /** Every filter in the tree, itself included. */
  filters: Set<string>;
  /** A filter of the tree that is not defined on this host, and the includes that lead to it. */
  undefinedFilter?: { name: string; via: string[] };
}

const IP = "IP";
const LEARNING = "CTRL_IP_LEARNING";

/** `NAME`, `NAME[N]` or `NAME[@N]` after the `$` (virNWFilterVarAccessParse); undefined when libvirt would not read it. */
function parseUse(access: string): VarUse | undefined {
  const m = /^([a-zA-Z0-9_]+)(?:\[\s*(@?)\s*(\d+)\s*\])?$/.exec(access);
  if (!m) return undefined;
  const name = m[1] as string;
  if (m[3] === undefined) return { name, index: undefined, key: name, always: false };
  const n = Number(m[3]);
  if (m[2] === "@") return { name, index: undefined, key: n === 0 ? name : `${name}[@${n}]`, always: false };
  return { name, index: n, key: `${name}[${n}]`, always: false };
}

function available(use: VarUse, vars: ReadonlyMap<string, readonly string[]>): boolean {
  const values = vars.get(use.name);
  if (values === undefined) return false;
  return use.index === undefined || values.length > use.index;
}

export class FilterWalker {
  private readonly trees = new Map<string, FilterTree>();
  /** Answers for a filter with given parameters: most NICs of a domain ask the same question. */
  private readonly answers = new Map<string, FilterProblem | undefined>();

  constructor(private readonly host: HostFacts) {}

  /** The filter's tree, walked once; a filter that is not defined has an `undefinedFilter` of its own name. */
  tree(name: string): FilterTree {
    return this.walk(name, new Set());
  }

  private walk(name: string, visiting: Set<string>): FilterTree {
    const known = this.trees.get(name);
    if (known) return known;
    const tree: FilterTree = { uses: [], filters: new Set([name]) };
    const def = this.host.filter(name);
    if (def === undefined) {
      tree.undefinedFilter = { name, via: [] };
      this.trees.set(name, tree);
      return tree;
    }
    const root = parseXml(def.text, def.path);
    if (root.name !== "filter") throw new XmlError(`expected an nwfilter definition (<filter>), found <${root.name}>`, { file: def.path });
    visiting.add(name);
    for (const entry of root.children) {
      if (entry.ns !== undefined) continue;
      if (entry.name === "rule") for (const proto of entry.children) ruleUses(proto, tree.uses);
      else if (entry.name === "filterref") this.include(entry, tree, visiting);
    }
    visiting.delete(name);
    this.trees.set(name, tree);
    return tree;
  }

  /** An included filter's needs, less what the include's own parameters give it. */
  private include(ref: XmlElement, tree: FilterTree, visiting: Set<string>): void {
    const inner = attr(ref, "filter");
    // libvirt refuses a definition that includes itself, directly or not: nothing to follow.
    if (inner === undefined || visiting.has(inner)) return;
    const sub = this.walk(inner, visiting);
    for (const f of sub.filters) tree.filters.add(f);
    if (sub.undefinedFilter && !tree.undefinedFilter) tree.undefinedFilter = { name: sub.undefinedFilter.name, via: [inner, ...sub.undefinedFilter.via] };
    const params: FilterParameter[] = [];
    for (const p of children(ref, "parameter")) {
      const n = attr(p, "name");
      const v = attr(p, "value");
      if (n !== undefined && v !== undefined) params.push({ name: n, value: v });
    }
    const given = byName(params);
    for (const use of sub.uses) {
      if (use.always || !given.has(use.name)) addUse(tree.uses, use);
      else if (!available(use, given)) addUse(tree.uses, { ...use, always: true });
    }
  }

  /**
   * Why libvirt would refuse `filter` with these parameters on a NIC, or undefined when it would
   * not: a filter of the tree not defined here, or variables that are neither given nor learned.
   */
  problem(filter: string, parameters: readonly FilterParameter[]): FilterProblem | undefined {
    const key = parameters.length === 0 ? filter : `${filter}\0${parameters.map((p) => `${p.name}=${p.value}`).join("\0")}`;
    if (this.answers.has(key)) return this.answers.get(key);
    const answer = this.judge(filter, parameters);
    this.answers.set(key, answer);
    return answer;
  }

  private judge(filter: string, parameters: readonly FilterParameter[]): FilterProblem | undefined {
    const tree = this.tree(filter);
    if (tree.undefinedFilter) return { kind: "undefined", filter, missing: tree.undefinedFilter.name, via: tree.undefinedFilter.via };
    if (tree.uses.length === 0) return undefined;
    const vars = byName(parameters);
    if (!vars.has(MAC_VARIABLE)) vars.set(MAC_VARIABLE, ["(the interface's)"]);
    const missing: string[] = [];
    for (const use of tree.uses) if ((use.always || !available(use, vars)) && !missing.includes(use.key)) missing.push(use.key);
    if (missing.length === 0) return undefined;
    const learning = vars.get(LEARNING)?.[0] ?? "any";
    const mode = learning.toLowerCase();
    const others = missing.filter((k) => k !== IP);
    if (others.length === 0) {
      if (mode === "any" || mode === "dhcp") return undefined;
      if (mode !== "none") return { kind: "learning", filter, value: learning };
      return { kind: "variables", filter, missing };
    }
    // libvirt fails while anything besides IP is missing, and names only the others: once they
    // are given, it learns IP (unless CTRL_IP_LEARNING = none).
    return { kind: "variables", filter, missing: mode === "none" ? missing : others };
  }
}

/** The variables one protocol element of a rule reads: attribute values that start with `$`. */
function ruleUses(proto: XmlElement, into: VarUse[]): void {
  if (proto.ns !== undefined) return;
  for (const key of Object.keys(proto.attrs)) {
    const value = attr(proto, key);
    if (value === undefined || value[0] !== "$") continue;
    const use = parseUse(value.slice(1));
    if (use) addUse(into, use);
  }
}

function addUse(into: VarUse[], use: VarUse): void {
  if (!into.some((u) => u.key === use.key && u.always === use.always)) into.push(use);
}
