// The policy's choice sections ([network:NAME], [bridge:NAME], [domain:GLOB]) and DomainMetadata
// (src/core/policy-sections.ts, policy-lines.ts, policy.ts): what they read, and every refusal at
// its line.
import { describe, expect, it } from "vitest";
import { PolicyError } from "../../../src/core/errors.js";
import { parsePolicy } from "../../../src/core/policy.js";

const FILE = "/etc/nwfilter-hook/policy.ini";

function refusal(text: string): { line: number | undefined; message: string } {
  try {
    parsePolicy(text, FILE);
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyError);
    return { line: (error as PolicyError).where?.line, message: (error as PolicyError).message };
  }
  throw new Error(`accepted: ${JSON.stringify(text)}`);
}

describe("choice sections", () => {
  it("reads each kind, in file order, with its Filter and Parameters", () => {
    const p = parsePolicy(
      [
        "[filtering]",
        "Filter = vdsm-no-mac-spoofing",
        "",
        "[network:prod]",
        "Filter = clean-traffic",
        "Parameters = IP=192.0.2.10, IP=192.0.2.11, CTRL_IP_LEARNING=none",
        "",
        "[bridge:br-lab]",
        "Filter = none",
        "",
        "[domain:web-*]",
        "Parameters = DHCPSERVER=192.0.2.1",
        "",
        "[exempt]",
        "MACs = 52:54:00:00:00:01",
      ].join("\n"),
      FILE,
    );
    expect(p.filter).toBe("vdsm-no-mac-spoofing");
    expect(p.exempt.macs).toEqual(["52:54:00:00:00:01"]);
    expect(p.sections).toEqual([
      {
        kind: "network",
        name: "prod",
        filter: "clean-traffic",
        parameters: [
          { name: "IP", value: "192.0.2.10" },
          { name: "IP", value: "192.0.2.11" },
          { name: "CTRL_IP_LEARNING", value: "none" },
        ],
        line: 4,
      },
      { kind: "bridge", name: "br-lab", filter: null, parameters: [], line: 8 },
      { kind: "domain", name: "web-*", filter: undefined, parameters: [{ name: "DHCPSERVER", value: "192.0.2.1" }], line: 11 },
    ]);
  });

  it("matches the kind without regard to case, keeps NAME as written (dots, case, colons)", () => {
    const p = parsePolicy("[NETWORK:Prod]\nFilter = a\n[Bridge:br0.100]\nFilter = b\n[ domain : vm:1 ]\nFilter = c\n", FILE);
    expect(p.sections.map((s) => [s.kind, s.name])).toEqual([
      ["network", "Prod"],
      ["bridge", "br0.100"],
      ["domain", "vm:1"],
    ]);
  });

  it("a Filter in [filtering] and in sections is read once each (ini would count it across the file)", () => {
    const p = parsePolicy("[filtering]\nFilter = a\n[network:x]\nFilter = b\n[network:y]\nFilter = c\n[exempt]\nNetworks = z\n", FILE);
    expect(p.filter).toBe("a");
    expect(p.sections.map((s) => s.filter)).toEqual(["b", "c"]);
    expect(p.exempt.networks).toEqual(["z"]);
  });

  it("values are unquoted and stripped of comments as ini does", () => {
    const p = parsePolicy('[network:x]\nFilter = "clean-traffic"\nParameters = IP=10.0.0.1 # one address\n', FILE);
    expect(p.sections[0]).toMatchObject({ filter: "clean-traffic", parameters: [{ name: "IP", value: "10.0.0.1" }] });
    // ini unquotes only a value that is all quoted: with a comment after it, the quotes stay, and are refused.
    expect(refusal("[network:x]\nFilter = 'a' ; b\n").message).toBe("Filter: expected an nwfilter name or none, got ''a'' (in [network:x])");
  });

  it("names, none in any case, spaces around the signs, empty items", () => {
    const p = parsePolicy("[bridge:b]\nfilter = NONE\n[network:n]\nparameters = A = 1 ,, B=x.y:z,\n", FILE);
    expect(p.sections[0]?.filter).toBeNull();
    expect(p.sections[1]?.parameters).toEqual([
      { name: "A", value: "1" },
      { name: "B", value: "x.y:z" },
    ]);
  });

  it("a section with nothing in it is accepted and chooses nothing", () => {
    expect(parsePolicy("[network:n]\n", FILE).sections).toEqual([{ kind: "network", name: "n", filter: undefined, parameters: [], line: 1 }]);
  });

  it("the other sections keep their line numbers around choice sections", () => {
    expect(refusal("[network:n]\nFilter = a\n[filtering]\nOnMissing = never\n")).toEqual({
      line: 4,
      message: "OnMissing: expected enforce, audit or watch, got 'never'",
    });
  });
});

