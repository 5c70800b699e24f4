// `check` reports the watcher from its status file (src/cli/watch-service.ts): the call it is busy
// with, and a watcher that waits for libvirt, healthy within the grace and a problem after it
// under OnMissing = watch.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeHarness, type Harness } from "./support/harness.js";

let h: Harness;
beforeEach(() => {
  h = makeHarness();
});
afterEach(() => h.cleanup());

function writeStatus(over: Record<string, unknown>): void {
  const now = Date.now();
  writeFileSync(
    join(h.root, "watch.json"),
    JSON.stringify({
      pid: process.pid,
      state: "watching",
      startedAt: now - 600_000,
      heartbeat: now,
      uri: "qemu:///system",
      policy: h.policyPath,
      waitingSince: null,
      inFlight: null,
      lastResync: null,
      lastFailure: null,
      ...over,
    }),
  );
}

const watcherLine = (stdout: string) => stdout.split("\n").find((l) => l.startsWith("watcher: ")) ?? "";

describe("check and the watcher", () => {
  it("names the call the watcher is busy with", async () => {
    writeStatus({ inFlight: { what: "virsh update-device web1 --live", since: Date.now() - 3_000 } });
    const r = await h.run(["check", "--hooks-dir", h.hooksDir]);
    expect(watcherLine(r.stdout)).toMatch(
      /^watcher: ok \(running, pid \d+, last heard from \d s ago; busy with 'virsh update-device web1 --live' for [3-9] s; no resync yet; no failure\)$/,
    );
  });

  it("OnMissing = watch: a watcher waiting for libvirt within the grace is healthy, after it a problem", async () => {
    writeFileSync(h.policyPath, "[filtering]\nOnMissing = watch\n", { mode: 0o644 });
    const failure = { at: Date.now() - 1_000, what: "libvirt: the libvirt daemon did not answer 'virsh version --daemon' within 10 s: is it stopped or hung?" };
    writeStatus({ state: "connecting", waitingSince: Date.now() - 30_000, lastFailure: failure });
    const within = await h.run(["check", "--hooks-dir", h.hooksDir]);
    expect(watcherLine(within.stdout)).toMatch(
      /^watcher: ok \(running, pid \d+, waiting 3\d s for libvirt \(within the 120 s grace: it resyncs every domain once connected\); no resync yet; last failure .*\)$/,
    );
    writeStatus({ state: "connecting", waitingSince: Date.now() - 130_000, lastFailure: failure });
    const after = await h.run(["check", "--hooks-dir", h.hooksDir]);
    expect(after.code).toBe(1);
    expect(watcherLine(after.stdout)).toMatch(
      /^watcher: FAILED: not healthy, and OnMissing = watch refuses starts without it: pid \d+ has waited 13\d s for libvirt \(longer than the 120 s grace; last failure: libvirt: the libvirt daemon did not answer 'virsh version --daemon' within 10 s: is it stopped or hung\?\); start it/,
    );
  });
});
