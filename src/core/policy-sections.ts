// The policy's choice sections, [network:NAME], [bridge:NAME] and [domain:GLOB], each with a
// Filter (a name, or none) and Parameters. Their lines are read here rather than by `ini`, which
// would nest a dotted name ([bridge:br0.100]) and count a key such as Filter across the whole file:
// the kind is matched without regard to case, NAME is kept as written (libvirt's network and
// bridge names are case-sensitive), and each value is unquoted as `ini` does.
import { unsafe } from "ini";
import { PolicyError } from "./errors.js";
import { parseParameterList, type FilterParameter } from "./filter-params.js";

export type ChoiceKind = "network" | "bridge" | "domain";

export interface ChoiceSection {
  kind: ChoiceKind;
  /** A network or bridge name, or a shell glob on the domain name. */
  name: string;
  /** The filter it names; null for `none` (no filter required); undefined: it gives Parameters only. */
  filter: string | null | undefined;
  parameters: FilterParameter[];
  /** The line of its [header]. */
  line: number;
}

/** A choice section's lines as the policy's line reader found them. */
export interface RawChoice {
  kind: ChoiceKind;
  name: string;
  line: number;
  keys: Array<{ key: string; value: string; line: number }>;
}

const KINDS: Record<string, ChoiceKind> = { network: "network", bridge: "bridge", domain: "domain" };

/** The kind and NAME of a section header's text (between the brackets), when it is a choice section. */
export function choiceHeader(body: string): { kind: ChoiceKind; name: string } | undefined {
  const colon = body.indexOf(":");
  if (colon === -1) return undefined;
  const kind = KINDS[body.slice(0, colon).trim().toLowerCase()];
  return kind === undefined ? undefined : { kind, name: body.slice(colon + 1).trim() };
}

/** `[network:prod]`. */
export function choiceLabel(section: Pick<ChoiceSection, "kind" | "name">): string {
  return `[${section.kind}:${section.name}]`;
}

/** Checks and reads the choice sections, in file order. */
export function readChoices(raw: readonly RawChoice[], file: string, filterName: RegExp): ChoiceSection[] {
  const out: ChoiceSection[] = [];
  const claimed = new Map<string, number>();
  for (const r of raw) {
    const label = choiceLabel(r);
    if (r.name === "")
      throw new PolicyError(`[${r.kind}:]: the section needs a ${r.kind === "domain" ? "glob" : "name"} after the colon`, { file, line: r.line });
    const id = `${r.kind}\0${r.name}`;
    const first = claimed.get(id);
    if (first !== undefined) {
      throw new PolicyError(`${label} is given twice, on lines ${first} and ${r.line}: merge them into one section`, { file, line: r.line });
    }
    claimed.set(id, r.line);
    const section: ChoiceSection = { kind: r.kind, name: r.name, filter: undefined, parameters: [], line: r.line };
    for (const { key, value: rawValue, line } of r.keys) {
      const name = unsafe(key);
      const value = unsafe(rawValue);
      const where = { file, line };
      switch (name.toLowerCase()) {
        case "filter":
          if (value.toLowerCase() === "none") section.filter = null;
          else if (filterName.test(value)) section.filter = value;
          else throw new PolicyError(`Filter: expected an nwfilter name or none, got '${value}' (in ${label})`, where);
          break;
        case "parameters": {
          const params = parseParameterList(value);
          if (typeof params === "string") throw new PolicyError(`Parameters: ${params} (in ${label})`, where);
          section.parameters = params;
          break;
        }
        default:
          throw new PolicyError(`unknown key '${name}' in ${label} (known: Filter, Parameters)`, where);
      }
    }
    out.push(section);
  }
  return out;
}
