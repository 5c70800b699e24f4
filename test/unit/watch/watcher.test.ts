// The watcher (src/watch/watcher.ts) with every collaborator faked: an in-memory libvirt behind
// its virsh runner, a clock the test advances, `virsh event` lines the test writes, recorded
// systemd notifications and status writes. What it shows: it is ready before it is connected;
// the first resync fixes what lacks the filter and ends the wait; a storm of slow calls never lets
// the status go stale; a daemon that stops answering costs one deadline, after which the watcher
// is connecting, says why, and keeps beating; once the daemon answers again it reconnects and
// resyncs; events lead to passes; stop() waits for the pass that runs; a policy reload moves
// running NICs to their new choice live; a NIC whose chosen filter is missing is left alone while
// the others are fixed; a custom filter put in the filters directory is defined, and then used.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { WATCH_HEARTBEAT_MS, WATCH_STALE_MS } from "../../../src/core/constants.js";
import type { HostFacts } from "../../../src/core/host-facts.js";
import { parsePolicy } from "../../../src/core/policy.js";
import type { Notifier } from "../../../src/host/notify.js";
import type { WatchStatus } from "../../../src/host/watch-status.js";
import { Watcher } from "../../../src/watch/watcher.js";
import { fakeClock } from "./support/fake-clock.js";
import { fakeFiles, fakeSpawner, type FakeChild } from "./support/fake-host.js";
import { FILTER_REF, FakeLibvirt, KEEPALIVE_MS } from "./support/fake-libvirt.js";
import { WRITE_DEADLINE_MS } from "../../../src/host/virsh.js";

const STOPPED_ANSWERING = "the libvirt daemon stopped answering during 'virsh version --daemon' (no answer to virsh's keepalive): is it stopped or hung?";

const START = 1_800_000_000_000;

/** The host's view of libvirt's filters, as the hook reads /etc/libvirt/nwfilter: the fake's. */
function hostOf(libvirt: FakeLibvirt): HostFacts {
  const filter = (name: string) => {
    const text = libvirt.filters.get(name);
    return text === undefined ? undefined : { path: `/etc/libvirt/nwfilter/${name}.xml`, text };
  };
  return { network: () => undefined, bridge: () => "linux", filterDefined: (name) => libvirt.filters.has(name), filter };
}

function setup(policyText = "[filtering]\nOnMissing = watch\n", filtersDir = "/etc/nwfilter-hook/filters") {
  const { clock, advance } = fakeClock(START);
  const libvirt = new FakeLibvirt(clock);
  const host = hostOf(libvirt);
  const { spawner, children } = fakeSpawner();
  const files = fakeFiles();
  const notes: string[] = [];
  const notifier: Notifier = {
    enabled: true,
    ready: (s) => notes.push(`READY ${s}`),
    watchdog: () => notes.push("WATCHDOG"),
    stopping: () => notes.push("STOPPING"),
  };
  const writes: WatchStatus[] = [];
  const log: string[] = [];
  let policy = parsePolicy(policyText, "/etc/nwfilter-hook/policy.ini");
  const watcher = new Watcher(
    {
      uri: "test:///fake",
      policyPath: "/etc/nwfilter-hook/policy.ini",
      policy,
      settings: {
        policyPath: "/etc/nwfilter-hook/policy.ini",
        networkDirs: [],
        nwfilterDir: "/etc/libvirt/nwfilter",
        sysfsNet: "/sys/class/net",
        filtersDir,
      },
      statusPath: "/run/nwfilter-hook/watch.json",
      shippedFilter: "nwfilter/vdsm-no-mac-spoofing.xml",
      configDir: "/etc/libvirt/qemu",
      env: {},
      log: (priority, message) => log.push(`${priority}: ${message}`),
    },
    {
      clock,
      runner: () => libvirt.runner,
      spawner,
      files: files.files,
      notifier,
      writeStatus: (_path, status) => writes.push(structuredClone(status)),
      hostFacts: () => host,
      loadPolicy: () => policy,
      pid: 4242,
    },
  );
  const status = () => writes.at(-1) as WatchStatus;
  const events = () => children.filter((c) => c.args.includes("event")).at(-1) as FakeChild;
  const event = (domain: string, what: string) => events().events.stdout?.(`2026-12-02 03:00:27.085+0000: event 'lifecycle' for domain '${domain}': ${what}\n`);
  return {
    watcher,
    clock,
    advance,
    libvirt,
    children,
    files,
    notes,
    writes,
    log,
    status,
    events,
    event,
    setPolicy: (t: string) => (policy = parsePolicy(t, "p")),
  };
}

