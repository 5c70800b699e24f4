// The filter chosen per network, bridge, domain and NIC, with the real libvirtd: one VM with NICs
// on three choices (the default, clean-traffic with two IPs from a [network:NAME] section, none
// from its metadata) is refused while it lacks them, `apply` writes them (libvirt accepts the
// definition), and the VM starts with each chosen filter bound with its parameters; a NIC whose
// choice lacks GATEWAY_MAC is refused by the hook before libvirt sees it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2eHost, FILTER, cli, configInterfaces, liveInterfaces } from "./helpers/cli.js";
import { bindingList, bridgeNic, defineDomain, domState, domainTaps, requireLibvirt, tinyDomainXml, virsh, virshFails } from "./helpers/libvirt.js";

const HAVE_LIBVIRT = requireLibvirt();
const NETWORK = "nwfh-e2e-choice";
const NET_BRIDGE = "nwfh-ch0";
const M_DEFAULT = "52:54:00:4e:c1:01";
const M_CLEAN = "52:54:00:4e:c1:02";
const M_NONE = "52:54:00:4e:c1:03";
const M_GW = "52:54:00:4e:c1:04";

/** The parameters of a filterref, as name=value in document order. */
const params = (xml: string) => [...xml.matchAll(/<parameter name='([^']*)' value='([^']*)'\/>/g)].map((m) => `${m[1]}=${m[2]}`);

