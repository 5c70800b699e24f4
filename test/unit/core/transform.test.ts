// transform (src/core/transform.ts) with an in-memory HostFacts: which NICs are eligible and why,
// what is inserted where, and that nothing else in the text changes.
import { describe, expect, it } from "vitest";
import { NwfilterHookError, XmlError } from "../../../src/core/errors.js";
import { DEFAULT_POLICY, type Policy } from "../../../src/core/policy.js";
import { transform, type NicReport, type TransformResult } from "../../../src/core/transform.js";
import { classifyEdits } from "../../support/filterref-diff.js";
import { NETWORKS, fakeHost, type FakeHostSpec } from "../../support/fake-host.js";

const F = "<filterref filter='vdsm-no-mac-spoofing'/>";

function policy(changes: Partial<Omit<Policy, "exempt">> & { exempt?: Partial<Policy["exempt"]> } = {}): Policy {
  return { ...DEFAULT_POLICY, ...changes, exempt: { ...DEFAULT_POLICY.exempt, ...changes.exempt } };
}

function domain(devices: string, { name = "vm1", extra = "" } = {}): string {
  return `<domain type='kvm'>\n  <name>${name}</name>\n${extra}  <devices>\n${devices}  </devices>\n</domain>\n`;
}

const HOST: FakeHostSpec = {
  networks: {
    default: NETWORKS.nat(),
    routed: NETWORKS.route(),
    mv: NETWORKS.macvtap("vepa"),
    sriov: NETWORKS.hostdev(),
    ovs: NETWORKS.ovs(),
    trunk: NETWORKS.hostBridge("trunk", "br-trunk"),
    ovsbridged: NETWORKS.hostBridge("ovsbridged", "ovsbr1"),
  },
  bridges: { br0: "linux", virbr0: "linux", virbr1: "linux", "br-trunk": "linux", ovsbr0: "ovs", ovsbr1: "ovs" },
};

function run(xml: string, p: Policy = policy(), host: FakeHostSpec = HOST, checkOnly = false): TransformResult {
  const result = transform(xml, p, fakeHost(host), { file: "test.xml", checkOnly });
  // Whatever the case, the output differs from the input by the reported edits only.
  const edits = classifyEdits(xml, result.xml, p.filter, { allowReplace: p.onExisting === "replace" });
  expect(edits.problems).toEqual([]);
  expect(edits.insertedAt).toHaveLength(result.nics.filter((n) => n.action === "injected").length);
  expect(edits.replacedAt).toHaveLength(result.nics.filter((n) => n.action === "replaced").length);
  expect(result.changed).toBe(result.xml !== xml);
  // Each NIC's spans point at its element in the input and in the output.
  for (const n of result.nics) {
    const before = xml.slice(n.input.start, n.input.end);
    const after = result.xml.slice(n.output.start, n.output.end);
    expect(before).toMatch(/^<interface[\s>/][\s\S]*>$/);
    if (n.action === "injected") {
      const removed = after.replace(/(\r?\n[ \t]*)?<filterref filter='[^']*'\/>/, "");
      expect(before.endsWith("/>") ? removed.replace(/><\/interface>$/, "/>") : removed).toBe(before);
    } else if (n.action === undefined) expect(after).toBe(before);
    else expect(after).toMatch(new RegExp(`filter\\s*=\\s*(["'])${p.filter}\\1`));
  }
  return result;
}

const nic = (type: string, inner: string, attrs = "") => `    <interface type='${type}'${attrs}>\n${inner}    </interface>\n`;
const mac = (m: string) => `      <mac address='${m}'/>\n`;

