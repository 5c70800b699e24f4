// Real live migrations between two private libvirt daemons on this machine (a: the source,
// without the hook; b: the destination, where `install -c B_URI` puts it), and the CLI acting
// on the daemon its URI reaches. Nothing here touches the system libvirtd: the helper starts
// and stops its own daemons (test/e2e/helpers/two-daemons.ts). Run it under the machine's
// libvirt lock like the other e2e suites (it spawns qemu).
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FILTER, cli, macPattern, type CliResult } from "./helpers/cli.js";
import { bindingList, bridgeNic, domainTaps, ebtablesNat, tinyDomainXml } from "./helpers/libvirt.js";
import { cliOn, expectMigrationRefusedForMissingFilter } from "./helpers/migration.js";
import { MIGRATION_BRIDGE, TwoDaemons, requirePrivateDaemons, type PrivateDaemon } from "./helpers/two-daemons.js";
import { WatcherProcess, waitFor } from "./helpers/watcher.js";

const CAN_RUN = requirePrivateDaemons();
const SYSTEM_HOOK = "/etc/libvirt/hooks/qemu.d/50-nwfilter-hook";
const FILTERREF = `<filterref filter='${FILTER}'/>`;

const domain = (name: string, mac: string) => tinyDomainXml({ name, nics: [bridgeNic({ mac, bridge: MIGRATION_BRIDGE })] });
const interfaces = (xml: string) => xml.match(/<interface[\s\S]*?<\/interface>/g) ?? [];

