// parsePolicy, compareVersions, isActive (src/core/policy.ts): the policy is validated strictly, and
// every error names the file, the line and the key.
import { describe, expect, it } from "vitest";
import { PolicyError, formatError } from "../../../src/core/errors.js";
import fc from "fast-check";
import { decode } from "ini";
import {
  DEFAULT_POLICY,
  FILTER_NAME_RE,
  compareVersions,
  decodePlain,
  isActive,
  locate,
  parsePolicy,
  type Located,
  type Policy,
} from "../../../src/core/policy.js";

const FILE = "/etc/nwfilter-hook/policy.ini";

function parseError(text: string): PolicyError {
  try {
    parsePolicy(text, FILE);
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyError);
    return error as PolicyError;
  }
  throw new Error(`accepted: ${JSON.stringify(text)}`);
}

describe("defaults", () => {
  it("an empty file (or one with comments only) gives the built-in defaults, feature on", () => {
    for (const text of ["", "\n\n", "; nothing here\n# nor here\n", "[filtering]\n[exempt]\n"]) {
      const p = parsePolicy(text, FILE);
      expect(p).toEqual({ ...DEFAULT_POLICY, source: FILE, exempt: { domains: [], networks: [], bridges: [], macs: [] } });
      expect(isActive(p)).toBe(true);
    }
  });

  it("the defaults are those of the design", () => {
    expect(DEFAULT_POLICY).toMatchObject({
      enabled: true,
      filter: "vdsm-no-mac-spoofing",
      onMissing: "enforce",
      onExisting: "keep",
      exempt: { domains: [], networks: [], bridges: [], macs: [] },
    });
    expect(compareVersions(DEFAULT_POLICY.clusterLevel, "3.2")).toBeGreaterThanOrEqual(0);
  });

  it("parsing does not share or change the defaults' lists", () => {
    const p = parsePolicy("[exempt]\nDomains = a\n", FILE);
    p.exempt.networks.push("x");
    expect(DEFAULT_POLICY.exempt.domains).toEqual([]);
    expect(DEFAULT_POLICY.exempt.networks).toEqual([]);
    expect(parsePolicy("", FILE).exempt.networks).toEqual([]);
  });
});

describe("values", () => {
  it("reads every key of the design's example", () => {
    const p = parsePolicy(
      [
        "[filtering]",
        "EnableMACAntiSpoofingFilterRules = true   ; default true",
        "ClusterLevel = 4.7                        ; dotted version",
        "Filter = clean-traffic                    ; nwfilter to reference",
        "OnMissing = audit",
        "OnExisting = replace",
        "",
        "[exempt]",
        "Domains = lab-*, nested-router",
        "Networks = trunk, , storage ",
        "Bridges = br-trunk",
        "MACs = 52:54:00:AA:bb:cc, 52:54:00:00:00:01",
      ].join("\n"),
      FILE,
    );
    expect(p).toEqual<Policy>({
      source: FILE,
      enabled: true,
      clusterLevel: "4.7",
      filter: "clean-traffic",
      onMissing: "audit",
      onExisting: "replace",
      resyncInterval: 600,
      domainMetadata: "trust",
      sections: [],
      exempt: {
        domains: ["lab-*", "nested-router"],
        networks: ["trunk", "storage"],
        bridges: ["br-trunk"],
        macs: ["52:54:00:aa:bb:cc", "52:54:00:00:00:01"],
      },
    });
  });

  it.each([
    ["true", true],
    ["false", false],
    ["yes", true],
    ["no", false],
    ["on", true],
    ["off", false],
    ["1", true],
    ["0", false],
    ["TRUE", true],
    ["False", false],
    ["No", false],
  ])("EnableMACAntiSpoofingFilterRules = %s -> %s", (value, enabled) => {
    expect(parsePolicy(`[filtering]\nEnableMACAntiSpoofingFilterRules = ${value}\n`, FILE).enabled).toBe(enabled);
  });

  it("section, key and enum names are case-insensitive", () => {
    const p = parsePolicy("[FILTERING]\nonmissing = AUDIT\nONEXISTING = Replace\nclusterlevel = 3.10\n[Exempt]\nmacs = 52:54:00:00:00:0A\n", FILE);
    expect(p.onMissing).toBe("audit");
    expect(p.onExisting).toBe("replace");
    expect(p.clusterLevel).toBe("3.10");
    expect(p.exempt.macs).toEqual(["52:54:00:00:00:0a"]);
  });

  it("accepts CRLF line endings", () => {
    const p = parsePolicy("[filtering]\r\nOnMissing = audit\r\n[exempt]\r\nDomains = a, b\r\n", FILE);
    expect(p.onMissing).toBe("audit");
    expect(p.exempt.domains).toEqual(["a", "b"]);
  });

  it.each(["vdsm-no-mac-spoofing", "clean-traffic", "no_ip.spoofing:v2", "a"])("accepts filter name %s", (name) => {
    expect(parsePolicy(`[filtering]\nFilter = ${name}\n`, FILE).filter).toBe(name);
    expect(FILTER_NAME_RE.test(name)).toBe(true);
  });

  it.each(["no spaces", "quote'd", "<x>", "-leading-dash", "a/b", 'dq"'])("refuses filter name %j", (name) => {
    expect(FILTER_NAME_RE.test(name)).toBe(false);
    expect(parseError(`[filtering]\nFilter = ${name}\n`).message).toMatch(/^Filter: /);
  });
});

