// decide (src/core/decide.ts): the hook's outcome for each call as data (exit code, stdout, stderr,
// syslog), with an in-memory HostFacts.
import { describe, expect, it } from "vitest";
import { XmlError } from "../../../src/core/errors.js";
import { EXIT_ERROR, EXIT_OK, EXIT_REFUSED, LISTED_NICS, decide, describeNic } from "../../../src/core/decide.js";
import { DEFAULT_POLICY, parsePolicy, type Policy } from "../../../src/core/policy.js";
import { NETWORKS, fakeHost, type FakeHostSpec } from "../../support/fake-host.js";

type Op = Parameters<typeof decide>[0];
const F = "<filterref filter='vdsm-no-mac-spoofing'/>";

function policy(changes: Partial<Omit<Policy, "exempt">> & { exempt?: Partial<Policy["exempt"]> } = {}): Policy {
  return { ...DEFAULT_POLICY, source: "/etc/nwfilter-hook/policy.ini", ...changes, exempt: { ...DEFAULT_POLICY.exempt, ...changes.exempt } };
}

const HOST: FakeHostSpec = { networks: { default: NETWORKS.nat() }, bridges: { br0: "linux", virbr0: "linux" } };

const bridgeNic = (m: string, extra = "") =>
  `    <interface type='bridge'>\n      <mac address='${m}'/>\n      <source bridge='br0'/>\n${extra}    </interface>\n`;
const domain = (devices: string, name = "vm1") => `<domain type='kvm'>\n  <name>${name}</name>\n  <devices>\n${devices}  </devices>\n</domain>\n`;

const MISSING = domain(bridgeNic("52:54:00:00:00:01") + `    <interface type='user'/>\n`);
const COMPLIANT = domain(bridgeNic("52:54:00:00:00:01", `      ${F}\n`));
const NOT_FOUND = domain(`    <interface type='network'>\n      <mac address='52:54:00:00:00:09'/>\n      <source network='gone'/>\n    </interface>\n`);

const go = (op: Op, xml: string, p: Policy = policy(), host: FakeHostSpec = HOST, arg = "vm1") => decide(op, arg, xml, p, fakeHost(host));

