// xmllint (libxml2, the parser libvirt uses) as a reference for the tests: schema validation with
// libvirt's own RelaxNG schema (what virt-xml-validate runs), whether libxml2 reads a document
// (its fatal errors apart from the namespace errors it reads on after), and the name, local name
// and namespace libxml2 gives each element and attribute. Under CI=true a missing xmllint or
// schema is a failure, elsewhere the checks that need them may skip.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

export const DOMAIN_RNG = "/usr/share/libvirt/schemas/domain.rng";

export function xmllintUsable(): boolean {
  const r = spawnSync("xmllint", ["--version"], { stdio: "ignore" });
  return r.status === 0 && existsSync(DOMAIN_RNG);
}

/** Validates files against the schema; true for each file xmllint reports as valid. */
export function validateFiles(files: readonly string[], rng = DOMAIN_RNG): Map<string, boolean> {
  const result = new Map<string, boolean>();
  // Batches keep the command line well under ARG_MAX; the schema compiles once per batch.
  for (let i = 0; i < files.length; i += 400) {
    const batch = files.slice(i, i + 400);
    const r = spawnSync("xmllint", ["--noout", "--relaxng", rng, ...batch], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
    if (r.error) throw r.error;
    const report = `${r.stdout}\n${r.stderr}`;
    if (/fails to compile|failed to compile/.test(report)) throw new Error(`xmllint could not compile ${rng}:\n${report.slice(0, 2000)}`);
    const ok = new Set(
      report
        .split("\n")
        .filter((l) => l.endsWith(" validates"))
        .map((l) => l.slice(0, -" validates".length)),
    );
    for (const f of batch) result.set(f, ok.has(f));
  }
  return result;
}

/**
 * What libxml2 says about one file. xmllint prints each message as `FILE:LINE: KIND : text`:
 * `namespace error` (xmlNsErr: an undeclared prefix, a malformed qualified name, a declaration
 * it skips, a namespace name that is not a URI) only clears the document's nsWellFormed flag, and
 * the document is read all the same, with exit status 0; any other `... error` (`parser error`,
 * `encoding error`, ...) is fatal: no document, exit status 1. Warnings are left out.
 */
export interface LintVerdict {
  fatal: string[];
  namespace: string[];
}

/** xmllint's messages for many files in one run (`--noout --nonet`), per file. */
export function lintFiles(files: readonly string[]): Map<string, LintVerdict> {
  const verdicts = new Map(files.map((f): [string, LintVerdict] => [f, { fatal: [], namespace: [] }]));
  for (let i = 0; i < files.length; i += 400) {
    const batch = files.slice(i, i + 400);
    // latin1 keeps every byte of a message, whatever the document's encoding.
    const r = spawnSync("xmllint", ["--noout", "--nonet", ...batch], { encoding: "latin1", maxBuffer: 256 * 1024 * 1024 });
    if (r.error) throw r.error;
    for (const line of r.stderr.split("\n")) {
      const m = /^(.*?\.xml):\d+: (.*)$/.exec(line);
      const verdict = m && verdicts.get(m[1] as string);
      if (!verdict) continue;
      const message = m[2] as string;
      if (message.startsWith("namespace error : ")) verdict.namespace.push(message);
      else if (/^[a-z ]*error : /.test(message)) verdict.fatal.push(message);
    }
  }
  return verdicts;
}

/** A name as libxml2 gives it: XPath's name(), local-name() and namespace-uri() ("" for none). */
export interface Libxml2Name {
  name: string;
  local: string;
  ns: string;
}

export interface Libxml2Element extends Libxml2Name {
  /** Its attributes in document order (namespace declarations are none). */
  attrs: Libxml2Name[];
}

/**
 * Every element of a document libxml2 reads, in document order, with its attributes, asked of
 * xmllint with one XPath expression. `shape` gives the number of attributes to ask about for each
 * element (the elements the caller expects); libxml2's own counts are returned alongside for the
 * caller to compare. Names and namespaces must not hold '|' or '#'.
 */
export function libxml2Names(file: string, shape: readonly number[]): { count: number; elements: Array<Libxml2Element & { attrCount: number }> } {
  const name = (node: string) => `name(${node}),"|",local-name(${node}),"|",namespace-uri(${node})`;
  const parts = ["count(//*)"];
  shape.forEach((attrs, i) => {
    const element = `(//*)[${i + 1}]`;
    parts.push(`"#",${name(element)},"|",count(${element}/@*)`);
    for (let j = 1; j <= attrs; j++) parts.push(`"|",${name(`${element}/@*[${j}]`)}`);
  });
  const r = spawnSync("xmllint", ["--nonet", "--xpath", `concat(${parts.join(",")},"")`, file], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`xmllint --xpath ${file} failed (exit ${r.status}): ${r.stderr}`);
  const [count = "", ...chunks] = r.stdout.replace(/\n$/, "").split("#");
  const elements = chunks.map((chunk) => {
    const [n = "", local = "", ns = "", attrCount = "", ...rest] = chunk.split("|");
    const attrs: Libxml2Name[] = [];
    for (let k = 0; k + 2 < rest.length; k += 3) attrs.push({ name: rest[k] as string, local: rest[k + 1] as string, ns: rest[k + 2] as string });
    return { name: n, local, ns, attrCount: Number(attrCount), attrs };
  });
  return { count: Number(count), elements };
}
