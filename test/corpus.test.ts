// Conformance over libvirt's own test XML (shared/corpus/libvirt-10.7): every domain file of
// qemuxmlconfdata, genericxml2xmlindata, domainschemadata and qemustatusxml2xmldata goes
// through the core with a host where every network is NAT and every bridge a Linux bridge.
// The core must return (or refuse with a clean XmlError), change nothing but insert
// filterrefs, and be idempotent; the built hook must agree with the core on a sample; and
// wherever libvirt's schema accepts the input it must accept the output.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NwfilterHookError, XmlError } from "../src/core/errors.js";
import type { HostFacts } from "../src/core/host-facts.js";
import { DEFAULT_POLICY } from "../src/core/policy.js";
import { transform, type TransformResult } from "../src/core/transform.js";
import { ensureHookBuilt } from "./support/build.js";
import { NETWORKS } from "./support/fake-host.js";
import { classifyEdits } from "./support/filterref-diff.js";
import { makeSandbox, runQemu, stderrProblem, type Sandbox } from "./support/hook-process.js";
import { CORPUS_SKIP_NOTE, SKIP_CORPUS, corpusDir } from "./support/paths.js";
import { validateFiles, xmllintUsable } from "./support/xmllint.js";

const DIRS = ["qemuxmlconfdata", "genericxml2xmlindata", "domainschemadata", "qemustatusxml2xmldata"];
const FILTER = DEFAULT_POLICY.filter;
/** Corpus files that are not well-formed XML (libvirt's own parser test), and what the core says. */
const MALFORMED: Record<string, string> = {
  "qemuxmlconfdata/broken-xml-invalid.xml": "malformed XML: start tag <dom> is not closed",
};

/** Names nodeHostFacts would look up (one safe path component); others count as unknown there too. */
const safe = (name: string) => name !== "" && name !== "." && name !== ".." && !name.includes("/") && !name.includes("\0");

/** Every network NAT on virbr0, every bridge a Linux bridge; records what was asked. */
function corpusHost(networks: Set<string>, bridges: Set<string>): HostFacts {
  return {
    network(name) {
      if (!safe(name)) return undefined;
      networks.add(name);
      return { path: `/fake/${name}.xml`, text: NETWORKS.nat(name, "virbr0") };
    },
    bridge(name) {
      if (!safe(name)) return "absent";
      bridges.add(name);
      return "linux";
    },
    filterDefined: (name) => name === FILTER,
    filter: (name) => (name === FILTER ? { path: `/fake/nwfilter/${name}.xml`, text: `<filter name='${name}' chain='root'/>` } : undefined),
  };
}

interface Entry {
  path: string;
  /** Relative to the corpus, for messages. */
  name: string;
  input: string;
  result: TransformResult | undefined;
  error: XmlError | undefined;
}

const entries: Entry[] = [];
const askedNetworks = new Set<string>();
const askedBridges = new Set<string>();

beforeAll(() => {
  if (SKIP_CORPUS) return;
  const root = corpusDir();
  for (const dir of DIRS) {
    for (const f of readdirSync(join(root, dir)).sort()) {
      if (!f.endsWith(".xml")) continue;
      const path = join(root, dir, f);
      entries.push({ path, name: `${dir}/${f}`, input: readFileSync(path, "utf8"), result: undefined, error: undefined });
    }
  }
  const host = corpusHost(askedNetworks, askedBridges);
  for (const e of entries) {
    try {
      // As the hook runs it: a whole domain is required.
      e.result = transform(e.input, DEFAULT_POLICY, host, { file: e.name, root: "domain" });
    } catch (error) {
      if (!(error instanceof NwfilterHookError)) throw new Error(`${e.name}: transform crashed: ${(error as Error).stack}`, { cause: error });
      if (!(error instanceof XmlError)) throw new Error(`${e.name}: unexpected ${error.name}: ${error.message}`, { cause: error });
      e.error = error;
    }
  }
}, 120_000);