describe("interface types", () => {
  it.each([
    ["bridge", "      <source bridge='br0'/>\n", "br0"],
    ["ethernet", "      <target dev='tap0'/>\n", "tap0"],
    ["network", "      <source network='default'/>\n", "default"],
  ])("%s: filterref added as the last child, indented like its siblings", (type, inner, source) => {
    const xml = domain(nic(type, mac("52:54:00:00:00:01") + inner));
    const r = run(xml);
    expect(r.xml).toBe(domain(nic(type, mac("52:54:00:00:00:01") + inner + `      ${F}\n`)));
    const start = xml.indexOf("<interface");
    const end = xml.indexOf("</interface>") + "</interface>".length;
    const inserted = `\n      ${F}`.length;
    expect(r.nics).toEqual([
      {
        index: 0,
        line: 4,
        mac: "52:54:00:00:00:01",
        type,
        source,
        filter: undefined,
        parameters: [],
        status: "missing",
        wanted: { filter: "vdsm-no-mac-spoofing", parameters: [], chosen: [], from: "the default Filter" },
        action: "injected",
        input: { start, end },
        output: { start, end: end + inserted },
      },
    ]);
  });

  it.each(["user", "direct", "hostdev", "vhostuser", "vdpa", "mcast", "udp", "server", "client", "null", "vds", "internal", "BRIDGE", ""])(
    "type '%s': left alone (libvirt ignores filterref there)",
    (type) => {
      const xml = domain(nic(type, mac("52:54:00:00:00:02") + "      <source dev='eth0' bridge='br0' network='default'/>\n"));
      const r = run(xml);
      expect(r.xml).toBe(xml);
      expect(r.nics[0]).toMatchObject({ status: "ineligible", reason: "type" });
      expect(r.nics[0]?.detail).toBe(`libvirt ignores filterref on type '${type || "(none)"}'`);
    },
  );

  it("an interface without a type attribute is ineligible", () => {
    const xml = domain("    <interface>\n      <source bridge='br0'/>\n    </interface>\n");
    expect(run(xml).nics[0]).toMatchObject({ type: "", status: "ineligible", reason: "type" });
  });

  it("a NIC with a <virtualport> is ineligible whatever its type", () => {
    for (const type of ["bridge", "network", "ethernet"]) {
      const xml = domain(nic(type, "      <source bridge='br0' network='default'/>\n      <virtualport type='openvswitch'/>\n"));
      expect(run(xml).nics[0]).toMatchObject({ status: "ineligible", reason: "virtualport" });
    }
  });
});

