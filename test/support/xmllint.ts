// Schema validation with xmllint and libvirt's own RelaxNG schema (what virt-xml-validate runs),
// many files per call. Under CI=true a missing xmllint or schema is a failure, elsewhere the
// schema checks may skip.
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
