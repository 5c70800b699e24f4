// A host booting with an autostart domain that lacks the filter, on a private daemon this file
// starts and stops by its pid (test/e2e/helpers/two-daemons.ts, with its own /run/nwfilter-hook so
// that its hook reads this file's watcher): libvirtd is stopped, its autostart marker removed, and
// it is started again, which then starts its autostart domains as at boot, before it lets any
// client in. Under OnMissing = enforce the domain is refused, and under watch without a watcher;
// under watch with the watcher started first (as systemd orders it, Before=libvirtd.service),
// the watcher is 'connecting', the hook lets the start through within the grace, and the
// watcher's resync once connected protects the running NIC. Nothing here touches the system
// libvirtd.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FILTER, cli } from "./helpers/cli.js";
import { bindingList, bridgeNic, domainTaps, tinyDomainXml } from "./helpers/libvirt.js";
import { requirePrivateDaemons, startPrivateDaemon, type PrivateDaemon } from "./helpers/two-daemons.js";
import { WatcherProcess, stopAll, waitFor } from "./helpers/watcher.js";

const CAN_RUN_PRIVATE = requirePrivateDaemons();
const REF = `<filterref filter='${FILTER}'/>`;

describe.skipIf(!CAN_RUN_PRIVATE)("host boot: an autostart domain that lacks the filter (a private daemon)", () => {
  let d: PrivateDaemon | undefined;
  let n = 0;

  beforeAll(() => {
    d = startPrivateDaemon("boot", { watchStatus: true });
  });
  afterEach(async () => {
    await stopAll();
  });
  afterAll(async () => {
    await stopAll();
    d?.stop(true);
  });

  /** Installs the hook with this OnMissing, defines an autostart domain without the filter, and stops libvirtd as at shutdown. */
  const prepare = (onMissing: string) => {
    const daemon = d as PrivateDaemon;
    writeFileSync(daemon.policy, `[filtering]\nOnMissing = ${onMissing}\n`, { mode: 0o644 });
    const r = cli(["install", "-c", daemon.uri, "--hooks-dir", daemon.hooksDir, "--policy", daemon.policy], { env: daemon.outsideEnv });
    if (r.code !== 0) throw new Error(`install failed:\n${r.stdout}${r.stderr}`);
    const name = `nwfh-e2e-boot-${onMissing}-${++n}`;
    daemon.virshWithXml("define", tinyDomainXml({ name, nics: [bridgeNic({ mac: `52:54:00:7d:00:0${n}` })] }));
    daemon.virsh("autostart", name);
    for (const other of daemon.virsh("list", "--name").split("\n").filter(Boolean)) daemon.virsh("destroy", other.trim());
    daemon.stopLibvirtd();
    // libvirtd autostarts domains only once per boot: this marker in its state directory says it has.
    rmSync(join(daemon.dir, "run", "libvirt", "qemu", "autostarted"), { force: true });
    return name;
  };
  const libvirtdLog = () => readFileSync(join((d as PrivateDaemon).dir, "libvirtd.log"), "utf8");
  const interfaces = (name: string) => (d as PrivateDaemon).virsh("dumpxml", name).match(/<interface[\s\S]*?<\/interface>/g) ?? [];

  it("OnMissing = enforce: the autostart domain is refused, and libvirt says why", () => {
    const daemon = d as PrivateDaemon;
    const name = prepare("enforce");
    daemon.startLibvirtd();
    expect(daemon.domState(name)).toBe("shut off");
    expect(libvirtdLog()).toContain(`Failed to autostart VM '${name}': Hook script execution failed`);
    expect(libvirtdLog()).toContain(`refusing to start domain '${name}'`);
    daemon.virsh("autostart", "--disable", name);
  });

  it("OnMissing = watch, the watcher started first: the start goes through while it waits, and it protects the NIC once connected", async () => {
    const daemon = d as PrivateDaemon;
    const name = prepare("watch");
    const watcher = new WatcherProcess(daemon.dir, daemon.policy, daemon.outsideEnv, "boot-watch", ["-c", daemon.uri, "--status-file", daemon.watchStatusFile]);
    const status = () => JSON.parse(readFileSync(daemon.watchStatusFile, "utf8")) as { state: string; waitingSince: number | null };
    await watcher.waitForLog(/error: libvirt: the libvirt daemon is not running/);
    expect(status()).toMatchObject({ state: "connecting" });
    // Here libvirtd may let the watcher in before it has started its autostart domains, or only
    // after: the watcher is held (SIGSTOP) while the daemon starts, so that the start surely
    // meets a watcher that is still waiting to connect (its status is fresh for 20 s).
    watcher.signal("SIGSTOP");
    try {
      daemon.startLibvirtd();
      await waitFor(
        () => daemon.domState(name) === "running",
        15_000,
        () => `${name} did not autostart:\n${libvirtdLog().split("\n").slice(-5).join("\n")}`,
      );
      expect(interfaces(name).some((i) => !i.includes(REF))).toBe(true);
    } finally {
      watcher.signal("SIGCONT");
    }
    await waitFor(
      () => {
        const taps = domainTaps(name, daemon.uri);
        return (
          interfaces(name).every((i) => i.includes(REF)) &&
          taps.length === 1 &&
          bindingList(daemon.uri).some((b) => b.port === taps[0]?.dev && b.filter === FILTER)
        );
      },
      60_000,
      () => `${name} runs unprotected:\n${watcher.log()}`,
    );
    expect(libvirtdLog()).not.toContain(`Failed to autostart VM '${name}'`);
    // The fix was the watcher's, live (its line comes once update-device has been checked).
    await watcher.waitForLog(new RegExp(`${name}: running: added filter '${FILTER}'`), 20_000);
    await waitFor(
      () => status().state === "watching" && status().waitingSince === null,
      30_000,
      () => `status: ${JSON.stringify(status())}`,
    );
    expect(await watcher.stop()).toBe(0);
  });

  it("OnMissing = watch without a watcher: refused as under enforce", () => {
    const daemon = d as PrivateDaemon;
    rmSync(daemon.watchStatusFile, { force: true });
    const name = prepare("watch");
    daemon.startLibvirtd();
    expect(daemon.domState(name)).toBe("shut off");
    expect(libvirtdLog()).toContain(`refusing to start domain '${name}'`);
    expect(libvirtdLog()).toMatch(/OnMissing=watch, but no healthy watcher: there is no status file \/run\/nwfilter-hook\/watch\.json/);
  });
});
