// Scenarios 4 and 5 under OnMissing=audit: a domain lacking the filter starts; `audit` reports
// it `missing` and exits 1; `apply --live` protects the running NIC without a restart and
// `audit` then exits 0. And `virsh save` + `virsh restore`: the restore hook injects the filter.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2eHost, FILTER, cli, configInterfaces, domainId, liveInterfaces, macPattern } from "./helpers/cli.js";
import { bindingList, bridgeNic, defineDomain, domainTaps, domState, ebtablesNat, requireLibvirt, tinyDomainXml, virsh } from "./helpers/libvirt.js";

const HAVE_LIBVIRT = requireLibvirt();
const MAC = "52:54:00:4e:e3:01";
const RESTORE_MAC = "52:54:00:4e:e3:02";

interface AuditJson {
  domains: Array<{ name: string; state: string; config: Array<{ mac: string; status: string }> | null; live: Array<{ mac: string; status: string }> | null }>;
  summary: Record<string, number>;
}

describe.skipIf(!HAVE_LIBVIRT)("OnMissing=audit, audit, apply --live, save and restore with the real libvirtd", () => {
  let host: E2eHost;
  let name: string;

  beforeAll(() => {
    host = new E2eHost("audit");
    name = host.domainName("db");
    host.writePolicy("[filtering]\nOnMissing = audit\n");
    const r = host.install();
    if (r.code !== 0) throw new Error(`install failed:\n${r.stdout}${r.stderr}`);
  });
  afterAll(() => host?.tearDown());

  it("the start is allowed; audit reports the NIC missing and exits 1", () => {
    defineDomain(tinyDomainXml({ name, nics: [bridgeNic({ mac: MAC })] }));
    virsh("start", name);
    expect(domState(name)).toBe("running");
    const tap = domainTaps(name)[0]?.dev;
    expect(bindingList().map((b) => b.port)).not.toContain(tap);

    const table = cli(["audit", name, "--policy", host.policy]);
    expect(table.code, table.stdout + table.stderr).toBe(1);
    // WANTED is the policy's filter, ACTUAL none.
    expect(table.stdout).toMatch(new RegExp(`${name}\\s+running\\s+config\\s+${MAC}\\s+bridge\\s+nwfh-br0\\s+${FILTER}\\s+-\\s+missing`));
    expect(table.stdout).toMatch(new RegExp(`${name}\\s+running\\s+live\\s+${MAC}\\s+bridge\\s+nwfh-br0\\s+${FILTER}\\s+-\\s+missing`));
    expect(table.stdout).toContain(`fix with: nwfilter-hook apply --live ${name}`);

    const json = cli(["audit", "--json", name, "--policy", host.policy]);
    expect(json.code).toBe(1);
    const doc = JSON.parse(json.stdout) as AuditJson;
    expect(doc.domains).toHaveLength(1);
    expect(doc.domains[0]?.config?.[0]).toMatchObject({ mac: MAC, status: "missing" });
    expect(doc.domains[0]?.live?.[0]).toMatchObject({ mac: MAC, status: "missing" });
  });

  it("apply --live gives the running NIC a binding without a restart; audit then exits 0", () => {
    const id = domainId(name);
    const r = cli(["apply", "--live", name, "--policy", host.policy]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`${name}: definition: added filter '${FILTER}' to ${MAC}`);
    expect(r.stdout).toContain(`${name}: running: added filter '${FILTER}' to ${MAC}`);

    expect(domainId(name)).toBe(id); // not restarted
    const tap = domainTaps(name)[0]?.dev as string;
    expect(bindingList()).toContainEqual({ port: tap, filter: FILTER });
    expect(ebtablesNat()).toMatch(new RegExp(`-s ${macPattern(MAC)} -j RETURN`));
    expect(liveInterfaces(name)[0]).toContain(`<filterref filter='${FILTER}'/>`);
    expect(configInterfaces(name)[0]).toContain(`<filterref filter='${FILTER}'/>`);

    const audit = cli(["audit", name, "--policy", host.policy]);
    expect(audit.code, audit.stdout + audit.stderr).toBe(0);
    const doc = JSON.parse(cli(["audit", "--json", name, "--policy", host.policy]).stdout) as AuditJson;
    expect(doc.domains[0]?.live?.[0]?.status).toBe("compliant");
    expect(doc.domains[0]?.config?.[0]?.status).toBe("compliant");
  });

  it("virsh save + virsh restore of a domain without the filter: the restored domain runs with it", () => {
    const other = host.domainName("restore");
    defineDomain(tinyDomainXml({ name: other, nics: [bridgeNic({ mac: RESTORE_MAC })] }));
    virsh("start", other);
    expect(liveInterfaces(other)[0]).not.toContain("<filterref");

    const image = join(host.dir, `${other}.save`);
    virsh("save", other, image);
    expect(domState(other)).toBe("shut off");
    virsh("restore", image);
    expect(domState(other)).toBe("running");

    expect(liveInterfaces(other)[0]).toContain(`<filterref filter='${FILTER}'/>`);
    const tap = domainTaps(other)[0]?.dev as string;
    expect(bindingList()).toContainEqual({ port: tap, filter: FILTER });
    expect(ebtablesNat()).toMatch(new RegExp(`-s ${macPattern(RESTORE_MAC)} -j RETURN`));
  });
});