describe("errors name the file, the line and the key", () => {
  const cases: [string, string, number, RegExp][] = [
    ["unknown section", "[filtering]\nOnMissing = audit\n[exemptions]\nDomains = x\n", 3, /unknown section \[exemptions\]/],
    ["dotted section", "[filtering.extra]\nX = 1\n", 1, /unknown section \[filtering\.extra\]/],
    ["unknown key", "[filtering]\n\nOnMising = audit\n", 3, /unknown key 'OnMising' in \[filtering\]/],
    ["key of the other section", "[exempt]\nFilter = x\n", 2, /unknown key 'Filter' in \[exempt\]/],
    ["bad boolean", "[filtering]\nEnableMACAntiSpoofingFilterRules = maybe\n", 2, /^EnableMACAntiSpoofingFilterRules: expected true or false, got 'maybe'$/],
    ["bad version (letters)", "[filtering]\nClusterLevel = 4.x\n", 2, /^ClusterLevel: expected a dotted version/],
    ["bad version (trailing dot)", "[filtering]\nClusterLevel = 4.\n", 2, /^ClusterLevel: /],
    ["bad version (empty)", "[filtering]\nClusterLevel =\n", 2, /^ClusterLevel: /],
    ["bad version (negative)", "[filtering]\nClusterLevel = -1\n", 2, /^ClusterLevel: /],
    ["bad OnMissing", "[filtering]\nOnMissing = warn\n", 2, /^OnMissing: expected enforce, audit or watch, got 'warn'$/],
    ["ResyncInterval not a number", "[filtering]\nResyncInterval = 10m\n", 2, /^ResyncInterval: expected a whole number of seconds, got '10m'$/],
    ["ResyncInterval too short", "[filtering]\n\nResyncInterval = 1\n", 3, /^ResyncInterval: expected 10 to 86400 seconds, got 1$/],
    ["ResyncInterval too long", "[filtering]\nResyncInterval = 100000\n", 2, /^ResyncInterval: expected 10 to 86400 seconds, got 100000$/],
    ["ResyncInterval negative", "[filtering]\nResyncInterval = -5\n", 2, /^ResyncInterval: expected a whole number of seconds, got '-5'$/],
    ["bad OnExisting", "[filtering]\nOnExisting = drop\n", 2, /^OnExisting: expected keep or replace, got 'drop'$/],
    ["bad MAC", "[exempt]\nMACs = 52:54:00:aa:bb:cc, 52-54-00-aa-bb-cd\n", 2, /^MACs: '52-54-00-aa-bb-cd' is not a MAC address/],
    ["short MAC", "[exempt]\nMACs = 52:54:00:aa:bb\n", 2, /^MACs: '52:54:00:aa:bb' is not a MAC address/],
    ["key outside a section", "Filter = x\n[filtering]\n", 1, /key 'Filter' is outside any section/],
    ["duplicate key", "[filtering]\nFilter = a\nFILTER = b\n", 3, /key 'FILTER' is set more than once in \[filtering\] \(first on line 2\)/],
    ["key without a value", "[filtering]\nOnMissing\n", 2, /^OnMissing: needs a value/],
    ["boolean key without a value", "[filtering]\nEnableMACAntiSpoofingFilterRules\n", 2, /^EnableMACAntiSpoofingFilterRules: needs a value/],
    ["a word ini reads as a boolean, for an enum", "[filtering]\nOnMissing = true\n", 2, /^OnMissing: expected enforce, audit or watch, got 'true'$/],
    ["a word ini reads as null, for a version", "[filtering]\nClusterLevel = null\n", 2, /^ClusterLevel: expected a dotted version such as 4\.7, got 'null'$/],
    ["unreadable line", "[filtering\n", 1, /cannot read line: "\[filtering"/],
  ];
  it.each(cases)("%s", (_what, text, line, message) => {
    const error = parseError(text);
    expect(error.message).toMatch(message);
    expect(error.where).toEqual({ file: FILE, line });
    expect(formatError(error)).toBe(`${FILE}:${line}: ${error.message}`);
  });

  it("OnMissing = watch and ResyncInterval are read, in any case", () => {
    expect(parsePolicy("[filtering]\nOnMissing = Watch\nresyncinterval = 30\n", FILE)).toMatchObject({ onMissing: "watch", resyncInterval: 30 });
  });

  it("a duplicate section is merged, but a key set in both halves is still a duplicate", () => {
    expect(parsePolicy("[filtering]\nFilter = a\n[exempt]\nDomains = x\n[filtering]\nOnMissing = audit\n", FILE)).toMatchObject({
      filter: "a",
      onMissing: "audit",
    });
    expect(parseError("[filtering]\nFilter = a\n[exempt]\n[filtering]\nFilter = b\n").where).toEqual({ file: FILE, line: 5 });
  });
});

