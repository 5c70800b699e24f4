// judgeWatchStatus (src/host/watch-status.ts): what the hook and `check` conclude from the
// watcher's status file, every branch, and the grace in which a watcher that waits for libvirt
// still covers a start under OnMissing=watch.
import { describe, expect, it } from "vitest";
import { WATCH_CONNECT_GRACE_MS, WATCH_STALE_MS } from "../../../src/core/constants.js";
import { judgeWatchStatus, type WatchStatus } from "../../../src/host/watch-status.js";

const NOW = 1_800_000_000_000;
const PATH = "/run/nwfilter-hook/watch.json";
const status = (over: Partial<WatchStatus>): WatchStatus => ({
  pid: 4242,
  state: "watching",
  startedAt: NOW - 600_000,
  heartbeat: NOW - 2_000,
  uri: "qemu:///system",
  policy: "/etc/nwfilter-hook/policy.ini",
  waitingSince: null,
  inFlight: null,
  lastResync: null,
  lastFailure: null,
  ...over,
});
const living = () => true;
const gone = () => false;

describe("judgeWatchStatus", () => {
  it.each([
    ["no status file", { ok: false as const, why: "there is no status file /x" }, living, { healthy: false, detail: "there is no status file /x" }],
    ["watching, fresh", status({}), living, { healthy: true, detail: "pid 4242, last heard from 2 s ago" }],
    [
      "watching, a call out (the heartbeat is fresh all the same)",
      status({ inFlight: { what: "virsh update-device x --live", since: NOW - 9_000 } }),
      living,
      { healthy: true, detail: "pid 4242, last heard from 2 s ago" },
    ],
    ["stopped", status({ state: "stopped" }), living, { healthy: false, detail: `it stopped (pid 4242, ${PATH})` }],
    ["its process is gone", status({}), gone, { healthy: false, detail: `its process 4242 is gone (${PATH})` }],
    ["stale", status({ heartbeat: NOW - WATCH_STALE_MS - 1_000 }), living, { healthy: false, detail: "pid 4242 was last heard from 21 s ago (stuck?)" }],
    [
      "stale while connecting: staleness first",
      status({ state: "connecting", waitingSince: NOW - 5_000, heartbeat: NOW - 60_000 }),
      living,
      { healthy: false, detail: "pid 4242 was last heard from 60 s ago (stuck?)" },
    ],
    [
      "connecting, within the grace",
      status({ state: "connecting", waitingSince: NOW - 30_000 }),
      living,
      { healthy: true, detail: "pid 4242, waiting 30 s for libvirt (within the 120 s grace: it resyncs every domain once connected)" },
    ],
    [
      "connecting, the grace just over",
      status({ state: "connecting", waitingSince: NOW - WATCH_CONNECT_GRACE_MS }),
      living,
      { healthy: false, detail: "pid 4242 has waited 120 s for libvirt (longer than the 120 s grace)" },
    ],
    [
      "connecting past the grace, with the last failure",
      status({
        state: "connecting",
        waitingSince: NOW - 300_000,
        lastFailure: { at: NOW - 1_000, what: "libvirt: the libvirt daemon did not answer 'virsh version --daemon' within 10 s: is it stopped or hung?" },
      }),
      living,
      {
        healthy: false,
        detail:
          "pid 4242 has waited 300 s for libvirt (longer than the 120 s grace; last failure: libvirt: the libvirt daemon did not answer 'virsh version --daemon' within 10 s: is it stopped or hung?)",
      },
    ],
    [
      "connecting, without waitingSince (an older watcher's file)",
      status({ state: "connecting" }),
      living,
      { healthy: false, detail: "it is connecting (pid 4242)" },
    ],
    ["an unknown state", status({ state: "disconnected" as WatchStatus["state"] }), living, { healthy: false, detail: "it is disconnected (pid 4242)" }],
  ])("%s", (_, s, alive, expected) => {
    expect(judgeWatchStatus("ok" in s ? s : { ok: true, status: s }, NOW, PATH, alive)).toEqual(expected);
  });

  it("the grace runs from waitingSince, not from the start of the process", () => {
    const s = status({ state: "connecting", startedAt: NOW - 3_600_000, waitingSince: NOW - 10_000 });
    expect(judgeWatchStatus({ ok: true, status: s }, NOW, PATH, living).healthy).toBe(true);
    expect(judgeWatchStatus({ ok: true, status: s }, NOW + WATCH_CONNECT_GRACE_MS - 10_001, PATH, living).healthy).toBe(false);
  });

  it("asks whether the pid lives only for a status that is not stopped", () => {
    const asked: number[] = [];
    judgeWatchStatus({ ok: true, status: status({ state: "stopped" }) }, NOW, PATH, (pid) => (asked.push(pid), true));
    judgeWatchStatus({ ok: true, status: status({}) }, NOW, PATH, (pid) => (asked.push(pid), true));
    expect(asked).toEqual([4242]);
  });
});