describe("refused, at the line", () => {
  it.each([
    ["an empty NAME", "[filtering]\n[network:]\nFilter = a\n", 2, "[network:]: the section needs a name after the colon"],
    ["an empty glob", "[domain: ]\n", 1, "[domain:]: the section needs a glob after the colon"],
    ["a bad filter name", "[network:n]\nFilter = bad/name\n", 2, "Filter: expected an nwfilter name or none, got 'bad/name' (in [network:n])"],
    ["an empty Filter", "[network:n]\nFilter =\n", 2, "Filter: expected an nwfilter name or none, got '' (in [network:n])"],
    ["a parameter without =", "[bridge:b]\nParameters = IP\n", 2, "Parameters: 'IP' is not NAME=VALUE (in [bridge:b])"],
    ["a bad parameter name", "[bridge:b]\nParameters = I-P=1\n", 2, "Parameters: 'I-P' is not a parameter name (letters, digits and _) (in [bridge:b])"],
    [
      "a bad parameter value",
      "[bridge:b]\nParameters = IP=10.0.0.0/8\n",
      2,
      "Parameters: IP: '10.0.0.0/8' is not a parameter value (letters, digits, _, . and :) (in [bridge:b])",
    ],
    ["an empty value", "[bridge:b]\nParameters = IP=\n", 2, "Parameters: IP: '' is not a parameter value (letters, digits, _, . and :) (in [bridge:b])"],
    [
      "MAC",
      "[domain:*]\nParameters = IP=1, MAC=52:54:00:00:00:01\n",
      2,
      "Parameters: MAC cannot be given: libvirt fills it in from the interface (in [domain:*])",
    ],
    ["an unknown key", "[network:n]\n\nFilters = a\n", 3, "unknown key 'Filters' in [network:n] (known: Filter, Parameters)"],
    ["a key twice", "[network:n]\nFilter = a\nfilter = b\n", 3, "key 'filter' is set more than once in [network:n] (first on line 2)"],
    ["a bare key", "[network:n]\nFilter\n", 2, "Filter: needs a value (key = value)"],
    [
      "the same network twice",
      "[network:n]\nFilter = a\n[filtering]\n[network:n]\n",
      4,
      "[network:n] is given twice, on lines 1 and 4: merge them into one section",
    ],
    ["the same bridge twice, kind in another case", "[bridge:b]\n[BRIDGE:b]\n", 2, "[bridge:b] is given twice, on lines 1 and 2: merge them into one section"],
    ["a bad DomainMetadata", "[filtering]\nDomainMetadata = maybe\n", 2, "DomainMetadata: expected trust or ignore, got 'maybe'"],
    ["an unknown kind", "[vlan:10]\nFilter = a\n", 1, "unknown section [vlan:10] (known: [filtering], [exempt], [network:NAME], [bridge:NAME], [domain:GLOB])"],
  ])("%s", (_what, text, line, message) => {
    expect(refusal(text)).toEqual({ line, message });
  });

  it("two sections of other kinds, or names that differ in case, claim different things", () => {
    const p = parsePolicy("[network:n]\n[bridge:n]\n[domain:n]\n[network:N]\n", FILE);
    expect(p.sections).toHaveLength(4);
  });
});

describe("DomainMetadata", () => {
  it("is trust by default, and reads trust or ignore in any case", () => {
    expect(parsePolicy("", FILE).domainMetadata).toBe("trust");
    expect(parsePolicy("[filtering]\nDomainMetadata = Ignore\n", FILE).domainMetadata).toBe("ignore");
    expect(parsePolicy("[filtering]\ndomainmetadata = TRUST\n", FILE).domainMetadata).toBe("trust");
  });
});
