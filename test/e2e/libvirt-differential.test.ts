// The hook against libvirt itself: whatever libvirt accepts, the hook must read. Generated domains
// (test/e2e/helpers/libvirt-domains.ts: metadata in other namespaces and with namespace errors,
// text, CDATA, comments, references, quoting, CR LF and CR line ends, every kind of NIC with and
// without a filterref) are defined in the real system libvirtd, and for each one it accepts:
// - `prepare` on libvirt's own `virsh dumpxml` exits 0 or 1, never 2, and 1 exactly when the
//   model says a NIC lacks the filter, naming those NICs by the MACs libvirt gave them;
// - `migrate` on `virsh dumpxml --migratable` changes nothing but the filterrefs it adds, one per
//   such NIC (test/support/filterref-diff.ts);
// - libvirt accepts that output (`virsh define` again), and `prepare` then finds it compliant.
// Domains broken on purpose must be refused by libvirt. Everything runs through a few virsh
// processes, chunk by chunk; only domains named with the suite's prefix are defined and all of
// them are undefined again. A fixed seed in `npm test` (NWFH_LDIFF_RUNS, NWFH_LDIFF_SEED replay
// or vary it); `npm run bench:libvirt` runs thousands with a new seed. Run it under
// `flock /tmp/nwfh-system-libvirtd.lock` where others share the system libvirtd.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classifyEdits } from "../support/filterref-diff.js";
import { makeSandbox, runQemu, stderrProblem, type HookRun, type Sandbox } from "../support/hook-process.js";
import { installedHook, type InstalledHook } from "../support/installed-hook.js";
import { ensureHookBuilt } from "../support/build.js";
import { libvirtAvailable, requireLibvirt } from "./helpers/libvirt.js";
import {
  FILTER,
  HOOK_BRIDGES,
  HOOK_NETWORKS,
  dumpAll,
  generateDomains,
  suiteDomains,
  undefineAll,
  virshBatch,
  type GeneratedDomain,
} from "./helpers/libvirt-domains.js";

const HAVE_LIBVIRT = requireLibvirt();
/** Outside CI the suite skips where it cannot reach the system libvirtd as root, and says why. */
const SKIP_NOTE = HAVE_LIBVIRT ? "" : ` (skipped: ${libvirtAvailable().why ?? "no libvirt"})`;
const RUNS = Number(process.env.NWFH_LDIFF_RUNS ?? 240);
const SEED = Number(process.env.NWFH_LDIFF_SEED ?? 20261206);
/** At least this many domains must be accepted (the default run: 200). */
const MIN_ACCEPTED = Number(process.env.NWFH_LDIFF_MIN_ACCEPTED ?? 200);
const CHUNK = 250;
/** Hook processes at once: the machine has two cores, shared. */
const PARALLEL = 3;

interface Tally {
  runs: number;
  seed: number;
  accepted: number;
  refused: number;
  brokenRefused: number;
  prepareExit0: number;
  prepareExit1: number;
  injected: number;
  nics: number;
  redefined: number;
  ms: number;
}

async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The MACs of a domain's NICs as libvirt wrote them, read with xmllint (not with the hook's reader). */
function libvirtMacs(xml: string): string[] {
  const r = spawnSync("xmllint", ["--nonet", "--xpath", "/domain/devices/interface/mac/@address", "-"], { input: xml, encoding: "utf8" });
  return [...r.stdout.matchAll(/address="([^"]*)"/g)].map((m) => (m[1] as string).toLowerCase());
}

