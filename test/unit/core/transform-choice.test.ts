// transform with chosen filters and parameters: statuses (compliant, missing, stale,
// other-filter, exempt by none), what is written where, the metadata's choices read strictly,
// DomainMetadata = ignore, and the problems libvirt would have with the result.
import { describe, expect, it } from "vitest";
import { XmlError } from "../../../src/core/errors.js";
import { parsePolicy, type Policy } from "../../../src/core/policy.js";
import { transform, type NicReport, type TransformResult } from "../../../src/core/transform.js";
import { NETWORKS, fakeHost, type FakeHostSpec } from "../../support/fake-host.js";

const GATEWAY =
  "<filter name='clean-traffic-gateway' chain='root'>\n  <rule action='accept' direction='in'><mac srcmacaddr='$GATEWAY_MAC'/></rule>\n</filter>\n";
const HOST: FakeHostSpec = {
  networks: { prod: NETWORKS.nat("prod", "virbr7"), lab: NETWORKS.nat("lab", "virbr8") },
  bridges: { br0: "linux", virbr7: "linux", virbr8: "linux" },
  filters: ["vdsm-no-mac-spoofing", "clean-traffic", "no-ip-spoofing", "mine"],
  filterDefs: { "clean-traffic-gateway": GATEWAY },
};

const policy = (text: string): Policy => parsePolicy(text, "/p.ini");
const META = (inner: string) => `  <metadata>\n    <nwfh:policy xmlns:nwfh="urn:nwfilter-hook:1">\n${inner}    </nwfh:policy>\n  </metadata>\n`;
const domain = (devices: string, metadata = "") => `<domain type='kvm'>\n  <name>web1</name>\n${metadata}  <devices>\n${devices}  </devices>\n</domain>\n`;
const nic = (mac: string, source: string, extra = "") =>
  `    <interface type='bridge'>\n      <mac address='${mac}'/>\n      <source bridge='${source}'/>\n${extra}    </interface>\n`;
const netNic = (mac: string, network: string, extra = "") =>
  `    <interface type='network'>\n      <mac address='${mac}'/>\n      <source network='${network}'/>\n${extra}    </interface>\n`;
const M1 = "52:54:00:00:00:01";
const M2 = "52:54:00:00:00:02";

function run(xml: string, p: Policy, host: FakeHostSpec = HOST, checkOnly = false): TransformResult {
  const r = transform(xml, p, fakeHost(host), { file: "test.xml", checkOnly });
  // Outside the NICs that changed, the output is the input byte for byte.
  let at = 0;
  let outAt = 0;
  for (const n of r.nics) {
    expect(r.xml.slice(outAt, n.output.start)).toBe(xml.slice(at, n.input.start));
    at = n.input.end;
    outAt = n.output.end;
  }
  expect(r.xml.slice(outAt)).toBe(xml.slice(at));
  return r;
}

const only = (r: TransformResult): NicReport => r.nics[0] as NicReport;

describe("missing: the chosen filterref with its parameters, indented like the NIC's children", () => {
  it("one <parameter> per value, a level deeper than the filterref", () => {
    const r = run(domain(netNic(M1, "prod")), policy("[network:prod]\nFilter = clean-traffic\nParameters = IP=192.0.2.10, IP=192.0.2.11\n"));
    expect(r.xml).toBe(
      domain(
        netNic(
          M1,
          "prod",
          "      <filterref filter='clean-traffic'>\n        <parameter name='IP' value='192.0.2.10'/>\n        <parameter name='IP' value='192.0.2.11'/>\n      </filterref>\n",
        ),
      ),
    );
    expect(only(r)).toMatchObject({
      status: "missing",
      action: "injected",
      wanted: {
        filter: "clean-traffic",
        parameters: [
          { name: "IP", value: "192.0.2.10" },
          { name: "IP", value: "192.0.2.11" },
        ],
        from: "[network:prod]",
      },
    });
  });

  it("tabs and CRLF as the document has them; a NIC on one line gets its filterref on that line", () => {
    const p = policy("[bridge:br0]\nFilter = clean-traffic\nParameters = IP=10.0.0.1\n");
    const tabbed =
      "<domain>\r\n\t<name>a</name>\r\n\t<devices>\r\n\t\t<interface type='bridge'>\r\n\t\t\t<source bridge='br0'/>\r\n\t\t</interface>\r\n\t</devices>\r\n</domain>\r\n";
    expect(run(tabbed, p).xml).toBe(
      tabbed.replace(
        "<source bridge='br0'/>\r\n",
        "<source bridge='br0'/>\r\n\t\t\t<filterref filter='clean-traffic'>\r\n\t\t\t\t<parameter name='IP' value='10.0.0.1'/>\r\n\t\t\t</filterref>\r\n",
      ),
    );
    const oneLine = "<domain><name>a</name><devices><interface type='bridge'><source bridge='br0'/></interface></devices></domain>";
    expect(run(oneLine, p).xml).toBe(
      oneLine.replace("</interface>", "<filterref filter='clean-traffic'><parameter name='IP' value='10.0.0.1'/></filterref></interface>"),
    );
  });
});