describe.skipIf(!CAN_RUN)("live migration between two private libvirt daemons", () => {
  let two: TwoDaemons;
  let a: PrivateDaemon;
  let b: PrivateDaemon;
  /** The CLI as an admin runs it on host b: b's connection, b's libvirt directories. */
  let onB: (args: string[], input?: string) => CliResult;
  /** b's libvirt directories as seen from outside its namespace, for the CLI and the watcher. */
  let bEnv: Record<string, string>;
  const ok = (r: CliResult) => expect(r.code, `exit ${r.code}:\n${r.stdout}${r.stderr}`).toBe(0);

  beforeAll(() => {
    two = TwoDaemons.start();
    ({ a, b } = two);
    bEnv = b.outsideEnv;
    onB = cliOn(b);
  });
  afterAll(() => two?.stop());

  describe("install, check and uninstall act on the daemon that the URI reaches", () => {
    it("check -c B_URI reports daemon b by its own pid, not the system daemon", () => {
      const systemPid = existsSync("/run/libvirtd.pid") ? readFileSync("/run/libvirtd.pid", "utf8").trim() : "none";
      expect(String(b.pid)).not.toBe(systemPid);
      // The trap: inside b's namespace, /run/libvirtd.pid is the host's and names the system daemon.
      if (systemPid !== "none") expect(readFileSync(`/proc/${b.pid}/root/run/libvirtd.pid`, "utf8").trim()).toBe(systemPid);
      const r = onB(["check"]);
      expect(r.stdout).toContain(`daemon: ok (libvirtd (pid ${b.pid}) on ${b.socket}, libvirt `);
      expect(r.stdout).toContain(`hook ${b.hooksDir}/qemu.d/50-nwfilter-hook: FAILED: not installed`);
      expect(r.code).toBe(1);
      // And a's URI reaches a.
      const ra = cli(["check", "-c", a.uri, "--hooks-dir", a.hooksDir, "--policy", a.policy]);
      expect(ra.stdout).toContain(`daemon: ok (libvirtd (pid ${a.pid}) on ${a.socket}, libvirt `);
    });

    it("install -c B_URI into a hooks directory that b does not read is refused before anything changes", () => {
      const before = existsSync(SYSTEM_HOOK) ? readFileSync(SYSTEM_HOOK) : undefined;
      const r = cli(["install", "-c", b.uri, "--policy", b.policy]);
      expect(r.code, r.stdout + r.stderr).toBe(4);
      expect(r.stderr).toBe(
        `nwfilter-hook: libvirtd (pid ${b.pid}), which listens on ${b.socket}, runs the hooks in its own /etc/libvirt/hooks ` +
          `(here /proc/${b.pid}/root/etc/libvirt/hooks), not in /etc/libvirt/hooks: pass --hooks-dir with that directory\n`,
      );
      expect(r.stdout).toBe("");
      expect(existsSync(SYSTEM_HOOK) ? readFileSync(SYSTEM_HOOK) : undefined).toEqual(before);
      expect(existsSync(b.policy)).toBe(false);
      expect(b.virsh("nwfilter-list")).not.toContain(FILTER);
    });

    it("install -c B_URI --hooks-dir B's reloads b (SIGHUP to b's pid), and then b runs the hook while a does not", () => {
      const r = onB(["install"]);
      ok(r);
      expect(r.stdout).toContain(`hook ${b.hooksDir}/qemu.d/50-nwfilter-hook: installed`);
      expect(r.stdout).toContain(`daemon: reloaded libvirtd (SIGHUP to pid ${b.pid}, which listens on ${b.socket})`);
      expect(r.stdout).toContain("install: done");
      expect(b.virsh("nwfilter-list")).toContain(FILTER);

      // b refuses a domain whose NIC lacks the filter; a, which has no hook, starts it.
      const probe = "nwfh-mig-probe";
      const xml = domain(probe, "52:54:00:4e:6d:01");
      b.virshWithXml("define", xml);
      expect(b.virshFails("start", probe).stderr).toMatch(new RegExp(`Hook script execution failed: .*nwfilter-hook: refusing to start domain '${probe}'`));
      b.removeDomain(probe);
      a.virshWithXml("define", xml);
      a.virsh("start", probe);
      expect(a.domState(probe)).toBe("running");
      a.removeDomain(probe);

      const c = onB(["check"]);
      ok(c);
      expect(c.stdout).toContain(`daemon: ok (libvirtd (pid ${b.pid}) on ${b.socket}, libvirt `);
    });
  });

  describe("migrating a running VM whose NIC lacks the filter from a to b", () => {
    const vm = "nwfh-mig-live";
    const mac = "52:54:00:4e:6d:02";

    beforeAll(() => {
      a.virshWithXml("define", domain(vm, mac));
      a.virsh("start", vm);
    });

    it("b's hook refuses it when the filter is not defined on b, and the VM keeps running on a", async () => {
      b.virsh("nwfilter-undefine", FILTER);
      await expectMigrationRefusedForMissingFilter(two, vm, a, b, FILTER);

      const d = onB(["define-filter"]);
      ok(d);
      expect(d.stdout).toMatch(new RegExp(`nwfilter '${FILTER}': created`));
    });

    it("with the filter defined, b's hook adds it: dumpxml, nwfilter-binding-list, ebtables, and the qemu log say so", async () => {
      await two.migrate(vm, a, b);
      expect(b.domState(vm)).toBe("running");
      expect(a.domState(vm)).toBe("shut off"); // still defined on a, no longer running there

      const [nic] = interfaces(b.virsh("dumpxml", vm));
      expect(nic).toContain(`<mac address='${mac}'/>`);
      expect(nic).toContain(FILTERREF);
      const [tap] = domainTaps(vm, b.uri);
      expect(tap?.mac).toBe(mac);
      expect(bindingList(b.uri)).toContainEqual({ port: tap?.dev, filter: FILTER });
      expect(bindingList(a.uri)).toEqual([]);
      const rules = ebtablesNat();
      expect(rules).toMatch(new RegExp(`Bridge chain: libvirt-I-${tap?.dev}`));
      expect(rules).toMatch(new RegExp(`-s ${macPattern(mac)} -j RETURN`));
      expect(b.qemuLog(vm)).toMatch(/tainted: hook-script/);
      // The persistent definition on a is untouched by all this.
      expect(interfaces(a.virsh("dumpxml", "--inactive", vm)).join("")).not.toContain("filterref");
    });
  });

  describe("--persistent migration", () => {
    it("without a watcher, b's persistent definition lacks the filter: its next cold start is refused until `apply` on b", async () => {
      const vm = "nwfh-mig-persist";
      a.virshWithXml("define", domain(vm, "52:54:00:4e:6d:03"));
      a.virsh("start", vm);
      await two.migrate(vm, a, b, "--persistent");

      expect(interfaces(b.virsh("dumpxml", vm)).join("")).toContain(FILTERREF); // the live XML went through the hook
      expect(interfaces(b.virsh("dumpxml", "--inactive", vm)).join("")).not.toContain("filterref"); // the definition did not
      b.virsh("destroy", vm);
      expect(b.virshFails("start", vm).stderr).toMatch(
        new RegExp(`nwfilter-hook: refusing to start domain '${vm}': 1 interface\\(s\\) lack nwfilter '${FILTER}'`),
      );

      const r = onB(["apply", vm]);
      ok(r);
      expect(r.stdout).toContain(`${vm}: definition: added filter '${FILTER}'`);
      expect(interfaces(b.virsh("dumpxml", "--inactive", vm)).join("")).toContain(FILTERREF);
      b.virsh("start", vm);
      expect(b.domState(vm)).toBe("running");
    });

    it("--persistent-xml with a definition from `inject` arrives compliant, and starts cold on b", async () => {
      const vm = "nwfh-mig-pxml";
      const mac = "52:54:00:4e:6d:04";
      a.virshWithXml("define", domain(vm, mac));
      a.virsh("start", vm);
      const inactive = a.virsh("dumpxml", "--inactive", "--security-info", "--migratable", vm);
      const injected = onB(["inject", "-"], inactive);
      ok(injected);
      // Only the filterref is new.
      expect(injected.stdout.replace(/\n\s*<filterref filter='vdsm-no-mac-spoofing'\/>/, "")).toBe(inactive);
      const file = join(b.dir, `${vm}.xml`);
      writeFileSync(file, injected.stdout);
      try {
        await two.migrate(vm, a, b, "--persistent", "--persistent-xml", file);
      } finally {
        rmSync(file, { force: true });
      }

      expect(interfaces(b.virsh("dumpxml", vm)).join("")).toContain(FILTERREF);
      expect(interfaces(b.virsh("dumpxml", "--inactive", vm)).join("")).toContain(FILTERREF);
      b.virsh("destroy", vm);
      b.virsh("start", vm);
      const [tap] = domainTaps(vm, b.uri);
      expect(tap?.mac).toBe(mac);
      expect(bindingList(b.uri)).toContainEqual({ port: tap?.dev, filter: FILTER });
    });

    it("with the watcher running on b, b's persistent definition ends up compliant and starts cold under OnMissing=enforce", async () => {
      const vm = "nwfh-mig-watch";
      const mac = "52:54:00:4e:6d:05";
      expect(onB(["check"]).stdout).toMatch(/^OnMissing = enforce$/m);
      // The watcher as an admin runs it on host b: b's URI and policy, b's definitions' files
      // (b's /etc/libvirt/qemu, bind-mounted inside b's namespace), its own status file.
      const watcher = new WatcherProcess(b.dir, b.policy, bEnv, "watch-b", ["-c", b.uri, "--status-file", join(b.dir, "watch.json")]);
      two.onStop(() => {
        if (watcher.child.exitCode === null && watcher.child.signalCode === null) watcher.signal("SIGTERM");
      });
      await watcher.waitForLog(/^nwfilter-hook watch: resync: \d+ domains?: /m);
      expect(watcher.log()).toContain(`libvirt: connected to ${b.uri}`);

      a.virshWithXml("define", domain(vm, mac));
      a.virsh("start", vm);
      await two.migrate(vm, a, b, "--persistent");
      expect(interfaces(b.virsh("dumpxml", vm)).join("")).toContain(FILTERREF); // the hook, live
      await waitFor(
        () =>
          interfaces(b.virsh("dumpxml", "--inactive", vm))
            .join("")
            .includes(FILTERREF),
        10_000,
        () =>
          `b's definition of ${vm} still lacks the filterref 10 s after the migration:\n${b.virsh("dumpxml", "--inactive", vm)}\nwatcher's log:\n${watcher.log()}`,
      );
      expect(watcher.lines(new RegExp(`^nwfilter-hook watch: ${vm}: definition: added filter '${FILTER}' to ${mac} `))).toHaveLength(1);
      expect(interfaces(a.virsh("dumpxml", "--inactive", vm)).join("")).not.toContain("filterref"); // a's is its own

      b.virsh("destroy", vm);
      b.virsh("start", vm);
      expect(b.domState(vm)).toBe("running");
      const [tap] = domainTaps(vm, b.uri);
      expect(tap?.mac).toBe(mac);
      expect(bindingList(b.uri)).toContainEqual({ port: tap?.dev, filter: FILTER });

      expect(await watcher.stop()).toBe(0);
      expect(watcher.log()).not.toMatch(/^nwfilter-hook watch: error: /m);
    });
  });

  it("uninstall -c B_URI removes b's hook and reloads b (SIGHUP to b's pid)", () => {
    const r = onB(["uninstall"]);
    ok(r);
    expect(r.stdout).toContain(`hook ${b.hooksDir}/qemu.d/50-nwfilter-hook: removed`);
    expect(r.stdout).toContain(`daemon: reloaded libvirtd (SIGHUP to pid ${b.pid}, which listens on ${b.socket})`);
    expect(existsSync(join(b.hooksDir, "qemu.d", "50-nwfilter-hook"))).toBe(false);
  });
});
