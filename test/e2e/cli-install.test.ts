// Scenarios 1 and 7: `install` into the real /etc/libvirt/hooks defines the filter and makes
// libvirtd run the hook; a second install is a no-op; `check` passes; `uninstall` removes the
// hook while running VMs keep running, and `--purge` keeps a filter that is still referenced.
import { existsSync, readFileSync, statSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2eHost, FILTER, HOOK_PATH, cli, domainId, filterXml } from "./helpers/cli.js";
import { bindingList, bridgeNic, defineDomain, domainTaps, domState, requireLibvirt, tinyDomainXml, virsh, virshFails } from "./helpers/libvirt.js";

const HAVE_LIBVIRT = requireLibvirt();
const PROBE_MAC = "52:54:00:4e:e1:01";
const RUNNING_MAC = "52:54:00:4e:e1:02";

describe.skipIf(!HAVE_LIBVIRT)("install and uninstall with the real libvirtd", () => {
  let host: E2eHost;
  let probe: string;
  let running: string;

  beforeAll(() => {
    host = new E2eHost("install");
    probe = host.domainName("probe");
    running = host.domainName("running");
  });
  afterAll(() => host?.tearDown());

  it("install writes the hook and the policy, defines the filter, and libvirtd runs the hook", () => {
    const r = host.install();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`hook ${HOOK_PATH}: (installed|updated)`));
    expect(r.stdout).toMatch(/daemon: reloaded libvirtd/);
    expect(r.stdout).toMatch(/self-test: ok: the installed hook ran a sample restore and added the filter/);
    expect(r.stdout).toMatch(/install: done/);

    // The hook: executable, run by the Node that ran install.
    expect(statSync(HOOK_PATH).mode & 0o777).toBe(0o755);
    expect(readFileSync(HOOK_PATH, "utf8").slice(0, 4096)).toContain(process.execPath);
    // The policy: every key commented out, 0644.
    expect(statSync(host.policy).mode & 0o777).toBe(0o644);
    expect(readFileSync(host.policy, "utf8")).toMatch(/^;OnMissing = enforce$/m);
    // libvirt's view of the filter.
    const filter = filterXml();
    expect(filter).toContain(`<filter name='${FILTER}' chain='root'>`);
    expect(filter).toContain("<filterref filter='no-mac-spoofing'/>");
    expect(filter).toContain("<filterref filter='no-arp-mac-spoofing'/>");

    // libvirtd runs the hook: a domain whose NIC lacks the filter does not start.
    defineDomain(tinyDomainXml({ name: probe, nics: [bridgeNic({ mac: PROBE_MAC })] }));
    expect(virshFails("start", probe).stderr).toMatch(/refusing to start domain/);
    expect(domState(probe)).toBe("shut off");
  });

  it("a second install changes nothing and says so", () => {
    const content = readFileSync(HOOK_PATH);
    const mtime = statSync(HOOK_PATH).mtimeMs;
    const filter = filterXml();
    const r = host.install();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`hook ${HOOK_PATH}: unchanged`);
    expect(r.stdout).toContain(`policy ${host.policy}: exists, left alone`);
    expect(r.stdout).toMatch(new RegExp(`nwfilter '${FILTER}': unchanged`));
    expect(r.stdout).toContain("daemon: no reload needed");
    expect(r.stdout).toContain("install: nothing changed (already installed)");
    expect(readFileSync(HOOK_PATH).equals(content)).toBe(true);
    expect(statSync(HOOK_PATH).mtimeMs).toBe(mtime);
    expect(filterXml()).toBe(filter);
  });

  it("check exits 0 when the policy, the hook, the daemon and the filter are all right", () => {
    const r = cli(["check", "--policy", host.policy]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^OnMissing = enforce$/m);
    expect(r.stdout).toContain(`hook ${HOOK_PATH}: ok`);
    expect(r.stdout).toMatch(/daemon: ok \(libvirtd .*libvirt \d+\.\d+/);
    expect(r.stdout).toContain(`nwfilter '${FILTER}': ok (defined)`);
    expect(r.stdout).toMatch(/check: ok\n$/);
  });

  it("uninstall removes the hook; running VMs keep running", () => {
    defineDomain(tinyDomainXml({ name: running, nics: [bridgeNic({ mac: RUNNING_MAC, filter: FILTER })] }));
    virsh("start", running);
    const id = domainId(running);
    const tap = domainTaps(running)[0]?.dev;
    expect(bindingList()).toContainEqual({ port: tap, filter: FILTER });

    const r = cli(["uninstall", "--policy", host.policy]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`hook ${HOOK_PATH}: removed`);
    expect(existsSync(HOOK_PATH)).toBe(false);
    expect(existsSync(host.policy)).toBe(true); // only --purge removes it

    expect(domState(running)).toBe("running");
    expect(domainId(running)).toBe(id);
    expect(bindingList()).toContainEqual({ port: tap, filter: FILTER });
    // The hook no longer guards starts.
    virsh("start", probe);
    expect(domState(probe)).toBe("running");
  });

  it("uninstall --purge removes the policy and keeps the filter while a domain references it", () => {
    const r = cli(["uninstall", "--purge", "--policy", host.policy]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`policy ${host.policy}: removed`);
    expect(r.stdout).toContain(`nwfilter '${FILTER}': kept, referenced by domain '${running}'`);
    expect(existsSync(host.policy)).toBe(false);
    expect(filterXml()).toBeDefined();
  });
});