describe("compliant, stale, other-filter", () => {
  const P = policy("[network:prod]\nFilter = clean-traffic\nParameters = IP=10.0.0.1, IP=10.0.0.2\n");
  const ref = (filter: string, params: string[]) =>
    params.length === 0
      ? `      <filterref filter='${filter}'/>\n`
      : `      <filterref filter='${filter}'>\n${params.map((x) => `        <parameter name='${x.split("=")[0]}' value='${x.split("=")[1]}'/>\n`).join("")}      </filterref>\n`;

  it("the chosen values in any order, and other parameters of the NIC's own: compliant (trust)", () => {
    const xml = domain(netNic(M1, "prod", ref("clean-traffic", ["CTRL_IP_LEARNING=none", "IP=10.0.0.2", "IP=10.0.0.1"])));
    const r = run(xml, P);
    expect(r.xml).toBe(xml);
    expect(only(r)).toMatchObject({
      status: "compliant",
      wanted: {
        parameters: [
          { name: "CTRL_IP_LEARNING", value: "none" },
          { name: "IP", value: "10.0.0.1" },
          { name: "IP", value: "10.0.0.2" },
        ],
      },
    });
    expect(only(r).action).toBeUndefined();
  });

  it("other values for a name the choice sets: stale, and the whole filterref is written anew, keeping the NIC's other parameters", () => {
    const xml = domain(netNic(M1, "prod", ref("clean-traffic", ["IP=10.0.0.9", "CTRL_IP_LEARNING=none"])));
    const r = run(xml, P);
    expect(only(r)).toMatchObject({ status: "stale", action: "rewritten" });
    expect(r.xml).toBe(domain(netNic(M1, "prod", ref("clean-traffic", ["IP=10.0.0.1", "IP=10.0.0.2", "CTRL_IP_LEARNING=none"]))));
  });

  it("a value missing from a list counts too (multisets)", () => {
    expect(only(run(domain(netNic(M1, "prod", ref("clean-traffic", ["IP=10.0.0.1", "IP=10.0.0.1"]))), P, HOST, true)).status).toBe("stale");
  });

  it("a filter the policy manages but did not choose for this NIC: stale, switched under OnExisting = keep", () => {
    const xml = domain(netNic(M1, "prod", ref("vdsm-no-mac-spoofing", ["IP=10.0.0.1", "IP=10.0.0.2"])));
    const r = run(xml, P);
    // Its parameters are already the wanted ones: only the filter's name changes.
    expect(only(r)).toMatchObject({ status: "stale", action: "replaced", filter: "vdsm-no-mac-spoofing" });
    expect(r.xml).toBe(xml.replace("filter='vdsm-no-mac-spoofing'", "filter='clean-traffic'"));
    const bare = run(domain(netNic(M1, "prod", ref("vdsm-no-mac-spoofing", []))), P);
    expect(only(bare)).toMatchObject({ status: "stale", action: "rewritten" });
    expect(bare.xml).toBe(domain(netNic(M1, "prod", ref("clean-traffic", ["IP=10.0.0.1", "IP=10.0.0.2"]))));
  });

  it("a filter nobody in the policy chose: other-filter, kept under keep, switched under replace", () => {
    const xml = domain(netNic(M1, "prod", ref("no-ip-spoofing", ["CTRL_IP_LEARNING=none"])));
    const kept = run(xml, P);
    expect(kept.xml).toBe(xml);
    expect(only(kept)).toMatchObject({ status: "other-filter" });
    expect(only(kept).problem).toBeUndefined();
    const replaced = run(xml, policy("[filtering]\nOnExisting = replace\n[network:prod]\nFilter = clean-traffic\nParameters = IP=10.0.0.1, IP=10.0.0.2\n"));
    expect(only(replaced)).toMatchObject({ status: "other-filter", action: "rewritten" });
    expect(replaced.xml).toBe(domain(netNic(M1, "prod", ref("clean-traffic", ["CTRL_IP_LEARNING=none", "IP=10.0.0.1", "IP=10.0.0.2"]))));
  });

  it("the filterref's quotes and spacing go with a rewrite; the rest of the NIC stays as written", () => {
    const xml = domain(netNic(M1, "prod", `      <filterref  filter = "clean-traffic" ><parameter name="IP" value="1.1.1.1"/></filterref>\n`));
    const r = run(xml, P);
    expect(r.xml).toBe(domain(netNic(M1, "prod", ref("clean-traffic", ["IP=10.0.0.1", "IP=10.0.0.2"]))));
  });
});

