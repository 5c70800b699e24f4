// The watcher when libvirt moves under it: a change made by someone else between the watcher's
// read and its define is not lost (the window held open by NWFILTER_HOOK_TEST_DEFINE_DELAY_MS),
// the periodic resync, a restored domain, and libvirtd killed and started again while the
// watcher runs: it reconnects, resyncs, and fixes a domain whose definition appeared while the
// daemon was down. That daemon is a private one this file starts for the purpose
// (test/e2e/helpers/two-daemons.ts) and stops by its pid; nothing here stops, kills or starts
// the system libvirtd (the other cases talk to it, and `install`/`uninstall` reload it as they
// do for an admin). The e2e run holds /run/nwfh-libvirtd.lock.
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { E2eHost, FILTER, cli, configInterfaces, liveInterfaces } from "./helpers/cli.js";
import { bindingList, bridgeNic, defineDomain, domainTaps, requireLibvirt, tinyDomainXml, virsh, virshWithXmlFile } from "./helpers/libvirt.js";
import { requirePrivateDaemons, startPrivateDaemon, type PrivateDaemon } from "./helpers/two-daemons.js";
import { WatcherProcess, saveStatus, stopAll, waitFor } from "./helpers/watcher.js";

const HAVE_LIBVIRT = requireLibvirt();
const CAN_RUN_PRIVATE = requirePrivateDaemons();
const REF = `<filterref filter='${FILTER}'/>`;
const compliantConfig = (name: string) => configInterfaces(name).length > 0 && configInterfaces(name).every((n) => n.includes(REF));

describe.skipIf(!HAVE_LIBVIRT)("the watcher when libvirt changes under it", () => {
  let host: E2eHost;
  let watcher: WatcherProcess | undefined;

  beforeAll(() => {
    host = new E2eHost("watchrs");
    const restore = saveStatus();
    host.onTearDown(restore);
    host.writePolicy("[filtering]\nOnMissing = enforce\n");
    const r = host.install();
    if (r.code !== 0) throw new Error(`install failed:\n${r.stdout}${r.stderr}`);
  });
  // Each test starts its own watcher: a failed one must not leave it running for the next.
  afterEach(async () => {
    await stopAll();
    watcher = undefined;
  });
  afterAll(async () => {
    await stopAll();
    host?.tearDown();
  });

  it("a change made between the watcher's read and its define is kept, and the filter added on top", async () => {
    watcher = new WatcherProcess(host.dir, host.policy, { NWFILTER_HOOK_TEST_DEFINE_DELAY_MS: "1500" }, "delayed");
    await watcher.waitForLog(/resync: /);
    const name = host.domainName("race");
    const xml = tinyDomainXml({ name, nics: [bridgeNic({ mac: "52:54:00:79:00:01" })] });
    defineDomain(xml);
    await watcher.waitForLog(new RegExp(`${name}: definition: read; holding the define`));
    // Someone else's edit, inside the window: a description, still no filter.
    const theirs = virsh("dumpxml", "--inactive", name).replace("<memory", "<description>edited by someone else</description>\n  <memory");
    virshWithXmlFile("define", theirs);
    await waitFor(
      () => compliantConfig(name),
      10_000,
      () => `not compliant:\n${watcher?.log()}`,
    );
    const after = virsh("dumpxml", "--inactive", name);
    expect(after).toContain("<description>edited by someone else</description>");
    expect(after).toContain(REF);
    expect(watcher.log()).toContain(`${name}: definition: changed by someone else meanwhile; reading it again`);
    expect(await watcher.stop()).toBe(0);
    watcher = undefined;
  });

  it("the periodic resync (ResyncInterval) catches what no event or file change announced", async () => {
    host.writePolicy("[filtering]\nOnMissing = enforce\nResyncInterval = 10\n");
    // The definitions' files are watched elsewhere here, and attach-device --config fires no
    // event: only the resync can see this change.
    const blind = `${host.dir}/no-definitions`;
    execFileSync("mkdir", ["-p", blind]);
    watcher = new WatcherProcess(host.dir, host.policy, { NWFILTER_HOOK_QEMU_CONFIG_DIR: blind }, "periodic");
    await watcher.waitForLog(/resync: /);
    const name = host.domainName("periodic");
    defineDomain(tinyDomainXml({ name, nics: [bridgeNic({ mac: "52:54:00:79:00:03", filter: FILTER })] }));
    // Let the pass that its 'Defined Added' event asked for go by first.
    await new Promise((r) => setTimeout(r, 1_000));
    const nic = `${host.dir}/periodic-nic.xml`;
    writeFileSync(nic, `${bridgeNic({ mac: "52:54:00:79:00:04" })}\n`);
    virsh("attach-device", name, nic, "--config");
    expect(compliantConfig(name)).toBe(false);
    await waitFor(
      () => compliantConfig(name),
      20_000,
      () => `not fixed by the periodic resync:\n${watcher?.log()}`,
    );
    // The fix is the periodic resync's: its line comes after the first resync and before the second's summary.
    await watcher.waitForLog(/resync: /, 10_000, 2);
    const log = watcher.log().split("\n");
    const fixedAt = log.findIndex((l) => l.includes(`${name}: definition: added`));
    const resyncs = log.flatMap((l, i) => (/resync: /.test(l) ? [i] : []));
    expect(fixedAt).toBeGreaterThan(resyncs[0] as number);
    expect(fixedAt).toBeLessThan(resyncs[1] as number);
    expect(await watcher.stop()).toBe(0);
    watcher = undefined;
    host.writePolicy("[filtering]\nOnMissing = enforce\n");
  });

  it("a restored domain (no hook to filter it) gets its running NICs protected", async () => {
    // Without the hook, `restore begin` adds nothing: the watcher's 'Started Restored' pass must.
    const removed = cli(["uninstall", "--policy", host.policy]);
    expect(removed.code, removed.stdout + removed.stderr).toBe(0);
    const name = host.domainName("restored");
    defineDomain(tinyDomainXml({ name, nics: [bridgeNic({ mac: "52:54:00:79:00:05" })] }));
    virsh("start", name);
    const image = `${host.dir}/${name}.save`;
    virsh("save", name, image);
    host.onTearDown(() => rmSync(image, { force: true }));
    watcher = new WatcherProcess(host.dir, host.policy, {}, "restore");
    await watcher.waitForLog(/resync: /);
    virsh("restore", image);
    await waitFor(
      () => {
        const taps = domainTaps(name);
        return (
          liveInterfaces(name).every((n) => n.includes(REF)) && taps.length === 1 && bindingList().some((b) => b.port === taps[0]?.dev && b.filter === FILTER)
        );
      },
      10_000,
      () => `restored ${name} is not protected:\n${watcher?.log()}`,
    );
    expect(compliantConfig(name)).toBe(true);
    expect(await watcher.stop()).toBe(0);
    watcher = undefined;
  });
});

