// Scenarios 2 and 3: the hook refuses to start a domain whose bridge NIC lacks the filter;
// `apply` fixes the definition and the domain then starts with an nwfilter binding and the
// ebtables MAC rule on its tap; a NIC hot-plugged through `inject --device` gets a binding too.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2eHost, FILTER, cli, configInterfaces, liveInterfaces, macPattern } from "./helpers/cli.js";
import {
  bindingList,
  bridgeNic,
  defineDomain,
  domainTaps,
  domState,
  ebtablesNat,
  requireLibvirt,
  tinyDomainXml,
  virsh,
  virshFails,
} from "./helpers/libvirt.js";

const HAVE_LIBVIRT = requireLibvirt();
const MAC = "52:54:00:4e:e2:01";
const HOTPLUG_MAC = "52:54:00:4e:e2:02";

describe.skipIf(!HAVE_LIBVIRT)("the start guard, apply and hot-plug with the real libvirtd", () => {
  let host: E2eHost;
  let name: string;

  beforeAll(() => {
    host = new E2eHost("guard");
    name = host.domainName("web");
    const r = host.install();
    if (r.code !== 0) throw new Error(`install failed:\n${r.stdout}${r.stderr}`);
  });
  afterAll(() => host?.tearDown());

  it("refuses to start a domain whose bridge NIC lacks the filter, naming the NIC", () => {
    defineDomain(tinyDomainXml({ name, nics: [bridgeNic({ mac: MAC })] }));
    const message = virshFails("start", name).stderr;
    expect(message).toMatch(/Hook script execution failed/);
    expect(message).toContain(`refusing to start domain '${name}'`);
    expect(message).toContain(`${MAC} (type bridge, source nwfh-br0)`);
    expect(message).toContain(`nwfilter '${FILTER}'`);
    expect(message).toContain(`nwfilter-hook apply ${name}`);
    expect(domState(name)).toBe("shut off");
  });

  it("apply --dry-run shows the change and changes nothing", () => {
    const before = virsh("dumpxml", "--inactive", name);
    const r = cli(["apply", name, "--dry-run", "--policy", host.policy]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`+      <filterref filter='${FILTER}'/>`);
    expect(r.stdout).toContain("dry run: nothing was changed");
    expect(virsh("dumpxml", "--inactive", name)).toBe(before);
  });

  it("apply fixes the definition; the start then succeeds with a binding and the ebtables MAC rule", () => {
    const r = cli(["apply", name, "--policy", host.policy]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`${name}: definition: added filter '${FILTER}' to ${MAC}`);
    expect(r.stdout).toMatch(/apply: 1 domain: 1 changed, 0 already compliant or exempt, 0 failed/);
    expect(configInterfaces(name)[0]).toContain(`<filterref filter='${FILTER}'/>`);

    virsh("start", name);
    expect(domState(name)).toBe("running");
    const tap = domainTaps(name).find((t) => t.mac === MAC)?.dev as string;
    expect(tap).toBeTruthy();
    expect(bindingList()).toContainEqual({ port: tap, filter: FILTER });
    const nat = ebtablesNat();
    expect(nat).toMatch(new RegExp(`-i ${tap} -j libvirt-I-${tap}`));
    expect(nat).toMatch(new RegExp(`-s ${macPattern(MAC)} -j RETURN`));

    // Compliant now: a second apply does not touch it.
    const again = cli(["apply", name, "--policy", host.policy]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/apply: 1 domain: 0 changed, 1 already compliant or exempt, 0 failed/);
  });

  it("hot-plug: inject --device + attach-device --live gives the new NIC a binding", () => {
    const nic = join(host.dir, "nic.xml");
    const nic2 = join(host.dir, "nic2.xml");
    writeFileSync(nic, `${bridgeNic({ mac: HOTPLUG_MAC })}\n`);
    const r = cli(["inject", "--device", nic, "--policy", host.policy]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`<filterref filter='${FILTER}'/>`);
    expect(r.stderr).toContain(`added filterref '${FILTER}' to ${HOTPLUG_MAC}`);
    writeFileSync(nic2, r.stdout);

    virsh("attach-device", name, nic2, "--live");
    const tap = domainTaps(name).find((t) => t.mac === HOTPLUG_MAC)?.dev as string;
    expect(tap).toBeTruthy();
    expect(bindingList()).toContainEqual({ port: tap, filter: FILTER });
    expect(liveInterfaces(name).find((n) => n.includes(HOTPLUG_MAC))).toContain(`<filterref filter='${FILTER}'/>`);
    expect(ebtablesNat()).toMatch(new RegExp(`-s ${macPattern(HOTPLUG_MAC)} -j RETURN`));
  });
});
