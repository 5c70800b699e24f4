// inject: the transformation on a domain or one <interface>, byte for byte elsewhere; --diff;
// messages on stderr; and the errors, each one line with its exit code.
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeHarness, type Harness } from "./support/harness.js";
import { bridgeNic, domainXml, userNic } from "./support/xml.js";

const FILTER = "vdsm-no-mac-spoofing";

describe("inject", () => {
  let h: Harness;
  let dom: string;
  beforeAll(() => {
    h = makeHarness();
    // The filter is "defined": its file is where the hook and inject look.
    writeFileSync(join(h.state, "nwfilters", `${FILTER}.xml`), `<filter name='${FILTER}' chain='root'/>\n`);
    dom = join(h.root, "web1.xml");
    writeFileSync(dom, domainXml("web1", [bridgeNic("52:54:00:00:00:01"), userNic("52:54:00:00:00:02"), bridgeNic("52:54:00:00:00:03", { filter: FILTER })]));
  });
  afterAll(() => h.cleanup());

  it("adds the filterref to each eligible NIC and leaves every other byte alone", async () => {
    const r = await h.run(["inject", dom]);
    expect(r.code).toBe(0);
    const input = domainXml("web1", [bridgeNic("52:54:00:00:00:01"), userNic("52:54:00:00:00:02"), bridgeNic("52:54:00:00:00:03", { filter: FILTER })]);
    const expected = input.replace(
      "<model type='virtio'/>\n    </interface>",
      `<model type='virtio'/>\n      <filterref filter='${FILTER}'/>\n    </interface>`,
    );
    expect(r.stdout).toBe(expected);
    expect(r.stderr).toMatchInlineSnapshot(`
      "nwfilter-hook: added filterref 'vdsm-no-mac-spoofing' to 52:54:00:00:00:01 (type bridge, source br0)
      nwfilter-hook: left alone: 52:54:00:00:00:02 (type user): ineligible (libvirt ignores filterref on type 'user')
      "
    `);
    expect(h.calls()).toEqual([]); // inject never calls libvirt
  });

  it("--diff prints a unified diff", async () => {
    const r = await h.run(["inject", "--diff", dom]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatchInlineSnapshot(`
      "--- <tmp>/web1.xml
      +++ <tmp>/web1.xml
      @@ -10,6 +10,7 @@
             <mac address='52:54:00:00:00:01'/>
             <source bridge='br0'/>
             <model type='virtio'/>
      +      <filterref filter='vdsm-no-mac-spoofing'/>
           </interface>
           <interface type='user'>
             <mac address='52:54:00:00:00:02'/>
      "
    `);
  });

  // The diff is of the texts as the XML reads: characters, not bytes, whatever the encoding.
  it.each([
    ["UTF-8", "utf8"],
    ["ISO-8859-1", "latin1"],
  ] as const)("--diff of a document in %s shows its characters as they read", async (encoding, bytes) => {
    const file = join(h.root, `${encoding}.xml`);
    const nic = "    <interface type='bridge'>\n      <source bridge='br0'/>\n    </interface>\n";
    const xml = `<?xml version='1.0' encoding='${encoding}'?>\n<domain type='kvm'>\n  <name>vm1</name>\n  <devices>\n    <!-- café -->\n${nic}  </devices>\n</domain>\n`;
    writeFileSync(file, Buffer.from(xml, bytes));
    const r = await h.run(["inject", "--diff", file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        `--- <tmp>/${encoding}.xml`,
        `+++ <tmp>/${encoding}.xml`,
        "@@ -5,6 +5,7 @@",
        "     <!-- café -->",
        "     <interface type='bridge'>",
        "       <source bridge='br0'/>",
        `+      <filterref filter='${FILTER}'/>`,
        "     </interface>",
        "   </devices>",
        " </domain>",
        "",
      ].join("\n"),
    );
  });

  it("--diff prints nothing when nothing changes", async () => {
    const file = join(h.root, "done.xml");
    writeFileSync(file, domainXml("done", [bridgeNic("52:54:00:00:00:04", { filter: FILTER })]));
    expect(await h.run(["inject", "--diff", file])).toEqual({ code: 0, stdout: "", stderr: "nwfilter-hook: no change\n" });
  });

  it("--device: one <interface> from stdin, for hot-plug", async () => {
    const nic = "<interface type='bridge'>\n  <mac address='52:54:00:00:00:05'/>\n  <source bridge='br0'/>\n</interface>\n";
    const r = await h.run(["inject", "--device", "-"], { stdin: nic });
    expect(r).toEqual({
      code: 0,
      stdout: `<interface type='bridge'>\n  <mac address='52:54:00:00:00:05'/>\n  <source bridge='br0'/>\n  <filterref filter='${FILTER}'/>\n</interface>\n`,
      stderr: `nwfilter-hook: added filterref '${FILTER}' to 52:54:00:00:00:05 (type bridge, source br0)\n`,
    });
  });

  it("--device --domain: the domain's exemptions apply to the NIC meant for it", async () => {
    const nic = "<interface type='bridge'>\n  <mac address='52:54:00:00:00:06'/>\n  <source bridge='br0'/>\n</interface>\n";
    const exemptByMetadata = domainXml("lab1", []).replace(
      "</name>",
      "</name>\n  <metadata>\n    <n:policy xmlns:n='urn:nwfilter-hook:1'>\n      <n:interface mac='52:54:00:00:00:06' exempt='true'/>\n    </n:policy>\n  </metadata>",
    );
    h.domain("lab1", exemptByMetadata);
    h.domain("web2", domainXml("web2", []));
    const left = await h.run(["inject", "--device", "--domain", "lab1", "-"], { stdin: nic });
    expect(left).toEqual({
      code: 0,
      stdout: nic,
      stderr: "nwfilter-hook: left alone: 52:54:00:00:00:06 (type bridge, source br0): exempt (interface metadata exempt=true)\nnwfilter-hook: no change\n",
    });
    const added = await h.run(["inject", "--device", "--domain", "web2", "-"], { stdin: nic });
    expect(added.code).toBe(0);
    expect(added.stdout).toContain(`<filterref filter='${FILTER}'/>`);
    expect(h.calls().filter((c) => c.includes("dumpxml"))).toHaveLength(2);
  });

  it("--domain without --device is a usage error", async () => {
    expect((await h.run(["inject", "--domain", "web1", dom])).code).toBe(2);
  });

  it("follows the policy: an exempt MAC and an OVS bridge are left alone, OnExisting=replace switches a filter", async () => {
    const policy = join(h.root, "replace.ini");
    writeFileSync(policy, "[filtering]\nOnExisting = replace\n[exempt]\nMACs = 52:54:00:AA:00:01\n");
    chmodSync(policy, 0o644);
    const file = join(h.root, "mixed.xml");
    writeFileSync(
      file,
      domainXml("mixed", [
        bridgeNic("52:54:00:aa:00:01"),
        bridgeNic("52:54:00:aa:00:02", { bridge: "ovs0" }),
        bridgeNic("52:54:00:aa:00:03", { filter: "clean-traffic" }),
      ]),
    );
    const r = await h.run(["inject", "--diff", "--policy", policy, file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`-      <filterref filter='clean-traffic'/>\n+      <filterref filter='${FILTER}'/>`);
    expect(r.stderr).toMatchInlineSnapshot(`
      "nwfilter-hook: left alone: 52:54:00:aa:00:01 (type bridge, source br0): exempt (policy [exempt] MACs)
      nwfilter-hook: left alone: 52:54:00:aa:00:02 (type bridge, source ovs0): ineligible ('ovs0' is not a Linux bridge (Open vSwitch?))
      nwfilter-hook: replaced filter 'clean-traffic' with 'vdsm-no-mac-spoofing' on 52:54:00:aa:00:03 (type bridge, source br0, filter clean-traffic)
      "
    `);
  });

  it("writes each NIC's chosen filterref: a section's filter and parameters, the domain's metadata with --domain", async () => {
    const policy = join(h.root, "choices.ini");
    writeFileSync(policy, "[bridge:br0]\nFilter = clean-traffic\nParameters = CTRL_IP_LEARNING=none\n[domain:gw*]\nFilter = clean-traffic-gateway\n");
    chmodSync(policy, 0o644);
    writeFileSync(join(h.state, "nwfilters", "clean-traffic.xml"), "<filter name='clean-traffic' chain='root'/>\n");
    writeFileSync(
      join(h.state, "nwfilters", "clean-traffic-gateway.xml"),
      "<filter name='clean-traffic-gateway'><rule action='accept' direction='in'><mac srcmacaddr='$GATEWAY_MAC'/></rule></filter>\n",
    );
    const nic = "<interface type='bridge'>\n  <mac address='52:54:00:00:00:07'/>\n  <source bridge='br0'/>\n</interface>\n";
    h.domain(
      "web7",
      domainXml("web7", []).replace(
        "</name>",
        "</name>\n  <metadata>\n    <n:policy xmlns:n='urn:nwfilter-hook:1'>\n      <n:interface mac='52:54:00:00:00:07'>\n        <n:parameter name='IP' value='192.0.2.7'/>\n      </n:interface>\n    </n:policy>\n  </metadata>",
      ),
    );
    const plain = await h.run(["inject", "--device", "--policy", policy, "-"], { stdin: nic });
    expect(plain.stdout).toBe(
      nic.replace("</interface>", "  <filterref filter='clean-traffic'>\n    <parameter name='CTRL_IP_LEARNING' value='none'/>\n  </filterref>\n</interface>"),
    );
    expect(plain.stderr).toBe(
      "nwfilter-hook: added filterref 'clean-traffic' (CTRL_IP_LEARNING=none) from [bridge:br0] to 52:54:00:00:00:07 (type bridge, source br0)\n",
    );
    const forDomain = await h.run(["inject", "--device", "--domain", "web7", "--policy", policy, "-"], { stdin: nic });
    expect(forDomain.stdout).toContain(
      "  <filterref filter='clean-traffic'>\n    <parameter name='IP' value='192.0.2.7'/>\n    <parameter name='CTRL_IP_LEARNING' value='none'/>\n  </filterref>\n",
    );
    // A domain whose choice libvirt could not instantiate: written as chosen, with a warning saying what is missing.
    h.domain("gw1", domainXml("gw1", []));
    const gw = await h.run(["inject", "--device", "--domain", "gw1", "--policy", policy, "-"], { stdin: nic });
    expect(gw.stdout).toContain("<filterref filter='clean-traffic-gateway'/>");
    expect(gw.stderr).toContain(
      "nwfilter-hook: warning: 52:54:00:00:00:07 (type bridge, source br0): nwfilter 'clean-traffic-gateway' needs GATEWAY_MAC, which is not given (libvirt would fail: \"Cannot instantiate filter due to unresolvable variables\"); give it in [domain:gw*] (Parameters = GATEWAY_MAC=VALUE) or in the interface's metadata",
    );
  });

  it("warns when the filter is not defined on this host", async () => {
    const r = await h.run(["inject", dom], { env: { NWFILTER_HOOK_NWFILTER_DIR: join(h.root, "empty") } });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`warning: nwfilter '${FILTER}' is not defined on this host`);
  });
});

describe("inject errors: one line, an exit code", () => {
  let h: Harness;
  beforeAll(() => {
    h = makeHarness();
    mkdirSync(join(h.root, "in"));
  });
  afterAll(() => h.cleanup());

  const tmp = (path: string) => path.replace(h.root, "<tmp>");
  const write = (name: string, text: string) => {
    const file = join(h.root, "in", name);
    writeFileSync(file, text);
    return file;
  };

  it("malformed XML: file, line and column, exit 3", async () => {
    const r = await h.run(["inject", write("bad.xml", "<domain>\n  <name>x</name>\n  <devices>\n</domain>\n")]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatchInlineSnapshot(`
      "nwfilter-hook: <tmp>/in/bad.xml:4:1: malformed XML: end tag </domain> does not match start tag <devices> of line 3
      "
    `);
  });

  it("an <interface> without --device, and a <domain> with it: exit 3", async () => {
    const nic = write("nic.xml", "<interface type='bridge'><source bridge='br0'/></interface>");
    expect(await h.run(["inject", nic])).toEqual({
      code: 3,
      stdout: "",
      stderr: `nwfilter-hook: ${tmp(nic)}: this is an <interface>, not a <domain>: add --device\n`,
    });
    const dom = write("dom.xml", domainXml("d", []));
    expect(await h.run(["inject", "--device", dom])).toEqual({
      code: 3,
      stdout: "",
      stderr: `nwfilter-hook: ${tmp(dom)}: --device expects one <interface> element, found <domain>\n`,
    });
  });

  it("a file over 16 MiB, counted in bytes: refused as it is read, exit 3", async () => {
    // 'é' is two bytes: under 16 Mi characters, over 16 MiB.
    const big = write("big.xml", `<domain><description>${"é".repeat(8 * 1024 * 1024)}</description></domain>`);
    expect(await h.run(["inject", big])).toEqual({ code: 3, stdout: "", stderr: `nwfilter-hook: ${tmp(big)}: input is larger than 16777216 bytes\n` });
  });

  it("reads the file as bytes, as the hook does: invalid UTF-8 and an unsupported encoding are refused, exit 3", async () => {
    const bad = join(h.root, "in", "latin1-undeclared.xml");
    writeFileSync(bad, Buffer.concat([Buffer.from("<domain>\n  <name>caf"), Buffer.from([0xe9]), Buffer.from("</name>\n</domain>\n")]));
    expect(await h.run(["inject", bad])).toEqual({
      code: 3,
      stdout: "",
      stderr: `nwfilter-hook: ${tmp(bad)}:2:12: not valid UTF-8: bytes 0xE9 0x3C 0x2F 0x6E at byte offset 20 (a document in another encoding must name it in its XML declaration)\n`,
    });
    const other = write("cp1252.xml", "<?xml version='1.0' encoding='windows-1252'?><domain/>");
    expect((await h.run(["inject", other])).stderr).toMatch(/cp1252\.xml:1: encoding 'windows-1252' \(in the XML declaration\) is not supported/);
  });

  it("a missing file: exit 4", async () => {
    const r = await h.run(["inject", "/nonexistent/web1.xml"]);
    expect(r).toEqual({ code: 4, stdout: "", stderr: "nwfilter-hook: /nonexistent/web1.xml: cannot read the XML: ENOENT: no such file or directory\n" });
  });

  it("an invalid policy: file, line and key, exit 3", async () => {
    const policy = join(h.root, "bad.ini");
    writeFileSync(policy, "[filtering]\nOnMissing = sometimes\n");
    chmodSync(policy, 0o644);
    const r = await h.run(["inject", "--policy", policy, write("ok.xml", domainXml("ok", []))]);
    expect(r).toEqual({ code: 3, stdout: "", stderr: `nwfilter-hook: ${tmp(policy)}:2: OnMissing: expected enforce, audit or watch, got 'sometimes'\n` });
  });

  it("no input on a terminal: exit 2", async () => {
    expect(await h.run(["inject"], { stdinIsTTY: true })).toEqual({
      code: 2,
      stdout: "",
      stderr: "nwfilter-hook: no input: give a FILE, or pipe the XML into stdin ('-')\n",
    });
  });
});
