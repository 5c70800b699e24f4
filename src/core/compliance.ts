// Whether a NIC carries what its choice wants, and what must change where it does not. A NIC must
// carry the chosen filter with exactly the choice's values for every name the choice sets; under
// DomainMetadata = trust the other parameters of its own filterref are kept (the guest's owner may
// have put them there), under ignore the choice's are the only ones. Lists compare as multisets.
import type { Choice } from "./filter-choice.js";
import { byName, sameParameters, sameValues, type FilterParameter } from "./filter-params.js";
import type { NicStatus } from "./nic-report.js";
import type { DomainMetadata } from "./policy.js";

const NONE: FilterParameter[] = [];

export interface Verdict {
  status: Extract<NicStatus, "compliant" | "missing" | "stale" | "other-filter">;
  /** The parameters the NIC's filterref must hold. */
  parameters: FilterParameter[];
}

/** The choice's values for the names it sets, the NIC's own for the others (trusted metadata only). */
export function wantedParameters(choice: readonly FilterParameter[], own: readonly FilterParameter[], mode: DomainMetadata): FilterParameter[] {
  if (mode === "ignore" || own.length === 0) return [...choice];
  const chosen = byName(choice);
  const out: FilterParameter[] = [];
  const placed = new Set<string>();
  // In the NIC's own order, a name the choice sets taking all the choice's values where it first stood.
  for (const p of own) {
    const values = chosen.get(p.name);
    if (values === undefined) out.push(p);
    else if (!placed.has(p.name)) {
      placed.add(p.name);
      for (const value of values) out.push({ name: p.name, value });
    }
  }
  for (const p of choice) if (!placed.has(p.name)) out.push(p);
  return out;
}

/**
 * A NIC's status against its choice (a filter, not none). `own` is its filterref's filter
 * (undefined: none), `managed` the filters the policy and the domain's trusted metadata name.
 */
export function judgeFilterref(
  own: string | undefined,
  ownParams: readonly FilterParameter[],
  choice: Choice & { filter: string },
  mode: DomainMetadata,
  managed: ReadonlySet<string>,
): Verdict {
  // The usual case, once per NIC of a large domain: the chosen filter, no parameters either side.
  if (own === choice.filter && ownParams.length === 0 && choice.parameters.length === 0) return { status: "compliant", parameters: NONE };
  const parameters = wantedParameters(choice.parameters, ownParams, mode);
  if (own === undefined) return { status: "missing", parameters };
  if (own !== choice.filter) return { status: managed.has(own) ? "stale" : "other-filter", parameters };
  if (mode === "ignore") return { status: sameParameters(ownParams, choice.parameters) ? "compliant" : "stale", parameters };
  const mine = byName(ownParams);
  for (const [name, values] of byName(choice.parameters)) {
    if (!sameValues(mine.get(name) ?? [], values)) return { status: "stale", parameters };
  }
  return { status: "compliant", parameters };
}
