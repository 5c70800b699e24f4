// The watcher's Prometheus textfile (`watch --metrics-file`) with the real libvirtd: the file
// appears once the watcher runs, says it is up and watching, when it last resynced and the host's
// NICs by status, and counts the NIC it gave the filter; SIGTERM leaves it saying the watcher is down.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2eHost, configInterfaces, FILTER } from "./helpers/cli.js";
import { bridgeNic, defineDomain, requireLibvirt, tinyDomainXml } from "./helpers/libvirt.js";
import { WatcherProcess, saveStatus, stopAll, waitFor } from "./helpers/watcher.js";

const HAVE_LIBVIRT = requireLibvirt();

/** The samples of a textfile, by name with labels. */
function samples(path: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const m = /^(\S+) (\S+)$/.exec(line);
    if (m && !line.startsWith("#")) out.set(m[1] as string, Number(m[2]));
  }
  return out;
}

describe.skipIf(!HAVE_LIBVIRT)("the watcher's metrics file with the real libvirtd", () => {
  let host: E2eHost;
  let watcher: WatcherProcess;
  let file: string;
  const started = Date.now() / 1000;

  beforeAll(async () => {
    host = new E2eHost("metrics");
    const restoreStatus = saveStatus();
    host.onTearDown(() => restoreStatus());
    host.writePolicy("[filtering]\nResyncInterval = 600\n");
    const r = host.install();
    if (r.code !== 0) throw new Error(`install failed:\n${r.stdout}${r.stderr}`);
    file = join(host.dir, "nwfilter-hook.prom");
    watcher = new WatcherProcess(host.dir, host.policy, {}, "watch", ["--metrics-file", file]);
    await watcher.waitForLog(/resync: \d+ domains?: /);
  });
  afterAll(async () => {
    await stopAll();
    host?.tearDown();
  });

  it("is written, 0644, saying the watcher is up and when it resynced", async () => {
    await waitFor(
      () => existsSync(file) && (samples(file).get("nwfilter_hook_last_resync_timestamp_seconds") ?? 0) > 0,
      10_000,
      () => `no metrics file with a resync at ${file}:\n${watcher.log()}`,
    );
    expect(statSync(file).mode & 0o777).toBe(0o644);
    const s = samples(file);
    expect(s.get("nwfilter_hook_watcher_up")).toBe(1);
    expect(s.get('nwfilter_hook_watcher_state{state="watching"}')).toBe(1);
    expect(s.get('nwfilter_hook_watcher_state{state="connecting"}')).toBe(0);
    expect(s.get("nwfilter_hook_last_resync_timestamp_seconds")).toBeGreaterThanOrEqual(Math.floor(started) - 1);
    expect(s.get("nwfilter_hook_last_resync_timestamp_seconds")).toBeLessThanOrEqual(Date.now() / 1000 + 1);
    expect(s.get("nwfilter_hook_errors_total")).toBe(0);
    // The host's NICs by status, as the resync left them: every status has its series.
    for (const status of ["compliant", "missing", "stale", "exempt", "ineligible", "other-filter"]) {
      expect(s.get(`nwfilter_hook_last_resync_nics{status="${status}"}`)).toBeGreaterThanOrEqual(0);
    }
  });

  it("counts the NIC it gave the filter", async () => {
    const before = samples(file).get("nwfilter_hook_fixes_total") ?? NaN;
    const name = host.domainName("fix");
    defineDomain(tinyDomainXml({ name, nics: [bridgeNic({ mac: "52:54:00:77:0e:01" })] }));
    await waitFor(
      () => configInterfaces(name).some((n) => n.includes(`filter='${FILTER}'`)),
      10_000,
      () => `${name} did not get the filter:\n${watcher.log()}`,
    );
    // The next status write (the heartbeat) carries the count.
    await waitFor(
      () => (samples(file).get("nwfilter_hook_fixes_total") ?? 0) >= before + 1,
      15_000,
      () => `the fix was not counted:\n${readFileSync(file, "utf8")}\n${watcher.log()}`,
    );
  });

  it("says the watcher is down once it stopped", async () => {
    expect(await watcher.stop()).toBe(0);
    const s = samples(file);
    expect(s.get("nwfilter_hook_watcher_up")).toBe(0);
    expect(s.get('nwfilter_hook_watcher_state{state="stopped"}')).toBe(1);
  });
});
