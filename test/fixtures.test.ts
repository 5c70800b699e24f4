// Table-driven hook tests: each folder under test/fixtures/ is one case (see
// test/fixtures/README.md for the layout). Every case runs the BUILT dist/qemu as a separate
// process, the way libvirt runs it, against a sandbox built from the folder; exit code, stdout
// (byte for byte), stderr and what went to syslog are all checked.
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureHookBuilt } from "./support/build.js";
import { makeSandbox, runQemu, stderrProblem, type Sandbox, type SandboxSpec } from "./support/hook-process.js";
import { FIXTURES_DIR } from "./support/paths.js";
import { validateFiles, xmllintUsable } from "./support/xmllint.js";
import { installedHook, type InstalledHook } from "./support/installed-hook.js";
import { describeStartupCache } from "../src/host/startup-cache-state.js";
import { startupContext } from "./support/installed-hook.js";

interface LogSpec {
  priority: "err" | "warning" | "notice";
  message: string;
}

interface CaseSpec {
  description: string;
  args: string[] | string[][];
  stdin?: string;
  bridges?: Record<string, "linux" | "ovs">;
  filters?: string[];
  policyMode?: string;
  policyDirMode?: string;
  exit: number;
  stdout?: "input";
  stderr?: string;
  log?: LogSpec[];
  maxMs?: number;
}

const CASE_KEYS = new Set(["description", "args", "stdin", "bridges", "filters", "policyMode", "policyDirMode", "exit", "stdout", "stderr", "log", "maxMs"]);
const FOLDER_ENTRIES = new Set(["case.json", "domain.xml", "policy.ini", "expected.xml", "networks", "networks-persistent", "nwfilter"]);

interface Case {
  name: string;
  dir: string;
  spec: CaseSpec;
  stdin: Buffer;
  expected: Buffer | undefined;
  sandbox: SandboxSpec;
}

/** NAME.xml files of a case's networks or nwfilter folder, by NAME. */
function readNetworks(dir: string): Record<string, Buffer> | undefined {
  if (!existsSync(dir)) return undefined;
  const out: Record<string, Buffer> = {};
  for (const f of readdirSync(dir)) {
    if (!f.endsWith(".xml")) throw new Error(`${dir}/${f}: files here are NAME.xml`);
    out[f.slice(0, -4)] = readFileSync(join(dir, f));
  }
  return out;
}

/** Reads and checks one case folder; a malformed case is an error, never a silent pass. */
function loadCase(name: string): Case {
  const dir = join(FIXTURES_DIR, name);
  for (const entry of readdirSync(dir)) {
    if (!FOLDER_ENTRIES.has(entry)) throw new Error(`${name}: unexpected file ${entry} (see test/fixtures/README.md)`);
  }
  const spec = JSON.parse(readFileSync(join(dir, "case.json"), "utf8")) as CaseSpec;
  for (const key of Object.keys(spec)) if (!CASE_KEYS.has(key)) throw new Error(`${name}/case.json: unknown key '${key}'`);
  if (typeof spec.description !== "string" || !Array.isArray(spec.args) || typeof spec.exit !== "number") {
    throw new Error(`${name}/case.json: description, args and exit are required`);
  }
  const hasDomain = existsSync(join(dir, "domain.xml"));
  if (hasDomain === (spec.stdin !== undefined)) throw new Error(`${name}: give exactly one of domain.xml and "stdin"`);
  const expected = existsSync(join(dir, "expected.xml")) ? readFileSync(join(dir, "expected.xml")) : undefined;
  if (expected && spec.stdout !== undefined) throw new Error(`${name}: expected.xml and "stdout" exclude each other`);
  const policyFile = join(dir, "policy.ini");
  const sandbox: SandboxSpec = {
    policy: existsSync(policyFile) ? readFileSync(policyFile) : undefined,
    policyMode: spec.policyMode === undefined ? undefined : Number.parseInt(spec.policyMode, 8),
    policyDirMode: spec.policyDirMode === undefined ? undefined : Number.parseInt(spec.policyDirMode, 8),
    activeNetworks: readNetworks(join(dir, "networks")),
    persistentNetworks: readNetworks(join(dir, "networks-persistent")),
    bridges: spec.bridges,
    filters: spec.filters,
    filterDefs: readNetworks(join(dir, "nwfilter")),
  };
  const stdin = hasDomain ? readFileSync(join(dir, "domain.xml")) : Buffer.from(spec.stdin ?? "", "utf8");
  return { name, dir, spec, stdin, expected, sandbox };
}