describe("compareVersions", () => {
  it.each([
    ["3.10", "3.2", 1],
    ["3.2", "3.10", -1],
    ["3.2", "3.2", 0],
    ["3.2.0", "3.2", 0],
    ["3.2", "3.2.1", -1],
    ["4", "3.99", 1],
    ["3.1", "3.2", -1],
    ["10.0", "9.9", 1],
    ["03.2", "3.2", 0],
  ])("%s vs %s -> %d", (a, b, sign) => {
    const sgn = (n: number) => (n > 0 ? 1 : n < 0 ? -1 : 0);
    expect(sgn(compareVersions(a, b))).toBe(sign);
    expect(sgn(compareVersions(b, a))).toBe(sign === 0 ? 0 : -sign);
  });
});

describe("isActive", () => {
  const at = (clusterLevel: string, enabled = true): Policy => ({ ...DEFAULT_POLICY, clusterLevel, enabled });
  it.each([
    ["3.1", false],
    ["3.1.99", false],
    ["3.2", true],
    ["3.10", true],
    ["4.7", true],
    ["2.99", false],
  ])("cluster level %s -> %s", (level, active) => {
    expect(isActive(at(level))).toBe(active);
  });
  it("switched off, at any level", () => {
    expect(isActive(at("4.7", false))).toBe(false);
  });
});