const refusedMacs = (stderr: string) => [...stderr.matchAll(/([0-9a-f]{2}(?::[0-9a-f]{2}){5}) \(type /g)].map((m) => m[1] as string);

describe.skipIf(!HAVE_LIBVIRT)(`the hook reads what libvirt accepts (${RUNS} generated domains, seed ${SEED})${SKIP_NOTE}`, () => {
  let sandbox: Sandbox;
  let hook: InstalledHook;
  let dir: string;
  /** Kept for a look when something failed. */
  let keepDir = false;

  beforeAll(() => {
    ensureHookBuilt();
    // Leftovers of an interrupted run go first.
    undefineAll(suiteDomains());
    dir = mkdtempSync(join(tmpdir(), "nwfh-ldiff-"));
    hook = installedHook("code-cache");
    sandbox = makeSandbox({ activeNetworks: HOOK_NETWORKS, bridges: HOOK_BRIDGES });
  }, 180_000);

  afterAll(() => {
    if (HAVE_LIBVIRT) undefineAll(suiteDomains());
    sandbox?.remove();
    if (hook) rmSync(hook.dir, { recursive: true, force: true });
    if (dir && !keepDir) rmSync(dir, { recursive: true, force: true });
  }, 180_000);

  const run = (args: string[], stdin: string): Promise<HookRun> => runQemu(args, stdin, sandbox.env, { hook: hook.hook, timeoutMs: 60_000 });

  it(
    "prepare reads libvirt's XML, migrate changes only filterrefs, libvirt takes the output back, prepare then passes",
    async () => {
      const started = Date.now();
      const tally: Tally = {
        runs: RUNS,
        seed: SEED,
        accepted: 0,
        refused: 0,
        brokenRefused: 0,
        prepareExit0: 0,
        prepareExit1: 0,
        injected: 0,
        nics: 0,
        redefined: 0,
        ms: 0,
      };
      const problems: string[] = [];
      const refusals = new Map<string, number>();
      for (let first = 0; first < RUNS; first += CHUNK) {
        const domains = generateDomains(Math.min(CHUNK, RUNS - first), SEED + first, first);
        const chunkDir = join(dir, `chunk-${first}`);
        mkdirSync(chunkDir);
        const file = (d: GeneratedDomain, what: string) => join(chunkDir, `${d.name}.${what}.xml`);
        try {
          for (const d of domains) writeFileSync(file(d, "input"), d.xml);
          const defined = virshBatch(domains.map((d) => `define ${file(d, "input")}`));
          // libvirt's reasons, counted with names and numbers left out, for the report.
          for (const line of defined.stderr.split("\n")) {
            const reason = /^error: (?!Failed to define)(.*)$/
              .exec(line)?.[1]
              ?.replace(/'[^']*'|\d+/g, "…")
              .slice(0, 100);
            if (reason !== undefined) refusals.set(reason, (refusals.get(reason) ?? 0) + 1);
          }
          const live = dumpAll(
            domains.map((d) => d.name),
            false,
          );
          const migratable = dumpAll(
            domains.map((d) => d.name),
            true,
          );
          const accepted = domains.filter((d) => live.has(d.name));
          for (const d of domains) {
            if (live.has(d.name)) continue;
            tally.refused++;
            if (d.broken) tally.brokenRefused++;
          }
          for (const d of accepted) if (d.broken) problems.push(`${d.name}: libvirt accepted a domain broken on purpose (${d.spec.broken})`);
          tally.accepted += accepted.length;

          // The hook on libvirt's own XML.
          const outputs = await pool(accepted, PARALLEL, async (d) => {
            const where = `${d.name} (seed ${SEED}, input ${file(d, "input")})`;
            const xml = live.get(d.name) as string;
            const migXml = migratable.get(d.name);
            const prepare = await run([d.name, "prepare", "begin", "-"], xml);
            const expectedExit = d.missing.length > 0 ? 1 : 0;
            if (prepare.status !== expectedExit || prepare.stdout.length > 0 || stderrProblem(prepare.stderr)) {
              writeFileSync(file(d, "dumpxml"), xml);
              problems.push(`${where}: prepare exited ${prepare.status} (expected ${expectedExit}): ${prepare.stderr.trim()}`);
              return undefined;
            }
            if (expectedExit === 1) {
              tally.prepareExit1++;
              const macs = libvirtMacs(xml);
              const expected = d.missing.map((j) => macs[j]);
              if (JSON.stringify(refusedMacs(prepare.stderr)) !== JSON.stringify(expected)) {
                problems.push(`${where}: prepare named ${JSON.stringify(refusedMacs(prepare.stderr))}, expected ${JSON.stringify(expected)}`);
              }
            } else tally.prepareExit0++;
            if (migXml === undefined) {
              problems.push(`${where}: no migratable XML`);
              return undefined;
            }
            const migrate = await run([d.name, "migrate", "begin", "-"], migXml);
            const out = migrate.stdout.toString("utf8");
            if (migrate.status !== 0 || stderrProblem(migrate.stderr)) {
              problems.push(`${where}: migrate exited ${migrate.status}: ${migrate.stderr.trim()}`);
              return undefined;
            }
            const edits = classifyEdits(migXml, out, FILTER);
            if (edits.problems.length > 0 || edits.insertedAt.length !== d.missing.length) {
              writeFileSync(file(d, "migratable"), migXml);
              writeFileSync(file(d, "migrated"), out);
              problems.push(
                `${where}: migrate added ${edits.insertedAt.length} filterrefs (expected ${d.missing.length}); other changes: ${edits.problems.join("; ")}`,
              );
              return undefined;
            }
            tally.injected += edits.insertedAt.length;
            tally.nics += d.spec.nics.length;
            writeFileSync(file(d, "migrated"), out);
            return d;
          });

          // libvirt takes the hook's output back, and the hook then finds it compliant.
          const migrated = outputs.filter((d): d is GeneratedDomain => d !== undefined);
          const redefined = virshBatch(migrated.map((d) => `define ${file(d, "migrated")}`));
          for (const line of redefined.stderr.split("\n")) if (line.startsWith("error: ")) problems.push(`redefining the hook's output: ${line}`);
          const again = dumpAll(
            migrated.map((d) => d.name),
            false,
          );
          await pool(migrated, PARALLEL, async (d) => {
            const xml = again.get(d.name);
            if (xml === undefined) {
              problems.push(`${d.name}: gone after redefining the hook's output`);
              return;
            }
            tally.redefined++;
            const prepare = await run([d.name, "prepare", "begin", "-"], xml);
            if (prepare.status !== 0 || stderrProblem(prepare.stderr)) {
              problems.push(`${d.name} (seed ${SEED}): prepare after migrate exited ${prepare.status}: ${prepare.stderr.trim()}`);
            }
          });
        } finally {
          undefineAll(domains.map((d) => d.name));
        }
        if (problems.length === 0) rmSync(chunkDir, { recursive: true, force: true });
      }
      tally.ms = Date.now() - started;
      if (process.env.NWFH_LDIFF_REPORT) {
        writeFileSync(
          process.env.NWFH_LDIFF_REPORT,
          `${JSON.stringify({ ...tally, refusals: Object.fromEntries(refusals), problems: problems.slice(0, 50) })}\n`,
        );
      }
      keepDir = problems.length > 0;
      expect(problems, `seed ${SEED}; inputs and outputs kept in ${dir}`).toEqual([]);
      expect(suiteDomains(), "every domain the suite defined is undefined again").toEqual([]);
      // Not vacuous: enough accepted, both prepare verdicts, filterrefs added, the broken refused.
      expect(tally.accepted, JSON.stringify(tally)).toBeGreaterThanOrEqual(Math.min(MIN_ACCEPTED, RUNS));
      expect(tally.redefined, JSON.stringify(tally)).toBe(tally.accepted);
      expect(tally.prepareExit0, JSON.stringify(tally)).toBeGreaterThan(0);
      expect(tally.prepareExit1, JSON.stringify(tally)).toBeGreaterThan(0);
      expect(tally.injected, JSON.stringify(tally)).toBeGreaterThan(0);
      expect(tally.brokenRefused, JSON.stringify(tally)).toBe(tally.refused);
    },
    Math.max(600_000, RUNS * 2_000),
  );
});
