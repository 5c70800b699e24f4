// Properties of the core over generated domains (test/support/domain-gen.ts), and robustness of
// the core and of the built hook against arbitrary and mutated input.
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { NwfilterHookError } from "../src/core/errors.js";
import { DEFAULT_POLICY } from "../src/core/policy.js";
import { transform, type TransformResult } from "../src/core/transform.js";
import { ensureHookBuilt } from "./support/build.js";
import { HOST, generatedDomain, mutatedDomain, xmlishString, type GeneratedDomain } from "./support/domain-gen.js";
import { fakeHost } from "./support/fake-host.js";
import { classifyEdits } from "./support/filterref-diff.js";
import { makeSandbox, runQemu, stderrProblem } from "./support/hook-process.js";

// NWFH_PROPERTY_RUNS scales the generated-domain properties; NWFH_PROPERTY_SEED replays a failure
// (fast-check prints the seed of every counterexample).
const RUNS = Number(process.env.NWFH_PROPERTY_RUNS ?? 300);
const SEED = process.env.NWFH_PROPERTY_SEED === undefined ? undefined : Number(process.env.NWFH_PROPERTY_SEED);
const params = (numRuns: number) => (SEED === undefined ? { numRuns } : { numRuns, seed: SEED });

function apply(d: GeneratedDomain, xml = d.xml): TransformResult {
  return transform(xml, d.policy, fakeHost(HOST), { file: "generated.xml" });
}

describe("over generated domains", () => {
  it("changes exactly the NICs the rules say, each by one filterref insertion (or filter swap) inside that NIC", () => {
    fc.assert(
      fc.property(generatedDomain, (d) => {
        const r = apply(d);
        const edits = classifyEdits(d.xml, r.xml, d.policy.filter, { allowReplace: d.policy.onExisting === "replace" });
        expect(edits.problems).toEqual([]);
        // Which NIC each edit landed in: strictly inside its span (a self-closing NIC is rewritten from its start).
        const owner = (at: number) => d.nics.findIndex((n) => n.start <= at && at < n.end);
        const inserted = edits.insertedAt.map(owner).sort((x, y) => x - y);
        const replaced = edits.replacedAt.map(owner).sort((x, y) => x - y);
        const want = (what: string) => d.nics.flatMap((n, i) => (n.expected === what ? [i] : []));
        expect(inserted).toEqual(want("insert"));
        expect(replaced).toEqual(want("replace"));
        // The report agrees with the text.
        expect(r.nics.map((n) => (n.action === "injected" ? "insert" : n.action === "replaced" ? "replace" : "none"))).toEqual(d.nics.map((n) => n.expected));
        expect(r.changed).toBe(want("insert").length + want("replace").length > 0);
      }),
      params(RUNS),
    );
  });

  it("removing the inserted filterrefs gives back the input byte for byte", () => {
    fc.assert(
      fc.property(generatedDomain, (d) => {
        const keep = { ...d, policy: { ...d.policy, onExisting: "keep" as const } };
        const out = apply(keep).xml;
        const edits = classifyEdits(d.xml, out, d.policy.filter);
        expect(edits.problems).toEqual([]);
        expect(edits.replacedAt).toEqual([]);
        // Undo each insertion on the output, last first, and compare.
        let undone = out;
        let shift = 0;
        const positions = edits.hunks.map((h) => {
          const p = { at: h.at + shift, removed: h.removed, added: h.added };
          shift += h.added.length - h.removed.length;
          return p;
        });
        for (const h of positions.reverse()) {
          expect(undone.slice(h.at, h.at + h.added.length)).toBe(h.added);
          undone = undone.slice(0, h.at) + h.removed + undone.slice(h.at + h.added.length);
        }
        expect(undone).toBe(d.xml);
        // Each insertion is the filterref, on its own line with the document's line ending, or inline.
        for (const h of edits.hunks) {
          if (h.removed !== "") continue;
          expect(h.added.trim()).toBe(`<filterref filter='${d.policy.filter}'/>`);
          if (/[\r\n]/.test(h.added)) expect(h.added.match(/\r?\n/)?.[0]).toBe(d.spec.eol);
        }
      }),
      params(RUNS),
    );
  });

  it("is idempotent: a second run changes nothing and finds nothing missing", () => {
    fc.assert(
      fc.property(generatedDomain, (d) => {
        const once = apply(d);
        const twice = apply(d, once.xml);
        expect(twice.xml).toBe(once.xml);
        expect(twice.changed).toBe(false);
        expect(twice.nics.filter((n) => n.status === "missing")).toEqual([]);
        if (d.policy.onExisting === "replace") expect(twice.nics.filter((n) => n.status === "other-filter")).toEqual([]);
      }),
      params(RUNS),
    );
  });

  it("checkOnly reports the same statuses and leaves the text alone", () => {
    fc.assert(
      fc.property(generatedDomain, (d) => {
        const full = apply(d);
        const check = transform(d.xml, d.policy, fakeHost(HOST), { file: "g", checkOnly: true });
        expect(check.xml).toBe(d.xml);
        expect(check.nics.map((n) => n.status)).toEqual(full.nics.map((n) => n.status));
      }),
      params(100),
    );
  });
});