describe("locate follows ini's grammar line for line", () => {
  // ini's decoder reads each line with this expression; locate() spells it out with string
  // operations. Both must agree on every text: what locate reports is where ini read it.
  function byExpression(text: string): { sections: Map<string, Located>; keys: Map<string, Located> } | string {
    const re = /^\[([^\]]*)\]\s*$|^([^=]+)(=(.*))?$/;
    const sections = new Map<string, Located>();
    const keys = new Map<string, Located>();
    let section = "";
    const lines = text.split(/\r?\n|\r/);
    for (let i = 0; i < lines.length; i++) {
      const raw = lines[i] ?? "";
      const line = i + 1;
      if (/^\s*([;#]|$)/.test(raw)) continue;
      const m = re.exec(raw);
      if (!m || (m[1] === undefined && raw.trimStart().startsWith("[")))
        return `${line}: cannot read line: ${JSON.stringify(raw.trim())} (expected "[section]" or "key = value")`;
      if (m[1] !== undefined) {
        section = m[1].trim().toLowerCase();
        if (!sections.has(section)) sections.set(section, { line, name: section });
        continue;
      }
      const key = (m[2] ?? "").trim();
      if (m[3] === undefined) return `${line}: ${key}: needs a value (key = value)`;
      const id = `${section}\0${key.toLowerCase()}`;
      const first = keys.get(id);
      if (first) return `${line}: key '${key}' is set more than once in [${section}] (first on line ${first.line})`;
      keys.set(id, { line, name: key });
    }
    return { sections, keys };
  }

  function byLocate(text: string): ReturnType<typeof byExpression> {
    try {
      // The choice sections' own lines are another grammar (policy-sections.ts): these texts have none.
      const { sections, keys } = locate(text, FILE);
      return { sections, keys };
    } catch (error) {
      if (!(error instanceof PolicyError)) throw error;
      return `${error.where?.line}: ${error.message}`;
    }
  }

  const pieces = ["[", "]", "=", ";", "#", " ", "\t", "\r", "\n", "\r\n", "\u00a0", "\u2028", "a", "B", "filtering", "exempt", "Filter", "x.y", "="];
  const text = fc.array(fc.constantFrom(...pieces), { maxLength: 40 }).map((parts) => parts.join(""));

  it("on arbitrary text built from the characters that matter", () => {
    fc.assert(
      fc.property(text, (t) => {
        expect(byLocate(t)).toEqual(byExpression(t));
      }),
      { numRuns: 3000 },
    );
  });

  it.each([
    "[filtering]\nFilter = a\n",
    "  [exempt]\n",
    "[a]b = c\n",
    "=x\n",
    "k = a\u2028b\n",
    "k\u2028 = b\n",
    "[a] \t\n[a]\nk=1\r\nK=2",
    ";c\n#d\n\n[x]\r\nk=\n",
  ])("%j", (t) => {
    expect(byLocate(t)).toEqual(byExpression(t));
  });
});

// decodePlain() reads the plain policies the hook meets at every start without ini's expressions;
// whatever it does read must be exactly what ini reads, and the rest is left to ini.
describe("decodePlain against ini's decode", () => {
  // Prototype-less objects as plain data, so that toEqual compares contents only.
  const plain = (v: unknown): unknown => (v !== null && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)])) : v);
  const ini = (t: string) => plain(decode(t, { bracketedArray: false }));
  const pieces = [
    "[",
    "]",
    "=",
    " = ",
    ";",
    "#",
    "'",
    '"',
    "\\",
    ".",
    " ",
    "\t",
    "\r",
    "\n",
    "\r\n",
    "\u00a0",
    "\u2028",
    "\ufeff",
    "a",
    "B",
    "filtering",
    "exempt",
    "Filter",
    "OnMissing",
    "true",
    "false",
    "null",
    "__proto__",
    "x.y",
    "[]",
    "vdsm-no-mac-spoofing",
  ];
  const text = fc.array(fc.constantFrom(...pieces), { maxLength: 40 }).map((parts) => parts.join(""));
  const lines = fc
    .array(
      fc.oneof(
        fc.constantFrom("[filtering]", "[exempt]", "[Filtering] ", "; comment", "  # comment", "", "   "),
        fc
          .tuple(fc.constantFrom("OnMissing", "Filter", "MACs", " Domains ", "k"), fc.constantFrom("enforce", " audit ", "a, b", "true", "null", "x=y", ""))
          .map(([k, v]) => `${k}=${v}`),
      ),
      { maxLength: 12 },
    )
    .chain((ls) => fc.constantFrom("\n", "\r\n", "\r").map((nl) => ls.join(nl)));
  const same = (t: string) => {
    const mine = decodePlain(t);
    if (mine !== undefined) expect(plain(mine)).toEqual(ini(t));
  };

  it("reads what ini reads, or leaves the text to ini, on arbitrary text", () => {
    fc.assert(fc.property(text, same), { numRuns: 5000 });
  });

  it("reads policies written the plain way, as ini does", () => {
    fc.assert(
      fc.property(lines, (t) => {
        same(t);
        // Such a text has nothing for ini alone, unless a key comes twice.
        const keys = t.split(/[\r\n]+/).filter((l) => l.includes("="));
        if (new Set(keys.map((l) => l.split("=")[0]?.trim())).size === keys.length) expect(decodePlain(t)).toBeDefined();
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    "[filtering]\nOnMissing = enforce\n",
    "[filtering]\r\nFilter = a\r\n\r\n[exempt]\r\nMACs = 52:54:00:aa:bb:cc, 52:54:00:aa:bb:cd\r\n",
    "k = true\nj = null\n[s]\nk = false",
    "a = false\n[a]\nb = 1\n",
    "a = 1\n[a]\nb = 1\n",
    "[a]\nk=1\n[b]\nj=2\n[a]\nl=3\n",
    "[]\nk = v\n",
    "  k  =  v = w  \n",
  ])("%j", (t) => same(t));

  it.each([
    ["quotes", '[filtering]\nFilter = "a"\n'],
    ["an inline comment", "[filtering]\nOnMissing = audit ; for now\n"],
    ["a backslash", "[exempt]\nDomains = a\\;b\n"],
    ["a dotted section", "[filtering.x]\nk = v\n"],
    ["a key twice", "[a]\nk = 1\nk = 2\n"],
    ["a key in two sections", "[a]\nk = 1\n[b]\nk = 2\n"],
    ["__proto__", "[__proto__]\nk = 1\n"],
    ["a bare key", "[a]\nk\n"],
    ["a truthy value under a section's name", "a = 1\n[a]\nb = 1\n"],
  ])("leaves %s to ini", (_, t) => {
    expect(decodePlain(t)).toBeUndefined();
  });
});