describe("prepare", () => {
  it("refuses (exit 1) when a NIC lacks the filter, naming domain, NIC, filter and the fix", () => {
    const o = go("prepare", MISSING);
    expect(o.exitCode).toBe(EXIT_REFUSED);
    expect(o.stdout).toBeUndefined();
    expect(o.stderr).toBe(
      "nwfilter-hook: refusing to start domain 'vm1': 1 interface(s) lack nwfilter 'vdsm-no-mac-spoofing': 52:54:00:00:00:01 (type bridge, source br0); fix with: nwfilter-hook apply vm1 (policy /etc/nwfilter-hook/policy.ini)",
    );
    expect(o.log).toEqual({ priority: "err", message: (o.stderr as string).replace(/^nwfilter-hook: /, "") });
  });

  it("audit: exit 0 with a warning and a log entry", () => {
    const o = go("prepare", MISSING, policy({ onMissing: "audit" }));
    expect(o.exitCode).toBe(EXIT_OK);
    expect(o.stdout).toBeUndefined();
    expect(o.stderr).toMatch(
      /^nwfilter-hook: warning: audit: domain 'vm1': 1 interface\(s\) lack nwfilter 'vdsm-no-mac-spoofing': .* \(starting anyway: OnMissing=audit\)$/,
    );
    expect(o.log?.priority).toBe("warning");
  });

  it("watch: starts while a healthy watcher is there, refuses as enforce does otherwise", () => {
    let asked = 0;
    const healthy = () => (asked++, { healthy: true, detail: "pid 42, last heard from 1 s ago" });
    const o = decide("prepare", "vm1", MISSING, policy({ onMissing: "watch" }), fakeHost(HOST), healthy);
    expect(o.exitCode).toBe(EXIT_OK);
    expect(o.stderr).toMatch(
      /^nwfilter-hook: warning: watch: domain 'vm1': 1 interface\(s\) lack .*\(starting: the watcher, pid 42, last heard from 1 s ago, adds the filter to the running interfaces: OnMissing=watch\)$/,
    );
    expect(o.log?.priority).toBe("warning");
    const sick = () => ({ healthy: false, detail: "its status file /run/nwfilter-hook/watch.json does not exist" });
    const r = decide("prepare", "vm1", MISSING, policy({ onMissing: "watch" }), fakeHost(HOST), sick);
    expect(r.exitCode).toBe(EXIT_REFUSED);
    expect(r.stderr).toContain("refusing to start domain 'vm1'");
    expect(r.stderr).toContain("OnMissing=watch, but no healthy watcher: its status file /run/nwfilter-hook/watch.json does not exist");
    expect(decide("prepare", "vm1", MISSING, policy({ onMissing: "watch" }), fakeHost(HOST)).exitCode).toBe(EXIT_REFUSED);
    // A compliant start never asks for the watcher's health.
    expect(decide("prepare", "vm1", COMPLIANT, policy({ onMissing: "watch" }), fakeHost(HOST), healthy)).toEqual({ exitCode: EXIT_OK });
    expect(asked).toBe(1);
    // The filter missing on this host is refused under watch, as under enforce.
    expect(decide("prepare", "vm1", COMPLIANT, policy({ onMissing: "watch" }), fakeHost({ ...HOST, filters: [] }), healthy).exitCode).toBe(EXIT_REFUSED);
  });

  it("compliant: exit 0, silent, nothing logged", () => {
    expect(go("prepare", COMPLIANT)).toEqual({ exitCode: EXIT_OK });
  });

  it("no eligible NIC at all: exit 0, silent", () => {
    expect(go("prepare", domain(`    <interface type='direct'><source dev='eth0' mode='vepa'/></interface>\n`))).toEqual({ exitCode: EXIT_OK });
  });

  it("compliant, but the filter is not defined on this host: refused, or warned in audit mode", () => {
    const none = { ...HOST, filters: [] };
    const o = go("prepare", COMPLIANT, policy(), none);
    expect(o.exitCode).toBe(EXIT_REFUSED);
    expect(o.stderr).toMatch(/which is not defined on this host; define it with: nwfilter-hook define-filter$/);
    const a = go("prepare", COMPLIANT, policy({ onMissing: "audit" }), none);
    expect(a.exitCode).toBe(EXIT_OK);
    expect(a.stderr).toMatch(/^nwfilter-hook: warning: audit: /);
  });

  it("policy off or domain exempt: exit 0 and silent even with the filter undefined", () => {
    const none = { ...HOST, filters: [] };
    expect(go("prepare", MISSING, policy({ enabled: false }), none)).toEqual({ exitCode: EXIT_OK });
    expect(go("prepare", COMPLIANT, policy({ clusterLevel: "3.1" }), none)).toEqual({ exitCode: EXIT_OK });
    expect(go("prepare", MISSING, policy({ exempt: { domains: ["vm*"] } }), none)).toEqual({ exitCode: EXIT_OK });
  });

  it("OnExisting=keep accepts a NIC with another filter; replace refuses it", () => {
    const other = domain(bridgeNic("52:54:00:00:00:02", "      <filterref filter='clean-traffic'/>\n"));
    expect(go("prepare", other)).toEqual({ exitCode: EXIT_OK });
    const o = go("prepare", other, policy({ onExisting: "replace" }));
    expect(o.exitCode).toBe(EXIT_REFUSED);
    expect(o.stderr).toContain("52:54:00:00:00:02 (type bridge, source br0, filter clean-traffic)");
  });

  it("a network without a definition is reported, not refused", () => {
    const o = go("prepare", NOT_FOUND);
    expect(o.exitCode).toBe(EXIT_OK);
    expect(o.stderr).toBe("nwfilter-hook: warning: domain 'vm1': 52:54:00:00:00:09 (type network, source gone): network definition not found, left alone");
    expect(o.log).toEqual({
      priority: "warning",
      message: "domain 'vm1': 52:54:00:00:00:09 (type network, source gone): network definition not found, left alone",
    });
  });

  it("a refusal also names the NICs whose network was not found", () => {
    const o = go(
      "prepare",
      domain(bridgeNic("52:54:00:00:00:01") + NOT_FOUND.slice(NOT_FOUND.indexOf("    <interface"), NOT_FOUND.indexOf("  </devices>"))),
      policy({ onMissing: "audit" }),
    );
    expect(o.stderr).toMatch(/starting anyway: OnMissing=audit\); 52:54:00:00:00:09 \(type network, source gone\): network definition not found, left alone$/);
  });

  it("names the domain by its XML <name>, and quotes it for the shell when needed", () => {
    const o = go("prepare", domain(bridgeNic("52:54:00:00:00:01"), "my vm"), policy(), HOST, "ignored-arg");
    expect(o.stderr).toContain("refusing to start domain 'my vm':");
    expect(o.stderr).toContain("fix with: nwfilter-hook apply 'my vm' (policy");
    const q = go("prepare", domain(bridgeNic("52:54:00:00:00:01"), "it&apos;s"));
    expect(q.stderr).toContain(`fix with: nwfilter-hook apply 'it'\\''s' (policy`);
  });
});

