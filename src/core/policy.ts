// The policy: parsed from INI text by `ini`, then validated strictly, because a typo that
// silently switched the protection off would be worse than a refused start.
import { decode } from "ini";
import { DEFAULT_FILTER, MIN_CLUSTER_LEVEL } from "./constants.js";
import { PolicyError } from "./errors.js";
import { locate, withoutLines, type Located } from "./policy-lines.js";
import { readChoices, type ChoiceSection } from "./policy-sections.js";

export { locate, type Located } from "./policy-lines.js";
export type { ChoiceKind, ChoiceSection } from "./policy-sections.js";

/**
 * enforce: refuse a start that lacks the filter; audit: log it and let it start; watch: let it
 * start only while a healthy watcher (`nwfilter-hook watch`) is there to protect it live,
 * otherwise refuse it as enforce does.
 */
export type OnMissing = "enforce" | "audit" | "watch";
export type OnExisting = "keep" | "replace";
/**
 * trust: a domain's metadata may exempt its NICs and choose their filters and parameters;
 * ignore: the policy file is the only judge (for hosts whose domain writers are not its admins).
 */
export type DomainMetadata = "trust" | "ignore";

export interface Policy {
  /** Where the policy came from: a path, or "(built-in defaults)". */
  source: string;
  enabled: boolean;
  clusterLevel: string;
  filter: string;
  onMissing: OnMissing;
  onExisting: OnExisting;
  /** Seconds between the watcher's full resyncs. */
  resyncInterval: number;
  domainMetadata: DomainMetadata;
  /** [network:NAME], [bridge:NAME] and [domain:GLOB], in file order. */
  sections: ChoiceSection[];
  /**
   * Filters an earlier policy chose (the watcher's, across reloads): a NIC that still carries one
   * is stale, not foreign, so that the new choice reaches it.
   */
  formerFilters?: readonly string[];
  exempt: {
    domains: string[];
    networks: string[];
    bridges: string[];
    /** Lower-case, colon-separated. */
    macs: string[];
  };
}

export const DEFAULT_POLICY: Policy = Object.freeze({
  source: "(built-in defaults)",
  enabled: true,
  clusterLevel: "4.7",
  filter: DEFAULT_FILTER,
  onMissing: "enforce",
  onExisting: "keep",
  resyncInterval: 600,
  domainMetadata: "trust",
  sections: Object.freeze([]) as unknown as ChoiceSection[],
  exempt: Object.freeze({ domains: [], networks: [], bridges: [], macs: [] }),
});

/** Whether the policy asks for filtering at all: switched on, at a cluster level that has it. */
export function isActive(policy: Policy): boolean {
  return policy.enabled && compareVersions(policy.clusterLevel, MIN_CLUSTER_LEVEL) >= 0;
}

/** Numeric per component: 3.10 > 3.2, 3.2 == 3.2.0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

const VERSION_RE = /^\d{1,9}(\.\d{1,9})*$/;
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
/** libvirt nwfilter names; also keeps the name safe inside an XML attribute. */
export const FILTER_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/;

type Kind = "boolean" | "version" | "filter" | "onMissing" | "onExisting" | "seconds" | "domainMetadata" | "list" | "macs";

/** ResyncInterval's range: often enough to matter, rarely enough not to load the daemon. */
export const RESYNC_MIN_SECONDS = 10;
export const RESYNC_MAX_SECONDS = 86_400;

const SCHEMA: Record<string, Record<string, Kind>> = {
  filtering: {
    EnableMACAntiSpoofingFilterRules: "boolean",
    ClusterLevel: "version",
    Filter: "filter",
    OnMissing: "onMissing",
    OnExisting: "onExisting",
    ResyncInterval: "seconds",
    DomainMetadata: "domainMetadata",
  },
  exempt: {
    Domains: "list",
    Networks: "list",
    Bridges: "list",
    MACs: "macs",
  },
};