/** Either a result or an expected error; anything else (TypeError, RangeError...) is a crash. */
function outcome(xml: string): TransformResult | NwfilterHookError {
  try {
    return transform(xml, DEFAULT_POLICY, fakeHost(HOST), { file: "fuzz" });
  } catch (error) {
    if (error instanceof NwfilterHookError) return error;
    throw new Error(`transform crashed on ${JSON.stringify(xml)}: ${(error as Error).stack}`, { cause: error });
  }
}

describe("robustness of the core", () => {
  it("arbitrary strings: a result or an XmlError/NwfilterHookError, never a crash", () => {
    fc.assert(
      fc.property(xmlishString, (s) => {
        const r = outcome(s);
        if (!(r instanceof NwfilterHookError)) {
          expect(classifyEdits(s, r.xml, DEFAULT_POLICY.filter).problems).toEqual([]);
        }
      }),
      params(2000),
    );
  });

  it("mutated domains: a result that only adds filterrefs and is idempotent, or a clean error", () => {
    fc.assert(
      fc.property(mutatedDomain, (s) => {
        const r = outcome(s);
        if (r instanceof NwfilterHookError) {
          expect(r.where?.file).toBe("fuzz");
          return;
        }
        expect(classifyEdits(s, r.xml, DEFAULT_POLICY.filter).problems).toEqual([]);
        const again = outcome(r.xml);
        expect(again).not.toBeInstanceOf(NwfilterHookError);
        expect((again as TransformResult).xml).toBe(r.xml);
      }),
      params(1000),
    );
  });
});

describe("robustness of the built hook (dist/qemu)", () => {
  beforeAll(() => {
    ensureHookBuilt();
  });

  it("on ~25 arbitrary, mutated and known-nasty inputs: exit 0, 1 or 2, no stdout on failure, at most one stderr line, no stack trace", async () => {
    const inputs = [
      ...fc.sample(xmlishString, { numRuns: 8, seed: 42 }),
      ...fc.sample(mutatedDomain, { numRuns: 10, seed: 7 }),
      "\0\0\0",
      "<domain>".repeat(5000),
      // Inputs that once made the parser throw a plain Error (a crash with a stack trace).
      "<domain type='kvm'><name>vm1</name></domain><!--",
      "<domain type='kvm'><name>vm1</name></domain><?pi",
      "<!DOCTYPE domain><!DOCTYPE domain><domain type='kvm'/>",
    ];
    const ops = ["prepare", "migrate", "restore"];
    const sandbox = makeSandbox({ bridges: { br0: "linux", ovsbr0: "ovs" } });
    try {
      const runs = await Promise.all(inputs.map((input, i) => runQemu(["vm1", ops[i % 3] as string, "begin", "-"], input, sandbox.env)));
      runs.forEach((run, i) => {
        const context = `input ${JSON.stringify(inputs[i]?.slice(0, 200))}: status ${run.status}, stderr ${JSON.stringify(run.stderr)}`;
        expect(run.timedOut, context).toBe(false);
        expect([0, 1, 2], context).toContain(run.status);
        if (run.status !== 0) expect(run.stdout.length, context).toBe(0);
        expect(stderrProblem(run.stderr), context).toBeUndefined();
      });
      // Not vacuous: some inputs are refused, some pass.
      expect(runs.some((r) => r.status === 2)).toBe(true);
      expect(runs.some((r) => r.status === 0)).toBe(true);
    } finally {
      sandbox.remove();
    }
  });
});
