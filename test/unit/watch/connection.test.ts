// The watcher's connection (src/watch/connection.ts) on a fake clock: it retries every second
// while within the grace, then backs off to 30 s; it keeps waitingSince from the start of the wait
// until a resync after connecting covers every domain.
import { describe, expect, it } from "vitest";
import { Connection } from "../../../src/watch/connection.js";
import { fakeClock } from "./support/fake-clock.js";

function setup(graceMs = 120_000) {
  const { clock, advance } = fakeClock(1_000_000);
  const attempts: number[] = [];
  const failures: Array<{ why: unknown; first: boolean }> = [];
  const connected: string[] = [];
  let up = false;
  const connection = new Connection({
    clock,
    graceMs,
    attempt: () => {
      attempts.push(clock.now());
      return up ? Promise.resolve("9.0.0") : Promise.reject(new Error("daemon down"));
    },
    connected: (v) => connected.push(v),
    failed: (why, first) => failures.push({ why, first }),
    changed: () => {},
  });
  return { connection, clock, advance, attempts, failures, connected, setUp: (v: boolean) => (up = v) };
}

describe("Connection", () => {
  it("connects at once when the daemon answers", async () => {
    const t = setup();
    t.setUp(true);
    t.connection.start();
    await t.advance(0);
    expect(t.connection.state).toBe("watching");
    expect(t.connected).toEqual(["9.0.0"]);
    expect(t.connection.waitingSince).toBe(1_000_000);
  });

  it("retries every second within the grace, then with a delay that doubles up to 30 s", async () => {
    const t = setup(10_000);
    t.connection.start();
    await t.advance(120_000);
    const gaps = t.attempts.slice(1).map((at, i) => at - (t.attempts[i] as number));
    expect(gaps.slice(0, 9)).toEqual([1_000, 1_000, 1_000, 1_000, 1_000, 1_000, 1_000, 1_000, 1_000]);
    // From the attempt that finds the grace over: 2, 4, 8, 16, 30, 30 ... s.
    expect(gaps.slice(10, 16)).toEqual([2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    expect(t.failures.map((f) => f.first)).toEqual(t.attempts.map((_, i) => i === 0));
    expect(t.connection.state).toBe("connecting");
  });

  it("after a loss: connecting again a second later; waitingSince kept until a resync covered every domain", async () => {
    const t = setup();
    t.setUp(true);
    t.connection.start();
    await t.advance(0);
    const first = t.connection.waitingSince;
    t.connection.lost();
    expect(t.connection.state).toBe("connecting");
    // Not covered since the first connect: the grace still runs from the first wait.
    expect(t.connection.waitingSince).toBe(first);
    await t.advance(1_000);
    expect(t.connection.state).toBe("watching");
    t.connection.covered();
    expect(t.connection.waitingSince).toBeNull();
    await t.advance(60_000);
    t.connection.lost();
    expect(t.connection.waitingSince).toBe(t.clock.now());
  });

  it("lost() while connecting and stop() change nothing more; no attempt after stop()", async () => {
    const t = setup();
    t.connection.start();
    await t.advance(0);
    t.connection.lost();
    expect(t.connection.state).toBe("connecting");
    t.connection.stop();
    const n = t.attempts.length;
    await t.advance(60_000);
    expect(t.attempts).toHaveLength(n);
    expect(t.connection.state).toBe("stopped");
  });
});
