// Defining the nwfilter, or updating it in place reusing the UUID of the existing definition
// (libvirt refuses a second filter of the same name with another UUID); nothing is written when
// libvirt's definition already says the same. Used by `define-filter`, `install` and the watcher.
import { readFileSync } from "node:fs";
import { XmlError } from "../core/errors.js";
import { FILTER_NAME_RE } from "../core/policy.js";
import { fsError } from "./fs-error.js";
import type { Virsh } from "./virsh.js";
import { canonical, uuidOf, withUuid } from "../core/nwfilter-xml.js";
import { attr, parseXml } from "../core/xml.js";

export type DefineOutcome = "created" | "updated" | "unchanged";

export interface DefineResult {
  name: string;
  outcome: DefineOutcome;
  uuid: string | undefined;
  /** Whether nwfilter-define ran (libvirt may still say the same afterwards). */
  wrote?: boolean;
}

/** The filter's name and the document, checked: a <filter name="..."> root. */
export function readFilterFile(path: string): { name: string; text: string } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw fsError(error, "read the filter definition", path);
  }
  const root = parseXml(text, path);
  if (root.name !== "filter") throw new XmlError(`expected an nwfilter definition (<filter name=...>), found <${root.name}>`, { file: path });
  const name = attr(root, "name");
  if (name === undefined || !FILTER_NAME_RE.test(name)) {
    throw new XmlError(`<filter> needs a valid name attribute, got ${name === undefined ? "none" : `'${name}'`}`, { file: path });
  }
  return { name, text };
}

export async function defineFilter(virsh: Virsh, path: string): Promise<DefineResult> {
  const { name, text } = readFilterFile(path);
  const dumped = `nwfilter '${name}' as libvirt has it`;
  const before = await virsh.nwfilterXml(name);
  if (before === undefined) {
    await virsh.nwfilterDefine(text);
    const after = await virsh.nwfilterXml(name);
    return { name, outcome: "created", uuid: after === undefined ? undefined : uuidOf(after, dumped), wrote: true };
  }
  const uuid = uuidOf(before, dumped);
  const wanted = uuid === undefined ? text : withUuid(text, uuid);
  if (canonical(wanted, path) === canonical(before, dumped)) return { name, outcome: "unchanged", uuid };
  await virsh.nwfilterDefine(wanted);
  const after = await virsh.nwfilterXml(name);
  // libvirt writes some attributes its own way: what counts is whether its definition changed.
  const same = after !== undefined && canonical(after, dumped) === canonical(before, dumped);
  return { name, outcome: same ? "unchanged" : "updated", uuid, wrote: true };
}

export function describeDefine(r: DefineResult): string {
  return `nwfilter '${r.name}': ${r.outcome}${r.uuid ? ` (uuid ${r.uuid})` : ""}`;
}