const caseNames = readdirSync(FIXTURES_DIR)
  .filter((n) => statSync(join(FIXTURES_DIR, n)).isDirectory())
  .sort();
const cases = caseNames.map(loadCase);

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A case's pattern, with {policy} and {sandbox} standing for the policy path and the sandbox directory. */
function pattern(source: string, sandbox: Sandbox): RegExp {
  const fill = (text: string, key: string, value: string) => text.split(key).join(escapeRe(value));
  return new RegExp(fill(fill(source, "{policy}", sandbox.policyPath), "{sandbox}", sandbox.dir));
}

// Every case runs three ways: the built hook as it is (the plain start, with the build's code
// cache), and as `install` leaves it with a startup snapshot and with a code cache recorded for
// the Node running the tests: the results must be the same.
const WAYS = ["built", "snapshot", "code-cache"] as const;
const installed = new Map<(typeof WAYS)[number], InstalledHook>();
const hookFor = (way: (typeof WAYS)[number]): string | undefined => (way === "built" ? undefined : installed.get(way)?.hook);

beforeAll(() => {
  ensureHookBuilt();
  for (const way of ["snapshot", "code-cache"] as const) installed.set(way, installedHook(way));
});
afterAll(() => {
  for (const i of installed.values()) rmSync(i.dir, { recursive: true, force: true });
});

