// classifyNetwork (src/core/network.ts): which networks hand their guests a Linux-bridge tap (where
// libvirt honours a filterref) and which do not (macvtap, SR-IOV, virtualport).
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { XmlError } from "../../../src/core/errors.js";
import { classifyNetwork, type NetworkClass } from "../../../src/core/network.js";
import { CORPUS_SKIP_NOTE, SKIP_CORPUS, corpusDir } from "../../support/paths.js";

type Kind = "bridge" | "network-macvtap" | "network-hostdev" | "network-virtualport";
const kindOf = (c: NetworkClass): Kind => (c.eligible ? "bridge" : c.reason);

/** What each corpus file is, from its name (the libvirt test names say what they test). */
function expectedKind(file: string): Kind {
  if (/^(direct-net|vepa-net|8021Qbh-net|passthrough-)/.test(file)) return "network-macvtap";
  if (/^hostdev/.test(file)) return "network-hostdev";
  if (file === "openvswitch-net.xml") return "network-virtualport";
  return "bridge";
}

/** Bridges named by some of the files, checked exactly. */
const KNOWN_BRIDGES: Record<string, string> = {
  "host-bridge-net.xml": "br0",
  "host-bridge-no-flood.xml": "br0",
  "nat-network.xml": "virbr0",
  "isolated-network.xml": "virbr2",
  "routed-network.xml": "virbr1",
  "open-network.xml": "virbr1",
  "empty-allow-ipv6.xml": "virbr7",
  "bandwidth-network.xml": "virbr1",
};

describe.skipIf(SKIP_CORPUS)(`libvirt 10.7 networkxml2xmlin corpus${CORPUS_SKIP_NOTE}`, () => {
  // Read at collection time, for it.each; nothing to read when the suite is skipped.
  const dir = SKIP_CORPUS ? "" : join(corpusDir(), "networkxml2xmlin");
  const files = SKIP_CORPUS
    ? []
    : readdirSync(dir)
        .filter((f) => f.endsWith(".xml"))
        .sort();

  it("has the files this test knows", () => {
    expect(files.length).toBeGreaterThanOrEqual(40);
    for (const f of Object.keys(KNOWN_BRIDGES)) expect(files).toContain(f);
    // Every kind is present, so no kind's expectation is vacuous.
    const kinds = new Set(files.map(expectedKind));
    expect([...kinds].sort()).toEqual(["bridge", "network-hostdev", "network-macvtap", "network-virtualport"]);
  });

  it.each(files)("%s", (file) => {
    const text = readFileSync(join(dir, file), "utf8");
    const got = classifyNetwork(text, join(dir, file), undefined);
    expect(kindOf(got)).toBe(expectedKind(file));
    if (got.eligible) {
      const known = KNOWN_BRIDGES[file];
      if (known !== undefined) expect(got.bridge).toBe(known);
      else expect(got.bridge).toMatch(/^(virbr\d+|br0)$/);
    }
  });

  it("vepa-net and openvswitch-net keep their class whichever portgroup a NIC picks", () => {
    const vepa = readFileSync(join(dir, "vepa-net.xml"), "utf8");
    const ovs = readFileSync(join(dir, "openvswitch-net.xml"), "utf8");
    for (const pg of [undefined, "bob", "alice", "nope"]) {
      expect(kindOf(classifyNetwork(vepa, "vepa-net.xml", pg))).toBe("network-macvtap");
      expect(kindOf(classifyNetwork(ovs, "openvswitch-net.xml", pg))).toBe("network-virtualport");
    }
  });
});

const net = (body: string, attrs = "") => `<network${attrs}>\n  <name>n</name>\n${body}</network>\n`;