describe("Filter = none", () => {
  it("exempts the NIC, naming the level; a filterref it has is left alone", () => {
    const xml = domain(nic(M1, "br0", "      <filterref filter='no-ip-spoofing'/>\n") + nic(M2, "br0"));
    const r = run(xml, policy("[bridge:br0]\nFilter = none\n"));
    expect(r.xml).toBe(xml);
    expect(r.nics.map((n) => [n.status, n.reason, n.detail])).toEqual([
      ["exempt", "filter-none", "Filter = none from [bridge:br0]"],
      ["exempt", "filter-none", "Filter = none from [bridge:br0]"],
    ]);
  });
});

describe("the domain's metadata", () => {
  const meta = (attrs: string, children = "") =>
    META(
      children === "" ? `      <nwfh:interface mac="${M1}" ${attrs}/>\n` : `      <nwfh:interface mac="${M1}" ${attrs}>\n${children}      </nwfh:interface>\n`,
    );
  const param = (name: string, value: string) => `        <nwfh:parameter name="${name}" value="${value}"/>\n`;

  it("chooses a filter and parameters for its NIC (trust)", () => {
    const xml = domain(nic(M1, "br0") + nic(M2, "br0"), meta('filter="clean-traffic"', param("IP", "192.0.2.10") + param("IP", "192.0.2.11")));
    const r = run(xml, policy(""));
    expect(r.nics.map((n) => n.wanted)).toEqual([
      {
        filter: "clean-traffic",
        parameters: [
          { name: "IP", value: "192.0.2.10" },
          { name: "IP", value: "192.0.2.11" },
        ],
        chosen: [
          { name: "IP", value: "192.0.2.10" },
          { name: "IP", value: "192.0.2.11" },
        ],
        from: "the interface's metadata",
      },
      { filter: "vdsm-no-mac-spoofing", parameters: [], chosen: [], from: "the default Filter" },
    ]);
  });

  it("parameters alone feed the filter a section chose", () => {
    const r = run(domain(netNic(M1, "prod"), meta("", param("IP", "192.0.2.10"))), policy("[network:prod]\nFilter = clean-traffic\n"));
    expect(only(r).wanted).toMatchObject({ filter: "clean-traffic", parameters: [{ name: "IP", value: "192.0.2.10" }], from: "[network:prod]" });
  });

  it.each([
    ["an unknown attribute", meta('filter="a" color="red"'), "unknown attribute 'color' on <nwfh:interface>"],
    ["a bad filter name", meta('filter="a b"'), "filter must be an nwfilter name or none, got 'a b'"],
    ["a bad parameter name", meta("", param("I P", "1")), "parameter 'I P' is not a parameter name (letters, digits and _)"],
    ["a bad value", meta("", param("IP", "1/24")), "parameter IP: '1/24' is not a parameter value (letters, digits, _, . and :)"],
    ["MAC", meta("", param("MAC", "52:54:00:00:00:09")), "parameter MAC cannot be given: libvirt fills it in from the interface"],
    ["a parameter without value", meta("", `        <nwfh:parameter name="IP"/>\n`), "parameter needs name=... and value=..."],
    ["an unknown element", meta("", `        <nwfh:param name="IP" value="1"/>\n`), "unexpected element <nwfh:param> in an interface (expected parameter)"],
    ["an element in a parameter", meta("", `        <nwfh:parameter name="IP" value="1"><x/></nwfh:parameter>\n`), "unexpected element <x> in a parameter"],
    [
      "a MAC given twice",
      META(`      <nwfh:interface mac="${M1}" exempt="true"/>\n      <nwfh:interface mac="${M1.toUpperCase()}" filter="a"/>\n`),
      `interface ${M1} is given twice (first on line 5)`,
    ],
  ])("%s is refused, at its line", (_what, metadata, message) => {
    const xml = domain(nic(M1, "br0"), metadata);
    try {
      transform(xml, policy(""), fakeHost(HOST), { file: "test.xml" });
      throw new Error("accepted");
    } catch (error) {
      expect(error).toBeInstanceOf(XmlError);
      expect((error as XmlError).message).toBe(`urn:nwfilter-hook:1 metadata: ${message}`);
      expect((error as XmlError).where?.line).toBeGreaterThan(3);
    }
  });

  it("DomainMetadata = ignore: exemptions, filters and parameters of the metadata change nothing, and are reported", () => {
    const xml = domain(
      nic(M1, "br0") + nic(M2, "br0"),
      META(
        `      <nwfh:interface mac="${M1}" exempt="true"/>\n      <nwfh:interface mac="${M2}" filter="none">\n${param("IP", "1.2.3.4")}      </nwfh:interface>\n`,
      ),
    );
    const trusted = run(xml, policy(""), HOST, true);
    expect(trusted.nics.map((n) => [n.status, n.reason])).toEqual([
      ["exempt", "nic-metadata"],
      ["exempt", "filter-none"],
    ]);
    const ignored = run(xml, policy("[filtering]\nDomainMetadata = ignore\n"), HOST, true);
    expect(ignored.nics.map((n) => [n.status, n.ignored])).toEqual([
      ["missing", "the interface's exempt=true (DomainMetadata = ignore)"],
      ["missing", "the interface's filter 'none', parameters IP=1.2.3.4 (DomainMetadata = ignore)"],
    ]);
    const whole = run(
      domain(nic(M1, "br0"), `  <metadata>\n    <p:policy xmlns:p="urn:nwfilter-hook:1" exempt="true"/>\n  </metadata>\n`),
      policy("[filtering]\nDomainMetadata = ignore\n"),
    );
    expect(only(whole)).toMatchObject({ status: "missing", action: "injected", ignored: "the domain's exempt=true (DomainMetadata = ignore)" });
  });

  it("DomainMetadata = ignore: a NIC's own other parameters are not kept either", () => {
    const xml = domain(netNic(M1, "prod", "      <filterref filter='clean-traffic'>\n        <parameter name='X' value='1'/>\n      </filterref>\n"));
    const p = policy("[filtering]\nDomainMetadata = ignore\n[network:prod]\nFilter = clean-traffic\n");
    const r = run(xml, p);
    expect(only(r)).toMatchObject({ status: "stale", action: "rewritten" });
    expect(r.xml).toBe(domain(netNic(M1, "prod", "      <filterref filter='clean-traffic'/>\n")));
  });
});