describe("networks and bridges", () => {
  it("reads and classifies each network once per document, however many NICs use it", () => {
    const host = fakeHost(HOST);
    const net = (m: string, pg = "") => nic("network", `${mac(m)}      <source network='default'${pg}/>\n`);
    const xml = domain(net("52:54:00:00:0a:01") + net("52:54:00:00:0a:02") + net("52:54:00:00:0a:03", " portgroup='x'") + net("52:54:00:00:0a:04"));
    const r = transform(xml, policy(), host, { file: "f" });
    expect(r.nics.map((n) => n.action)).toEqual(["injected", "injected", "injected", "injected"]);
    expect(host.asked.filter((a) => a === "network:default")).toHaveLength(1);
  });

  const netNic = (network: string, extra = "") => domain(nic("network", `      <source network='${network}'${extra}/>\n`));
  it.each([
    ["default", "missing", undefined],
    ["routed", "missing", undefined],
    ["mv", "ineligible", "network-macvtap"],
    ["sriov", "ineligible", "network-hostdev"],
    ["ovs", "ineligible", "network-virtualport"],
    ["ovsbridged", "ineligible", "not-linux-bridge"],
    ["nowhere", "ineligible", "network-not-found"],
  ])("network %s -> %s %s", (network, status, reason) => {
    const r = run(netNic(network));
    expect(r.nics[0]?.status).toBe(status);
    expect(r.nics[0]?.reason).toBe(reason);
    expect(r.changed).toBe(status === "missing");
  });

  it("asks the host for the network, then for the network's bridge", () => {
    const host = fakeHost(HOST);
    transform(netNic("default"), policy(), host, { file: "f" });
    expect(host.asked).toEqual(["network:default", "bridge:virbr0", "definition:vdsm-no-mac-spoofing"]);
  });

  it("a network NIC without a network name is reported as not found, without asking the host", () => {
    const host = fakeHost(HOST);
    const r = transform(domain(nic("network", "      <source/>\n")), policy(), host, { file: "f" });
    expect(r.nics[0]).toMatchObject({ status: "ineligible", reason: "network-not-found" });
    expect(host.asked).toEqual([]);
  });

  it("passes the chosen portgroup to the classification and reports network/portgroup", () => {
    const pg = `<network>\n  <name>pg</name>\n  <forward mode='bridge'/>\n  <bridge name='br0'/>\n  <portgroup name='o'>\n    <virtualport type='openvswitch'/>\n  </portgroup>\n  <portgroup name='p'/>\n</network>\n`;
    const host = { ...HOST, networks: { pg } };
    expect(run(netNic("pg", " portgroup='o'"), policy(), host).nics[0]).toMatchObject({ source: "pg/o", reason: "network-virtualport" });
    expect(run(netNic("pg", " portgroup='p'"), policy(), host).nics[0]).toMatchObject({ source: "pg/p", status: "missing" });
  });

  it("bridge NICs: a Linux bridge or an absent one is eligible, anything else (OVS) is not", () => {
    const brNic = (b: string) => domain(nic("bridge", `      <source bridge='${b}'/>\n`));
    expect(run(brNic("br0")).nics[0]?.status).toBe("missing");
    expect(run(brNic("not-there")).nics[0]?.status).toBe("missing");
    expect(run(brNic("ovsbr0")).nics[0]).toMatchObject({ status: "ineligible", reason: "not-linux-bridge" });
  });

  it("a bridge NIC without a source bridge is eligible (libvirt will judge it)", () => {
    expect(run(domain(nic("bridge", mac("52:54:00:00:00:03")))).nics[0]).toMatchObject({ status: "missing", source: undefined });
  });

  it("decodes attribute values before using them", () => {
    const r = run(domain(nic("bridge", "      <mac address='52:54:00:AA:00:0&#x31;'/>\n      <source bridge='ovsbr&#48;'/>\n")));
    expect(r.nics[0]).toMatchObject({ mac: "52:54:00:aa:00:01", source: "ovsbr0", reason: "not-linux-bridge" });
  });
});

