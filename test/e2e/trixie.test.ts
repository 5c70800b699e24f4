// Debian 13 beside Debian 12. The Debian package, built here, is installed with apt into a trixie
// root (scripts/trixie-root.sh, under an overlay of this run's own: test/e2e/helpers/trixie-root.ts)
// and everything runs against the libvirtd 11.3 and QEMU 10 started from that root, in one pass
// with one daemon start, the product's commands run inside the root as an admin on a trixie host
// runs them (/usr/bin/nwfilter-hook on trixie's nodejs 20.19, trixie's virsh):
//   the package installed before libvirtd runs (deferred), then libvirtd started; the start guard
//   on a bridge NIC and a network NIC; apply; hot-plug through inject; the watcher, and the
//   `virsh event` lines of libvirt 11.3 read with the watcher's own parser; a live migration from
//   libvirt 9.0 (a private daemon of this host's own packages: test/e2e/helpers/two-daemons.ts);
//   dpkg -r; VMs started while no hook runs; the package installed again with libvirtd running;
//   audit and apply --live; save and restore; a live migration back to libvirt 9.0, whose hook
//   adds the filter; dpkg -P, and a listing of the root before and after.
// Nothing here touches the system libvirtd. Run it under the machine's libvirt lock like the
// other e2e suites (it spawns qemu and changes the kernel's ebtables).
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEventLine, type DomainEvent } from "../../src/watch/events.js";
import { FILTER, cli, macPattern, type CliResult } from "./helpers/cli.js";
import { PACKAGE, VERSION, buildPackage, fileListing, listingDiff } from "./helpers/deb.js";
import { bindingList, bridgeNic, domainTaps, tinyDomainXml, virshWith } from "./helpers/libvirt.js";
import { TRIXIE_BRIDGE, TrixieHost, requireTrixie, startOldDaemon, stopOldDaemon, trixieUnavailable, type Run } from "./helpers/trixie-root.js";
import { freePort, type PrivateDaemon } from "./helpers/two-daemons.js";
import { waitFor } from "./helpers/watcher.js";

const CAN_RUN = requireTrixie();
/** Outside CI the suite skips where it cannot run, and says why in its title. */
const SKIPPED = CAN_RUN ? "" : ` (skipped: ${trixieUnavailable() ?? ""})`;
const HOOK = "/etc/libvirt/hooks/qemu.d/50-nwfilter-hook";
const POLICY = "/etc/nwfilter-hook/policy.ini";
const FILTERREF = `<filterref filter='${FILTER}'/>`;
const NETWORK = "nwfh-txnet";
const MAC = {
  web: "52:54:00:4e:d3:01",
  webNet: "52:54:00:4e:d3:02",
  plugged: "52:54:00:4e:d3:03",
  pluggedBare: "52:54:00:4e:d3:04",
  late: "52:54:00:4e:d3:05",
  fwd: "52:54:00:4e:d3:06",
  bare: "52:54:00:4e:d3:07",
  saved: "52:54:00:4e:d3:08",
  back: "52:54:00:4e:d3:09",
};
const VM = {
  web: "nwfh-tx-web",
  late: "nwfh-tx-late",
  fwd: "nwfh-tx-fwd",
  bare: "nwfh-tx-bare",
  saved: "nwfh-tx-saved",
  back: "nwfh-tx-back",
};

