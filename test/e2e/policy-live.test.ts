// A policy change reaching a running NIC, with the real libvirtd and a qemu TCG VM: a bridge's
// new filter and parameters make audit mark the running NIC stale, `apply --live` moves it
// (update-device --live) and libvirt's binding of its tap shows the new filter and parameters;
// then, with the watcher running, a custom filter put in the filters directory is defined by
// the watcher, and a SIGHUP with a policy that chooses it for the bridge moves the NIC again.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2eHost, FILTER, cli } from "./helpers/cli.js";
import { TEST_BRIDGE, bridgeNic, defineDomain, domainTaps, domState, requireLibvirt, tinyDomainXml, virsh } from "./helpers/libvirt.js";
import { WatcherProcess, saveStatus, stopAll, waitFor } from "./helpers/watcher.js";

const HAVE_LIBVIRT = requireLibvirt();
const MAC = "52:54:00:4e:d1:01";
const CUSTOM = "nwfh-e2e-site";
const BASE = "[filtering]\nOnMissing = enforce\nResyncInterval = 600\n";

/** The parameters of a filterref, as name=value in document order. */
const params = (xml: string) => [...xml.matchAll(/<parameter name='([^']*)' value='([^']*)'\/>/g)].map((m) => `${m[1]}=${m[2]}`);

interface AuditNic {
  status: string;
  actual: { filter: string | null; parameters: Array<{ name: string; value: string }> };
  wanted: { filter: string; parameters: Array<{ name: string; value: string }>; from: string } | null;
}

describe.skipIf(!HAVE_LIBVIRT)("a policy change reaches a running NIC, with the real libvirtd", () => {
  let host: E2eHost;
  let vm: string;
  let filters: string;
  const tap = () => domainTaps(vm).find((t) => t.mac === MAC)?.dev as string;
  const binding = () => virsh("nwfilter-binding-dumpxml", tap());
  const bridgePolicy = (filter: string, parameters: string) => `${BASE}\n[bridge:${TEST_BRIDGE}]\nFilter = ${filter}\nParameters = ${parameters}\n`;
  const liveNic = (): AuditNic => {
    const doc = JSON.parse(cli(["audit", "--json", vm, "--policy", host.policy]).stdout) as { domains: Array<{ live: AuditNic[] }> };
    return doc.domains[0]?.live[0] as AuditNic;
  };

  beforeAll(() => {
    host = new E2eHost("live");
    vm = host.domainName("vm");
    filters = mkdtempSync(join(tmpdir(), "nwfh-e2e-filters-"));
    const restoreStatus = saveStatus();
    host.onTearDown(() => restoreStatus());
    // Runs after the suite's domains are gone (a filter in use cannot be undefined).
    host.onTearDown(() => {
      try {
        virsh("nwfilter-undefine", CUSTOM);
      } catch {
        // Never defined: nothing to put back.
      }
      rmSync(filters, { recursive: true, force: true });
    });
    host.writePolicy(BASE);
    const r = host.install();
    if (r.code !== 0) throw new Error(`install failed:\n${r.stdout}${r.stderr}`);
    defineDomain(tinyDomainXml({ name: vm, nics: [bridgeNic({ mac: MAC, filter: FILTER })] }));
    virsh("start", vm);
  });
  afterAll(async () => {
    await stopAll();
    host?.tearDown();
  });

  it("runs on the default filter, compliant", () => {
    expect(domState(vm)).toBe("running");
    expect(binding()).toContain(`<filterref filter='${FILTER}'`);
    expect(cli(["audit", vm, "--policy", host.policy]).code).toBe(0);
  });

  it("a new filter and parameters for its bridge: audit marks the running NIC stale, apply --live moves it, libvirt's binding shows them", () => {
    host.writePolicy(bridgePolicy("clean-traffic", "IP=192.0.2.20"));
    const audit = cli(["audit", vm, "--policy", host.policy]);
    expect(audit.code).toBe(1);
    expect(audit.stdout).toContain(`audit: running interfaces differ from the policy (stale) in: ${vm}`);
    expect(liveNic()).toMatchObject({
      status: "stale",
      actual: { filter: FILTER, parameters: [] },
      wanted: { filter: "clean-traffic", parameters: [{ name: "IP", value: "192.0.2.20" }], from: `[bridge:${TEST_BRIDGE}]` },
    });
    const r = cli(["apply", "--live", vm, "--policy", host.policy]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`${vm}: running: set filter 'clean-traffic' (IP=192.0.2.20) from [bridge:${TEST_BRIDGE}] on ${MAC}`);
    expect(binding()).toContain("<filterref filter='clean-traffic'>");
    expect(params(binding()).filter((p) => p.startsWith("IP="))).toEqual(["IP=192.0.2.20"]);
    expect(cli(["audit", vm, "--policy", host.policy]).code).toBe(0);

    // Only the parameters change: libvirt rebuilds the rules with the new ones.
    host.writePolicy(bridgePolicy("clean-traffic", "IP=192.0.2.21, IP=192.0.2.22"));
    expect(liveNic().status).toBe("stale");
    expect(cli(["apply", "--live", vm, "--policy", host.policy]).code).toBe(0);
    expect(params(binding()).filter((p) => p.startsWith("IP="))).toEqual(["IP=192.0.2.21", "IP=192.0.2.22"]);
    expect(liveNic().status).toBe("compliant");
  });

  it("the watcher defines a custom filter added to the filters directory, and after SIGHUP moves the running NIC to it", async () => {
    const watcher = new WatcherProcess(host.dir, host.policy, { NWFILTER_HOOK_FILTERS_DIR: filters });
    await watcher.waitForLog(/resync: \d+ domains?: /, 30_000);
    writeFileSync(join(filters, `${CUSTOM}.xml`), `<filter name='${CUSTOM}' chain='root'>\n  <filterref filter='clean-traffic'/>\n</filter>\n`);
    await watcher.waitForLog(new RegExp(`nwfilter '${CUSTOM}': created`), 15_000);
    expect(virsh("nwfilter-dumpxml", CUSTOM)).toContain("<filterref filter='clean-traffic'/>");

    host.writePolicy(bridgePolicy(CUSTOM, "IP=192.0.2.30"));
    // audit knows only the policy in the file, which no longer names clean-traffic: to it the NIC
    // carries a foreign filter. The watcher remembers that its last policy chose it.
    expect(liveNic()).toMatchObject({ status: "other-filter", wanted: { filter: CUSTOM, parameters: [{ name: "IP", value: "192.0.2.30" }] } });
    watcher.signal("SIGHUP");
    await watcher.waitForLog(/policy: reloaded/);
    await waitFor(
      () => binding().includes(`<filterref filter='${CUSTOM}'>`),
      30_000,
      () => `the running NIC is not on ${CUSTOM}:\n${binding()}\n${watcher.log()}`,
    );
    // Under DomainMetadata = trust the filterref's own parameters of other names stay; IP is the policy's.
    expect(params(binding()).filter((p) => p.startsWith("IP="))).toEqual(["IP=192.0.2.30"]);
    expect(watcher.lines(/running: set filter/).length).toBeGreaterThan(0);
    expect(liveNic().status).toBe("compliant");
  });
});