describe("what libvirt would refuse", () => {
  it("a chosen filter whose variables are not given is reported with the NIC, and only for the filters NICs need", () => {
    const host = fakeHost(HOST);
    const p = policy("[bridge:br0]\nFilter = clean-traffic-gateway\n[network:lab]\nFilter = not-defined-but-unused\n");
    const r = transform(domain(nic(M1, "br0") + nic(M2, "br0")), p, host, { file: "t", checkOnly: true });
    expect(r.nics.map((n) => n.problem)).toEqual([
      { kind: "variables", filter: "clean-traffic-gateway", missing: ["GATEWAY_MAC"] },
      { kind: "variables", filter: "clean-traffic-gateway", missing: ["GATEWAY_MAC"] },
    ]);
    expect(host.asked.filter((a) => a.startsWith("definition:"))).toEqual(["definition:clean-traffic-gateway"]);
    const given = transform(
      domain(nic(M1, "br0", "      <filterref filter='clean-traffic-gateway'><parameter name='GATEWAY_MAC' value='52:54:00:00:00:fe'/></filterref>\n")),
      p,
      fakeHost(HOST),
      {
        file: "t",
      },
    );
    expect(only(given)).toMatchObject({ status: "compliant" });
    expect(only(given).problem).toBeUndefined();
  });

  it("a chosen filter that is not defined here", () => {
    const r = run(domain(nic(M1, "br0")), policy("[bridge:br0]\nFilter = gone\n"));
    expect(only(r)).toMatchObject({ status: "missing", action: "injected", problem: { kind: "undefined", filter: "gone", missing: "gone", via: [] } });
  });

  it("exempt and ineligible NICs read no definition", () => {
    const host = fakeHost(HOST);
    transform(domain(nic(M1, "br0") + "    <interface type='user'/>\n"), policy("[bridge:br0]\nFilter = none\n"), host, { file: "t" });
    expect(host.asked.filter((a) => a.startsWith("definition:"))).toEqual([]);
  });
});

describe("a lone <interface> for a domain (inject --device --domain)", () => {
  it("gets its domain's [domain:GLOB] section and its metadata choice", () => {
    const owner = domain("", META(`      <nwfh:interface mac="${M1}">\n        <nwfh:parameter name="IP" value="10.1.1.1"/>\n      </nwfh:interface>\n`));
    const device = "<interface type='bridge'>\n  <mac address='52:54:00:00:00:01'/>\n  <source bridge='br9'/>\n</interface>\n";
    const r = transform(device, policy("[domain:web*]\nFilter = clean-traffic\n"), fakeHost(HOST), {
      file: "nic.xml",
      root: "interface",
      owner: { xml: owner, file: "owner" },
    });
    expect(r.xml).toBe(
      device.replace("</interface>", "  <filterref filter='clean-traffic'>\n    <parameter name='IP' value='10.1.1.1'/>\n  </filterref>\n</interface>"),
    );
  });
});