describe.each<Op>(["migrate", "restore"])("%s", (op) => {
  it("adds the filterref, prints the whole XML and logs what it did", () => {
    const o = go(op, MISSING);
    expect(o.exitCode).toBe(EXIT_OK);
    expect(o.stdout).toBe(MISSING.replace("<source bridge='br0'/>\n", `<source bridge='br0'/>\n      ${F}\n`));
    expect(o.stderr).toBeUndefined();
    expect(o.log).toEqual({
      priority: "notice",
      message: `${op} of domain 'vm1': added 'vdsm-no-mac-spoofing' on 52:54:00:00:00:01 (type bridge, source br0)`,
    });
  });

  it("prints the input unchanged, silently, when nothing needs doing", () => {
    expect(go(op, COMPLIANT)).toEqual({ exitCode: EXIT_OK, stdout: COMPLIANT });
    expect(go(op, MISSING, policy({ enabled: false }))).toEqual({ exitCode: EXIT_OK, stdout: MISSING });
  });

  it("refuses (nothing on stdout) when the filter is not defined here; audit passes the XML unchanged", () => {
    const none = { ...HOST, filters: [] };
    const o = go(op, MISSING, policy(), none);
    expect(o.exitCode).toBe(EXIT_REFUSED);
    expect(o.stdout).toBeUndefined();
    expect(o.stderr).toBe(
      `nwfilter-hook: refusing to ${op} domain 'vm1': nwfilter 'vdsm-no-mac-spoofing' is not defined on this host; define it with: nwfilter-hook define-filter`,
    );
    const a = go(op, MISSING, policy({ onMissing: "audit" }), none);
    expect(a).toMatchObject({ exitCode: EXIT_OK, stdout: MISSING, log: { priority: "warning" } });
    expect(a.stderr).toMatch(new RegExp(`^nwfilter-hook: warning: audit: ${op} of domain 'vm1' passes unchanged: `));
  });

  it("an undefined filter does not matter when no NIC needs it", () => {
    const none = { ...HOST, filters: [] };
    const xml = domain(`    <interface type='user'/>\n`);
    expect(go(op, xml, policy(), none)).toEqual({ exitCode: EXIT_OK, stdout: xml });
  });

  it("replace: logs the replaced filter", () => {
    const other = domain(bridgeNic("52:54:00:00:00:02", "      <filterref filter='clean-traffic'/>\n"));
    const o = go(op, other, policy({ onExisting: "replace" }));
    expect(o.stdout).toBe(other.replace("clean-traffic", "vdsm-no-mac-spoofing"));
    expect(o.log?.message).toBe(
      `${op} of domain 'vm1': replaced filter clean-traffic with 'vdsm-no-mac-spoofing' on 52:54:00:00:00:02 (type bridge, source br0, filter clean-traffic)`,
    );
  });

  it("a network without a definition: XML unchanged, a warning", () => {
    const o = go(op, NOT_FOUND);
    expect(o).toMatchObject({ exitCode: EXIT_OK, stdout: NOT_FOUND, log: { priority: "warning" } });
    expect(o.stderr).toBe(
      `nwfilter-hook: warning: ${op} of domain 'vm1': 52:54:00:00:00:09 (type network, source gone): network definition not found, left alone`,
    );
  });

  it("malformed XML is thrown as an XmlError for the shell to report", () => {
    expect(() => go(op, "<domain>")).toThrow(XmlError);
    expect(() => go(op, "<interface type='bridge'/>")).toThrow(/expected a <domain>, found <interface>/);
  });
});