describe("synthetic definitions", () => {
  it.each([
    ["nat", "  <forward mode='nat'/>\n  <bridge name='virbr0'/>\n", "virbr0"],
    ["forward without mode (nat)", "  <forward/>\n  <bridge name='virbr0'/>\n", "virbr0"],
    ["route", "  <forward mode='route'/>\n  <bridge name='virbr1'/>\n", "virbr1"],
    ["open", "  <forward mode='open'/>\n  <bridge name='virbr2'/>\n", "virbr2"],
    ["isolated", "  <bridge name='virbr3'/>\n", "virbr3"],
    ["host bridge", "  <forward mode='bridge'/>\n  <bridge name='br0'/>\n", "br0"],
    ["bridge name with a character reference", "  <forward mode='bridge'/>\n  <bridge name='br&#48;'/>\n", "br0"],
    ["no bridge at all (libvirt picks virbrN)", "  <forward mode='nat'/>\n", undefined],
  ])("%s: eligible", (_what, body, bridge) => {
    expect(classifyNetwork(net(body), "f", undefined)).toEqual({ eligible: true, bridge });
  });

  it.each(["bridge", "private", "vepa", "passthrough"])("forward mode %s with an <interface> pool and no <bridge>: macvtap", (mode) => {
    const c = classifyNetwork(net(`  <forward mode='${mode}'>\n    <interface dev='eth0'/>\n  </forward>\n`), "f", undefined);
    expect(c).toEqual({ eligible: false, reason: "network-macvtap", detail: `macvtap (forward mode ${mode})` });
  });

  it.each([
    ["a forward dev", "  <forward mode='vepa' dev='eth1'/>\n"],
    ["a <pf>", "  <forward mode='passthrough'>\n    <pf dev='eth0'/>\n  </forward>\n"],
    ["VF addresses", "  <forward mode='passthrough'>\n    <address type='pci' domain='0' bus='1' slot='0' function='1'/>\n  </forward>\n"],
  ])("macvtap from %s", (_what, body) => {
    expect(kindOf(classifyNetwork(net(body), "f", undefined))).toBe("network-macvtap");
  });

  it("hostdev", () => {
    const c = classifyNetwork(net("  <forward mode='hostdev' managed='yes'>\n    <pf dev='eth3'/>\n  </forward>\n"), "f", undefined);
    expect(c).toEqual({ eligible: false, reason: "network-hostdev", detail: "SR-IOV (forward mode hostdev)" });
  });

  const portgroups = net(
    [
      "  <forward mode='bridge'/>",
      "  <bridge name='br-pg'/>",
      "  <portgroup name='ovs'>",
      "    <virtualport type='openvswitch'/>",
      "  </portgroup>",
      "  <portgroup name='plain' default='yes'/>",
      "  <portgroup name='typeless'>",
      "    <virtualport/>",
      "  </portgroup>",
      "",
    ].join("\n"),
  );
  it("a chosen portgroup with a virtualport makes the NIC ineligible, and says which", () => {
    expect(classifyNetwork(portgroups, "f", "ovs")).toEqual({
      eligible: false,
      reason: "network-virtualport",
      detail: "virtualport type openvswitch in the portgroup 'ovs'",
    });
    expect(classifyNetwork(portgroups, "f", "typeless")).toMatchObject({
      reason: "network-virtualport",
      detail: "virtualport type unspecified in the portgroup 'typeless'",
    });
  });
  it("a chosen portgroup without one, or the default portgroup without one, leaves it eligible", () => {
    expect(classifyNetwork(portgroups, "f", "plain")).toEqual({ eligible: true, bridge: "br-pg" });
    expect(classifyNetwork(portgroups, "f", undefined)).toEqual({ eligible: true, bridge: "br-pg" });
  });
  it("without a portgroup, the default one counts", () => {
    const ovsDefault = portgroups.replace("<portgroup name='ovs'>", "<portgroup name='ovs' default='yes'>").replace(" default='yes'/>", "/>");
    expect(classifyNetwork(ovsDefault, "f", undefined)).toMatchObject({ reason: "network-virtualport" });
    expect(classifyNetwork(ovsDefault, "f", "plain")).toEqual({ eligible: true, bridge: "br-pg" });
  });
  it("a network-level virtualport applies whatever the portgroup", () => {
    const n = net("  <forward mode='bridge'/>\n  <bridge name='ovsbr0'/>\n  <virtualport type='openvswitch'/>\n  <portgroup name='plain'/>\n");
    expect(classifyNetwork(n, "f", "plain")).toEqual({ eligible: false, reason: "network-virtualport", detail: "virtualport type openvswitch in the network" });
  });

  it("reads the <network> inside an active network's <networkstatus>", () => {
    const status = `<!-- generated -->\n<networkstatus>\n  <class_id bitmap='0-2'/>\n  <floor sum='0'/>\n  ${net("  <forward mode='hostdev'/>\n")}</networkstatus>\n`;
    expect(kindOf(classifyNetwork(status, "f", undefined))).toBe("network-hostdev");
    const nat = `<networkstatus>\n${net("  <forward mode='nat'/>\n  <bridge name='virbr0'/>\n")}</networkstatus>`;
    expect(classifyNetwork(nat, "f", undefined)).toEqual({ eligible: true, bridge: "virbr0" });
  });

  it("ignores look-alikes: <bridge> or <virtualport> nested elsewhere, other elements' attributes", () => {
    const n = net(
      "  <forward mode='nat'>\n    <nat><port start='1024' end='65535'/></nat>\n  </forward>\n  <bridge name='virbr0'/>\n  <metadata>\n    <app:x xmlns:app='urn:x'><virtualport type='openvswitch'/><bridge name='evil'/></app:x>\n  </metadata>\n",
    );
    expect(classifyNetwork(n, "f", undefined)).toEqual({ eligible: true, bridge: "virbr0" });
  });

  it.each([
    ["a domain", "<domain><name>x</name></domain>", /expected a <network> definition, found <domain>/],
    ["a networkstatus without a network", "<networkstatus><class_id bitmap='0'/></networkstatus>", /expected a <network> definition, found <networkstatus>/],
    ["malformed XML", "<network><name>x</network>", /malformed XML/],
    ["empty text", "", /empty document/],
  ])("refuses %s with an XmlError naming the file", (_what, text, message) => {
    let error: unknown;
    try {
      classifyNetwork(text, "/run/libvirt/network/x.xml", undefined);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(XmlError);
    expect((error as XmlError).message).toMatch(message);
    expect((error as XmlError).where?.file).toBe("/run/libvirt/network/x.xml");
  });
});
