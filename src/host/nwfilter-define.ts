// Defining nwfilters, or updating them in place reusing the UUID of the existing definition
// (libvirt refuses a second filter of the same name with another UUID); nothing is written when
// libvirt's definition already says the same. The set to define is the shipped filter and every
// custom one the admin put in /etc/nwfilter-hook/filters, all checked before any is defined.
// Used by `define-filter`, `install` and the watcher.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
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

/** A filter definition read from a file and checked. */
export interface FilterFile {
  name: string;
  path: string;
  text: string;
}

/** The filter's name and the document, checked: a <filter name="..."> root. */
export function readFilterFile(path: string): FilterFile {
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
  return { name, path, text };
}

/**
 * The custom filters: every `*.xml` in `dir`, in byte order of their names, each `NAME.xml`
 * defining `<filter name='NAME'>` (so that the file an admin looks for is the filter's). None when
 * there is no such directory.
 */
export function customFilterFiles(dir: string): FilterFile[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return [];
    throw fsError(error, "list the custom filters", dir);
  }
  return names
    .filter((n) => n.endsWith(".xml") && !n.startsWith("."))
    .sort()
    .map((n) => {
      const file = readFilterFile(join(dir, n));
      if (`${file.name}.xml` !== n) {
        throw new XmlError(`defines nwfilter '${file.name}', but a custom filter NAME.xml must define <filter name='NAME'>: rename it ${file.name}.xml`, {
          file: file.path,
        });
      }
      return file;
    });
}

/** What `install` and `define-filter` define: the shipped filter, then the custom ones, all checked first. */
export function filtersToDefine(shippedPath: string, customDir: string): FilterFile[] {
  const shipped = readFilterFile(shippedPath);
  const custom = customFilterFiles(customDir);
  const clash = custom.find((f) => f.name === shipped.name);
  if (clash) throw new XmlError(`defines the shipped nwfilter '${shipped.name}': give your own filter another name`, { file: clash.path });
  return [shipped, ...custom];
}

export async function defineFilter(virsh: Virsh, path: string): Promise<DefineResult> {
  return defineFilterFile(virsh, readFilterFile(path));
}

export async function defineFilterFile(virsh: Virsh, file: FilterFile): Promise<DefineResult> {
  const { name, text, path } = file;
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

/** Defines each filter in turn (the set from filtersToDefine()). */
export async function defineFilters(virsh: Virsh, files: readonly FilterFile[]): Promise<DefineResult[]> {
  const results: DefineResult[] = [];
  for (const f of files) results.push(await defineFilterFile(virsh, f));
  return results;
}

export function describeDefine(r: DefineResult): string {
  return `nwfilter '${r.name}': ${r.outcome}${r.uuid ? ` (uuid ${r.uuid})` : ""}`;
}
