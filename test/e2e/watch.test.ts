// The watcher (`nwfilter-hook watch`) against the real libvirtd and qemu, started as a separate
// process with the hook installed and `OnMissing = watch`: new and edited definitions, the
// define-then-start race, hot-plug (live and --config), an exempt domain, a definition that
// arrives while the domain runs (what `virsh migrate --persistent` leaves on the destination;
// the two-daemon migration suite covers the migration itself), the filter changed on the host,
// an event storm of 50 definitions with exactly one write each, SIGHUP with a broken policy, and
// SIGTERM, after which the hook refuses the start it let through before.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2eHost, FILTER, configInterfaces, filterXml, liveInterfaces } from "./helpers/cli.js";
import {
  bindingList,
  bridgeNic,
  defineDomain,
  domainTaps,
  domState,
  requireLibvirt,
  tinyDomainXml,
  virsh,
  virshFails,
  virshWithXmlFile,
} from "./helpers/libvirt.js";
import { STATUS_FILE, WatcherProcess, saveStatus, stopAll, waitFor } from "./helpers/watcher.js";
import { readFileSync, writeFileSync } from "node:fs";

const HAVE_LIBVIRT = requireLibvirt();
const REF = `<filterref filter='${FILTER}'/>`;
const POLICY = "[filtering]\nOnMissing = watch\nResyncInterval = 600\n";

const compliantConfig = (name: string) => configInterfaces(name).length > 0 && configInterfaces(name).every((n) => n.includes(REF));
const compliantLive = (name: string) => liveInterfaces(name).length > 0 && liveInterfaces(name).every((n) => n.includes(REF));
const bound = (name: string) => {
  const taps = domainTaps(name);
  const bindings = bindingList();
  return taps.length > 0 && taps.every((t) => bindings.some((b) => b.port === t.dev && b.filter === FILTER));
};

function nicFile(dir: string, mac: string): string {
  const file = `${dir}/nic-${mac.replace(/:/g, "")}.xml`;
  writeFileSync(file, `${bridgeNic({ mac })}\n`);
  return file;
}

