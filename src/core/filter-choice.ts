// The filter a NIC must carry, with its parameters. Levels, most specific first: the NIC's own
// metadata, the first [domain:GLOB] that matches the domain's name, [network:NAME] (NICs of type
// network), [bridge:NAME] (bridge NICs, and network NICs through their network's bridge), and the
// policy's default Filter. The filter is that of the most specific level that names one (`none`:
// no filter is required). The parameters are merged from that level and every more specific one,
// and further down through levels that name the same filter (or none) until one names another:
// for a name given at several of them, the most specific level's values win, all of them.
import { DEFAULT_FILTER } from "./constants.js";
import type { NicMetadata } from "./exemptions.js";
import type { FilterParameter } from "./filter-params.js";
import { globMatcher } from "./glob.js";
import type { Policy } from "./policy.js";
import { choiceLabel, type ChoiceSection } from "./policy-sections.js";

export interface Choice {
  /** The filter; null: none is required. */
  filter: string | null;
  parameters: FilterParameter[];
  /** The level that named the filter: "[network:prod]", "the domain's metadata", "the default Filter". */
  from: string;
}

/** One level of the choice: a section, the NIC's metadata or the default. */
export interface Level {
  filter: string | null | undefined;
  parameters: readonly FilterParameter[];
  label: string;
}

export const METADATA_LEVEL = "the interface's metadata";
export const DEFAULT_LEVEL = "the default Filter";

/**
 * Chooses for the NICs of one domain. A NIC without metadata of its own gets the choice of its
 * (network, bridge), made once: many NICs share a few networks.
 */
export class Chooser {
  private readonly domain: Level | undefined;
  private readonly networks = new Map<string, ChoiceSection>();
  private readonly bridges = new Map<string, ChoiceSection>();
  private readonly byPlace = new Map<string, Choice>();
  private readonly base: Level;

  constructor(
    policy: Policy,
    domainName: string | undefined,
    private readonly metadata: ReadonlyMap<string, NicMetadata>,
  ) {
    this.base = { filter: policy.filter, parameters: [], label: DEFAULT_LEVEL };
    for (const s of policy.sections) {
      if (s.kind === "network") this.networks.set(s.name, s);
      else if (s.kind === "bridge") this.bridges.set(s.name, s);
    }
    // The first [domain:GLOB] in the file that matches the name.
    if (domainName !== undefined) {
      const match = policy.sections.find((s) => s.kind === "domain" && globMatcher([s.name])(domainName));
      if (match) this.domain = level(match);
    }
  }

  /** The choice for a NIC: its MAC (lower case), its network (type network) and its bridge. */
  choose(mac: string | undefined, network: string | undefined, bridge: string | undefined): Choice {
    const own = mac === undefined ? undefined : this.metadata.get(mac);
    const key = `${network ?? ""}\0${bridge ?? ""}`;
    if (own === undefined) {
      const known = this.byPlace.get(key);
      if (known) return known;
    }
    const levels: Level[] = [];
    if (own) levels.push({ filter: own.filter, parameters: own.parameters, label: METADATA_LEVEL });
    if (this.domain) levels.push(this.domain);
    const net = network === undefined ? undefined : this.networks.get(network);
    if (net) levels.push(level(net));
    const br = bridge === undefined ? undefined : this.bridges.get(bridge);
    if (br) levels.push(level(br));
    levels.push(this.base);
    const choice = resolve(levels);
    if (own === undefined) this.byPlace.set(key, choice);
    return choice;
  }
}

export function level(s: ChoiceSection): Level {
  return { filter: s.filter, parameters: s.parameters, label: choiceLabel(s) };
}

/** The choice the levels make, most specific first; the last must name a filter (the default). */
export function resolve(levels: readonly Level[]): Choice {
  const k = levels.findIndex((l) => l.filter !== undefined);
  const chosen = levels[k] as Level;
  const filter = chosen.filter as string | null;
  if (filter === null) return { filter: null, parameters: [], from: chosen.label };
  // The last level that still feeds this filter: below the chosen one, levels that name the same
  // filter, or none, until one names another.
  let last = k;
  for (let j = k + 1; j < levels.length; j++) {
    const f = (levels[j] as Level).filter;
    if (f === filter) last = j;
    else if (f !== undefined) break;
  }
  const parameters: FilterParameter[] = [];
  const given = new Set<string>();
  for (let j = 0; j <= last; j++) {
    const own = (levels[j] as Level).parameters;
    const names = new Set<string>();
    for (const p of own) {
      if (given.has(p.name)) continue;
      names.add(p.name);
      parameters.push(p);
    }
    for (const n of names) given.add(n);
  }
  return { filter, parameters, from: chosen.label };
}

/**
 * The filters this policy (and a domain's trusted metadata) manages: a NIC that references one
 * of them but not its own choice is stale, not foreign, so that a change of the policy moves it.
 */
export function managedFilters(policy: Policy, metadata: ReadonlyMap<string, NicMetadata>): Set<string> {
  const out = new Set<string>([policy.filter, DEFAULT_FILTER]);
  for (const s of policy.sections) if (typeof s.filter === "string") out.add(s.filter);
  for (const f of policy.formerFilters ?? []) out.add(f);
  for (const m of metadata.values()) if (typeof m.filter === "string") out.add(m.filter);
  return out;
}