describe("describeNic", () => {
  const span = { start: 0, end: 0 };
  const base = { index: 2, line: 1, type: "bridge", parameters: [], status: "missing" as const, input: span, output: span };
  it.each([
    [{ ...base, mac: "52:54:00:00:00:01", source: "br0", filter: undefined }, "52:54:00:00:00:01 (type bridge, source br0)"],
    [{ ...base, mac: undefined, source: undefined, filter: undefined }, "interface #3 (type bridge)"],
    [{ ...base, mac: undefined, source: "default/pg", filter: "x" }, "interface #3 (type bridge, source default/pg, filter x)"],
    [{ ...base, type: "", mac: undefined, source: undefined, filter: "" }, "interface #3 (type (none), filter )"],
  ])("%j", (nic, text) => {
    expect(describeNic(nic)).toBe(text);
  });
});

it("exit codes are distinct", () => {
  expect(new Set([EXIT_OK, EXIT_REFUSED, EXIT_ERROR]).size).toBe(3);
  expect(EXIT_OK).toBe(0);
});

describe("long lists of NICs", () => {
  const many = (n: number) => domain(Array.from({ length: n }, (_, i) => bridgeNic(`52:54:00:00:01:${i.toString(16).padStart(2, "0")}`)).join(""));

  it(`a refusal names the first ${LISTED_NICS} NICs and counts the rest, so that stderr and syslog stay short`, () => {
    const o = go("prepare", many(20));
    expect(o.exitCode).toBe(EXIT_REFUSED);
    expect(o.stderr).toContain("20 interface(s) lack nwfilter");
    expect(o.stderr).toContain(`52:54:00:00:01:0${LISTED_NICS - 1} (type bridge, source br0); and ${20 - LISTED_NICS} more; fix with:`);
    expect(o.stderr).not.toContain(`52:54:00:00:01:0${LISTED_NICS}`);
  });

  it("migrate changes every NIC but logs the first ones and a count", () => {
    const o = go("migrate", many(4096));
    expect((o.stdout as string | undefined)?.match(/<filterref /g)).toHaveLength(4096);
    expect(o.log?.message).toMatch(new RegExp(`; and ${4096 - LISTED_NICS} more$`));
    expect(o.log?.message.length).toBeLessThan(1024);
  });

  it(`exactly ${LISTED_NICS} NICs are all named`, () => {
    const o = go("migrate", many(LISTED_NICS));
    expect(o.log?.message).not.toContain("more");
    expect(o.log?.message.match(/added /g)).toHaveLength(LISTED_NICS);
  });
});

