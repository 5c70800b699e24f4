// What `check` says about the choice sections (src/core/policy-review.ts): each section's choice
// in file order, and the warnings: a variable no level gives, an included filter not defined, and
// clean-traffic on a network with IPv6 addresses.
import { describe, expect, it } from "vitest";
import { parsePolicy } from "../../../src/core/policy.js";
import { reviewPolicy } from "../../../src/core/policy-review.js";
import { fakeHost, type FakeHostSpec } from "../../support/fake-host.js";

const GATEWAY = "<filter name='clean-traffic-gateway'><rule action='accept' direction='in'><mac srcmacaddr='$GATEWAY_MAC'/></rule></filter>";
const WRAPS = "<filter name='wraps'><filterref filter='clean-traffic'/></filter>";
const net = (name: string, bridge: string, ipv6: boolean) =>
  `<network>\n  <name>${name}</name>\n  <bridge name='${bridge}'/>\n  <ip address='192.0.2.1' prefix='24'/>\n${ipv6 ? "  <ip family='ipv6' address='2001:db8::1' prefix='64'/>\n" : ""}</network>\n`;
const HOST: FakeHostSpec = {
  networks: { v6: net("v6", "virbr6", true), v4: net("v4", "virbr4", false), wrapped: net("wrapped", "virbr9", true) },
  filters: ["vdsm-no-mac-spoofing", "clean-traffic"],
  filterDefs: { "clean-traffic-gateway": GATEWAY, wraps: WRAPS, broken: "<filter name='broken'><filterref filter='gone'/></filter>" },
};
const review = (text: string, networks: string[] = []) => reviewPolicy(parsePolicy(text, "/p.ini"), fakeHost(HOST), networks);

describe("the choice of each section", () => {
  it("in file order; a network's bridge section and the default below it count", () => {
    const r = review(
      "[network:v4]\nParameters = IP=1\n[bridge:virbr4]\nFilter = clean-traffic\n[domain:x*]\nFilter = none\n[network:nowhere]\nFilter = clean-traffic\n",
    );
    expect(r.effects.map((e) => `${e.section.kind}:${e.section.name} -> ${e.effect}`)).toEqual([
      "network:v4 -> nwfilter 'clean-traffic' (IP=1) from [bridge:virbr4]",
      "bridge:virbr4 -> nwfilter 'clean-traffic' from [bridge:virbr4]",
      "domain:x* -> no filter (Filter = none from [domain:x*])",
      "network:nowhere -> nwfilter 'clean-traffic' from [network:nowhere] (no such network is defined here)",
    ]);
    expect(r.warnings).toEqual([]);
  });
});

describe("warnings", () => {
  it("a variable that the choosing section does not give, once per filter and parameters", () => {
    const r = review(
      "[bridge:a]\nFilter = clean-traffic-gateway\n[bridge:b]\nFilter = clean-traffic-gateway\n[bridge:c]\nFilter = clean-traffic-gateway\nParameters = GATEWAY_MAC=52:54:00:00:00:fe\n",
    );
    expect(r.warnings).toEqual([
      "[bridge:a] chooses nwfilter 'clean-traffic-gateway', which needs GATEWAY_MAC: give it there (Parameters = ...), a more specific section, or each NIC's metadata or own filterref, or libvirt fails the start of every NIC it concerns",
    ]);
  });

  it("an included filter that is not defined here (one not defined at all is check's own finding)", () => {
    const r = review("[bridge:a]\nFilter = broken\n[bridge:b]\nFilter = not-here\n");
    expect(r.warnings).toEqual(["[bridge:a] chooses nwfilter 'broken': nwfilter 'broken' includes 'gone', which is not defined on this host"]);
  });

  it("clean-traffic, directly or through another filter, on a network with IPv6 addresses", () => {
    const r = review("[network:v6]\nFilter = clean-traffic\n[network:v4]\nFilter = clean-traffic\n[network:wrapped]\nFilter = wraps\n", [
      "v4",
      "v6",
      "wrapped",
      "unknown",
    ]);
    expect(r.warnings).toEqual([
      "network 'v6' has IPv6 addresses, but its NICs get nwfilter 'clean-traffic' (from [network:v6]): it lets only IPv4 and ARP through and drops all IPv6",
      "network 'wrapped' has IPv6 addresses, but its NICs get nwfilter 'wraps' (from [network:wrapped]), which includes 'clean-traffic': it lets only IPv4 and ARP through and drops all IPv6",
    ]);
    // The default filter on an IPv6 network says nothing.
    expect(review("", ["v6"]).warnings).toEqual([]);
  });
});
