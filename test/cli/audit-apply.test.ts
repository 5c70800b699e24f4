// audit and apply against the fake virsh: the table and the JSON, exit codes, what apply sends
// to libvirt (define for the definition, update-device --live for running NICs), --dry-run,
// --all, domains that need nothing, errors per domain, and the progress bar on a terminal.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeHarness, type Harness } from "./support/harness.js";
import { bridgeNic, domainXml, userNic } from "./support/xml.js";

const FILTER = "vdsm-no-mac-spoofing";
let h: Harness;

beforeEach(() => {
  h = makeHarness();
  writeFileSync(
    join(h.state, "nwfilters", `${FILTER}.xml`),
    `<filter name='${FILTER}' chain='root'>\n  <uuid>5a1b2c3d-0000-4000-8000-000000000009</uuid>\n</filter>\n`,
  );
  // web1: running, NIC 1 lacks the filter, NIC 2 has it, NIC 3 is user-mode networking.
  const nics = [bridgeNic("52:54:00:00:01:01"), bridgeNic("52:54:00:00:01:02", { filter: FILTER }), userNic("52:54:00:00:01:03")];
  h.domain("web1", domainXml("web1", nics), domainXml("web1", nics, { live: true }));
  // db1: shut off, compliant.
  h.domain("db1", domainXml("db1", [bridgeNic("52:54:00:00:02:01", { filter: FILTER })]));
  // lab-7: shut off, exempt by its metadata.
  h.domain("lab-7", domainXml("lab-7", [bridgeNic("52:54:00:00:03:01")], { metadata: "<nwfh:policy xmlns:nwfh='urn:nwfilter-hook:1' exempt='true'/>" }));
});
afterEach(() => h.cleanup());

