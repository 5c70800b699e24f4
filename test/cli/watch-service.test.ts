// The watcher's systemd unit as install writes it (src/cli/watch-service.ts): absolute paths in
// ExecStart, the marker uninstall looks for, the ordering before the libvirt daemons, the
// watchdog and the restart policy; and systemd's own check of it (systemd-analyze verify).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { WATCH_UNIT, watchUnitText } from "../../src/cli/watch-service.js";
import type { Context } from "../../src/cli/context.js";
import { nodeHostFiles } from "../../src/host/host-files.js";
import { REPO_ROOT } from "./support/build.js";

const HAVE_ANALYZE = spawnSync("systemd-analyze", ["--version"]).status === 0;

describe(WATCH_UNIT, () => {
  const ctx = { execPath: process.execPath, bundleDir: `${REPO_ROOT}/dist`, packageRoot: REPO_ROOT, env: {}, files: nodeHostFiles } as unknown as Context;
  const text = watchUnitText(ctx);

  it("runs this Node and this CLI by absolute path, and says who installed it", () => {
    expect(text.split("\n")[0]).toMatch(/^# Installed by 'nwfilter-hook install'/);
    expect(text).toContain(`\nExecStart=${process.execPath} ${REPO_ROOT}/dist/nwfilter-hook watch\n`);
    expect(text).not.toContain("@NWFILTER_HOOK@");
  });

  it("comes before the libvirt daemons (not after them), always restarts, reloads with SIGHUP", () => {
    expect(text).toMatch(/^Before=libvirtd\.service virtqemud\.service$/m);
    expect(text).not.toMatch(/^After=/m);
    expect(text).not.toMatch(/^(Requires|Wants|BindsTo)=/m);
    expect(text).toMatch(/^Restart=always$/m);
    expect(text).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    expect(text).toMatch(/^RuntimeDirectory=nwfilter-hook$/m);
    expect(text).toMatch(/^WantedBy=multi-user\.target$/m);
  });

  it("is Type=notify with a watchdog, and lets systemd-notify (a child) speak for it", () => {
    expect(text).toMatch(/^Type=notify$/m);
    expect(text).toMatch(/^NotifyAccess=all$/m);
    const watchdog = /^WatchdogSec=(\d+)s$/m.exec(text);
    // Several heartbeats (5 s) per period, and well under the time the hook trusts a status (20 s)... plus its grace.
    expect(Number(watchdog?.[1])).toBeGreaterThanOrEqual(15);
    expect(Number(watchdog?.[1])).toBeLessThanOrEqual(60);
  });

  describe.skipIf(!HAVE_ANALYZE && process.env.CI !== "true")("systemd-analyze verify", () => {
    const dir = mkdtempSync(join(tmpdir(), "nwfh-unit-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const verify = (unit: string) => {
      const path = join(dir, WATCH_UNIT);
      writeFileSync(path, unit);
      const r = spawnSync("systemd-analyze", ["verify", "--man=no", path], { encoding: "utf8" });
      return { status: r.status, stderr: r.stderr.split(dir).join("<dir>") };
    };

    it("finds nothing to say about the unit as install writes it", () => {
      expect(verify(text)).toEqual({ status: 0, stderr: "" });
    });

    it("(and does speak up about a unit it cannot read as meant)", () => {
      const broken = verify(text.replace("Type=notify", "Type=notfy").replace("WatchdogSec=30s", "WatchdogSec=30x"));
      expect(broken.stderr).toContain("Failed to parse service type, ignoring: notfy");
      expect(broken.stderr).toContain("Failed to parse sec value, ignoring: 30x");
    });
  });
});