describe("exemptions", () => {
  const two = domain(
    nic("bridge", mac("52:54:00:00:00:01") + "      <source bridge='br0'/>\n") +
      nic("network", mac("52:54:00:00:00:02") + "      <source network='trunk'/>\n") +
      nic("user", mac("52:54:00:00:00:03")),
  );
  const statuses = (r: TransformResult) => r.nics.map((n) => `${n.status}${n.reason ? `:${n.reason}` : ""}`);

  it("policy switched off or below 3.2: every eligible-type NIC is exempt (policy-off), nothing changes", () => {
    for (const p of [policy({ enabled: false }), policy({ clusterLevel: "3.1" })]) {
      const r = run(two, p);
      expect(r.xml).toBe(two);
      expect(statuses(r)).toEqual(["exempt:policy-off", "exempt:policy-off", "ineligible:type"]);
    }
  });

  it("domain globs", () => {
    const p = policy({ exempt: { domains: ["lab-*", "nested-router"] } });
    expect(statuses(run(two.replace("vm1", "lab-1"), p))).toEqual(["exempt:domain-policy", "exempt:domain-policy", "ineligible:type"]);
    expect(statuses(run(two.replace("vm1", "nested-router"), p))[0]).toBe("exempt:domain-policy");
    expect(statuses(run(two.replace("vm1", "lab"), p))[0]).toBe("missing");
    expect(statuses(run(two.replace("vm1", "xlab-1"), p))[0]).toBe("missing");
    expect(statuses(run(two.replace("vm1", "nested-router-2"), p))[0]).toBe("missing");
  });

  it("a domain name is read as libvirt reads string(./name[1]): decoded, not trimmed", () => {
    const p = policy({ exempt: { domains: ["a&b"] } });
    expect(run(two.replace("<name>vm1</name>", "<name> a&amp;b </name>"), p).domain).toBe(" a&b ");
    expect(statuses(run(two.replace("<name>vm1</name>", "<name> a&amp;b </name>"), p))[0]).toBe("missing");
    expect(statuses(run(two.replace("<name>vm1</name>", "<name>a&amp;b</name>"), p))[0]).toBe("exempt:domain-policy");
  });

  it("MACs, networks and bridges (the NIC's own or its network's)", () => {
    expect(statuses(run(two, policy({ exempt: { macs: ["52:54:00:00:00:01"] } })))).toEqual(["exempt:mac-policy", "missing", "ineligible:type"]);
    expect(statuses(run(two, policy({ exempt: { networks: ["trunk"] } })))).toEqual(["missing", "exempt:network-policy", "ineligible:type"]);
    expect(statuses(run(two, policy({ exempt: { bridges: ["br-trunk"] } })))).toEqual(["missing", "exempt:bridge-policy", "ineligible:type"]);
    expect(statuses(run(two, policy({ exempt: { bridges: ["br0"] } })))).toEqual(["exempt:bridge-policy", "missing", "ineligible:type"]);
  });

  it("a policy-exempt network is not even looked up", () => {
    const host = fakeHost(HOST);
    transform(two, policy({ exempt: { networks: ["trunk"] } }), host, { file: "f" });
    expect(host.asked.filter((q) => q.startsWith("network:"))).toEqual([]);
  });

  const md = (inner: string) => `  <metadata>\n${inner}  </metadata>\n`;
  it.each([
    ["prefixed", `    <nwfh:policy xmlns:nwfh="urn:nwfilter-hook:1" exempt="true"/>\n`],
    ["default namespace", `    <policy xmlns="urn:nwfilter-hook:1" exempt="1"/>\n`],
    ["prefix declared on the root", `    <h:policy exempt='true'/>\n`, " xmlns:h='urn:nwfilter-hook:1'"],
  ])("whole-domain metadata (%s)", (_what, inner, rootAttrs = "") => {
    const xml = domain(nic("bridge", "      <source bridge='br0'/>\n"), { extra: md(inner) }).replace("<domain type='kvm'>", `<domain type='kvm'${rootAttrs}>`);
    expect(statuses(run(xml))).toEqual(["exempt:domain-metadata"]);
  });

  it("per-NIC metadata, MAC in any case", () => {
    const inner = `    <nwfh:policy xmlns:nwfh="urn:nwfilter-hook:1">\n      <nwfh:interface mac="52:54:00:00:00:0A" exempt="true"/>\n      <nwfh:interface mac="52:54:00:00:00:0b"/>\n    </nwfh:policy>\n`;
    const xml = domain(
      nic("bridge", mac("52:54:00:00:00:0a") + "      <source bridge='br0'/>\n") + nic("bridge", mac("52:54:00:00:00:0B") + "      <source bridge='br0'/>\n"),
      { extra: md(inner) },
    );
    expect(statuses(run(xml))).toEqual(["exempt:nic-metadata", "missing"]);
  });

  it.each([
    ["another namespace", `    <nwfh:policy xmlns:nwfh="urn:nwfilter-hook:2" exempt="true"/>\n`],
    ["no namespace", `    <policy exempt="true"/>\n`],
    ["nested in another app's element", `    <a:x xmlns:a="urn:a"><policy xmlns="urn:nwfilter-hook:1" exempt="true"/></a:x>\n`],
    ["exempt false", `    <nwfh:policy xmlns:nwfh="urn:nwfilter-hook:1" exempt="false"/>\n`],
    ["exempt 0", `    <nwfh:policy xmlns:nwfh="urn:nwfilter-hook:1" exempt="0"/>\n`],
    ["no exempt attribute", `    <nwfh:policy xmlns:nwfh="urn:nwfilter-hook:1"/>\n`],
  ])("look-alike metadata is ignored: %s", (_what, inner) => {
    const xml = domain(nic("bridge", "      <source bridge='br0'/>\n"), { extra: md(inner) });
    expect(statuses(run(xml))).toEqual(["missing"]);
  });

  it("a policy outside <metadata> exempts nothing", () => {
    const xml = domain(nic("bridge", "      <source bridge='br0'/>\n"), { extra: `  <nwfh:policy xmlns:nwfh="urn:nwfilter-hook:1" exempt="true"/>\n` });
    expect(statuses(run(xml))).toEqual(["missing"]);
  });

  it.each([
    ["a bad exempt value", `<nwfh:policy xmlns:nwfh="urn:nwfilter-hook:1" exempt="yes"/>`, /exempt must be true or false, got 'yes'/],
    ["an unknown attribute", `<nwfh:policy xmlns:nwfh="urn:nwfilter-hook:1" exmpt="true"/>`, /unknown attribute 'exmpt' on <nwfh:policy>/],
    ["an unknown element", `<nwfh:rules xmlns:nwfh="urn:nwfilter-hook:1"/>`, /unknown element <nwfh:rules> \(expected policy\)/],
    [
      "an interface without mac",
      `<nwfh:policy xmlns:nwfh="urn:nwfilter-hook:1"><nwfh:interface exempt="true"/></nwfh:policy>`,
      /interface needs mac="xx:xx:xx:xx:xx:xx", got none/,
    ],
    ["a bad mac", `<nwfh:policy xmlns:nwfh="urn:nwfilter-hook:1"><nwfh:interface mac="52:54:00" exempt="true"/></nwfh:policy>`, /got '52:54:00'/],
    [
      "a foreign child in the policy",
      `<nwfh:policy xmlns:nwfh="urn:nwfilter-hook:1"><x:interface xmlns:x="urn:x" mac="52:54:00:00:00:01"/></nwfh:policy>`,
      /unexpected element <x:interface>/,
    ],
  ])("our namespace with %s is an XmlError naming the line", (_what, inner, message) => {
    const xml = domain(nic("bridge", "      <source bridge='br0'/>\n"), { extra: `  <metadata>\n    <other/>\n    ${inner}\n  </metadata>\n` });
    let error: unknown;
    try {
      transform(xml, policy(), fakeHost(HOST), { file: "d.xml" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(XmlError);
    expect((error as XmlError).message).toMatch(message);
    expect((error as XmlError).message).toMatch(/^urn:nwfilter-hook:1 metadata: /);
    expect((error as XmlError).where?.file).toBe("d.xml");
    expect((error as XmlError).where?.line).toBe(5);
  });

  it("ineligibility is reported before exemption (a direct NIC in an exempt domain is 'ineligible')", () => {
    const p = policy({ exempt: { domains: ["vm1"] } });
    expect(statuses(run(two, p))[2]).toBe("ineligible:type");
  });
});

describe("existing filterrefs", () => {
  const xml = domain(
    nic("bridge", `      <source bridge='br0'/>\n      ${F}\n`) +
      nic(
        "bridge",
        `      <source bridge='br0'/>\n      <filterref filter="clean-traffic">\n        <parameter name="IP" value="10.0.0.1"/>\n      </filterref>\n`,
      ) +
      nic("bridge", `      <source bridge='br0'/>\n      <filterref filter = 'no-ip-spoofing' />\n`),
  );

  it("keep: the NIC with the filter is compliant, the others are kept as they are", () => {
    const r = run(xml);
    expect(r.xml).toBe(xml);
    expect(r.nics.map((n) => [n.status, n.filter])).toEqual([
      ["compliant", "vdsm-no-mac-spoofing"],
      ["other-filter", "clean-traffic"],
      ["other-filter", "no-ip-spoofing"],
    ]);
  });

  it("replace: only the filter name changes, quotes, spacing and parameters stay", () => {
    const r = run(xml, policy({ onExisting: "replace" }));
    expect(r.xml).toBe(
      xml.replace(`filter="clean-traffic"`, `filter="vdsm-no-mac-spoofing"`).replace(`filter = 'no-ip-spoofing'`, `filter = 'vdsm-no-mac-spoofing'`),
    );
    expect(r.nics.map((n) => n.action)).toEqual([undefined, "replaced", "replaced"]);
  });

  it("replace on a filterref without a filter attribute is an XmlError, not a guess", () => {
    const bad = domain(nic("bridge", "      <source bridge='br0'/>\n      <filterref/>\n"));
    expect(() => transform(bad, policy({ onExisting: "replace" }), fakeHost(HOST), { file: "f" })).toThrow(XmlError);
    expect(run(bad).nics[0]).toMatchObject({ status: "other-filter", filter: "" });
  });

  it("only the first filterref counts (libvirt reads the first)", () => {
    const twice = domain(nic("bridge", `      <source bridge='br0'/>\n      <filterref filter='other'/>\n      ${F}\n`));
    expect(run(twice).nics[0]).toMatchObject({ status: "other-filter", filter: "other" });
  });

  it("a custom policy filter is what gets inserted", () => {
    const r = run(domain(nic("bridge", "      <source bridge='br0'/>\n")), policy({ filter: "clean-traffic" }));
    expect(r.xml).toContain("<filterref filter='clean-traffic'/>");
    expect(r.filter).toBe("clean-traffic");
  });
});

describe("checkOnly", () => {
  it("reports what it would do without changing the text", () => {
    const xml = domain(nic("bridge", "      <source bridge='br0'/>\n") + nic("bridge", "      <source bridge='br0'/>\n      <filterref filter='x'/>\n"));
    const r = transform(xml, policy({ onExisting: "replace" }), fakeHost(HOST), { file: "f", checkOnly: true });
    expect(r.xml).toBe(xml);
    expect(r.changed).toBe(false);
    expect(r.nics.map((n) => [n.status, n.action])).toEqual([
      ["missing", undefined],
      ["other-filter", undefined],
    ]);
  });
});

describe("layout of the insertion", () => {
  it.each([
    [
      "two-space indentation",
      "<interface type='bridge'>\n  <source bridge='br0'/>\n</interface>",
      `<interface type='bridge'>\n  <source bridge='br0'/>\n  ${F}\n</interface>`,
    ],
    [
      "tabs",
      "<interface type='bridge'>\n\t\t<source bridge='br0'/>\n\t</interface>",
      `<interface type='bridge'>\n\t\t<source bridge='br0'/>\n\t\t${F}\n\t</interface>`,
    ],
    [
      "CRLF",
      "<interface type='bridge'>\r\n    <source bridge='br0'/>\r\n  </interface>",
      `<interface type='bridge'>\r\n    <source bridge='br0'/>\r\n    ${F}\r\n  </interface>`,
    ],
    ["one line", "<interface type='bridge'><source bridge='br0'/></interface>", `<interface type='bridge'><source bridge='br0'/>${F}</interface>`],
    ["self-closing", "<interface type='bridge'/>", `<interface type='bridge'>${F}</interface>`],
    ["self-closing with a space", "<interface type='bridge' />", `<interface type='bridge' >${F}</interface>`],
    ["empty with an end tag", "<interface type='bridge'></interface>", `<interface type='bridge'>${F}</interface>`],
    ["no children, end tag on its own line", "<interface type='bridge'>\n  </interface>", `<interface type='bridge'>\n    ${F}\n  </interface>`],
    [
      "first child on the start tag's line",
      "<interface type='bridge'><mac address='52:54:00:00:00:01'/>\n      <source bridge='br0'/>\n    </interface>",
      `<interface type='bridge'><mac address='52:54:00:00:00:01'/>\n      <source bridge='br0'/>\n      ${F}\n    </interface>`,
    ],
    [
      "a comment as last child",
      "<interface type='bridge'>\n  <source bridge='br0'/>\n  <!-- </interface> -->\n</interface>",
      `<interface type='bridge'>\n  <source bridge='br0'/>\n  <!-- </interface> -->\n  ${F}\n</interface>`,
    ],
    [
      "blank lines before the end tag",
      "<interface type='bridge'>\n  <source bridge='br0'/>\n\n\n</interface>",
      `<interface type='bridge'>\n  <source bridge='br0'/>\n  ${F}\n\n\n</interface>`,
    ],
    [
      "'>' inside an attribute value",
      "<interface type='bridge' x='a>b'>\n  <source bridge='br0'/>\n</interface>",
      `<interface type='bridge' x='a>b'>\n  <source bridge='br0'/>\n  ${F}\n</interface>`,
    ],
  ])("%s", (_what, before, after) => {
    const r = run(before);
    expect(r.xml).toBe(after);
  });

  it("a lone <interface> (the CLI's hot-plug input) is accepted, but not where a domain is required", () => {
    const lone = "<interface type='bridge'><source bridge='br0'/></interface>";
    expect(run(lone).domain).toBeUndefined();
    expect(() => transform(lone, policy(), fakeHost(HOST), { file: "f", root: "domain" })).toThrow(/expected a <domain>, found <interface>/);
  });

  it("a lone <interface> takes the exemptions of the domain it is meant for (owner)", () => {
    const lone = "<interface type='bridge'><mac address='52:54:00:00:00:07'/><source bridge='br0'/></interface>";
    const at = (owner: string, p: Policy = policy()) =>
      transform(lone, p, fakeHost(HOST), { file: "nic.xml", root: "interface", owner: { xml: owner, file: "owner.xml" } }).nics[0];
    const meta = (inner: string) => `  <metadata>\n    <n:policy xmlns:n='urn:nwfilter-hook:1'${inner}\n  </metadata>\n`;
    expect(at(domain("", { name: "lab-1" }), policy({ exempt: { domains: ["lab-*"] } }))).toMatchObject({ status: "exempt", reason: "domain-policy" });
    expect(at(domain("", { extra: meta(" exempt='true'/>") }))).toMatchObject({ status: "exempt", reason: "domain-metadata" });
    expect(at(domain("", { extra: meta("><n:interface mac='52:54:00:00:00:07' exempt='true'/></n:policy>") }))).toMatchObject({
      status: "exempt",
      reason: "nic-metadata",
    });
    expect(at(domain("", { name: "web1" }), policy({ exempt: { domains: ["lab-*"] } }))).toMatchObject({ status: "missing", action: "injected" });
    expect(() => at("<network><name>x</name></network>")).toThrow(/expected a <domain>, found <network>/);
    expect(() => transform(domain(""), policy(), fakeHost(HOST), { file: "f", root: "interface" })).toThrow(/expected an <interface>, found <domain>/);
  });

  it("only direct children of /domain/devices are NICs", () => {
    const xml = `<domain type='kvm'>\n  <name>vm1</name>\n  <interface type='bridge'><source bridge='br0'/></interface>\n  <metadata>\n    <interface type='bridge'><source bridge='br0'/></interface>\n  </metadata>\n  <devices>\n    <hostdev><interface type='bridge'/></hostdev>\n    <interface type='bridge'><source bridge='br0'/></interface>\n  </devices>\n</domain>\n`;
    const r = run(xml);
    expect(r.nics).toHaveLength(1);
    expect(r.nics[0]?.line).toBe(9);
    expect(r.xml).toBe(xml.replace("<source bridge='br0'/></interface>\n  </devices>", `<source bridge='br0'/>${F}</interface>\n  </devices>`));
  });

  it("an interface whose end tag is followed at once by its parent's end tag", () => {
    // Found by the fixtures: the filterref must go inside the NIC, not after it.
    const xml = "<domain type='kvm'><name>vm1</name><devices><interface type='ethernet'><target dev='t'/></interface></devices></domain>";
    expect(run(xml).xml).toBe(`<domain type='kvm'><name>vm1</name><devices><interface type='ethernet'><target dev='t'/>${F}</interface></devices></domain>`);
  });

  it("a <name> whose end tag is followed at once by its parent's end tag", () => {
    const p = policy({ exempt: { domains: ["lab-*"] } });
    const xml = "<domain type='kvm'><devices><interface type='ethernet'/></devices><name>lab-1</name></domain>";
    const r = run(xml, p);
    expect(r.domain).toBe("lab-1");
    expect(r.nics[0]?.status).toBe("exempt");
  });

  it("many NICs: every one gets exactly one filterref, in document order", () => {
    const nics = Array.from({ length: 300 }, (_, i) =>
      nic(
        i % 3 === 0 ? "user" : "bridge",
        `${mac(`52:54:00:00:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`)}      <source bridge='br0'/>\n`,
      ),
    ).join("");
    const r = run(domain(nics));
    expect(r.nics.filter((n) => n.action === "injected")).toHaveLength(200);
    expect(r.xml.split(F)).toHaveLength(201);
    expect(r.nics.map((n) => n.index)).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });

  it("many distinct values (a bridge per NIC, written with references and line ends) are each read as written", () => {
    const names = Array.from({ length: 600 }, (_, i) => `br${i}`);
    const nics = names
      .map((b, i) =>
        nic(
          i % 2 === 0 ? "bridge" : "ethernet",
          `      <source bridge='${b.replace("r", "&#114;")}' dev='\tx${i}\r\n'/>\n${i % 4 === 3 ? `      <target dev='vnet${i}'/>\n` : ""}`,
        ),
      )
      .join("");
    const r = run(domain(nics), policy({ exempt: { bridges: ["br598"] } }));
    expect(r.nics.map((n) => n.source)).toEqual(names.map((b, i) => (i % 2 === 0 ? b : i % 4 === 3 ? `vnet${i}` : ` x${i} `)));
    expect(r.nics[598]?.reason).toBe("bridge-policy");
    expect(r.nics.filter((n) => n.action === "injected")).toHaveLength(599);
  });

  it("onNic is handed each report in document order, the same as nics would hold, and nics stays empty", () => {
    const p = policy({ onExisting: "replace", exempt: { macs: ["52:54:00:00:00:02"] } });
    const xml = domain(
      nic("bridge", `${mac("52:54:00:00:00:01")}      <source bridge='br0'/>\n`) +
        nic("bridge", `${mac("52:54:00:00:00:02")}      <source bridge='br0'/>\n`) +
        nic("network", `${mac("52:54:00:00:00:03")}      <source network='default' portgroup='pg'/>\n      <filterref filter='clean-traffic'/>\n`) +
        nic("user", mac("52:54:00:00:00:04")) +
        nic("bridge", `      <source bridge='br0'/>\n      ${F}\n`),
    );
    for (const checkOnly of [false, true]) {
      const all = run(xml, p, HOST, checkOnly);
      const seen: NicReport[] = [];
      const streamed = transform(xml, p, fakeHost(HOST), { file: "test.xml", checkOnly, onNic: (n) => seen.push(n) });
      expect(streamed.nics).toEqual([]);
      expect(seen).toEqual(all.nics);
      expect(streamed.xml).toBe(all.xml);
      expect(all.nics.map((n) => n.status)).toEqual(["missing", "exempt", "other-filter", "ineligible", "compliant"]);
    }
  });
});

describe("what is refused", () => {
  it.each([
    ["a network", "<network><name>x</name></network>", /expected a <domain> \(or a single <interface>\), found <network>/],
    ["a domstatus", "<domstatus><domain><name>x</name></domain></domstatus>", /found <domstatus>/],
    ["malformed XML", "<domain><devices></domain>", /malformed XML/],
    ["nothing", "", /empty document/],
    ["a DOCTYPE with entities", "<!DOCTYPE domain [<!ENTITY a 'b'>]><domain/>", /DOCTYPE with declarations/],
  ])("%s", (_what, xml, message) => {
    let error: unknown;
    try {
      transform(xml, policy(), fakeHost(HOST), { file: "f" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(XmlError);
    expect(error).toBeInstanceOf(NwfilterHookError);
    expect(String((error as Error).message)).toMatch(message);
  });

  it("a domain without <name> or <devices> is fine", () => {
    const r = run("<domain type='kvm'/>");
    expect(r).toMatchObject({ domain: undefined, nics: [], changed: false });
  });
});