describe.skipIf(!HAVE_LIBVIRT)("the watcher with the real libvirtd", () => {
  let host: E2eHost;
  let watcher: WatcherProcess;
  let restoreStatus: () => void;
  const writes = (name: string) => watcher.lines(new RegExp(`watch: ${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: definition: added`)).length;

  beforeAll(async () => {
    host = new E2eHost("watch");
    restoreStatus = saveStatus();
    host.onTearDown(() => restoreStatus());
    host.writePolicy(POLICY);
    const r = host.install();
    if (r.code !== 0) throw new Error(`install failed:\n${r.stdout}${r.stderr}`);
    // Debug lines: each lookup of names says how many hints it answered (the storm test counts them).
    watcher = new WatcherProcess(host.dir, host.policy, { NWFILTER_HOOK_WATCH_DEBUG: "1" });
    await watcher.waitForLog(/resync: \d+ domains?: /);
  });
  afterAll(async () => {
    await stopAll();
    host?.tearDown();
  });

  it("keeps a status file that the hook and check read", () => {
    const status = JSON.parse(readFileSync(STATUS_FILE, "utf8")) as { lastResync: unknown };
    expect(status).toMatchObject({ pid: watcher.child.pid, state: "watching", policy: host.policy });
    expect(status.lastResync).toMatchObject({ failed: 0 });
  });

  it("the policy's filter undefined on the host is defined again", async () => {
    virsh("nwfilter-undefine", FILTER);
    await waitFor(
      () => filterXml() !== undefined,
      5_000,
      () => `the filter was not defined again:\n${watcher.log()}`,
    );
    await watcher.waitForLog(new RegExp(`nwfilter '${FILTER}': created`));
  });

  it("a new definition without the filter gets it, in one write", async () => {
    const name = host.domainName("new");
    defineDomain(tinyDomainXml({ name, nics: [bridgeNic({ mac: "52:54:00:77:00:01" })] }));
    await waitFor(
      () => compliantConfig(name),
      5_000,
      () => `definition of ${name} still lacks the filter:\n${watcher.log()}`,
    );
    // Its own define fired 'Defined Updated' and rewrote the file: the pass that followed did nothing.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(writes(name)).toBe(1);
  });

  it("an edit that removes the filterref is undone", async () => {
    const name = host.domainName("edit");
    defineDomain(tinyDomainXml({ name, nics: [bridgeNic({ mac: "52:54:00:77:00:02", filter: FILTER })] }));
    await new Promise((r) => setTimeout(r, 300));
    const edited = virsh("dumpxml", "--inactive", name).replace(new RegExp(`\\s*${REF}`), "");
    expect(edited).not.toContain(REF);
    virshWithXmlFile("define", edited);
    await waitFor(
      () => compliantConfig(name),
      5_000,
      () => `the edit of ${name} was not undone:\n${watcher.log()}`,
    );
    expect(writes(name)).toBe(1);
  });

  it("an exempt domain is left alone", async () => {
    const name = host.domainName("exempt");
    const metadata = `<nwfh:policy xmlns:nwfh="urn:nwfilter-hook:1" exempt="true"/>`;
    defineDomain(tinyDomainXml({ name, metadata, nics: [bridgeNic({ mac: "52:54:00:77:00:03" })] }));
    const before = virsh("dumpxml", "--inactive", name);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(virsh("dumpxml", "--inactive", name)).toBe(before);
    expect(writes(name)).toBe(0);
  });

  it("define-then-start (OnMissing = watch): the start goes through and the running NIC is protected", async () => {
    const name = host.domainName("race");
    // virt-install's pattern: define and start at once, before any watcher can act.
    defineDomain(tinyDomainXml({ name, nics: [bridgeNic({ mac: "52:54:00:77:00:04" })] }));
    virsh("start", name);
    expect(domState(name)).toBe("running");
    await waitFor(
      () => compliantLive(name) && bound(name),
      5_000,
      () => `running ${name} is not protected:\n${watcher.log()}`,
    );
    await waitFor(
      () => compliantConfig(name),
      5_000,
      () => `definition of ${name} still lacks the filter`,
    );
  });

  it("a NIC hot-plugged live gets the filter (update-device --live) and an nwfilter binding", async () => {
    const name = host.domainName("hotplug");
    defineDomain(tinyDomainXml({ name, nics: [bridgeNic({ mac: "52:54:00:77:00:05", filter: FILTER })] }));
    virsh("start", name);
    virsh("attach-device", name, nicFile(host.dir, "52:54:00:77:00:06"), "--live");
    await waitFor(
      () => liveInterfaces(name).length === 2 && compliantLive(name) && bound(name),
      5_000,
      () => `hot-plugged NIC of ${name} lacks the filter:\n${watcher.log()}`,
    );
  });

  it("a NIC added with --config only (no event: the definition's file changes) gets the filter", async () => {
    const name = host.domainName("config");
    defineDomain(tinyDomainXml({ name, nics: [bridgeNic({ mac: "52:54:00:77:00:07", filter: FILTER })] }));
    virsh("attach-device", name, nicFile(host.dir, "52:54:00:77:00:08"), "--config");
    await waitFor(
      () => configInterfaces(name).length === 2 && compliantConfig(name),
      5_000,
      () => `--config NIC of ${name} lacks the filter:\n${watcher.log()}`,
    );
  });

  it("a definition that arrives without the filter while the domain runs (as after migrate --persistent) is fixed", async () => {
    const name = host.domainName("arrive");
    defineDomain(tinyDomainXml({ name, nics: [bridgeNic({ mac: "52:54:00:77:00:09", filter: FILTER })] }));
    virsh("start", name);
    const inactive = virsh("dumpxml", "--inactive", name).replace(new RegExp(`\\s*${REF}`), "");
    virshWithXmlFile("define", inactive);
    await waitFor(
      () => compliantConfig(name),
      5_000,
      () => `arrived definition of ${name} lacks the filter:\n${watcher.log()}`,
    );
    expect(domState(name)).toBe("running");
  });

  it("the policy's filter changed on the host is defined again as shipped", async () => {
    const shipped = filterXml() as string;
    const changed = shipped.replace(/\s*<filterref filter='no-arp-mac-spoofing'\/>/, "");
    expect(changed).not.toBe(shipped);
    virshWithXmlFile("nwfilter-define", changed);
    await waitFor(
      () => (filterXml() ?? "").includes("no-arp-mac-spoofing"),
      5_000,
      () => `the filter was not put back:\n${watcher.log()}`,
    );
    // libvirt rebuilds the running domains' rules before nwfilter-define returns: the watcher's
    // own define (and its log line) may finish after the test's.
    const put = new RegExp(`nwfilter '${FILTER}': (updated|defined again)`);
    await watcher.waitForLog(put, 15_000);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(watcher.lines(put)).toHaveLength(1);
  });

  it("50 domains defined at once all become compliant, each with exactly one write, names looked up per turn, not per event", async () => {
    const names = Array.from({ length: 50 }, (_, i) => host.domainName(`storm${i}`));
    const LOOKUP = /watch: debug: lookup: (\d+) hints? for (\d+) names?, (one listing|\d+ domuuid): \d+ found/;
    const lookupsBefore = watcher.lines(LOOKUP).length;
    const dir = host.dir;
    // One virsh for all the defines: as fast as libvirt takes them.
    const files = names.map((name, i) => {
      const file = `${dir}/${name}.xml`;
      const mac = `52:54:00:78:00:${i.toString(16).padStart(2, "0")}`;
      writeFileSync(file, tinyDomainXml({ name, nics: [bridgeNic({ mac })] }));
      return file;
    });
    virsh(files.map((f) => `define ${f}`).join("; "));
    await waitFor(
      () => names.every(compliantConfig),
      20_000,
      () => `not all 50 became compliant:\n${watcher.log().slice(-3000)}`,
    );
    await new Promise((r) => setTimeout(r, 1_500));
    expect(names.map(writes)).toEqual(names.map(() => 1));
    // Each definition fired 'Defined Added' and its file changed; the watcher's own define fired
    // 'Defined Updated' and changed it again: at least 100 events, each a hint, and before
    // lookups were batched each cost a dominfo. Now the hints of one turn of the event loop are
    // looked up once: by one listing, or one domuuid per distinct name where that is cheaper.
    const lookups = watcher
      .lines(LOOKUP)
      .slice(lookupsBefore)
      .map((l) => {
        const m = LOOKUP.exec(l) as RegExpExecArray;
        return { hints: Number(m[1]), names: Number(m[2]), calls: m[3] === "one listing" ? 1 : Number(m[3]?.split(" ")[0]) };
      });
    const hints = lookups.reduce((n, l) => n + l.hints, 0);
    const calls = lookups.reduce((n, l) => n + l.calls, 0);
    expect(hints).toBeGreaterThanOrEqual(100);
    expect(lookups.every((l) => l.calls <= l.names && l.names <= l.hints)).toBe(true);
    expect(lookups.length).toBeLessThanOrEqual(hints / 2);
    expect(calls).toBeLessThan(hints);
  });

  it("SIGHUP with a broken policy keeps the last good one and goes on", async () => {
    host.writePolicy("[filtering]\nOnMissing = sometimes\n");
    watcher.signal("SIGHUP");
    await watcher.waitForLog(/error: policy: .*policy\.ini:2: OnMissing: expected enforce, audit or watch, got 'sometimes'; keeping the last good policy/);
    const name = host.domainName("after-bad-hup");
    defineDomain(tinyDomainXml({ name, nics: [bridgeNic({ mac: "52:54:00:77:00:0a" })] }));
    await waitFor(
      () => compliantConfig(name),
      5_000,
      () => `not fixed after a bad SIGHUP:\n${watcher.log()}`,
    );
    expect(watcher.child.exitCode).toBeNull();
  });

  it("SIGHUP with a good policy (OnMissing = audit): a domain started with a bare NIC is protected live", async () => {
    host.writePolicy("[filtering]\nOnMissing = audit\n");
    watcher.signal("SIGHUP");
    await watcher.waitForLog(/policy: reloaded .*OnMissing=audit/);
    const name = host.domainName("audit");
    defineDomain(tinyDomainXml({ name, nics: [bridgeNic({ mac: "52:54:00:77:00:0b" })] }));
    virsh("start", name);
    await waitFor(
      () => compliantLive(name) && bound(name),
      5_000,
      () => `running ${name} is not protected:\n${watcher.log()}`,
    );
    host.writePolicy(POLICY);
    watcher.signal("SIGHUP");
    await watcher.waitForLog(/policy: reloaded .*OnMissing=watch/);
  });

  it("SIGTERM stops it cleanly; the hook then refuses what OnMissing = watch let through", async () => {
    expect(await watcher.stop()).toBe(0);
    expect(watcher.log()).toMatch(/stopped \(SIGTERM\)\n$/);
    expect(JSON.parse(readFileSync(STATUS_FILE, "utf8"))).toMatchObject({ state: "stopped" });
    const name = host.domainName("unwatched");
    defineDomain(tinyDomainXml({ name, nics: [bridgeNic({ mac: "52:54:00:77:00:0c" })] }));
    const e = virshFails("start", name);
    expect(e.stderr).toContain(`refusing to start domain '${name}'`);
    expect(e.stderr).toContain("OnMissing=watch, but no healthy watcher: it stopped");
  });
});