describe.skipIf(!HAVE_LIBVIRT)("the filter chosen per network, bridge, domain and NIC, with the real libvirtd", () => {
  let host: E2eHost;
  let vm: string;
  let gw: string;

  beforeAll(() => {
    host = new E2eHost("choice");
    vm = host.domainName("three");
    gw = host.domainName("gw");
    // An isolated network (no forwarding, no DHCP): libvirt makes its bridge, nothing else.
    host.network(`<network>\n  <name>${NETWORK}</name>\n  <bridge name='${NET_BRIDGE}' stp='off' delay='0'/>\n</network>\n`);
    host.writePolicy(
      [
        "[filtering]",
        "OnMissing = enforce",
        "",
        `[network:${NETWORK}]`,
        "Filter = clean-traffic",
        "Parameters = IP=192.0.2.10, IP=192.0.2.11",
        "",
        `[domain:${gw}]`,
        "Filter = clean-traffic-gateway",
        "",
      ].join("\n"),
    );
    const r = host.install();
    if (r.code !== 0) throw new Error(`install failed:\n${r.stdout}${r.stderr}`);
  });
  afterAll(() => host?.tearDown());

  it("check prints each section's choice and finds the filters the sections name defined", () => {
    const r = cli(["check", "--policy", host.policy]);
    expect(r.stdout).toContain(
      `[network:${NETWORK}]\nFilter = clean-traffic\nParameters = IP=192.0.2.10, IP=192.0.2.11\n# -> nwfilter 'clean-traffic' (IP=192.0.2.10, IP=192.0.2.11) from [network:${NETWORK}]\n`,
    );
    expect(r.stdout).toContain(`nwfilter 'clean-traffic' (from [network:${NETWORK}]): ok (defined)`);
    expect(r.stdout).toContain(`warning: [domain:${gw}] chooses nwfilter 'clean-traffic-gateway', which needs GATEWAY_MAC`);
  });

  it("a VM whose NICs lack their chosen filters is refused, naming what each lacks", () => {
    const metadata = `<nwfh:policy xmlns:nwfh='urn:nwfilter-hook:1'><nwfh:interface mac='${M_NONE}' filter='none'/></nwfh:policy>`;
    const netNic = `<interface type='network'><mac address='${M_CLEAN}'/><source network='${NETWORK}'/><model type='virtio'/></interface>`;
    defineDomain(tinyDomainXml({ name: vm, metadata, nics: [bridgeNic({ mac: M_DEFAULT }), netNic, bridgeNic({ mac: M_NONE })] }));
    const message = virshFails("start", vm).stderr;
    expect(message).toMatch(/Hook script execution failed/);
    expect(message).toContain(`refusing to start domain '${vm}': 2 interface(s) lack their nwfilter:`);
    expect(message).toContain(`${M_DEFAULT} (type bridge, source nwfh-br0) lacks nwfilter '${FILTER}'`);
    expect(message).toContain(
      `${M_CLEAN} (type network, source ${NETWORK}) lacks nwfilter 'clean-traffic' (IP=192.0.2.10, IP=192.0.2.11) from [network:${NETWORK}]`,
    );
    expect(message).not.toContain(M_NONE);
    expect(domState(vm)).toBe("shut off");
  });

  it("apply writes each chosen filterref with its parameters, and libvirt keeps them as written", () => {
    const r = cli(["apply", vm, "--policy", host.policy]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const nics = configInterfaces(vm);
    const nic = (mac: string) => nics.find((n) => n.includes(mac)) as string;
    expect(nic(M_DEFAULT)).toContain(`<filterref filter='${FILTER}'/>`);
    expect(nic(M_CLEAN)).toContain("<filterref filter='clean-traffic'>");
    expect(params(nic(M_CLEAN))).toEqual(["IP=192.0.2.10", "IP=192.0.2.11"]);
    expect(nic(M_NONE)).not.toContain("filterref");
    // Compliant now: nothing more to do.
    expect(cli(["apply", vm, "--policy", host.policy]).stdout).toMatch(/apply: 1 domain: 0 changed, 1 already compliant or exempt, 0 failed/);
  });

  it("the VM starts, and each chosen filter is bound to its NIC with its parameters; the NIC with none has no binding", () => {
    virsh("start", vm);
    expect(domState(vm)).toBe("running");
    const taps = new Map(domainTaps(vm).map((t) => [t.mac, t.dev]));
    const bindings = bindingList();
    expect(bindings).toContainEqual({ port: taps.get(M_DEFAULT), filter: FILTER });
    expect(bindings).toContainEqual({ port: taps.get(M_CLEAN), filter: "clean-traffic" });
    expect(bindings.some((b) => b.port === taps.get(M_NONE))).toBe(false);
    const binding = virsh("nwfilter-binding-dumpxml", taps.get(M_CLEAN) as string);
    expect(binding).toContain("<filterref filter='clean-traffic'>");
    expect(params(binding).filter((p) => p.startsWith("IP="))).toEqual(["IP=192.0.2.10", "IP=192.0.2.11"]);
    expect(liveInterfaces(vm).find((n) => n.includes(M_CLEAN))).toContain("<filterref filter='clean-traffic'>");
  });

  it("a NIC whose choice lacks GATEWAY_MAC is refused by the hook, with its message, before libvirt instantiates anything", () => {
    // Without the hook, libvirt itself fails this start with "Cannot instantiate filter due to
    // unresolvable variables or unavailable list elements: GATEWAY_MAC" (seen here).
    defineDomain(tinyDomainXml({ name: gw, nics: [bridgeNic({ mac: M_GW, filter: "clean-traffic-gateway" })] }));
    const message = virshFails("start", gw).stderr;
    expect(message).toMatch(/Hook script execution failed/);
    expect(message).toContain(
      `nwfilter-hook: refusing to start domain '${gw}': 1 interface(s) cannot get their nwfilter: ${M_GW} (type bridge, source nwfh-br0, filter clean-traffic-gateway) with nwfilter 'clean-traffic-gateway' from [domain:${gw}]: nwfilter 'clean-traffic-gateway' needs GATEWAY_MAC, which is not given (libvirt would fail: "Cannot instantiate filter due to unresolvable variables"); give it in [domain:${gw}] (Parameters = GATEWAY_MAC=VALUE) or in the interface's metadata`,
    );
    expect(message).not.toContain("unavailable list elements"); // libvirt's own error, never reached
    expect(domState(gw)).toBe("shut off");
  });
});
