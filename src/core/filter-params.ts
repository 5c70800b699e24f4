// Filter parameters: the name/value pairs a filterref passes to its filter's variables (a name
// may repeat: a list, such as several IPs). The grammar is libvirt's (nwfilter.rng), and `MAC`
// is refused wherever one is given: libvirt fills it in from the NIC.

export interface FilterParameter {
  name: string;
  value: string;
}

export const PARAM_NAME_RE = /^[a-zA-Z0-9_]+$/;
export const PARAM_VALUE_RE = /^[a-zA-Z0-9_.:]+$/;
/** The variable libvirt sets from the NIC's own MAC address. */
export const MAC_VARIABLE = "MAC";

/** Why a parameter cannot be given, or undefined when it can. */
export function parameterProblem(name: string, value: string): string | undefined {
  if (!PARAM_NAME_RE.test(name)) return `'${name}' is not a parameter name (letters, digits and _)`;
  if (name === MAC_VARIABLE) return "MAC cannot be given: libvirt fills it in from the interface";
  if (!PARAM_VALUE_RE.test(value)) return `${name}: '${value}' is not a parameter value (letters, digits, _, . and :)`;
  return undefined;
}

/**
 * `NAME=VALUE, NAME=VALUE, ...` (spaces around the commas and the equals signs are allowed, empty
 * items are skipped); a list, or the reason it is not one.
 */
export function parseParameterList(text: string): FilterParameter[] | string {
  const out: FilterParameter[] = [];
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const eq = item.indexOf("=");
    if (eq === -1) return `'${item}' is not NAME=VALUE`;
    const name = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    const problem = parameterProblem(name, value);
    if (problem !== undefined) return problem;
    out.push({ name, value });
  }
  return out;
}

/** `IP=192.0.2.10, IP=192.0.2.11`. */
export function parametersText(params: readonly FilterParameter[]): string {
  return params.map((p) => `${p.name}=${p.value}`).join(", ");
}

/** The values of each name, in the order given. */
export function byName(params: readonly FilterParameter[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const p of params) {
    const values = map.get(p.name);
    if (values) values.push(p.value);
    else map.set(p.name, [p.value]);
  }
  return map;
}

/** Whether two lists of values hold the same values, each as often, in any order. */
export function sameValues(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const left = [...a].sort();
  const right = [...b].sort();
  return left.every((v, i) => v === right[i]);
}

/** Whether two parameter lists are the same multiset for every name. */
export function sameParameters(a: readonly FilterParameter[], b: readonly FilterParameter[]): boolean {
  if (a.length !== b.length) return false;
  const left = byName(a);
  const right = byName(b);
  if (left.size !== right.size) return false;
  for (const [name, values] of left) {
    const other = right.get(name);
    if (other === undefined || !sameValues(values, other)) return false;
  }
  return true;
}