/**
 * What ini's decode() gives (with bracketedArray false) for a policy written the plain way, or
 * undefined when a line uses what only ini's own reading settles: quotes, backslashes, inline
 * comments, dotted sections, a key twice, `__proto__`. The hook reads the policy at every VM
 * start, and decode() compiles its expressions (a case-insensitive one among them) in every
 * process, where a startup snapshot keeps none of them compiled: about a tenth of the hook's own
 * work at prepare. Line by line this is ini's grammar, `^\[([^\]]*)\]\s*$|^([^=]+)(=(.*))?$` with
 * its comment and blank lines, on the lines that grammar reads alike with and without ini's
 * unquoting; test/unit/core/policy.test.ts compares the two on generated texts.
 */
export function decodePlain(text: string): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  let into = out;
  const seen = new Set<string>();
  for (let start = 0; start < text.length;) {
    let end = start;
    while (end < text.length && text[end] !== "\n" && text[end] !== "\r") end++;
    const line = text.slice(start, end);
    start = end + 1;
    const trimmed = line.trim();
    if (trimmed === "" || trimmed[0] === ";" || trimmed[0] === "#") continue;
    for (const c of ['"', "'", "\\", ";", "#", "\u2028", "\u2029", "__proto__"]) if (line.includes(c)) return undefined;
    if (line[0] === "[") {
      const body = line.trimEnd();
      if (body.indexOf("]") !== body.length - 1) return undefined;
      const name = body.slice(1, -1).trim();
      if (name.includes(".")) return undefined;
      // ini keeps a truthy value already under that name and writes into it: left to ini.
      const existing = out[name];
      if (existing && typeof existing !== "object") return undefined;
      into = (existing as Record<string, unknown> | undefined) || (out[name] = Object.create(null) as Record<string, unknown>);
      continue;
    }
    const eq = line.indexOf("=");
    if (eq <= 0 || trimmed[0] === "[") return undefined;
    const key = line.slice(0, eq).trim();
    // ini nests a dotted name at the top, keys outside any section included.
    if (into === out && key.includes(".")) return undefined;
    // ini counts a key's uses across the whole file, and makes an array of the second.
    if (seen.has(key)) return undefined;
    seen.add(key);
    const value = line.slice(eq + 1).trim();
    into[key] = value === "true" ? true : value === "false" ? false : value === "null" ? null : value;
  }
  return out;
}

function lookup(schema: Record<string, unknown>, name: string): string | undefined {
  const lower = name.toLowerCase();
  return Object.keys(schema).find((k) => k.toLowerCase() === lower);
}