describe("audit", () => {
  it("prints a table of every NIC, persistent and live, and exits 1 when one is missing", async () => {
    const r = await h.run(["audit"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatchInlineSnapshot(`
      "DOMAIN  STATE     VIEW    MAC                TYPE    SOURCE  WANTED                ACTUAL                STATUS
      db1     shut off  config  52:54:00:00:02:01  bridge  br0     vdsm-no-mac-spoofing  vdsm-no-mac-spoofing  compliant
      lab-7   shut off  config  52:54:00:00:03:01  bridge  br0     -                     -                     exempt (domain metadata exempt=true)
      web1    running   config  52:54:00:00:01:01  bridge  br0     vdsm-no-mac-spoofing  -                     missing
      web1    running   config  52:54:00:00:01:02  bridge  br0     vdsm-no-mac-spoofing  vdsm-no-mac-spoofing  compliant
      web1    running   config  52:54:00:00:01:03  user    -       -                     -                     ineligible (libvirt ignores filterref on type 'user')
      web1    running   live    52:54:00:00:01:01  bridge  br0     vdsm-no-mac-spoofing  -                     missing
      web1    running   live    52:54:00:00:01:02  bridge  br0     vdsm-no-mac-spoofing  vdsm-no-mac-spoofing  compliant
      web1    running   live    52:54:00:00:01:03  user    vnet2   -                     -                     ineligible (libvirt ignores filterref on type 'user')
      audit: 3 domains, 8 interfaces (persistent and live views): 3 compliant, 2 missing, 0 stale, 1 exempt, 2 ineligible, 0 other-filter; default filter 'vdsm-no-mac-spoofing', policy <tmp>/policy.ini (absent: built-in defaults)
      audit: fix with: nwfilter-hook apply --live web1
      "
    `);
  });

  it("--json: the same for machines, with the status strings", async () => {
    const r = await h.run(["audit", "--json", "web1"]);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as { policy: unknown; summary: unknown; domains: [{ live: { status: string }[] }] };
    expect(doc.summary).toEqual({ domains: 1, interfaces: 6, compliant: 2, missing: 2, stale: 0, exempt: 0, ineligible: 2, "other-filter": 0, unfit: 0 });
    expect(doc.domains[0]).toMatchObject({ name: "web1", state: "running", persistent: true, error: null });
    expect(doc.domains[0].live.map((n: { status: string }) => n.status)).toEqual(["missing", "compliant", "ineligible"]);
    expect(doc.domains[0].live[2]).toEqual({
      mac: "52:54:00:00:01:03",
      type: "user",
      source: "vnet2", // the target device, for types that name no bridge or network
      filter: null,
      actual: { filter: null, parameters: [] },
      wanted: null,
      status: "ineligible",
      reason: "type",
      detail: "libvirt ignores filterref on type 'user'",
      problem: null,
      ignored: null,
    });
    expect(doc.domains[0].live[0]).toMatchObject({ wanted: { filter: FILTER, parameters: [], from: "the default Filter" }, actual: { filter: null } });
    expect(doc.policy).toMatchObject({ filter: FILTER, onMissing: "enforce", active: true });
  });

  it("exits 0 when nothing is missing", async () => {
    expect((await h.run(["audit", "db1", "lab-7"])).code).toBe(0);
  });

  it("a domain that does not exist: one line, exit 4", async () => {
    expect(await h.run(["audit", "web1", "nope"])).toEqual({
      code: 4,
      stdout: "",
      stderr: "nwfilter-hook: domain 'nope' not found (virsh list --all shows the defined domains)\n",
    });
  });
});

describe("apply", () => {
  it("fixes the definition with virsh define, leaves compliant and exempt domains alone", async () => {
    const r = await h.run(["apply", "--all"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatchInlineSnapshot(`
      "db1: definition: nothing to do (1 compliant)
      lab-7: definition: exempt (domain metadata exempt=true), not touched
      web1: definition: added filter 'vdsm-no-mac-spoofing' to 52:54:00:00:01:01 (type bridge, source br0)
      web1: running: 1 interface(s) lack their filter or carry a stale one until the domain restarts; add --live to fix them now: 52:54:00:00:01:01 (type bridge, source br0)
      apply: 3 domains: 1 changed, 2 already compliant or exempt, 0 failed
      "
    `);
    const defined = readFileSync(join(h.state, "domains", "web1.xml"), "utf8");
    expect(defined).toContain(
      `<mac address='52:54:00:00:01:01'/>\n      <source bridge='br0'/>\n      <model type='virtio'/>\n      <filterref filter='${FILTER}'/>`,
    );
    const calls = h.calls();
    expect(calls.filter((c) => c.startsWith("define "))).toHaveLength(1);
    expect(calls.some((c) => c.startsWith("dumpxml --inactive --security-info web1"))).toBe(true);
    expect(calls.some((c) => c.startsWith("update-device"))).toBe(false);
  });

  it("--live also updates the running NIC with its live XML plus the filterref", async () => {
    const r = await h.run(["apply", "--live", "web1"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatchInlineSnapshot(`
      "web1: definition: added filter 'vdsm-no-mac-spoofing' to 52:54:00:00:01:01 (type bridge, source br0)
      web1: running: added filter 'vdsm-no-mac-spoofing' to 52:54:00:00:01:01 (type bridge, source br0)
      apply: 1 domain: 1 changed, 0 already compliant or exempt, 0 failed
      "
    `);
    const live = readFileSync(join(h.state, "live", "web1.xml"), "utf8");
    const nic = /<interface[\s\S]*?<\/interface>/.exec(live)?.[0] ?? "";
    expect(nic).toContain("<mac address='52:54:00:00:01:01'/>");
    expect(nic).toContain("<alias name='net0'/>"); // the live XML, not the definition
    expect(nic).toContain(`<filterref filter='${FILTER}'/>`);
    expect(h.calls().filter((c) => c.startsWith("update-device web1 "))).toHaveLength(1);
    // Now compliant everywhere.
    expect((await h.run(["audit", "web1"])).code).toBe(0);
  });

  it("--dry-run shows the diffs and changes nothing", async () => {
    const before = readFileSync(join(h.state, "domains", "web1.xml"), "utf8");
    const r = await h.run(["apply", "--live", "--dry-run", "web1"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatchInlineSnapshot(`
      "--- web1 (definition)
      +++ web1 (definition)
      @@ -10,6 +10,7 @@
             <mac address='52:54:00:00:01:01'/>
             <source bridge='br0'/>
             <model type='virtio'/>
      +      <filterref filter='vdsm-no-mac-spoofing'/>
           </interface>
           <interface type='bridge'>
             <mac address='52:54:00:00:01:02'/>
      web1: definition: would add filter 'vdsm-no-mac-spoofing' to 52:54:00:00:01:01 (type bridge, source br0)
      --- web1 (running interface 52:54:00:00:01:01)
      +++ web1 (running interface 52:54:00:00:01:01)
      @@ -4,4 +4,5 @@
             <target dev='vnet0'/>
             <model type='virtio'/>
             <alias name='net0'/>
      +      <filterref filter='vdsm-no-mac-spoofing'/>
           </interface>
      web1: running: would add filter 'vdsm-no-mac-spoofing' to 52:54:00:00:01:01 (type bridge, source br0)
      apply: 1 domain: 1 to change, 0 already compliant or exempt, 0 failed (dry run: nothing was changed)
      "
    `);
    expect(readFileSync(join(h.state, "domains", "web1.xml"), "utf8")).toBe(before);
    expect(h.calls().some((c) => c.startsWith("define ") || c.startsWith("update-device"))).toBe(false);
  });

  it("refuses to reference a filter libvirt does not have", async () => {
    const policy = join(h.root, "other.ini");
    writeFileSync(policy, "[filtering]\nFilter = site-filter\n", { mode: 0o644 });
    expect(await h.run(["apply", "--policy", policy, "web1"])).toEqual({
      code: 4,
      stdout: "",
      stderr:
        "nwfilter-hook: nwfilter 'site-filter' is not defined in libvirt: domains that reference it cannot start; run nwfilter-hook define-filter first\n",
    });
  });

  it("reports a domain that fails and goes on with the others; exit 1", async () => {
    writeFileSync(join(h.state, "fail-define"), "");
    h.domain("web2", domainXml("web2", [bridgeNic("52:54:00:00:04:01")]));
    const r = await h.run(["apply", "web1", "web2", "db1"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatchInlineSnapshot(`
      "web1: FAILED: 'virsh define' failed: XML error: fake define failure
      web2: FAILED: 'virsh define' failed: XML error: fake define failure
      db1: definition: nothing to do (1 compliant)
      apply: 3 domains: 0 changed, 1 already compliant or exempt, 2 failed
      "
    `);
  });

  it("draws a progress bar on a terminal over many domains", async () => {
    for (let i = 0; i < 6; i++) h.domain(`vm${i}`, domainXml(`vm${i}`, [bridgeNic(`52:54:00:00:05:0${i}`)]));
    const r = await h.run(["apply", "--all"], { stderrIsTTY: true });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("\r[###---------------------------] 1/9 db1\u001b[K");
    expect(r.stderr).toContain("] 9/9 web1\u001b[K");
    expect(r.stderr.endsWith("\r\u001b[K")).toBe(true); // cleared at the end
    expect(r.stdout).toContain("apply: 9 domains: 7 changed, 2 already compliant or exempt, 0 failed");
    // Not on a pipe.
    expect((await h.run(["apply", "--all"])).stderr).toBe("");
  });
});

describe("filters chosen per bridge and network, with parameters", () => {
  const CLEAN =
    "<filter name='clean-traffic' chain='root'>\n  <rule action='drop' direction='out' priority='500'>\n    <ip srcipaddr='$IP' match='no'/>\n  </rule>\n</filter>\n";
  const GATEWAY =
    "<filter name='gw-only' chain='root'>\n  <rule action='accept' direction='out' priority='500'>\n    <mac dstmacaddr='$GATEWAY_MAC'/>\n  </rule>\n</filter>\n";
  const PROD =
    "<network>\n  <name>prod</name>\n  <forward mode='nat'/>\n  <bridge name='virbr7'/>\n  <ip address='192.0.2.1' netmask='255.255.255.0'/>\n  <ip family='ipv6' address='2001:db8::1' prefix='64'/>\n</network>\n";
  const POLICY = ["[bridge:br1]", "Filter = clean-traffic", "Parameters = IP=192.0.2.10", "", "[bridge:br2]", "Filter = gw-only", ""].join("\n");
  /** A bridge NIC whose filterref carries parameters. */
  const withParams = (mac: string, bridge: string, filter: string, params: string[]) =>
    bridgeNic(mac, { bridge, filter }).replace(
      `<filterref filter='${filter}'/>`,
      `<filterref filter='${filter}'>\n${params.map((p) => `        <parameter name='${p.split("=")[0]}' value='${p.split("=")[1]}'/>`).join("\n")}\n      </filterref>`,
    );

  beforeEach(() => {
    writeFileSync(join(h.state, "nwfilters", "clean-traffic.xml"), CLEAN);
    writeFileSync(join(h.state, "nwfilters", "gw-only.xml"), GATEWAY);
    for (const br of ["br1", "br2"]) mkdirSync(join(h.sysfsNet, br, "bridge"), { recursive: true });
    writeFileSync(join(h.networksDir, "prod.xml"), PROD);
    writeFileSync(h.policyPath, POLICY, { mode: 0o644 });
    // app1 runs with a NIC on br1 still on the old default (stale) and one whose IP differs (stale).
    const app = [bridgeNic("52:54:00:00:06:01", { bridge: "br1", filter: FILTER }), withParams("52:54:00:00:06:02", "br1", "clean-traffic", ["IP=192.0.2.99"])];
    h.domain("app1", domainXml("app1", app), domainXml("app1", app, { live: true }));
    // gw1 runs with a NIC on br2, whose chosen filter needs GATEWAY_MAC, which nobody gives.
    const gw = [bridgeNic("52:54:00:00:07:01", { bridge: "br2" })];
    h.domain("gw1", domainXml("gw1", gw), domainXml("gw1", gw, { live: true }));
  });

  it("audit shows wanted and actual filterrefs, stale NICs, a filter that cannot be instantiated; exit 1", async () => {
    const r = await h.run(["audit", "app1", "gw1"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatchInlineSnapshot(`
      "DOMAIN  STATE    VIEW    MAC                TYPE    SOURCE  WANTED                        ACTUAL                        STATUS
      app1    running  config  52:54:00:00:06:01  bridge  br1     clean-traffic(IP=192.0.2.10)  vdsm-no-mac-spoofing          stale
      app1    running  config  52:54:00:00:06:02  bridge  br1     clean-traffic(IP=192.0.2.10)  clean-traffic(IP=192.0.2.99)  stale
      app1    running  live    52:54:00:00:06:01  bridge  br1     clean-traffic(IP=192.0.2.10)  vdsm-no-mac-spoofing          stale
      app1    running  live    52:54:00:00:06:02  bridge  br1     clean-traffic(IP=192.0.2.10)  clean-traffic(IP=192.0.2.99)  stale
      gw1     running  config  52:54:00:00:07:01  bridge  br2     gw-only                       -                             missing (cannot be instantiated)
      gw1     running  live    52:54:00:00:07:01  bridge  br2     gw-only                       -                             missing (cannot be instantiated)
      audit: gw1 config: 52:54:00:00:07:01 (type bridge, source br2): wants nwfilter 'gw-only' from [bridge:br2], but nwfilter 'gw-only' needs GATEWAY_MAC, which is not given (libvirt would fail: "Cannot instantiate filter due to unresolvable variables"); give it in [bridge:br2] (Parameters = GATEWAY_MAC=VALUE) or in the interface's metadata (<nwfh:parameter name='GATEWAY_MAC' value='VALUE'/>)
      audit: gw1 live: 52:54:00:00:07:01 (type bridge, source br2): wants nwfilter 'gw-only' from [bridge:br2], but nwfilter 'gw-only' needs GATEWAY_MAC, which is not given (libvirt would fail: "Cannot instantiate filter due to unresolvable variables"); give it in [bridge:br2] (Parameters = GATEWAY_MAC=VALUE) or in the interface's metadata (<nwfh:parameter name='GATEWAY_MAC' value='VALUE'/>)
      audit: 2 domains, 6 interfaces (persistent and live views): 0 compliant, 2 missing, 4 stale, 0 exempt, 0 ineligible, 0 other-filter; 2 whose filter cannot be instantiated; default filter 'vdsm-no-mac-spoofing', policy <tmp>/policy.ini
      audit: running interfaces differ from the policy (stale) in: app1
      audit: fix with: nwfilter-hook apply --live app1
      "
    `);
  });

  it("audit --json carries wanted and actual filters, parameters in order, status and the problem", async () => {
    const r = await h.run(["audit", "--json", "app1", "gw1"]);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as { summary: unknown; domains: Array<{ live: unknown[] }> };
    expect(doc.summary).toEqual({ domains: 2, interfaces: 6, compliant: 0, missing: 2, stale: 4, exempt: 0, ineligible: 0, "other-filter": 0, unfit: 2 });
    expect(doc.domains[0]?.live[1]).toEqual({
      mac: "52:54:00:00:06:02",
      type: "bridge",
      source: "br1",
      filter: "clean-traffic",
      actual: { filter: "clean-traffic", parameters: [{ name: "IP", value: "192.0.2.99" }] },
      wanted: { filter: "clean-traffic", parameters: [{ name: "IP", value: "192.0.2.10" }], from: "[bridge:br1]" },
      status: "stale",
      reason: null,
      detail: null,
      problem: null,
      ignored: null,
    });
    expect(doc.domains[1]?.live[0]).toMatchObject({
      status: "missing",
      wanted: { filter: "gw-only", parameters: [], from: "[bridge:br2]" },
      problem: expect.stringContaining("nwfilter 'gw-only' needs GATEWAY_MAC") as unknown,
    });
  });

  it("apply --live moves stale running NICs to the wanted filter and parameters, and checks libvirt's live XML", async () => {
    const r = await h.run(["apply", "--live", "app1"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatchInlineSnapshot(`
      "app1: definition: set filter 'clean-traffic' (IP=192.0.2.10) from [bridge:br1] on 52:54:00:00:06:01 (type bridge, source br1), was 'vdsm-no-mac-spoofing'; 52:54:00:00:06:02 (type bridge, source br1), was 'clean-traffic' (IP=192.0.2.99)
      app1: running: set filter 'clean-traffic' (IP=192.0.2.10) from [bridge:br1] on 52:54:00:00:06:01 (type bridge, source br1), was 'vdsm-no-mac-spoofing'; 52:54:00:00:06:02 (type bridge, source br1), was 'clean-traffic' (IP=192.0.2.99)
      apply: 1 domain: 1 changed, 0 already compliant or exempt, 0 failed
      "
    `);
    const live = readFileSync(join(h.state, "live", "app1.xml"), "utf8");
    const nics = live.match(/<interface[\s\S]*?<\/interface>/g) ?? [];
    expect(nics).toHaveLength(2);
    for (const nic of nics) {
      expect(nic).toContain("<filterref filter='clean-traffic'>");
      expect(nic).toContain("<parameter name='IP' value='192.0.2.10'/>");
      expect(nic).not.toContain("192.0.2.99");
    }
    expect(h.calls().filter((c) => c.startsWith("update-device app1 "))).toHaveLength(2);
    expect((await h.run(["audit", "app1"])).code).toBe(0);
  });

  it("apply --live leaves a NIC whose chosen filter cannot be instantiated alone, says so, exit 1", async () => {
    const r = await h.run(["apply", "--live", "gw1"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatchInlineSnapshot(`
      "gw1: definition: 52:54:00:00:07:01 (type bridge, source br2): wants nwfilter 'gw-only' from [bridge:br2], but nwfilter 'gw-only' needs GATEWAY_MAC, which is not given (libvirt would fail: "Cannot instantiate filter due to unresolvable variables"): left alone; give it in [bridge:br2] (Parameters = GATEWAY_MAC=VALUE) or in the interface's metadata (<nwfh:parameter name='GATEWAY_MAC' value='VALUE'/>)
      gw1: running: 52:54:00:00:07:01 (type bridge, source br2): wants nwfilter 'gw-only' from [bridge:br2], but nwfilter 'gw-only' needs GATEWAY_MAC, which is not given (libvirt would fail: "Cannot instantiate filter due to unresolvable variables"): left alone; give it in [bridge:br2] (Parameters = GATEWAY_MAC=VALUE) or in the interface's metadata (<nwfh:parameter name='GATEWAY_MAC' value='VALUE'/>)
      apply: 1 domain: 0 changed, 0 already compliant or exempt, 0 failed; 2 interfaces left alone (their filter cannot be instantiated)
      "
    `);
    expect(h.calls().some((c) => c.startsWith("define ") || c.startsWith("update-device"))).toBe(false);
    // Given the variable, the same NIC is fixed.
    writeFileSync(h.policyPath, `${POLICY}Parameters = GATEWAY_MAC=52:54:00:ff:ff:01\n`, { mode: 0o644 });
    expect((await h.run(["apply", "--live", "gw1"])).code).toBe(0);
    expect(readFileSync(join(h.state, "live", "gw1.xml"), "utf8")).toContain("<parameter name='GATEWAY_MAC' value='52:54:00:ff:ff:01'/>");
  });

  it("apply --live --dry-run shows the running NIC's parameter change as a diff", async () => {
    const r = await h.run(["apply", "--live", "--dry-run", "app1"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatchInlineSnapshot(`
      "--- app1 (definition)
      +++ app1 (definition)
      @@ -10,14 +10,16 @@
             <mac address='52:54:00:00:06:01'/>
             <source bridge='br1'/>
             <model type='virtio'/>
      -      <filterref filter='vdsm-no-mac-spoofing'/>
      +      <filterref filter='clean-traffic'>
      +        <parameter name='IP' value='192.0.2.10'/>
      +      </filterref>
           </interface>
           <interface type='bridge'>
             <mac address='52:54:00:00:06:02'/>
             <source bridge='br1'/>
             <model type='virtio'/>
             <filterref filter='clean-traffic'>
      -        <parameter name='IP' value='192.0.2.99'/>
      +        <parameter name='IP' value='192.0.2.10'/>
             </filterref>
           </interface>
         </devices>
      app1: definition: would set filter 'clean-traffic' (IP=192.0.2.10) from [bridge:br1] on 52:54:00:00:06:01 (type bridge, source br1), was 'vdsm-no-mac-spoofing'; 52:54:00:00:06:02 (type bridge, source br1), was 'clean-traffic' (IP=192.0.2.99)
      --- app1 (running interface 52:54:00:00:06:01)
      +++ app1 (running interface 52:54:00:00:06:01)
      @@ -3,6 +3,8 @@
             <source bridge='br1'/>
             <target dev='vnet0'/>
             <model type='virtio'/>
      -      <filterref filter='vdsm-no-mac-spoofing'/>
      +      <filterref filter='clean-traffic'>
      +        <parameter name='IP' value='192.0.2.10'/>
      +      </filterref>
             <alias name='net0'/>
           </interface>
      --- app1 (running interface 52:54:00:00:06:02)
      +++ app1 (running interface 52:54:00:00:06:02)
      @@ -4,7 +4,7 @@
             <target dev='vnet1'/>
             <model type='virtio'/>
             <filterref filter='clean-traffic'>
      -        <parameter name='IP' value='192.0.2.99'/>
      +        <parameter name='IP' value='192.0.2.10'/>
             </filterref>
             <alias name='net1'/>
           </interface>
      app1: running: would set filter 'clean-traffic' (IP=192.0.2.10) from [bridge:br1] on 52:54:00:00:06:01 (type bridge, source br1), was 'vdsm-no-mac-spoofing'; 52:54:00:00:06:02 (type bridge, source br1), was 'clean-traffic' (IP=192.0.2.99)
      apply: 1 domain: 1 to change, 0 already compliant or exempt, 0 failed (dry run: nothing was changed)
      "
    `);
    expect(h.calls().some((c) => c.startsWith("define ") || c.startsWith("update-device"))).toBe(false);
  });

  it("audit warns of clean-traffic on a network with IPv6 addresses, and of metadata ignored", async () => {
    writeFileSync(h.policyPath, `[filtering]\nDomainMetadata = ignore\n\n[network:prod]\nFilter = clean-traffic\n`, { mode: 0o644 });
    const nic =
      "    <interface type='network'>\n      <mac address='52:54:00:00:08:01'/>\n      <source network='prod'/>\n      <model type='virtio'/>\n    </interface>";
    const metadata = "<nwfh:policy xmlns:nwfh='urn:nwfilter-hook:1'><nwfh:interface mac='52:54:00:00:08:01' filter='no-mac-spoofing'/></nwfh:policy>";
    h.domain("v6", domainXml("v6", [nic], { metadata }));
    const r = await h.run(["audit", "v6"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatchInlineSnapshot(`
      "DOMAIN  STATE     VIEW    MAC                TYPE     SOURCE  WANTED         ACTUAL  STATUS
      v6      shut off  config  52:54:00:00:08:01  network  prod    clean-traffic  -       missing
      audit: v6 config: 52:54:00:00:08:01: ignored the interface's filter 'no-mac-spoofing' (DomainMetadata = ignore)
      audit: warning: network 'prod' has IPv6 addresses, but its NICs get nwfilter 'clean-traffic' (from [network:prod]): it lets only IPv4 and ARP through and drops all IPv6
      audit: 1 domain, 1 interface (persistent and live views): 0 compliant, 1 missing, 0 stale, 0 exempt, 0 ineligible, 0 other-filter; default filter 'vdsm-no-mac-spoofing', policy <tmp>/policy.ini
      audit: fix with: nwfilter-hook apply --live v6
      "
    `);
  });
});
