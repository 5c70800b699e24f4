// Scenario 6 under OnMissing=enforce: a NIC on a macvtap network (forward mode bridge over a
// dummy or veth link) is left alone and the domain starts; an exempt domain starts without the
// filter. `audit` says why.
import { chmodSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2eHost, cli, configInterfaces, liveInterfaces, makeLowerLink } from "./helpers/cli.js";
import { bindingList, bridgeNic, defineDomain, domainTaps, domState, requireLibvirt, tinyDomainXml, virsh, virshFails } from "./helpers/libvirt.js";

const HAVE_LIBVIRT = requireLibvirt();
const MACVTAP_MAC = "52:54:00:4e:e4:01";
const EXEMPT_MAC = "52:54:00:4e:e4:02";
const EXEMPT_HOTPLUG_MAC = "52:54:00:4e:e4:03";
const GUARDED_MAC = "52:54:00:4e:e4:04";
const NETWORK = "nwfh-e2e-macvtap";

describe.skipIf(!HAVE_LIBVIRT)("interfaces the policy leaves alone, with the real libvirtd", () => {
  let host: E2eHost;

  beforeAll(() => {
    host = new E2eHost("ineligible");
    const r = host.install(); // no policy file yet: the defaults, OnMissing=enforce
    if (r.code !== 0) throw new Error(`install failed:\n${r.stdout}${r.stderr}`);
  });
  afterAll(() => host?.tearDown());

  it("a NIC on a macvtap network is left alone and the domain starts under enforce", () => {
    const link = makeLowerLink("nwfh-e2e-mv0");
    host.onTearDown(() => link.remove());
    host.network(`<network><name>${NETWORK}</name><forward mode='bridge'><interface dev='${link.dev}'/></forward></network>`);
    const name = host.domainName("macvtap");
    const nic = `<interface type='network'><mac address='${MACVTAP_MAC}'/><source network='${NETWORK}'/><model type='virtio'/></interface>`;
    defineDomain(tinyDomainXml({ name, nics: [nic] }));

    virsh("start", name);
    expect(domState(name)).toBe("running");
    expect(liveInterfaces(name)[0]).not.toContain("<filterref");

    const audit = cli(["audit", name, "--policy", host.policy]);
    expect(audit.code, audit.stdout + audit.stderr).toBe(0);
    expect(audit.stdout).toMatch(
      new RegExp(`config\\s+${MACVTAP_MAC}\\s+network\\s+${NETWORK}\\s+-\\s+-\\s+ineligible \\(macvtap \\(forward mode bridge\\)\\)`),
    );

    const apply = cli(["apply", name, "--policy", host.policy]);
    expect(apply.code, apply.stdout + apply.stderr).toBe(0);
    expect(apply.stdout).toMatch(/0 changed/);
    expect(configInterfaces(name)[0]).not.toContain("<filterref");
  });

  it("an exempt domain starts without the filter", () => {
    const name = host.domainName("exempt");
    const metadata = `<nwfh:policy xmlns:nwfh='urn:nwfilter-hook:1' exempt='true'/>`;
    defineDomain(tinyDomainXml({ name, nics: [bridgeNic({ mac: EXEMPT_MAC })], metadata }));

    virsh("start", name);
    expect(domState(name)).toBe("running");
    const tap = domainTaps(name)[0]?.dev;
    expect(bindingList().map((b) => b.port)).not.toContain(tap);
    expect(liveInterfaces(name)[0]).not.toContain("<filterref");

    const audit = cli(["audit", "--json", name, "--policy", host.policy]);
    expect(audit.code, audit.stdout + audit.stderr).toBe(0);
    const doc = JSON.parse(audit.stdout) as { domains: Array<{ live: Array<{ status: string; reason: string }> }> };
    expect(doc.domains[0]?.live[0]).toMatchObject({ status: "exempt", reason: "domain-metadata" });

    // Hot-plug into the exempt domain: with --domain, inject honours its exemption.
    const nic = join(host.dir, "exempt-nic.xml");
    writeFileSync(nic, `${bridgeNic({ mac: EXEMPT_HOTPLUG_MAC })}\n`);
    const r = cli(["inject", "--device", "--domain", name, nic, "--policy", host.policy]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain("<filterref");
    expect(r.stderr).toContain(`left alone: ${EXEMPT_HOTPLUG_MAC}`);
    const nic2 = join(host.dir, "exempt-nic2.xml");
    writeFileSync(nic2, r.stdout);
    virsh("attach-device", name, nic2, "--live");
    const hotTap = domainTaps(name).find((t) => t.mac === EXEMPT_HOTPLUG_MAC)?.dev;
    expect(hotTap).toBeTruthy();
    expect(bindingList().map((b) => b.port)).not.toContain(hotTap);
  });

  it("a broken policy refuses every start, naming the file and the line", () => {
    const name = host.domainName("badpolicy");
    defineDomain(tinyDomainXml({ name, nics: [bridgeNic({ mac: GUARDED_MAC, filter: "vdsm-no-mac-spoofing" })] }));
    writeFileSync(host.policy, "[filtering]\nOnMissing = sometimes\n");
    chmodSync(host.policy, 0o644);
    try {
      expect(virshFails("start", name).stderr).toContain(`${host.policy}:2: OnMissing: expected enforce, audit or watch, got 'sometimes'`);
      expect(domState(name)).toBe("shut off");
    } finally {
      rmSync(host.policy, { force: true });
    }
    // Back to the defaults (no file): the compliant domain starts.
    virsh("start", name);
    expect(domState(name)).toBe("running");
  });
});