describe("the installed variants", () => {
  it.each(["snapshot", "code-cache"] as const)("%s: recorded, and the hook will use it", (way) => {
    const i = installed.get(way);
    expect(i?.recorded.cache?.kind, i?.recorded.message).toBe(way);
    const text = readFileSync(i?.hook ?? "", "utf8");
    expect(describeStartupCache(startupContext(), text, process.execPath)).toMatch(/: ok \(/);
  });
});

describe("fixture folders", () => {
  it("are there, and every one has a case.json", () => {
    expect(cases.length).toBeGreaterThan(50);
  });
});

describe.concurrent("hook fixtures (dist/qemu as a process)", () => {
  for (const c of cases) {
    const argLists = (Array.isArray(c.spec.args[0]) ? c.spec.args : [c.spec.args]) as string[][];
    for (const args of argLists) {
      for (const way of WAYS) {
        const title = `${argLists.length > 1 ? `${c.name} [${args.join(" ")}]` : c.name} (${way})`;
        it(`${title}: ${c.spec.description}`, async () => {
          const sandbox = makeSandbox(c.sandbox);
          try {
            const hook = hookFor(way);
            const run = await runQemu(args, c.stdin, sandbox.env, hook ? { hook } : {});
            expect(run.timedOut, "the hook hung").toBe(false);
            const stderrContext = `stderr: ${run.stderr}`;
            expect(run.status, stderrContext).toBe(c.spec.exit);

            const expectedStdout = c.expected ?? (c.spec.stdout === "input" ? c.stdin : Buffer.alloc(0));
            // Compared as text for a readable diff, then as bytes (a BOM or CR must survive too).
            expect(run.stdout.toString("utf8"), stderrContext).toBe(expectedStdout.toString("utf8"));
            expect(run.stdout.equals(expectedStdout)).toBe(true);

            expect(stderrProblem(run.stderr)).toBeUndefined();
            if (c.spec.stderr === undefined) expect(run.stderr).toBe("");
            else expect(run.stderr).toMatch(pattern(c.spec.stderr, sandbox));

            const expectedLog = c.spec.log ?? [];
            const logged = await sandbox.logged(expectedLog.length);
            expect(logged.map((l) => `${l.priority} ${l.message}`)).toHaveLength(expectedLog.length);
            expectedLog.forEach((want, i) => {
              const got = logged[i];
              expect(got?.tag).toBe("nwfilter-hook");
              expect(got?.priority).toBe(`daemon.${want.priority}`);
              expect(got?.message).toMatch(pattern(want.message, sandbox));
            });
            if (c.spec.maxMs !== undefined) expect(run.ms).toBeLessThan(c.spec.maxMs);
          } finally {
            sandbox.remove();
          }
        });
      }
    }
  }
});

describe("a closed stdout", () => {
  it.each(WAYS)("%s: a migrate whose stdout is closed fails, in one line", async (way) => {
    const xml =
      "<domain type='kvm'>\n  <name>vm1</name>\n  <devices>\n    <interface type='bridge'><source bridge='br0'/></interface>\n  </devices>\n</domain>\n";
    const sandbox = makeSandbox({ bridges: { br0: "linux" } });
    try {
      const run = await runQemu(["vm1", "migrate", "begin", "-"], xml, sandbox.env, { hook: hookFor(way), closeStdout: true });
      expect(run.status).toBe(2);
      expect(stderrProblem(run.stderr)).toBeUndefined();
      expect(run.stderr).toMatch(/^nwfilter-hook: migrate of domain 'vm1': cannot write the domain XML to stdout: EPIPE\b/);
      // The filterref it added, then the write that failed.
      const log = await sandbox.logged(2);
      expect(log.map((e) => e.priority)).toEqual(["daemon.notice", "daemon.err"]);
      expect(log[1]?.message).toMatch(/^migrate of domain 'vm1': cannot write the domain XML to stdout: EPIPE\b/);
    } finally {
      sandbox.remove();
    }
  });
});

describe("generated inputs", () => {
  it("refuses a domain larger than 16 MiB without printing it, with one line on stderr", async () => {
    const head = "<domain type='kvm'>\n  <name>big</name>\n  <description>";
    const tail = "</description>\n  <devices>\n    <interface type='bridge'><source bridge='br0'/></interface>\n  </devices>\n</domain>\n";
    const size = 16 * 1024 * 1024 + 1;
    const big = head + "x".repeat(size - head.length - tail.length) + tail;
    expect(Buffer.byteLength(big)).toBe(size);
    const sandbox = makeSandbox({ bridges: { br0: "linux" } });
    try {
      for (const op of ["migrate", "prepare"]) {
        const run = await runQemu(["big", op, "begin", "-"], big, sandbox.env);
        expect(run.status).toBe(2);
        expect(run.stdout.length).toBe(0);
        expect(stderrProblem(run.stderr)).toBeUndefined();
        expect(run.stderr).toMatch(/^nwfilter-hook: .*domain XML of 'big' on stdin: input is larger than 16777216 bytes\n$/);
      }
    } finally {
      sandbox.remove();
    }
  });

  it("accepts a domain of just under 16 MiB (the limit is on bytes, not characters)", async () => {
    // Multi-byte characters: 16 MiB of bytes is far fewer characters; the limit must count bytes
    // both ways, and a large but legal document must still come back byte for byte.
    const head = "<domain type='kvm'>\n  <name>big</name>\n  <description>";
    const tail = "</description>\n  <devices>\n    <interface type='bridge'><source bridge='br0'/></interface>\n  </devices>\n</domain>\n";
    const filler = "é".repeat(Math.floor((16 * 1024 * 1024 - 64 * 1024 - head.length - tail.length) / 2));
    const xml = head + filler + tail;
    const sandbox = makeSandbox({ bridges: { br0: "linux" } });
    try {
      const run = await runQemu(["big", "migrate", "begin", "-"], xml, sandbox.env, { timeoutMs: 60_000 });
      expect(run.stderr).toBe("");
      expect(run.status).toBe(0);
      expect(run.stdout.toString("utf8")).toBe(xml.replace("</interface>", "<filterref filter='vdsm-no-mac-spoofing'/></interface>"));
    } finally {
      sandbox.remove();
    }
  });
});

describe("generated inputs at libxml2's limits", () => {
  const domainWith = (metadata: string) =>
    `<domain type='kvm'>\n  <name>vm1</name>\n  <metadata>${metadata}</metadata>\n  <devices>\n    <interface type='bridge'><source bridge='br0'/></interface>\n  </devices>\n</domain>\n`;

  it("refuses 6 MB of invalid UTF-8 as invalid UTF-8, not as too large", async () => {
    const bytes = Buffer.concat([
      Buffer.from("<domain type='kvm'><name>vm1</name><description>"),
      Buffer.alloc(6_000_000, 0xff),
      Buffer.from("</description></domain>"),
    ]);
    const sandbox = makeSandbox({ bridges: { br0: "linux" } });
    try {
      const run = await runQemu(["vm1", "migrate", "begin", "-"], bytes, sandbox.env);
      expect(run.status).toBe(2);
      expect(run.stdout.length).toBe(0);
      expect(run.stderr).toBe(
        "nwfilter-hook: migrate of domain 'vm1': domain XML of 'vm1' on stdin:1:49: not valid UTF-8: bytes 0xFF 0xFF 0xFF 0xFF at byte offset 48 (a document in another encoding must name it in its XML declaration)\n",
      );
    } finally {
      sandbox.remove();
    }
  });

  it("reads element and attribute names of 50,000 characters and refuses 50,001, as libxml2 does", async () => {
    const sandbox = makeSandbox({ bridges: { br0: "linux" } });
    try {
      for (const [what, make] of [
        ["element", (n: number) => `<x:${"a".repeat(n)} xmlns:x='urn:x'/>`],
        ["attribute", (n: number) => `<x:a xmlns:x='urn:x' ${"b".repeat(n)}='1'/>`],
      ] as const) {
        const ok = await runQemu(["vm1", "prepare", "begin", "-"], domainWith(make(50_000)), sandbox.env);
        expect(ok.stderr, what).toMatch(/^nwfilter-hook: refusing to start domain 'vm1'/);
        expect(ok.status, what).toBe(1);
        const long = await runQemu(["vm1", "prepare", "begin", "-"], domainWith(make(50_001)), sandbox.env);
        expect(long.status, what).toBe(2);
        expect(long.stderr, what).toMatch(
          /^nwfilter-hook: prepare of domain 'vm1': domain XML of 'vm1' on stdin:3:\d+: malformed XML: a name longer than 50000 characters \(libxml2's limit\)\n$/,
        );
      }
    } finally {
      sandbox.remove();
    }
  });

  it("refuses 1.3 million levels of nesting at the 258th element, quickly", async () => {
    const sandbox = makeSandbox({ bridges: { br0: "linux" } });
    try {
      const run = await runQemu(
        ["vm1", "prepare", "begin", "-"],
        domainWith("<x:a xmlns:x='urn:x'>" + "<x:a>".repeat(1_300_000) + "</x:a>".repeat(1_300_001)),
        sandbox.env,
      );
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(/stdin:3:\d+: malformed XML: elements nested more than 256 levels deep/);
    } finally {
      sandbox.remove();
    }
  });
});

describe("expected outputs are valid libvirt domain XML", () => {
  const ci = process.env.CI === "true";
  const usable = xmllintUsable();
  it.skipIf(!usable && !ci)("every expected.xml validates against the libvirt domain schema when its domain.xml does", () => {
    expect(usable, "xmllint and the libvirt schema (libxml2-utils, libvirt-clients) are required under CI").toBe(true);
    const pairs = cases.filter((c) => c.expected !== undefined && existsSync(join(c.dir, "domain.xml")));
    expect(pairs.length).toBeGreaterThan(20);
    const scratch = mkdtempSync(join(tmpdir(), "nwfh-fixture-schema-"));
    try {
      const files: string[] = [];
      for (const c of pairs) {
        files.push(join(c.dir, "domain.xml"));
        // Copied because expected.xml is not a domain file name xmllint would report apart.
        const out = join(scratch, `${c.name}.expected.xml`);
        writeFileSync(out, c.expected as Buffer);
        files.push(out);
      }
      const verdict = validateFiles(files);
      const failures = pairs.filter((c) => verdict.get(join(c.dir, "domain.xml")) && !verdict.get(join(scratch, `${c.name}.expected.xml`))).map((c) => c.name);
      expect(failures).toEqual([]);
      // Not vacuous: most fixture domains are schema-valid.
      expect(pairs.filter((c) => verdict.get(join(c.dir, "domain.xml"))).length).toBeGreaterThan(pairs.length / 2);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