describe.skipIf(!CAN_RUN_PRIVATE)("the watcher when its libvirtd is killed and started again (a private daemon)", () => {
  let daemon: PrivateDaemon | undefined;

  beforeAll(() => {
    daemon = startPrivateDaemon("restart");
  });
  afterEach(async () => {
    await stopAll();
  });
  afterAll(async () => {
    // A failed case leaves no watcher, daemon or directory behind; the daemon goes by its pid.
    await stopAll();
    daemon?.stop(true);
  });

  it("libvirtd killed and started again: the watcher reconnects, resyncs and fixes what appeared meanwhile", async () => {
    const d = daemon as PrivateDaemon;
    const systemPid = systemLibvirtd();
    writeFileSync(d.policy, "[filtering]\nOnMissing = enforce\n");
    const statusFile = join(d.dir, "watch.json");
    // The watcher as an admin runs it for this daemon: its URI, its libvirt directories as seen from outside.
    const env = d.outsideEnv;
    const watcher = new WatcherProcess(d.dir, d.policy, env, "restart", ["-c", d.uri, "--status-file", statusFile]);
    const state = () => (JSON.parse(readFileSync(statusFile, "utf8")) as { state: string }).state;
    await watcher.waitForLog(/resync: /);
    expect(watcher.lines(/libvirt: connected to /)).toEqual([expect.stringContaining(`libvirt: connected to ${d.uri} `)]);

    const stopped = d.stopLibvirtd();
    await watcher.waitForLog(/error: libvirt: .*reconnecting/, 15_000);
    await waitFor(
      () => state() === "connecting",
      5_000,
      () => `status ${state()} while libvirtd is down`,
    );
    // A definition that libvirtd finds when it starts: the watcher was not connected to see it come.
    const name = "nwfh-e2e-restart-while-down";
    const xml = tinyDomainXml({ name, nics: [bridgeNic({ mac: "52:54:00:79:00:02" })] }).replace("<memory", `<uuid>${randomUUID()}</uuid>\n  <memory`);
    writeFileSync(join(d.qemuConfigDir, `${name}.xml`), xml, { mode: 0o600 });

    d.startLibvirtd();
    expect(d.pid).not.toBe(stopped);
    await watcher.waitForLog(/libvirt: connected to /, 60_000, 2);
    const interfaces = () => d.virsh("dumpxml", "--inactive", name).match(/<interface[\s\S]*?<\/interface>/g) ?? [];
    await waitFor(
      () => interfaces().length === 1 && interfaces().every((n) => n.includes(REF)),
      20_000,
      () => `not fixed after the reconnect:\n${watcher.log()}`,
    );
    // The fix is the resync's after the reconnect (its line comes before that resync's summary),
    // and the watcher is the same process throughout.
    await watcher.waitForLog(/resync: /, 10_000, 2);
    const log = watcher.log().split("\n");
    const connectedAt = log.flatMap((l, i) => (l.includes(`libvirt: connected to ${d.uri} `) ? [i] : []));
    const resyncs = log.flatMap((l, i) => (/resync: /.test(l) ? [i] : []));
    const fixedAt = log.findIndex((l) => l.includes(`${name}: definition: added filter '${FILTER}'`));
    expect(connectedAt).toHaveLength(2);
    expect(fixedAt).toBeGreaterThan(connectedAt[1] as number);
    expect(fixedAt).toBeLessThan(resyncs[1] as number);
    await waitFor(
      () => state() === "watching",
      10_000,
      () => `status still ${state()}`,
    );
    expect(watcher.child.exitCode).toBeNull();
    expect(await watcher.stop()).toBe(0);
    // The system daemon, where there is one, was not touched.
    if (systemPid !== undefined) expect(systemLibvirtd()).toBe(systemPid);
  });
});

/** The system libvirtd's pid while it runs, from its pid file. */
function systemLibvirtd(): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync("/run/libvirtd.pid", "utf8").trim(), 10);
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "libvirtd" ? pid : undefined;
  } catch {
    return undefined;
  }
}
