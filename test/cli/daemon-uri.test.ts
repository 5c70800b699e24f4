// install, uninstall and check work on this host's daemon only: a connection URI that leads to
// another host (or to no system-mode qemu daemon) is refused before anything is written.
import { readdirSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeHarness, type Harness } from "./support/harness.js";

let h: Harness;
beforeEach(() => {
  h = makeHarness();
});
afterEach(() => h.cleanup());

describe.each(["install", "uninstall"])("%s -c URI of another host", (command) => {
  it.each([
    ["qemu+ssh://root@host2/system", "qemu+ssh://root@host2/system reaches a daemon over ssh on host2: run nwfilter-hook on that host"],
    ["qemu:///session", "qemu:///session is not the system-mode qemu driver (qemu:///system): its daemon's hooks are not in a system hooks directory"],
  ])("%s: exit 2, one line, nothing written, no reload", async (uri, why) => {
    const r = await h.run([command, "-c", uri, "--hooks-dir", h.hooksDir]);
    expect(r).toEqual({ code: 2, stdout: "", stderr: `nwfilter-hook: ${command} works on this host's libvirt daemon: ${why}\n` });
    expect(readdirSync(h.hooksDir)).toEqual([]);
    expect(h.reloads).toEqual([]);
  });
});

describe("check -c URI of another host", () => {
  it("fails the daemon check: the hooks it looks at are this host's", async () => {
    await h.run(["install", "--hooks-dir", h.hooksDir]);
    const r = await h.run(["check", "-c", "qemu+tcp://host2/system", "--hooks-dir", h.hooksDir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      "daemon: FAILED: the hooks checked here are this host's, but qemu+tcp://host2/system reaches a daemon over tcp on host2: run nwfilter-hook on that host\n",
    );
  });
});
