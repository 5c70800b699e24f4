// The heartbeat and the status file (src/watch/status.ts) on a fake clock: a call within its
// deadline counts as the probe (the status names it), an idle connection is probed, a failed probe
// is a lost connection, a connecting watcher beats without probing, every tick feeds the watchdog,
// and a call far past its deadline stops both.
import { describe, expect, it } from "vitest";
import type { Notifier } from "../../../src/host/notify.js";
import type { InFlight } from "../../../src/host/virsh.js";
import type { WatchStatus } from "../../../src/host/watch-status.js";
import { Heartbeat, StatusFile } from "../../../src/watch/status.js";
import { fakeClock } from "./support/fake-clock.js";

function setup() {
  const { clock, advance } = fakeClock(0);
  const events: string[] = [];
  const notifier: Notifier = { enabled: true, ready: () => {}, watchdog: () => events.push("watchdog"), stopping: () => {} };
  let call: InFlight | undefined;
  let connected = true;
  let probeAnswer: () => Promise<string | undefined> = () => Promise.resolve(undefined);
  const heartbeat = new Heartbeat({
    clock,
    intervalMs: 5_000,
    notifier,
    stuckMarginMs: 15_000,
    inFlight: () => call,
    connected: () => connected,
    probe: () => (events.push("probe"), probeAnswer()),
    alive: (c) => events.push(c ? `alive (${c.what})` : "alive"),
    lost: (why) => events.push(`lost: ${why}`),
    stuck: (c) => events.push(`stuck: ${c.what}`),
  });
  return {
    heartbeat,
    clock,
    advance,
    events,
    setCall: (c: InFlight | undefined) => (call = c),
    setConnected: (v: boolean) => (connected = v),
    setProbe: (fn: () => Promise<string | undefined>) => (probeAnswer = fn),
  };
}

describe("Heartbeat", () => {
  it("idle and connected: probes every interval, and each answer is a sign of life", async () => {
    const t = setup();
    t.heartbeat.start();
    await t.advance(10_000);
    expect(t.events).toEqual(["watchdog", "probe", "alive", "watchdog", "probe", "alive"]);
  });

  it("a call within its deadline counts as the probe, however long it has been out", async () => {
    const t = setup();
    t.heartbeat.start();
    t.setCall({ what: "virsh update-device web1 --live", since: 0, timeoutMs: 60_000 });
    await t.advance(60_000);
    expect(t.events.filter((e) => e === "probe")).toEqual([]);
    expect(t.events.filter((e) => e === "watchdog")).toHaveLength(12);
    expect(t.events.filter((e) => e === "alive (virsh update-device web1 --live)")).toHaveLength(12);
  });

  it("a failed probe is a lost connection; the watchdog is fed all the same", async () => {
    const t = setup();
    t.setProbe(() => Promise.resolve("the libvirt daemon did not answer 'virsh version --daemon' within 10 s: is it stopped or hung?"));
    t.heartbeat.start();
    await t.advance(5_000);
    expect(t.events).toEqual(["watchdog", "probe", "lost: the libvirt daemon did not answer 'virsh version --daemon' within 10 s: is it stopped or hung?"]);
  });

  it("one probe at a time: a tick that finds the last one still out does not ask again", async () => {
    const t = setup();
    let release: (v: string | undefined) => void = () => {};
    t.setProbe(() => new Promise((r) => (release = r)));
    t.heartbeat.start();
    await t.advance(15_000);
    expect(t.events).toEqual(["watchdog", "probe", "watchdog", "watchdog"]);
    release(undefined);
    await t.advance(0);
    expect(t.events.at(-1)).toBe("alive");
  });

  it("connecting: beats without probing (the connection attempt is the question)", async () => {
    const t = setup();
    t.setConnected(false);
    t.heartbeat.start();
    await t.advance(10_000);
    expect(t.events).toEqual(["watchdog", "alive", "watchdog", "alive"]);
  });

  it("a call far past its deadline: stuck, said once; no watchdog and no beat until it is gone", async () => {
    const t = setup();
    t.heartbeat.start();
    t.setCall({ what: "virsh dumpxml web1", since: 0, timeoutMs: 10_000 });
    await t.advance(40_000);
    expect(t.events).toEqual([
      "watchdog",
      "alive (virsh dumpxml web1)",
      "watchdog",
      "alive (virsh dumpxml web1)",
      "watchdog",
      "alive (virsh dumpxml web1)",
      "watchdog",
      "alive (virsh dumpxml web1)",
      "watchdog",
      "alive (virsh dumpxml web1)",
      "stuck: virsh dumpxml web1",
    ]);
    t.setCall(undefined);
    await t.advance(5_000);
    expect(t.events.slice(-3)).toEqual(["watchdog", "probe", "alive"]);
  });

  it("stop(): no tick after it, and a probe that answers late changes nothing", async () => {
    const t = setup();
    let release: (v: string | undefined) => void = () => {};
    t.setProbe(() => new Promise((r) => (release = r)));
    t.heartbeat.start();
    await t.advance(5_000);
    t.heartbeat.stop();
    release("gone");
    await t.advance(20_000);
    expect(t.events).toEqual(["watchdog", "probe"]);
  });
});

describe("StatusFile", () => {
  it("starts connecting, waiting since its start; each write refreshes the heartbeat and says what is out", () => {
    let now = 1_000;
    const writes: WatchStatus[] = [];
    const s = new StatusFile({
      clock: { now: () => now },
      path: "/run/x.json",
      write: (_p, st) => writes.push(structuredClone(st)),
      failedWrite: () => {},
      pid: 7,
      uri: "qemu:///system",
      policy: "/p.ini",
    });
    s.write();
    now = 6_000;
    s.write({ state: "watching", inFlight: { what: "virsh list", since: 5_500, timeoutMs: 10_000 } });
    now = 7_000;
    s.failure("libvirt: gone");
    s.write({ state: "connecting", waitingSince: 7_000, inFlight: undefined });
    expect(writes).toEqual([
      {
        pid: 7,
        state: "connecting",
        startedAt: 1_000,
        heartbeat: 1_000,
        uri: "qemu:///system",
        policy: "/p.ini",
        waitingSince: 1_000,
        inFlight: null,
        lastResync: null,
        lastFailure: null,
        fixes: 0,
      },
      expect.objectContaining({ state: "watching", heartbeat: 6_000, waitingSince: 1_000, inFlight: { what: "virsh list", since: 5_500 } }),
      expect.objectContaining({
        state: "connecting",
        heartbeat: 7_000,
        waitingSince: 7_000,
        inFlight: null,
        lastFailure: { at: 7_000, what: "libvirt: gone" },
      }),
    ]);
  });

  it("a write that fails is reported, not thrown", () => {
    const failed: unknown[] = [];
    const s = new StatusFile({
      clock: { now: () => 0 },
      path: "/nonexistent/x.json",
      write: () => {
        throw new Error("EROFS");
      },
      failedWrite: (e) => failed.push(e),
      pid: 1,
      uri: "u",
      policy: "p",
    });
    s.write();
    expect(failed).toHaveLength(1);
  });
});