describe("chosen filters", () => {
  const GATEWAY = "<filter name='clean-traffic-gateway'>\n  <rule action='accept' direction='in'><mac srcmacaddr='$GATEWAY_MAC'/></rule>\n</filter>\n";
  const CHOICE_HOST: FakeHostSpec = {
    ...HOST,
    networks: { prod: NETWORKS.nat("prod", "virbr7") },
    bridges: { br0: "linux", virbr7: "linux" },
    filters: ["vdsm-no-mac-spoofing", "clean-traffic"],
    filterDefs: { "clean-traffic-gateway": GATEWAY },
  };
  const netNic = (m: string, extra = "") =>
    `    <interface type='network'>\n      <mac address='${m}'/>\n      <source network='prod'/>\n${extra}    </interface>\n`;
  const withPolicy = (text: string, changes: Partial<Policy> = {}) => ({ ...parsePolicy(text, "/etc/nwfilter-hook/policy.ini"), ...changes });
  const PROD = withPolicy("[network:prod]\nFilter = clean-traffic\nParameters = IP=192.0.2.10, IP=192.0.2.11\n");
  const GW = withPolicy("[bridge:br0]\nFilter = clean-traffic-gateway\n");
  const gwRef = "      <filterref filter='clean-traffic-gateway'/>\n";

  it("prepare names what each NIC lacks: the filter, its parameters and the level that chose it", () => {
    const o = go("prepare", domain(netNic("52:54:00:00:00:01")), PROD, CHOICE_HOST);
    expect(o.exitCode).toBe(EXIT_REFUSED);
    expect(o.stderr).toBe(
      "nwfilter-hook: refusing to start domain 'vm1': 1 interface(s) lack nwfilter 'clean-traffic' (IP=192.0.2.10, IP=192.0.2.11) from [network:prod]: 52:54:00:00:00:01 (type network, source prod); fix with: nwfilter-hook apply vm1 (policy /etc/nwfilter-hook/policy.ini)",
    );
  });

  it("NICs that lack different things are named each with its own", () => {
    const o = go("prepare", domain(netNic("52:54:00:00:00:01") + bridgeNic("52:54:00:00:00:02")), PROD, CHOICE_HOST);
    expect(o.stderr).toContain(
      "2 interface(s) lack their nwfilter: 52:54:00:00:00:01 (type network, source prod) lacks nwfilter 'clean-traffic' (IP=192.0.2.10, IP=192.0.2.11) from [network:prod]; 52:54:00:00:00:02 (type bridge, source br0) lacks nwfilter 'vdsm-no-mac-spoofing'; fix with",
    );
  });

  it("a stale NIC (a filter the policy manages, but not its choice) is refused under OnExisting = keep", () => {
    const o = go("prepare", domain(netNic("52:54:00:00:00:01", `      ${F}\n`)), PROD, CHOICE_HOST);
    expect(o.exitCode).toBe(EXIT_REFUSED);
    expect(o.stderr).toContain("52:54:00:00:00:01 (type network, source prod, filter vdsm-no-mac-spoofing)");
  });

  it.each(["enforce", "audit", "watch"] as const)(
    "OnMissing=%s: a start libvirt would fail for a variable not given is refused, naming domain, NIC, filter, variable and where to give it",
    (onMissing) => {
      const o = decide("prepare", "vm1", domain(bridgeNic("52:54:00:00:00:01", gwRef)), { ...GW, onMissing }, fakeHost(CHOICE_HOST), () => ({
        healthy: true,
        detail: "ok",
      }));
      expect(o.exitCode).toBe(EXIT_REFUSED);
      expect(o.stderr).toBe(
        "nwfilter-hook: refusing to start domain 'vm1': 1 interface(s) cannot get their nwfilter: 52:54:00:00:00:01 (type bridge, source br0, filter clean-traffic-gateway) with nwfilter 'clean-traffic-gateway' from [bridge:br0]: nwfilter 'clean-traffic-gateway' needs GATEWAY_MAC, which is not given (libvirt would fail: \"Cannot instantiate filter due to unresolvable variables\"); give it in [bridge:br0] (Parameters = GATEWAY_MAC=VALUE) or in the interface's metadata (<nwfh:parameter name='GATEWAY_MAC' value='VALUE'/>) (policy /etc/nwfilter-hook/policy.ini)",
      );
    },
  );

  it("migrate and restore refuse to write a filterref libvirt would fail on, whatever OnMissing says", () => {
    for (const op of ["migrate", "restore"] as const) {
      const o = go(op, domain(bridgeNic("52:54:00:00:00:01")), { ...GW, onMissing: "audit" }, CHOICE_HOST);
      expect(o.exitCode).toBe(EXIT_REFUSED);
      expect(o.stdout).toBeUndefined();
      expect(o.stderr).toMatch(new RegExp(`^nwfilter-hook: refusing to ${op} domain 'vm1': 1 interface\\(s\\) cannot get their nwfilter: .*needs GATEWAY_MAC`));
    }
  });

  it("a NIC that lacks a filter libvirt could not instantiate says so, with the rest of the refusal", () => {
    const o = go("prepare", domain(bridgeNic("52:54:00:00:00:01")), GW, CHOICE_HOST);
    expect(o.exitCode).toBe(EXIT_REFUSED);
    expect(o.stderr).toContain(
      "lacks nwfilter 'clean-traffic-gateway' from [bridge:br0], but nwfilter 'clean-traffic-gateway' needs GATEWAY_MAC, which is not given",
    );
    // Under audit it starts, since libvirt starts a NIC without a filterref; the warning says what is wrong.
    const a = go("prepare", domain(bridgeNic("52:54:00:00:00:01")), { ...GW, onMissing: "audit" }, CHOICE_HOST);
    expect(a.exitCode).toBe(EXIT_OK);
    expect(a.stderr).toContain("needs GATEWAY_MAC");
  });

  it("a chosen filter that is not defined here is refused as the default one is, naming it", () => {
    const gone = withPolicy("[network:prod]\nFilter = gone\n");
    const compliant = domain(netNic("52:54:00:00:00:01", "      <filterref filter='gone'/>\n"));
    expect(go("prepare", compliant, gone, CHOICE_HOST).stderr).toBe(
      "nwfilter-hook: refusing to start domain 'vm1' references nwfilter 'gone', which is not defined on this host; define it with: nwfilter-hook define-filter",
    );
    expect(go("prepare", compliant, { ...gone, onMissing: "audit" }, CHOICE_HOST).exitCode).toBe(EXIT_OK);
    const m = go("migrate", domain(netNic("52:54:00:00:00:01")), gone, CHOICE_HOST);
    expect(m.exitCode).toBe(EXIT_REFUSED);
    expect(m.stderr).toBe(
      "nwfilter-hook: refusing to migrate domain 'vm1': nwfilter 'gone' is not defined on this host; define it with: nwfilter-hook define-filter",
    );
  });

  it("migrate logs what it wrote on each NIC", () => {
    const xml = domain(
      netNic("52:54:00:00:00:01") + netNic("52:54:00:00:00:02", "      <filterref filter='clean-traffic'><parameter name='IP' value='1.1.1.1'/></filterref>\n"),
    );
    const o = go("migrate", xml, PROD, CHOICE_HOST);
    expect(o.exitCode).toBe(EXIT_OK);
    expect(o.log).toEqual({
      priority: "notice",
      message:
        "migrate of domain 'vm1': added 'clean-traffic' (IP=192.0.2.10, IP=192.0.2.11) on 52:54:00:00:00:01 (type network, source prod); rewrote filter clean-traffic as 'clean-traffic' (IP=192.0.2.10, IP=192.0.2.11) on 52:54:00:00:00:02 (type network, source prod, filter clean-traffic)",
    });
  });
});
