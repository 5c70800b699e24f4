// The choice of a NIC's filter and parameters (src/core/filter-choice.ts): the levels, most
// specific first (NIC metadata, [domain:GLOB], [network:NAME], [bridge:NAME], the default Filter),
// `none`, and how parameters merge.
import { describe, expect, it } from "vitest";
import { Chooser, managedFilters } from "../../../src/core/filter-choice.js";
import type { NicMetadata } from "../../../src/core/exemptions.js";
import { parsePolicy } from "../../../src/core/policy.js";

const FILE = "/p.ini";
const MAC = "52:54:00:00:00:01";

function chooser(policy: string, domain: string | undefined = "web1", metadata: Record<string, Partial<NicMetadata>> = {}): Chooser {
  const map = new Map(Object.entries(metadata).map(([mac, m]) => [mac, { exempt: false, filter: undefined, parameters: [], ...m }]));
  return new Chooser(parsePolicy(policy, FILE), domain, map);
}

const p = (text: string) =>
  text.split(",").map((item) => {
    const [name = "", value = ""] = item.trim().split("=");
    return { name, value };
  });

const SECTIONS = `
[filtering]
Filter = base
[network:prod]
Filter = clean-traffic
Parameters = IP=10.0.0.1, IP=10.0.0.2
[bridge:br0]
Filter = no-ip-spoofing
Parameters = CTRL_IP_LEARNING=dhcp
[bridge:br-open]
Filter = none
[domain:db-*]
Filter = db-filter
[domain:db-1]
Filter = never-chosen
`;

describe("the levels", () => {
  it.each([
    // [domain, network, bridge, filter, params, from]
    ["web1", undefined, "br9", "base", "", "the default Filter"],
    ["web1", undefined, "br0", "no-ip-spoofing", "CTRL_IP_LEARNING=dhcp", "[bridge:br0]"],
    // A network NIC is chosen for by its network before its network's bridge.
    ["web1", "prod", "br0", "clean-traffic", "IP=10.0.0.1,IP=10.0.0.2", "[network:prod]"],
    ["web1", "other", "br0", "no-ip-spoofing", "CTRL_IP_LEARNING=dhcp", "[bridge:br0]"],
    // The domain before the network; the first [domain:GLOB] in the file that matches.
    ["db-1", "prod", "br0", "db-filter", "", "[domain:db-*]"],
    ["web1", undefined, "br-open", null, "", "[bridge:br-open]"],
  ])("domain %s, network %s, bridge %s -> %s (%s) from %s", (domain, network, bridge, filter, params, from) => {
    const c = chooser(SECTIONS, domain).choose(MAC, network, bridge);
    expect(c).toEqual({ filter, parameters: params === "" ? [] : p(params), from });
  });

  it("the NIC's metadata is the most specific level", () => {
    const c = chooser(SECTIONS, "db-1", { [MAC]: { filter: "mine", parameters: p("X=1") } }).choose(MAC, "prod", "br0");
    expect(c).toEqual({ filter: "mine", parameters: p("X=1"), from: "the interface's metadata" });
    expect(chooser(SECTIONS, "web1", { [MAC]: { filter: null } }).choose(MAC, "prod", "br0").filter).toBeNull();
    // Another NIC of the same domain is not concerned.
    expect(chooser(SECTIONS, "web1", { [MAC]: { filter: "mine" } }).choose("52:54:00:00:00:02", "prod", "br0").filter).toBe("clean-traffic");
  });

  it("a lone interface without a domain skips the domain level", () => {
    expect(chooser(SECTIONS, undefined).choose(MAC, "prod", "br0").filter).toBe("clean-traffic");
  });
});

describe("parameters", () => {
  it("a level without a Filter adds its parameters to the filter a less specific level chose", () => {
    const c = chooser("[domain:web*]\nParameters = IP=192.0.2.10\n[network:prod]\nFilter = clean-traffic\n").choose(MAC, "prod", undefined);
    expect(c).toEqual({ filter: "clean-traffic", parameters: p("IP=192.0.2.10"), from: "[network:prod]" });
  });

  it("for a name given at several levels, the most specific level's values win, all of them", () => {
    const c = chooser(
      "[network:prod]\nFilter = clean-traffic\nParameters = IP=10.0.0.1, IP=10.0.0.2, CTRL_IP_LEARNING=none\n[domain:web*]\nParameters = IP=192.0.2.9\n",
      "web1",
      { [MAC]: { parameters: p("DHCPSERVER=192.0.2.1") } },
    ).choose(MAC, "prod", undefined);
    expect(c.parameters).toEqual(p("DHCPSERVER=192.0.2.1,IP=192.0.2.9,CTRL_IP_LEARNING=none"));
  });

  it("a less specific level that gives parameters only feeds nothing above the level that chose", () => {
    const c = chooser("[network:prod]\nFilter = clean-traffic\n[bridge:br0]\nParameters = IP=10.0.0.9\n").choose(MAC, "prod", "br0");
    expect(c.parameters).toEqual([]);
    // ... but it feeds the default Filter when nothing else chose.
    expect(chooser("[bridge:br0]\nParameters = IP=10.0.0.9\n").choose(MAC, undefined, "br0")).toEqual({
      filter: "vdsm-no-mac-spoofing",
      parameters: p("IP=10.0.0.9"),
      from: "the default Filter",
    });
  });

  it("a level that names the same filter further down still feeds it; one that names another stops it", () => {
    const same = chooser("[network:prod]\nFilter = clean-traffic\nParameters = IP=10.0.0.1, CTRL_IP_LEARNING=none\n", "web1", {
      [MAC]: { filter: "clean-traffic", parameters: p("IP=10.0.0.5") },
    }).choose(MAC, "prod", undefined);
    expect(same).toEqual({ filter: "clean-traffic", parameters: p("IP=10.0.0.5,CTRL_IP_LEARNING=none"), from: "the interface's metadata" });
    const other = chooser("[network:prod]\nFilter = clean-traffic\nParameters = IP=10.0.0.1\n", "web1", { [MAC]: { filter: "no-ip-spoofing" } }).choose(
      MAC,
      "prod",
      undefined,
    );
    expect(other.parameters).toEqual([]);
  });

  it("none carries no parameters", () => {
    expect(chooser("[network:prod]\nFilter = none\n[domain:*]\nParameters = IP=1\n").choose(MAC, "prod", undefined)).toEqual({
      filter: null,
      parameters: [],
      from: "[network:prod]",
    });
  });
});

describe("managedFilters", () => {
  it("the default Filter, the shipped filter, every Filter of a section and of the metadata", () => {
    const policy = parsePolicy("[filtering]\nFilter = base\n[network:a]\nFilter = clean-traffic\n[bridge:b]\nFilter = none\n", FILE);
    const meta = new Map([[MAC, { exempt: false, filter: "mine", parameters: [] }]]);
    expect([...managedFilters(policy, meta)].sort()).toEqual(["base", "clean-traffic", "mine", "vdsm-no-mac-spoofing"]);
  });
});