describe("Watcher", () => {
  it("is ready (and says it is connecting) before it has reached libvirt", () => {
    const t = setup();
    void t.watcher.start();
    expect(t.notes).toEqual(["READY connecting to test:///fake"]);
    expect(t.status()).toMatchObject({ pid: 4242, state: "connecting", waitingSince: START, heartbeat: START });
    expect(t.libvirt.calls).toEqual([]);
  });

  it("connects, resyncs, fixes the definition and the running NIC that lack the filter; the wait is over", async () => {
    const t = setup();
    const compliant = t.libvirt.add(1, { filter: true });
    const bare = t.libvirt.add(2, { live: true });
    void t.watcher.start();
    await t.advance(100);
    expect(t.status()).toMatchObject({ state: "watching", waitingSince: null, lastResync: { domains: 2, changed: 1, failed: 0 } });
    // Both NICs compliant once done; the bare one's definition and running NIC were fixed.
    expect(t.status()).toMatchObject({ lastResync: { nics: { compliant: 2, missing: 0 } }, fixes: 2 });
    expect(bare.config).toContain(FILTER_REF);
    expect(bare.live).toContain(FILTER_REF);
    expect(t.libvirt.calls.filter((c) => c.startsWith("define") || c.startsWith("update-device"))).toEqual([
      "define FILE",
      `update-device ${bare.uuid} FILE --live`,
    ]);
    expect(compliant.config).toContain(FILTER_REF);
    expect(t.log.filter((l) => /^info: resync: 2 domains: 1 changed, 0 failed \(\d+ ms\)$/.test(l))).toHaveLength(1);
    expect(t.events().args).toEqual(["-c", "test:///fake", "event", "--all", "--loop", "--timestamp"]);
  });

  it("a storm of slow calls (update-device taking 4 s each, 12 running domains): the status never goes stale and names the call", async () => {
    const t = setup();
    t.libvirt.latency["update-device"] = 4_000;
    const domains = Array.from({ length: 12 }, (_, i) => t.libvirt.add(i + 1, { live: true }));
    void t.watcher.start();
    let oldest = 0;
    let named = 0;
    for (let s = 0; s < 60; s++) {
      await t.advance(1_000);
      oldest = Math.max(oldest, t.clock.now() - t.status().heartbeat);
      if (t.status().inFlight?.what.startsWith("virsh update-device")) named++;
    }
    expect(domains.every((d) => d.live?.includes(FILTER_REF))).toBe(true);
    expect(oldest).toBeLessThanOrEqual(WATCH_HEARTBEAT_MS);
    expect(oldest).toBeLessThan(WATCH_STALE_MS);
    expect(named).toBeGreaterThan(5);
    expect(t.notes.filter((n) => n === "WATCHDOG")).toHaveLength(60_000 / WATCH_HEARTBEAT_MS);
    // Busy calls count as the probe: no version --daemon while they ran.
    const firstFix = t.libvirt.calls.findIndex((c) => c.startsWith("update-device"));
    const lastFix = t.libvirt.calls.length - 1 - [...t.libvirt.calls].reverse().findIndex((c) => c.startsWith("update-device"));
    expect(t.libvirt.calls.slice(firstFix, lastFix).filter((c) => c === "version --daemon")).toEqual([]);
  });

  it("a daemon that stops answering: one deadline, then connecting, saying why; beats go on; it reconnects and resyncs once the daemon answers", async () => {
    const t = setup();
    t.libvirt.add(1, { filter: true });
    void t.watcher.start();
    await t.advance(100);
    expect(t.status().state).toBe("watching");
    t.libvirt.hung = true;
    const hungAt = t.clock.now();
    // The probe at the first heartbeat, until virsh's keepalive gives up.
    await t.advance(WATCH_HEARTBEAT_MS + KEEPALIVE_MS);
    expect(t.status()).toMatchObject({
      state: "connecting",
      waitingSince: START + WATCH_HEARTBEAT_MS + KEEPALIVE_MS,
      lastFailure: { what: `libvirt: ${STOPPED_ANSWERING}; reconnecting` },
    });
    expect(t.events().signals).toEqual(["SIGTERM"]);
    expect(t.libvirt.closed).toBeGreaterThan(0);
    const pingsBefore = t.notes.filter((n) => n === "WATCHDOG").length;
    await t.advance(60_000);
    expect(t.notes.filter((n) => n === "WATCHDOG").length - pingsBefore).toBe(60_000 / WATCH_HEARTBEAT_MS);
    expect(t.clock.now() - t.status().heartbeat).toBeLessThanOrEqual(WATCH_HEARTBEAT_MS);
    expect(t.status().state).toBe("connecting");
    // Meanwhile a domain appeared without the filter; the daemon comes back.
    const late = t.libvirt.add(2);
    t.libvirt.hung = false;
    await t.advance(12_000);
    expect(t.status()).toMatchObject({ state: "watching", waitingSince: null });
    expect(late.config).toContain(FILTER_REF);
    expect(t.log.filter((l) => l.startsWith("info: libvirt: connected"))).toHaveLength(2);
    expect(t.log).toContain(`err: libvirt: ${STOPPED_ANSWERING}; reconnecting`);
    expect(t.clock.now() - hungAt).toBeGreaterThan(60_000);
  });

  it("a write that overruns its deadline is a lost connection too, not a failed domain to retry", async () => {
    const t = setup();
    t.libvirt.latency["define"] = WRITE_DEADLINE_MS + 60_000;
    t.libvirt.add(1);
    void t.watcher.start();
    await t.advance(WRITE_DEADLINE_MS + 1_000);
    expect(t.status().state).toBe("connecting");
    expect(t.status().lastFailure?.what).toBe("libvirt: the libvirt daemon did not answer 'virsh define' within 120 s: is it stopped or hung?; reconnecting");
    expect(t.log.filter((l) => l.includes("FAILED"))).toEqual([]);
  });

  it("an event names a domain defined meanwhile: it is looked up and fixed; an event for a compliant one writes nothing", async () => {
    const t = setup();
    void t.watcher.start();
    await t.advance(100);
    const d = t.libvirt.add(7, { name: "web 7" });
    const ok = t.libvirt.add(8, { name: "ok", filter: true });
    t.event("web 7", "Defined Added");
    t.event("ok", "Defined Added");
    t.event("web 7", "Defined Updated");
    await t.advance(100);
    expect(d.config).toContain(FILTER_REF);
    expect(ok.config).toBe(t.libvirt.find("ok")?.config);
    expect(t.libvirt.calls.filter((c) => c === "define FILE")).toHaveLength(1);
    expect(t.log).toContain("notice: web 7: definition: added filter 'vdsm-no-mac-spoofing' to 52:54:00:00:00:07 (type bridge, source br0)");
  });

  it("the event stream ending is a lost connection: the watcher connects again and resyncs", async () => {
    const t = setup();
    void t.watcher.start();
    await t.advance(100);
    t.events().exit(1);
    expect(t.status()).toMatchObject({ state: "connecting" });
    await t.advance(1_100);
    expect(t.status()).toMatchObject({ state: "watching" });
    expect(t.children.filter((c) => c.args.includes("event"))).toHaveLength(2);
  });

  it("SIGHUP: a bad policy is refused and the last good one kept; a good one resyncs", async () => {
    const t = setup();
    void t.watcher.start();
    await t.advance(100);
    const before = t.log.filter((l) => l.includes("resync:")).length;
    t.setPolicy("[filtering]\nOnMissing = audit\n");
    t.watcher.reload();
    await t.advance(100);
    expect(t.log).toContain("info: policy: reloaded p (OnMissing=audit, resync every 600 s); resyncing");
    expect(t.log.filter((l) => l.includes("resync:")).length).toBe(before + 1);
  });

  it("stop() waits for the pass that runs, then says stopped", async () => {
    const t = setup();
    t.libvirt.latency["define"] = 3_000;
    const d = t.libvirt.add(1);
    void t.watcher.start();
    await t.advance(10);
    let stopped = false;
    void t.watcher.stop("SIGTERM").then(() => (stopped = true));
    await t.advance(1_000);
    expect(stopped).toBe(false);
    expect(t.notes.at(-1)).toBe("STOPPING");
    await t.advance(3_000);
    expect(stopped).toBe(true);
    expect(d.config).toContain(FILTER_REF);
    expect(t.status().state).toBe("stopped");
    expect(t.log.at(-1)).toBe("info: stopped (SIGTERM)");
    // Nothing runs after it: no heartbeat, no reconnect.
    const writes = t.writes.length;
    await t.advance(60_000);
    expect(t.writes).toHaveLength(writes);
  });

  it("SIGHUP: a new choice for the bridge, with parameters, reaches the running NIC and the definition", async () => {
    const t = setup();
    t.libvirt.filters.set(
      "clean-traffic",
      "<filter name='clean-traffic' chain='root'>\n  <rule action='drop' direction='out'>\n    <ip srcipaddr='$IP' match='no'/>\n  </rule>\n</filter>\n",
    );
    const d = t.libvirt.add(1, { live: true, filter: true });
    void t.watcher.start();
    await t.advance(100);
    expect(t.libvirt.calls.filter((c) => c.startsWith("define") || c.startsWith("update-device"))).toEqual([]);
    t.setPolicy("[bridge:br0]\nFilter = clean-traffic\nParameters = IP=192.0.2.10, IP=192.0.2.11\n");
    t.watcher.reload();
    await t.advance(100);
    const wanted =
      "<filterref filter='clean-traffic'>\n        <parameter name='IP' value='192.0.2.10'/>\n        <parameter name='IP' value='192.0.2.11'/>\n      </filterref>";
    expect(d.live).toContain(wanted);
    expect(d.config).toContain(wanted);
    expect(d.live).not.toContain(FILTER_REF);
    expect(t.log).toContain(
      "notice: vm1: running: set filter 'clean-traffic' (IP=192.0.2.10, IP=192.0.2.11) from [bridge:br0] on 52:54:00:00:00:01 (type bridge, source br0), was 'vdsm-no-mac-spoofing'",
    );
    // A further change moves it off clean-traffic, which the new policy no longer names (not kept
    // as foreign); under DomainMetadata = trust the filterref's own parameters stay, as on replace.
    t.libvirt.filters.set("site-web", "<filter name='site-web' chain='root'/>\n");
    t.setPolicy("[bridge:br0]\nFilter = site-web\n");
    t.watcher.reload();
    await t.advance(100);
    expect(d.live).toContain("<filterref filter='site-web'>");
    expect(d.config).toContain("<filterref filter='site-web'>");
    // Done once: the next resync has nothing to do.
    const writes = t.libvirt.calls.filter((c) => c.startsWith("define") || c.startsWith("update-device")).length;
    await t.advance(600_000);
    expect(t.libvirt.calls.filter((c) => c.startsWith("define") || c.startsWith("update-device"))).toHaveLength(writes);
  });

  it("a NIC whose chosen filter is missing is left alone, said at warning; the other domains are fixed; a custom filter file defines it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nwfh-watch-filters-"));
    try {
      const t = setup("[domain:vm1]\nFilter = site-web\n", dir);
      const left = t.libvirt.add(1, { live: true });
      const fixed = t.libvirt.add(2, { live: true });
      void t.watcher.start();
      await t.advance(100);
      expect(fixed.live).toContain(FILTER_REF);
      expect(left.live).not.toContain("filterref");
      expect(left.config).not.toContain("filterref");
      expect(t.log).toContain(
        "warning: vm1: running: 52:54:00:00:00:01 (type bridge, source br0): wants nwfilter 'site-web' from [domain:vm1], but nwfilter 'site-web' is not defined on this host: left alone; define it first (nwfilter-hook define-filter)",
      );
      expect(t.log.filter((l) => l.startsWith("err:"))).toEqual([]);
      // The admin adds the filter's file; the watcher defines it and works on the NIC.
      writeFileSync(join(dir, "site-web.xml"), "<filter name='site-web' chain='root'>\n  <filterref filter='no-mac-spoofing'/>\n</filter>\n");
      t.files.change(dir, "site-web.xml");
      await t.advance(300);
      expect(t.libvirt.calls).toContain("nwfilter-define FILE");
      expect(t.libvirt.filters.get("site-web")).toContain("<filter name='site-web'");
      expect(t.log).toContain(`notice: nwfilter 'site-web': created from ${join(dir, "site-web.xml")}`);
      expect(left.live).toContain("<filterref filter='site-web'/>");
      expect(left.config).toContain("<filterref filter='site-web'/>");
      // Unchanged afterwards: not defined again at the next resync.
      const defines = t.libvirt.calls.filter((c) => c.startsWith("nwfilter-define")).length;
      await t.advance(600_000);
      expect(t.libvirt.calls.filter((c) => c.startsWith("nwfilter-define"))).toHaveLength(defines);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a custom filter that libvirt's definition no longer matches is defined again, reusing its UUID", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nwfh-watch-filters-"));
    try {
      writeFileSync(join(dir, "site-web.xml"), "<filter name='site-web' chain='root'>\n  <filterref filter='no-mac-spoofing'/>\n</filter>\n");
      const t = setup("[filtering]\nOnMissing = watch\n", dir);
      t.libvirt.filters.set("site-web", "<filter name='site-web' chain='root'>\n  <uuid>5a1b2c3d-0000-4000-8000-0000000000aa</uuid>\n</filter>\n");
      void t.watcher.start();
      await t.advance(100);
      expect(t.libvirt.filters.get("site-web")).toContain("<uuid>5a1b2c3d-0000-4000-8000-0000000000aa</uuid>");
      expect(t.libvirt.filters.get("site-web")).toContain("no-mac-spoofing");
      expect(t.log.some((l) => l.startsWith("notice: nwfilter 'site-web': updated (uuid 5a1b2c3d-0000-4000-8000-0000000000aa)"))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
