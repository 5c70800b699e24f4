// The watcher's Prometheus textfile (src/watch/metrics.ts, src/host/metrics-file.ts): the text
// held to the exposition format 0.0.4 by a small parser here (HELP and TYPE before each family's
// samples, names and labels as the format spells them, values that parse), the values from the
// status, the counters from the log, and the file written whole, 0644, or not at all.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { metricsFile } from "../../src/host/metrics-file.js";
import type { WatchStatus } from "../../src/host/watch-status.js";
import { countingLogger, renderMetrics } from "../../src/watch/metrics.js";

interface Family {
  help: string;
  type: string;
  samples: Map<string, number>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (\S+)$/;

/** Parses text format 0.0.4 as far as this file uses it; throws at the first line that breaks it. */
function parse(text: string): Map<string, Family> {
  if (!text.endsWith("\n")) throw new Error("the text must end with a newline");
  const families = new Map<string, Family>();
  let current: { name: string; help?: string; type?: string } | undefined;
  for (const [i, line] of text.slice(0, -1).split("\n").entries()) {
    const at = `line ${i + 1}: ${line}`;
    const meta = /^# (HELP|TYPE) (\S+) (.+)$/.exec(line);
    if (meta) {
      const [, kind, name = "", rest = ""] = meta;
      if (!NAME.test(name)) throw new Error(`bad name, ${at}`);
      if (current?.name !== name) {
        if (families.has(name)) throw new Error(`family given twice, ${at}`);
        current = { name };
      }
      if (kind === "HELP") current.help = rest;
      else if (["counter", "gauge", "untyped"].includes(rest)) current.type = rest;
      else throw new Error(`bad type, ${at}`);
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a sample, ${at}`);
    const [, name = "", labels = "", value = ""] = m;
    if (current?.name !== name || current.help === undefined || current.type === undefined) throw new Error(`a sample without its HELP and TYPE, ${at}`);
    const n = value === "NaN" ? NaN : Number(value);
    if (value === "" || (Number.isNaN(n) && value !== "NaN")) throw new Error(`bad value, ${at}`);
    if (current.type === "counter" && !name.endsWith("_total")) throw new Error(`a counter's name ends in _total, ${at}`);
    const family = families.get(name) ?? { help: current.help, type: current.type, samples: new Map<string, number>() };
    if (family.samples.has(labels)) throw new Error(`a sample given twice, ${at}`);
    family.samples.set(labels, n);
    families.set(name, family);
  }
  return families;
}

const status = (over: Partial<WatchStatus> = {}): WatchStatus => ({
  pid: 4242,
  state: "watching",
  startedAt: 1_699_999_990_000,
  heartbeat: 1_700_000_002_000,
  uri: "qemu:///system",
  waitingSince: null,
  policy: "/etc/nwfilter-hook/policy.ini",
  inFlight: null,
  lastResync: {
    at: 1_700_000_001_500,
    domains: 12,
    changed: 3,
    failed: 1,
    ms: 2_250,
    nics: { compliant: 20, missing: 1, stale: 0, exempt: 2, ineligible: 3, "other-filter": 1 },
  },
  lastFailure: { at: 1_700_000_000_000, what: "x" },
  fixes: 5,
  ...over,
});

const value = (families: Map<string, Family>, name: string, labels = "") => families.get(name)?.samples.get(labels);

describe("renderMetrics", () => {
  it.each([
    ["watching, after a resync", status(), { errors: 2 }],
    ["connecting, before any resync or failure", status({ state: "connecting", lastResync: null, lastFailure: null, fixes: 0 }), { errors: 0 }],
    ["stopped", status({ state: "stopped", fixes: 1 }), { errors: 0 }],
    // A status file of a watcher from before the NIC counts and the fixes.
    ["an older watcher's status", status({ lastResync: { at: 1_700_000_001_500, domains: 1, changed: 0, failed: 0, ms: 5 }, fixes: undefined }), { errors: 0 }],
  ])("%s: valid text format, every family with HELP and TYPE", (_, s, counts) => {
    const families = parse(renderMetrics({ status: s, ...counts }));
    for (const [name, f] of families) {
      expect(name).toMatch(/^nwfilter_hook_/);
      expect(f.help).not.toBe("");
    }
    expect(value(families, "nwfilter_hook_watcher_up")).toBe(s.state === "stopped" ? 0 : 1);
    const states = families.get("nwfilter_hook_watcher_state")?.samples;
    expect([...(states?.entries() ?? [])].filter(([, v]) => v === 1).map(([k]) => k)).toEqual([`{state="${s.state}"}`]);
    expect(states?.size).toBe(3);
    expect(value(families, "nwfilter_hook_fixes_total")).toBe(s.fixes ?? 0);
    const nics = families.get("nwfilter_hook_last_resync_nics")?.samples;
    expect([...(nics?.keys() ?? [])].sort()).toEqual(["compliant", "exempt", "ineligible", "missing", "other-filter", "stale"].map((k) => `{status="${k}"}`));
    for (const [k, v] of Object.entries(s.lastResync?.nics ?? {})) expect(value(families, "nwfilter_hook_last_resync_nics", `{status="${k}"}`)).toBe(v);
    if (s.lastResync?.nics === undefined) expect([...(nics?.values() ?? [])].every((v) => v === 0)).toBe(true);
    expect(value(families, "nwfilter_hook_errors_total")).toBe(counts.errors);
    expect(families.get("nwfilter_hook_fixes_total")?.type).toBe("counter");
    expect(value(families, "nwfilter_hook_last_resync_timestamp_seconds")).toBe(s.lastResync ? s.lastResync.at / 1000 : 0);
    expect(value(families, "nwfilter_hook_last_resync_domains", '{outcome="total"}')).toBe(s.lastResync?.domains ?? 0);
    expect(value(families, "nwfilter_hook_last_resync_domains", '{outcome="changed"}')).toBe(s.lastResync?.changed ?? 0);
    expect(value(families, "nwfilter_hook_last_resync_domains", '{outcome="failed"}')).toBe(s.lastResync?.failed ?? 0);
    expect(value(families, "nwfilter_hook_last_resync_duration_seconds")).toBe(s.lastResync ? s.lastResync.ms / 1000 : 0);
    expect(value(families, "nwfilter_hook_last_failure_timestamp_seconds")).toBe(s.lastFailure ? s.lastFailure.at / 1000 : 0);
    expect(value(families, "nwfilter_hook_watcher_heartbeat_timestamp_seconds")).toBe(s.heartbeat / 1000);
  });

  it.each([
    ["a sample before its TYPE", "# HELP a_b x\na_b 1\n"],
    ["a bad value", "# HELP a_b x\n# TYPE a_b gauge\na_b one\n"],
    ["a counter not named _total", "# HELP a_b x\n# TYPE a_b counter\na_b 1\n"],
    ["no final newline", "# HELP a_b x\n# TYPE a_b gauge\na_b 1"],
    ["a label without quotes", "# HELP a_b x\n# TYPE a_b gauge\na_b{s=x} 1\n"],
  ])("the test's parser refuses %s", (_, text) => {
    expect(() => parse(text)).toThrow();
  });
});

describe("countingLogger", () => {
  it("counts the errors, and passes every line on", () => {
    const lines: string[] = [];
    const log = countingLogger((p, m) => lines.push(`${p} ${m}`));
    log("notice", "web1 live 52:54:00:00:00:01: added filterref vdsm-no-mac-spoofing");
    log("notice", "web1 config 52:54:00:00:00:01: changed by someone else, read again");
    log("err", "cannot connect");
    log("warning", "slow: added nothing");
    log("info", "resync: 3 domains");
    expect(log.counts()).toEqual({ errors: 1 });
    expect(lines).toHaveLength(5);
  });
});

describe("metricsFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "nwfh-metrics-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes the file whole, mode 0644, leaving no temporary file", () => {
    const warnings: string[] = [];
    const path = join(dir, "nwfilter-hook.prom");
    const file = metricsFile(path, (m) => warnings.push(m));
    file.write("a 1\n");
    file.write("a 2\n");
    expect(readFileSync(path, "utf8")).toBe("a 2\n");
    expect(statSync(path).mode & 0o777).toBe(0o644);
    expect(readdirSync(dir)).toEqual(["nwfilter-hook.prom"]);
    expect(warnings).toEqual([]);
  });

  it("without its directory, writes nothing and says so once", () => {
    const warnings: string[] = [];
    const file = metricsFile(join(dir, "absent", "nwfilter-hook.prom"), (m) => warnings.push(m));
    file.write("a 1\n");
    file.write("a 2\n");
    expect(warnings).toEqual([`metrics: not written: the directory ${join(dir, "absent")} does not exist (is prometheus-node-exporter installed?)`]);
  });
});