function splitList(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/**
 * Parses and validates a policy file's text. Section and key names are matched without regard to
 * case; everything unknown or malformed is a PolicyError naming the file, line and key.
 */
export function parsePolicy(text: string, file: string): Policy {
  const { sections, keys, choices, choiceLines } = locate(text, file);
  // ini reads what is left once the choice sections' lines are emptied (policy-sections.ts).
  const rest = withoutLines(text, choiceLines);
  const decoded = decodePlain(rest) ?? decode(rest, { bracketedArray: false });

  const policy: Policy = {
    ...DEFAULT_POLICY,
    source: file,
    sections: choices.length === 0 ? [] : readChoices(choices, file, FILTER_NAME_RE),
    exempt: { domains: [], networks: [], bridges: [], macs: [] },
  };

  for (const [sectionName, sectionValue] of Object.entries(decoded)) {
    if (sectionValue === null || typeof sectionValue !== "object" || Array.isArray(sectionValue)) {
      const at = keys.get(`\0${sectionName.toLowerCase()}`);
      throw new PolicyError(
        `key '${sectionName}' is outside any section (expected under [filtering], [exempt] or a [network:NAME], [bridge:NAME] or [domain:GLOB])`,
        {
          file,
          line: at?.line,
        },
      );
    }
    const known = lookup(SCHEMA, sectionName);
    const sectionLine = sections.get(sectionName.toLowerCase())?.line ?? findNestedSectionLine(sections, sectionName.toLowerCase());
    if (known === undefined) {
      throw new PolicyError(`unknown section [${sectionName}] (known: [filtering], [exempt], [network:NAME], [bridge:NAME], [domain:GLOB])`, {
        file,
        line: sectionLine,
      });
    }
    const schema = SCHEMA[known] ?? {};
    for (const [keyName, value] of Object.entries(sectionValue as Record<string, unknown>)) {
      const line = keys.get(`${sectionName.toLowerCase()}\0${keyName.toLowerCase()}`)?.line ?? sectionLine;
      const where = { file, line };
      const key = lookup(schema, keyName);
      if (key === undefined || (typeof value === "object" && value !== null)) {
        // An object here is a dotted section that ini nested ([filtering.x]).
        const what = typeof value === "object" && value !== null ? `section [${sectionName}.${keyName}]` : `key '${keyName}' in [${known}]`;
        throw new PolicyError(`unknown ${what} (known: ${Object.keys(schema).join(", ")})`, where);
      }
      applyKey(policy, key, schema[key] as Kind, value, where);
    }
  }
  return policy;
}

function findNestedSectionLine(sections: Map<string, Located>, name: string): number | undefined {
  for (const [raw, at] of sections) if (raw.startsWith(`${name}.`)) return at.line;
  return undefined;
}

const BOOLEANS: Record<string, boolean> = { true: true, yes: true, on: true, "1": true, false: false, no: false, off: false, "0": false };

function applyKey(policy: Policy, key: string, kind: Kind, value: unknown, where: { file: string; line: number | undefined }): void {
  const fail = (why: string): never => {
    throw new PolicyError(`${key}: ${why}`, where);
  };
  // ini turns the words true, false and null into values of their own; bare keys were refused
  // in locate(), so anything else is text as written.
  if (Array.isArray(value) || (typeof value === "object" && value !== null)) fail(`bad value ${JSON.stringify(value)}`);
  const text = String(value).trim();
  switch (kind) {
    case "boolean": {
      const b = BOOLEANS[text.toLowerCase()];
      if (b === undefined) fail(`expected true or false, got '${text}'`);
      policy.enabled = b as boolean;
      return;
    }
    case "version":
      if (!VERSION_RE.test(text)) fail(`expected a dotted version such as 4.7, got '${text}'`);
      policy.clusterLevel = text;
      return;
    case "filter":
      if (!FILTER_NAME_RE.test(text)) fail(`'${text}' is not a valid nwfilter name`);
      policy.filter = text;
      return;
    case "onMissing": {
      const v = text.toLowerCase();
      if (v !== "enforce" && v !== "audit" && v !== "watch") fail(`expected enforce, audit or watch, got '${text}'`);
      policy.onMissing = v as OnMissing;
      return;
    }
    case "onExisting": {
      const v = text.toLowerCase();
      if (v !== "keep" && v !== "replace") fail(`expected keep or replace, got '${text}'`);
      policy.onExisting = v as OnExisting;
      return;
    }
    case "seconds": {
      if (!/^\d{1,9}$/.test(text)) fail(`expected a whole number of seconds, got '${text}'`);
      const n = Number(text);
      if (n < RESYNC_MIN_SECONDS || n > RESYNC_MAX_SECONDS) fail(`expected ${RESYNC_MIN_SECONDS} to ${RESYNC_MAX_SECONDS} seconds, got ${n}`);
      policy.resyncInterval = n;
      return;
    }
    case "domainMetadata": {
      const v = text.toLowerCase();
      if (v !== "trust" && v !== "ignore") fail(`expected trust or ignore, got '${text}'`);
      policy.domainMetadata = v as DomainMetadata;
      return;
    }
    case "list": {
      const items = splitList(text);
      if (key === "Domains") policy.exempt.domains = items;
      else if (key === "Networks") policy.exempt.networks = items;
      else policy.exempt.bridges = items;
      return;
    }
    case "macs": {
      const items = splitList(text);
      const bad = items.find((m) => !MAC_RE.test(m));
      if (bad !== undefined) fail(`'${bad}' is not a MAC address (expected six hex pairs such as 52:54:00:aa:bb:cc)`);
      policy.exempt.macs = items.map((m) => m.toLowerCase());
      return;
    }
  }
}