const nic = (mac: string) => bridgeNic({ mac, bridge: TRIXIE_BRIDGE });
const networkNic = (mac: string) => `<interface type='network'><mac address='${mac}'/><source network='${NETWORK}'/><model type='virtio'/></interface>`;
const domain = (name: string, ...nics: string[]) => tinyDomainXml({ name, nics });
const interfaces = (xml: string) => xml.match(/<interface[\s\S]*?<\/interface>/g) ?? [];
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe.skipIf(!CAN_RUN)(`Debian 13: the package in a trixie root, its libvirtd 11.3 and QEMU 10, and libvirt 9.0 beside it${SKIPPED}`, () => {
  let tx: TrixieHost;
  /** The Debian 12 side: a private libvirtd 9.0 of this host's packages. */
  let old: PrivateDaemon;
  let dir: string;
  /** The package as the root sees it. */
  let deb: string;
  let before: string[];
  /** `nwfilter-hook ARGS` as an admin runs it on the trixie host. */
  const admin = (...args: string[]) => tx.run(["nwfilter-hook", ...args]);
  /** The CLI as an admin runs it on the Debian 12 host of the private daemon. */
  const onOld = (...args: string[]): CliResult => cli(["-c", old.uri, "--hooks-dir", old.hooksDir, "--policy", old.policy, ...args], { env: old.outsideEnv });
  const ok = (r: Run | CliResult) => expect(r.code, `exit ${r.code}:\n${r.stdout}${r.stderr}`).toBe(0);
  const apt = (...args: string[]) => tx.runAsync(["apt-get", ...args], { env: { DEBIAN_FRONTEND: "noninteractive" } });
  const tapOf = (name: string, mac: string, uri = tx.uri) => domainTaps(name, uri).find((t) => t.mac === mac)?.dev;
  const bound = (name: string, mac: string, uri = tx.uri) => {
    const tap = tapOf(name, mac, uri);
    return tap !== undefined && bindingList(uri).some((b) => b.port === tap && b.filter === FILTER);
  };
  const ebtables = () => tx.run(["ebtables", "-t", "nat", "-L"]).stdout;
  /** The root's node: its version, and whether it has Node's own startup snapshot. */
  let node: { version: string; ownSnapshot: boolean };

  beforeAll(() => {
    tx = TrixieHost.create("suite");
    old = startOldDaemon("old");
    dir = mkdtempSync(join(tmpdir(), "nwfh-e2e-trixie-"));
    const built = buildPackage(dir);
    deb = tx.put(basename(built), readFileSync(built));
    const probe = tx.run(["node", "-p", "JSON.stringify([process.version, process.config.variables.node_use_node_snapshot !== false])"]);
    ok(probe);
    const [version, ownSnapshot] = JSON.parse(probe.stdout) as [string, boolean];
    node = { version, ownSnapshot };
    before = fileListing(tx.root);
  });

  afterAll(() => {
    const errors = [...(tx?.stop() ?? []), ...stopOldDaemon(old)];
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (errors.length > 0) throw new Error(`cleanup: ${errors.join("; ")}`);
  });

  it("apt-get install with no libvirt daemon running: the hook on trixie's /usr/bin/node and its startup snapshot; the filter left for libvirt", async () => {
    expect(node.version).toMatch(/^v20\./);
    // Like Debian 12's, trixie's nodejs comes without Node's own startup snapshot: install records one of the hook.
    expect(node.ownSnapshot).toBe(false);
    const r = await apt("install", "-y", "--no-install-recommends", deb);
    ok(r);
    expect(r.stdout).toContain(`hook ${HOOK}: installed (interpreter /usr/bin/node)`);
    expect(r.stdout).toMatch(
      new RegExp(`^startup cache /var/cache/nwfilter-hook/\\w+\\.blob: recorded \\(startup snapshot for /usr/bin/node ${escape(node.version)}\\)$`, "m"),
    );
    expect(r.stdout).toContain(`policy ${POLICY}: exists, left alone`);
    expect(r.stdout).toContain(`nwfilter '${FILTER}': written to /etc/libvirt/nwfilter/${FILTER}.xml (libvirt defines it when it starts)`);
    expect(r.stdout).toMatch(/^install: done; takes effect when libvirt starts$/m);
    expect(tx.run(["nwfilter-hook", "--version"]).stdout.trim()).toBe(VERSION);
  });

  it("libvirtd 11.3 starts from the root with QEMU 10, defines the filter it found, and check passes", () => {
    const version = tx.startLibvirtd();
    expect(version).toMatch(/^Running against daemon: 11\.3\.\d+$/m);
    expect(version).toMatch(/^Running hypervisor: QEMU 10\.0\.\d+$/m);
    expect(tx.virsh("nwfilter-list")).toContain(FILTER);
    expect(tx.virsh("net-list", "--name").trim()).toBe(""); // not even `default`, which would take virbr0
    const r = admin("check");
    ok(r);
    expect(r.stdout).toContain(`daemon: ok (libvirtd (pid ${tx.libvirtdPid}) on /run/libvirt/libvirt-sock, libvirt 11.3.`);
    expect(r.stdout).toContain(`hook ${HOOK}: ok (installed, executable, interpreter /usr/bin/node)`);
    expect(r.stdout).toMatch(/^startup cache \/var\/cache\/nwfilter-hook\/\w+\.blob: ok \(startup snapshot for \/usr\/bin\/node\)$/m);
  });

  it("the start guard under QEMU 10: a bridge NIC and a network NIC without the filter are refused, named in the hook's message", () => {
    // A network on the test bridge: the hook resolves it through libvirt 11.3's status file.
    tx.virshWithXml("net-define", `<network><name>${NETWORK}</name><forward mode='bridge'/><bridge name='${TRIXIE_BRIDGE}'/></network>`);
    tx.virsh("net-start", NETWORK);
    expect(readFileSync(tx.runPath(`/run/libvirt/network/${NETWORK}.xml`), "utf8")).toMatch(/<networkstatus>[\s\S]*<network>/);

    tx.virshWithXml("define", domain(VM.web, nic(MAC.web), networkNic(MAC.webNet)));
    const refused = tx.virshFails("start", VM.web).stderr;
    expect(refused).toMatch(/Hook script execution failed/);
    expect(refused).toContain(`nwfilter-hook: refusing to start domain '${VM.web}': 2 interface(s) lack nwfilter '${FILTER}': `);
    expect(refused).toContain(`${MAC.web} (type bridge, source ${TRIXIE_BRIDGE})`);
    expect(refused).toContain(`${MAC.webNet} (type network, source ${NETWORK})`);
    expect(refused).toContain(`fix with: nwfilter-hook apply ${VM.web}`);
    expect(tx.domState(VM.web)).toBe("shut off");
  });

  it("apply fixes the definition; the VM starts under QEMU 10 with both NICs bound and trixie's ebtables rules in place", () => {
    const r = admin("apply", VM.web);
    ok(r);
    expect(r.stdout).toContain(
      `${VM.web}: definition: added filter '${FILTER}' to ${MAC.web} (type bridge, source ${TRIXIE_BRIDGE}); ${MAC.webNet} (type network, source ${NETWORK})`,
    );
    tx.virsh("start", VM.web);
    expect(tx.domState(VM.web)).toBe("running");
    expect(tx.qemuLog(VM.web)).toMatch(/libvirt version: 11\.3\.\d+.*qemu version: 10\.0\.\d+/);

    const rules = ebtables();
    for (const mac of [MAC.web, MAC.webNet]) {
      const tap = tapOf(VM.web, mac);
      expect(tap, `no tap for ${mac}`).toBeDefined();
      expect(bindingList(tx.uri)).toContainEqual({ port: tap, filter: FILTER });
      expect(rules).toMatch(new RegExp(`-i ${tap} -j libvirt-I-${tap}`));
      expect(rules).toMatch(new RegExp(`-s ${macPattern(mac)} -j RETURN`));
    }
  });

  it("hot-plug: a NIC prepared with inject --device --domain and attached --live is bound", () => {
    const raw = tx.put("nic.xml", `${nic(MAC.plugged)}\n`);
    const injected = admin("inject", "--device", "--domain", VM.web, raw);
    ok(injected);
    expect(injected.stdout).toContain(FILTERREF);
    expect(injected.stderr).toContain(`added filterref '${FILTER}' to ${MAC.plugged}`);
    tx.virsh("attach-device", VM.web, tx.put("nic2.xml", injected.stdout), "--live");
    expect(bound(VM.web, MAC.plugged)).toBe(true);
    expect(ebtables()).toMatch(new RegExp(`-s ${macPattern(MAC.plugged)} -j RETURN`));
  });

  it("the watcher on trixie's nodejs reads libvirt 11.3's events: a new definition and a hot-plugged NIC get the filter", async () => {
    const eventsLog = join(dir, "events.log");
    const watchLog = join(dir, "watch.log");
    const [eventsFd, watchFd] = [openSync(eventsLog, "w"), openSync(watchLog, "w")];
    const events = tx.spawn(["virsh", "event", "--all", "--loop", "--timestamp"], eventsFd);
    const watcher = tx.spawn(["nwfilter-hook", "watch", "--no-syslog"], watchFd);
    closeSync(eventsFd);
    closeSync(watchFd);
    const exited = new Promise<number | null>((resolve) => watcher.on("exit", (code) => resolve(code)));
    const log = () => readFileSync(watchLog, "utf8");
    try {
      await waitFor(
        () => /resync: \d+ domains?: /.test(log()),
        20_000,
        () => `the watcher did not resync:\n${log()}`,
      );

      // define-then-fix
      tx.virshWithXml("define", domain(VM.late, nic(MAC.late)));
      await waitFor(
        () => interfaces(tx.virsh("dumpxml", "--inactive", VM.late)).every((n) => n.includes(FILTERREF)),
        10_000,
        () => `${VM.late}'s definition still lacks the filter:\n${log()}`,
      );
      expect(log()).toMatch(new RegExp(`^nwfilter-hook watch: ${VM.late}: definition: added filter '${FILTER}' to ${MAC.late} `, "m"));

      // a hot-plugged NIC without the filter, fixed live
      tx.virsh("attach-device", VM.web, tx.put("bare-nic.xml", `${nic(MAC.pluggedBare)}\n`), "--live");
      await waitFor(
        () => bound(VM.web, MAC.pluggedBare),
        15_000,
        () => `the hot-plugged ${MAC.pluggedBare} was not bound:\n${log()}`,
      );
    } finally {
      // The suite goes on without them, whatever happened: a watcher left running would fix what it must not.
      watcher.kill("SIGTERM");
      events.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    expect(log()).not.toMatch(/^nwfilter-hook watch: error: /m);

    // virsh's own lines, as the watcher parses them: each event line is one it understands.
    const lines = readFileSync(eventsLog, "utf8").split("\n");
    const parsed = lines.map(parseEventLine).filter((e): e is DomainEvent => e !== undefined);
    expect(lines.filter((l) => /: event '/.test(l) && parseEventLine(l) === undefined)).toEqual([]);
    expect(parsed).toContainEqual({ kind: "lifecycle", domain: VM.late, detail: "Defined Added" });
    expect(parsed).toContainEqual({ kind: "lifecycle", domain: VM.late, detail: "Defined Updated" }); // the watcher's define
    expect(parsed.some((e) => e.kind === "device-added" && e.domain === VM.web && /^net\d+$/.test(e.detail))).toBe(true);
  });

  it("live migration from libvirt 9.0 to 11.3: the destination's hook adds the filter (tainted: hook-script)", async () => {
    old.virshWithXml("define", domain(VM.fwd, nic(MAC.fwd)));
    old.virsh("start", VM.fwd);
    const port = await freePort();
    virshWith(
      { uri: old.uri, timeoutMs: 120_000 },
      "migrate",
      "--live",
      VM.fwd,
      tx.uri,
      "--migrateuri",
      `tcp://127.0.0.1:${port}`,
      "--listen-address",
      "127.0.0.1",
    );
    expect(tx.domState(VM.fwd)).toBe("running");
    expect(old.domState(VM.fwd)).toBe("shut off");
    expect(interfaces(tx.virsh("dumpxml", VM.fwd)).join("")).toContain(FILTERREF);
    expect(tx.qemuLog(VM.fwd)).toMatch(/tainted: hook-script/);
    expect(bound(VM.fwd, MAC.fwd)).toBe(true);
  });

  it("dpkg -r: the hook goes and libvirtd reloads; running VMs keep their filters; the policy stays", async () => {
    const id = tx.virsh("domid", VM.web).trim();
    const r = await tx.runAsync(["dpkg", "-r", PACKAGE]);
    ok(r);
    expect(r.stdout).toContain(`hook ${HOOK}: removed`);
    expect(r.stdout).toContain(`daemon: reloaded libvirtd (SIGHUP to pid ${tx.libvirtdPid}, which listens on /run/libvirt/libvirt-sock)`);
    expect(existsSync(join(tx.root, HOOK))).toBe(false);
    expect(existsSync(join(tx.root, "usr/bin/nwfilter-hook"))).toBe(false);
    expect(existsSync(join(tx.root, POLICY))).toBe(true);
    expect(tx.virsh("domid", VM.web).trim()).toBe(id);
    for (const mac of [MAC.web, MAC.webNet, MAC.plugged]) expect(bound(VM.web, mac)).toBe(true);
  });

  it("with no hook, VMs start without the filter: one started on 11.3, one migrated in from 9.0", async () => {
    tx.virshWithXml("define", domain(VM.bare, nic(MAC.bare)));
    tx.virsh("start", VM.bare);
    tx.virshWithXml("define", domain(VM.saved, nic(MAC.saved)));
    tx.virsh("start", VM.saved);
    old.virshWithXml("define", domain(VM.back, nic(MAC.back)));
    old.virsh("start", VM.back);
    const port = await freePort();
    virshWith(
      { uri: old.uri, timeoutMs: 120_000 },
      "migrate",
      "--live",
      VM.back,
      tx.uri,
      "--migrateuri",
      `tcp://127.0.0.1:${port}`,
      "--listen-address",
      "127.0.0.1",
    );
    for (const [name, mac] of [
      [VM.bare, MAC.bare],
      [VM.saved, MAC.saved],
      [VM.back, MAC.back],
    ] as const) {
      expect(tx.domState(name)).toBe("running");
      expect(interfaces(tx.virsh("dumpxml", name)).join("")).not.toContain("<filterref");
      expect(bound(name, mac)).toBe(false);
    }
    expect(tx.qemuLog(VM.back)).not.toMatch(/tainted: hook-script/);
  });

  it("apt-get install with libvirtd 11.3 running: the hook goes in and that daemon reloads; audit finds the bare VM, apply --live binds it", async () => {
    const pid = tx.libvirtdPid;
    const r = await apt("install", "-y", "--no-install-recommends", deb);
    ok(r);
    expect(r.stdout).toContain(`hook ${HOOK}: installed (interpreter /usr/bin/node)`);
    expect(r.stdout).toMatch(/^startup cache \/var\/cache\/nwfilter-hook\/\w+\.blob: recorded \(startup snapshot for \/usr\/bin\/node v20\./m);
    expect(r.stdout).toContain(`nwfilter '${FILTER}': unchanged`);
    expect(r.stdout).toContain(`daemon: reloaded libvirtd (SIGHUP to pid ${pid}, which listens on /run/libvirt/libvirt-sock)`);
    expect(r.stdout).toContain("self-test: ok: the installed hook ran a sample restore and added the filter");
    expect(r.stdout).toMatch(/^install: done$/m);

    const audit = admin("audit", VM.bare);
    expect(audit.code, audit.stdout + audit.stderr).toBe(1);
    expect(audit.stdout).toMatch(new RegExp(`${VM.bare}\\s+running\\s+config\\s+${MAC.bare}\\s+bridge\\s+${TRIXIE_BRIDGE}\\s+${FILTER}\\s+-\\s+missing`));
    expect(audit.stdout).toMatch(new RegExp(`${VM.bare}\\s+running\\s+live\\s+${MAC.bare}\\s+bridge\\s+${TRIXIE_BRIDGE}\\s+${FILTER}\\s+-\\s+missing`));

    const id = tx.virsh("domid", VM.bare).trim();
    const applied = admin("apply", "--live", VM.bare);
    ok(applied);
    expect(applied.stdout).toContain(`${VM.bare}: running: added filter '${FILTER}' to ${MAC.bare}`);
    expect(tx.virsh("domid", VM.bare).trim()).toBe(id);
    expect(bound(VM.bare, MAC.bare)).toBe(true);
    ok(admin("audit", VM.bare));
  });

  it("virsh save and restore: libvirt 11.3 runs the restore hook, and the VM comes back with the filter", () => {
    const image = "/tmp/saved.img";
    tx.virsh("save", VM.saved, image);
    expect(tx.domState(VM.saved)).toBe("shut off");
    tx.virsh("restore", image);
    expect(tx.domState(VM.saved)).toBe("running");
    expect(interfaces(tx.virsh("dumpxml", VM.saved)).join("")).toContain(FILTERREF);
    expect(bound(VM.saved, MAC.saved)).toBe(true);
    rmSync(join(tx.root, image), { force: true });
  });

  it("live migration from libvirt 11.3 back to 9.0, run with trixie's virsh: 9.0's hook adds the filter (tainted: hook-script)", async () => {
    ok(onOld("install"));
    const port = await freePort();
    const to = `qemu+unix:///system?socket=/proc/${old.pid}/root/run/libvirt/libvirt-sock`;
    const r = await tx.runAsync(["virsh", "migrate", "--live", VM.back, to, "--migrateuri", `tcp://127.0.0.1:${port}`, "--listen-address", "127.0.0.1"]);
    ok(r);
    expect(old.domState(VM.back)).toBe("running");
    expect(interfaces(old.virsh("dumpxml", VM.back)).join("")).toContain(FILTERREF);
    expect(old.qemuLog(VM.back)).toMatch(/tainted: hook-script/);
    expect(bound(VM.back, MAC.back, old.uri)).toBe(true);
  });

  it("dpkg -P: nothing of the package is left in the root (the filter stays defined while VMs use it)", async () => {
    const r = await tx.runAsync(["dpkg", "-P", PACKAGE]);
    ok(r);
    expect(tx.run(["dpkg-query", "-W", PACKAGE]).code).not.toBe(0);
    expect(existsSync(join(tx.root, "etc/nwfilter-hook"))).toBe(false);
    expect(existsSync(join(tx.root, "var/cache/nwfilter-hook"))).toBe(false);
    // libvirt's own copy of the filter, which the running domains still reference, and the
    // directory libvirtd's secret driver makes at its first start.
    const libvirts = ["d /etc/libvirt/secrets", `f /etc/libvirt/nwfilter/${FILTER}.xml`];
    expect(listingDiff(before, fileListing(tx.root))).toEqual({ added: libvirts, removed: [] });
    expect(tx.virsh("nwfilter-list")).toContain(FILTER);
  });
});