describe.skipIf(SKIP_CORPUS)(`libvirt 10.7 corpus through the core${CORPUS_SKIP_NOTE}`, () => {
  it("has the corpus", () => {
    expect(entries.length).toBeGreaterThan(2300);
    for (const dir of DIRS) expect(entries.some((e) => e.name.startsWith(`${dir}/`))).toBe(true);
  });

  it("refuses only what is not a domain (the <domstatus> files) or not well-formed, each with a clean XmlError", () => {
    const refused = entries.filter((e) => e.error);
    const unexpected = refused
      .filter((e) => !e.name.startsWith("qemustatusxml2xmldata/") && !Object.hasOwn(MALFORMED, e.name))
      .map((e) => `${e.name}: ${e.error?.message}`);
    expect(unexpected).toEqual([]);
    for (const e of entries.filter((x) => x.name.startsWith("qemustatusxml2xmldata/"))) {
      expect(e.error?.message, e.name).toBe("expected a <domain>, found <domstatus>");
      expect(e.error?.where).toEqual({ file: e.name, line: 1 });
    }
    for (const [name, message] of Object.entries(MALFORMED)) {
      expect(entries.find((e) => e.name === name)?.error?.message, name).toBe(message);
    }
  });

  it("changes nothing but inserting filterrefs, one per eligible NIC that lacks one", () => {
    const problems: string[] = [];
    for (const e of entries) {
      if (!e.result) continue;
      const edits = classifyEdits(e.input, e.result.xml, FILTER);
      for (const p of edits.problems) problems.push(`${e.name}: ${p}`);
      const injected = e.result.nics.filter((n) => n.action === "injected").length;
      if (edits.insertedAt.length !== injected) problems.push(`${e.name}: ${edits.insertedAt.length} insertions, ${injected} reported`);
      // Each insertion lies inside the NIC it was made for.
      const nicsAt = e.result.nics.filter((n) => n.action === "injected").map((n) => n.line);
      const linesAt = edits.insertedAt.map((at) => e.input.slice(0, at).split("\n").length);
      linesAt.forEach((line, i) => {
        if (line < (nicsAt[i] ?? Infinity)) problems.push(`${e.name}: insertion on line ${line} before its NIC on line ${nicsAt[i]}`);
      });
    }
    expect(problems).toEqual([]);
    // Not vacuous: the corpus has many NICs that get the filter, and many that must not.
    const nics = entries.flatMap((e) => e.result?.nics ?? []);
    expect(nics.filter((n) => n.action === "injected").length).toBeGreaterThan(50);
    expect(nics.filter((n) => n.status === "ineligible").length).toBeGreaterThan(100);
    expect(entries.filter((e) => e.result?.changed).length).toBeGreaterThan(30);
  });

  it("leaves every NIC of a type libvirt does not filter, or with a virtualport, untouched", () => {
    for (const e of entries) {
      for (const n of e.result?.nics ?? []) {
        if (!["bridge", "ethernet", "network"].includes(n.type)) expect(n.action, `${e.name} NIC ${n.index}`).toBeUndefined();
        if (n.reason === "virtualport") expect(n.action).toBeUndefined();
      }
    }
    const reasons = new Set(entries.flatMap((e) => e.result?.nics ?? []).map((n) => n.reason));
    expect(reasons).toContain("type");
    expect(reasons).toContain("virtualport");
  });

  it("is idempotent", () => {
    const host = corpusHost(new Set(), new Set());
    const unstable: string[] = [];
    for (const e of entries) {
      if (!e.result?.changed) continue;
      const again = transform(e.result.xml, DEFAULT_POLICY, host, { file: e.name });
      if (again.changed || again.xml !== e.result.xml || again.nics.some((n) => n.status === "missing")) unstable.push(e.name);
    }
    expect(unstable).toEqual([]);
  });
});

describe.skipIf(SKIP_CORPUS)(`the built hook agrees with the core (migrate begin, a sample)${CORPUS_SKIP_NOTE}`, () => {
  let sandbox: Sandbox;
  beforeAll(() => {
    ensureHookBuilt();
    const networks: Record<string, string> = {};
    for (const n of askedNetworks) networks[n] = NETWORKS.nat(n, "virbr0");
    const bridges: Record<string, "linux"> = { virbr0: "linux" };
    for (const b of askedBridges) bridges[b] = "linux";
    sandbox = makeSandbox({ activeNetworks: networks, bridges });
  });
  afterAll(() => sandbox?.remove());

  it("gives the same stdout, exit code and error as the in-process core", async () => {
    const sample = entries.filter(
      (e, i) => i % 25 === 0 || /<interface\s+type=['"]network['"]/.test(e.input) || e.name.startsWith("qemustatusxml2xmldata/modern"),
    );
    expect(sample.length).toBeGreaterThan(100);
    const mismatches: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < sample.length) {
        const e = sample[next++] as Entry;
        const domain = e.result?.domain ?? basename(e.name, ".xml");
        const run = await runQemu([domain, "migrate", "begin", "-"], e.input, sandbox.env);
        const why: string[] = [];
        const problem = stderrProblem(run.stderr);
        if (problem) why.push(problem);
        if (e.error) {
          if (run.status !== 2) why.push(`exit ${run.status}, expected 2`);
          if (run.stdout.length !== 0) why.push("stdout not empty on error");
          if (!run.stderr.includes(e.error.message)) why.push(`stderr ${JSON.stringify(run.stderr)} lacks ${JSON.stringify(e.error.message)}`);
        } else {
          if (run.status !== 0) why.push(`exit ${run.status}: ${run.stderr}`);
          if (run.stdout.toString("utf8") !== e.result?.xml) why.push("stdout differs from the in-process result");
          if (!e.result?.changed && run.stderr !== "") why.push(`unexpected stderr ${JSON.stringify(run.stderr)}`);
        }
        if (why.length > 0) mismatches.push(`${e.name}: ${why.join("; ")}`);
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    expect(mismatches).toEqual([]);
  }, 180_000);
});

describe.skipIf(SKIP_CORPUS)(`libvirt's domain schema accepts the output wherever it accepts the input${CORPUS_SKIP_NOTE}`, () => {
  const ci = process.env.CI === "true";
  const usable = xmllintUsable();
  it.skipIf(!usable && !ci)(
    "xmllint --relaxng domain.rng over every changed file",
    () => {
      expect(usable, "xmllint and /usr/share/libvirt/schemas/domain.rng are required under CI (libxml2-utils, libvirt-clients)").toBe(true);
      const changed = entries.filter((e) => e.result?.changed);
      const scratch = mkdtempSync(join(tmpdir(), "nwfh-corpus-schema-"));
      try {
        const outputs = new Map<Entry, string>();
        changed.forEach((e, i) => {
          const out = join(scratch, `${i}-${basename(e.path)}`);
          writeFileSync(out, e.result?.xml ?? "");
          outputs.set(e, out);
        });
        const verdict = validateFiles([...changed.map((e) => e.path), ...outputs.values()]);
        const broken = changed.filter((e) => verdict.get(e.path) && !verdict.get(outputs.get(e) as string)).map((e) => e.name);
        expect(broken).toEqual([]);
        // Not vacuous: most changed inputs are schema-valid.
        expect(changed.filter((e) => verdict.get(e.path)).length).toBeGreaterThan(changed.length / 2);
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    },
    120_000,
  );
});
