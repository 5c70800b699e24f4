// The watcher's systemd unit as install writes it (src/cli/watch-service.ts): absolute paths in
// ExecStart, the marker uninstall looks for, and the shipped unit's ordering and restart policy.
import { describe, expect, it } from "vitest";
import { WATCH_UNIT, watchUnitText } from "../../src/cli/watch-service.js";
import type { Context } from "../../src/cli/context.js";
import { REPO_ROOT } from "./support/build.js";

describe(WATCH_UNIT, () => {
  const ctx = { execPath: "/usr/bin/node", bundleDir: `${REPO_ROOT}/dist`, packageRoot: REPO_ROOT, env: {} } as unknown as Context;
  const text = watchUnitText(ctx);

  it("runs this Node and this CLI by absolute path, and says who installed it", () => {
    expect(text.split("\n")[0]).toMatch(/^# Installed by 'nwfilter-hook install'/);
    expect(text).toContain(`\nExecStart=/usr/bin/node ${REPO_ROOT}/dist/nwfilter-hook watch\n`);
    expect(text).not.toContain("@NWFILTER_HOOK@");
  });

  it("comes after the libvirt daemons, restarts on failure, reloads with SIGHUP", () => {
    expect(text).toMatch(/^After=.*libvirtd\.service.*virtqemud\.service/m);
    expect(text).toMatch(/^Restart=on-failure$/m);
    expect(text).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    expect(text).toMatch(/^RuntimeDirectory=nwfilter-hook$/m);
    expect(text).toMatch(/^WantedBy=multi-user\.target$/m);
  });
});
