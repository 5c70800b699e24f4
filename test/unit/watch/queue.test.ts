// The per-domain queue (src/watch/queue.ts): collapse, one pass at a time, backoff, stop.
import { describe, expect, it } from "vitest";
import { ReconcileQueue } from "../../../src/watch/queue.js";
import { fakeClock } from "./support/fake-clock.js";

const resolved = <T>(value: T) => Promise.resolve(value);

describe("ReconcileQueue", () => {
  it("folds many hints for one domain into one pass, and keeps domains apart", async () => {
    const { clock, advance } = fakeClock();
    const runs: string[] = [];
    const q = new ReconcileQueue<string>({ clock, settleMs: 10, run: (k) => resolved((runs.push(k), true)) });
    for (let i = 0; i < 50; i++) q.hint("a");
    q.hint("b");
    q.hint("a");
    expect(runs).toEqual([]);
    await advance(10);
    expect(runs.sort()).toEqual(["a", "b"]);
    expect(q.size).toBe(0);
    await advance(10_000);
    expect(runs).toHaveLength(2);
  });

  it("a hint that arrives during a pass gets one more pass after it", async () => {
    const { clock, advance } = fakeClock();
    let runs = 0;
    const q: ReconcileQueue<string> = new ReconcileQueue<string>({
      clock,
      settleMs: 0,
      run: () => {
        runs++;
        if (runs === 1) {
          q.hint("a");
          q.hint("a");
        }
        return resolved(true);
      },
    });
    q.hint("a");
    await advance(100);
    expect(runs).toBe(2);
  });

  it("retries a failing domain with a doubling delay up to the ceiling, without stopping the others", async () => {
    const { clock, advance } = fakeClock();
    const at: number[] = [];
    const others: number[] = [];
    const delays: number[] = [];
    const q = new ReconcileQueue<string>({
      clock,
      settleMs: 0,
      backoffMs: 1000,
      maxBackoffMs: 4000,
      onFailure: (_k, _e, ms) => delays.push(ms),
      run: (k) => {
        if (k === "bad") {
          at.push(clock.now());
          return Promise.reject(new Error("virsh failed"));
        }
        others.push(clock.now());
        return resolved(true);
      },
    });
    q.hint("bad");
    q.hint("good");
    await advance(20_000);
    expect(others).toEqual([0]);
    expect(delays.slice(0, 5)).toEqual([1000, 2000, 4000, 4000, 4000]);
    expect(at.slice(0, 4)).toEqual([0, 1000, 3000, 7000]);
  });

  it("a new hint for a failing domain goes ahead of its retry delay", async () => {
    const { clock, advance } = fakeClock();
    const at: number[] = [];
    const q = new ReconcileQueue<string>({ clock, settleMs: 5, backoffMs: 60_000, run: () => resolved((at.push(clock.now()), false)) });
    q.hint("x");
    await advance(10);
    q.hint("x");
    await advance(10);
    expect(at).toEqual([5, 15]);
  });

  it("stop(): no pass after it, and hints are ignored", async () => {
    const { clock, advance, pending } = fakeClock();
    let runs = 0;
    const q = new ReconcileQueue<string>({ clock, run: () => resolved((runs++, true)) });
    q.hint("a");
    void q.stop();
    q.hint("b");
    await advance(1000);
    expect(runs).toBe(0);
    expect(pending()).toBe(0);
  });

  it("one pass at a time: a hint during a slow pass waits for it; stop() resolves once it has ended", async () => {
    const { clock, advance } = fakeClock();
    const log: string[] = [];
    const releases: Array<() => void> = [];
    const q = new ReconcileQueue<string>({
      clock,
      settleMs: 0,
      run: (k) => {
        log.push(`start ${k}`);
        return new Promise((resolve) =>
          releases.push(() => {
            log.push(`end ${k}`);
            resolve(true);
          }),
        );
      },
    });
    q.hint("a");
    await advance(10);
    q.hint("b");
    await advance(1000);
    expect(log).toEqual(["start a"]);
    expect(q.busy).toBe(true);
    releases.shift()?.();
    await advance(10);
    expect(log).toEqual(["start a", "end a", "start b"]);
    let stopped = false;
    void q.stop().then(() => (stopped = true));
    await advance(10);
    expect(stopped).toBe(false);
    releases.shift()?.();
    await advance(10);
    expect(stopped).toBe(true);
    expect(log).toEqual(["start a", "end a", "start b", "end b"]);
  });

  it("drop() forgets a domain", async () => {
    const { clock, advance } = fakeClock();
    let runs = 0;
    const q = new ReconcileQueue<string>({ clock, run: () => resolved((runs++, true)) });
    q.hint("a");
    q.drop("a");
    await advance(1000);
    expect(runs).toBe(0);
  });
});
