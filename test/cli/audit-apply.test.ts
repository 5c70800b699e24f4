// audit and apply against the fake virsh: the table and the JSON, exit codes, what apply sends
// to libvirt (define for the definition, update-device --live for running NICs), --dry-run,
// --all, domains that need nothing, errors per domain, and the progress bar on a terminal.
import { readFileSync, writeFileSync } from "node:fs";
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
      "DOMAIN  STATE     VIEW    MAC                TYPE    SOURCE  FILTER                STATUS
      db1     shut off  config  52:54:00:00:02:01  bridge  br0     vdsm-no-mac-spoofing  compliant
      lab-7   shut off  config  52:54:00:00:03:01  bridge  br0     -                     exempt (domain metadata exempt=true)
      web1    running   config  52:54:00:00:01:01  bridge  br0     -                     missing
      web1    running   config  52:54:00:00:01:02  bridge  br0     vdsm-no-mac-spoofing  compliant
      web1    running   config  52:54:00:00:01:03  user    -       -                     ineligible (libvirt ignores filterref on type 'user')
      web1    running   live    52:54:00:00:01:01  bridge  br0     -                     missing
      web1    running   live    52:54:00:00:01:02  bridge  br0     vdsm-no-mac-spoofing  compliant
      web1    running   live    52:54:00:00:01:03  user    vnet2   -                     ineligible (libvirt ignores filterref on type 'user')
      audit: 3 domains, 8 interfaces (persistent and live views): 3 compliant, 2 missing, 0 stale, 1 exempt, 2 ineligible, 0 other-filter; filter 'vdsm-no-mac-spoofing', policy <tmp>/policy.ini (absent: built-in defaults)
      audit: fix with: nwfilter-hook apply --live web1
      "
    `);
  });

  it("--json: the same for machines, with the status strings", async () => {
    const r = await h.run(["audit", "--json", "web1"]);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as { policy: unknown; summary: unknown; domains: [{ live: { status: string }[] }] };
    expect(doc.summary).toEqual({ domains: 1, interfaces: 6, compliant: 2, missing: 2, stale: 0, exempt: 0, ineligible: 2, "other-filter": 0 });
    expect(doc.domains[0]).toMatchObject({ name: "web1", state: "running", persistent: true, error: null });
    expect(doc.domains[0].live.map((n: { status: string }) => n.status)).toEqual(["missing", "compliant", "ineligible"]);
    expect(doc.domains[0].live[2]).toEqual({
      mac: "52:54:00:00:01:03",
      type: "user",
      source: "vnet2", // the target device, for types that name no bridge or network
      filter: null,
      status: "ineligible",
      reason: "type",
      detail: "libvirt ignores filterref on type 'user'",
    });
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
      web1: running: 1 interface(s) lack the filter until the domain restarts; add --live to fix them now: 52:54:00:00:01:01 (type bridge, source br0)
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
