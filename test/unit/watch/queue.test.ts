// The per-domain queue (src/watch/queue.ts): collapse, one pass at a time, backoff, stop.
import { describe, expect, it } from "vitest";
import { ReconcileQueue, type QueueClock } from "../../../src/watch/queue.js";

/** A clock whose timers fire only when the test advances it. */
function fakeClock() {
  let now = 0;
  let timers: Array<{ at: number; fn: () => void; id: number }> = [];
  let ids = 0;
  const clock: QueueClock = {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = ++ids;
      timers.push({ at: now + ms, fn, id });
      return id;
    },
    clearTimeout: (id) => {
      timers = timers.filter((t) => t.id !== id);
    },
  };
  const advance = (ms: number) => {
    const end = now + ms;
    for (;;) {
      timers.sort((a, b) => a.at - b.at);
      const next = timers[0];
      if (!next || next.at > end) break;
      timers.shift();
      now = Math.max(now, next.at);
      next.fn();
    }
    now = end;
  };
  return { clock, advance, pending: () => timers.length };
}

describe("ReconcileQueue", () => {
  it("folds many hints for one domain into one pass, and keeps domains apart", () => {
    const { clock, advance } = fakeClock();
    const runs: string[] = [];
    const q = new ReconcileQueue<string>({ clock, settleMs: 10, run: (k) => (runs.push(k), true) });
    for (let i = 0; i < 50; i++) q.hint("a");
    q.hint("b");
    q.hint("a");
    expect(runs).toEqual([]);
    advance(10);
    expect(runs.sort()).toEqual(["a", "b"]);
    expect(q.size).toBe(0);
    advance(10_000);
    expect(runs).toHaveLength(2);
  });

  it("a hint that arrives during a pass gets one more pass after it", () => {
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
        return true;
      },
    });
    q.hint("a");
    advance(100);
    expect(runs).toBe(2);
  });

  it("retries a failing domain with a doubling delay up to the ceiling, without stopping the others", () => {
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
          throw new Error("virsh failed");
        }
        others.push(clock.now());
        return true;
      },
    });
    q.hint("bad");
    q.hint("good");
    advance(20_000);
    expect(others).toEqual([0]);
    expect(delays.slice(0, 5)).toEqual([1000, 2000, 4000, 4000, 4000]);
    expect(at.slice(0, 4)).toEqual([0, 1000, 3000, 7000]);
  });

  it("a new hint for a failing domain goes ahead of its retry delay", () => {
    const { clock, advance } = fakeClock();
    const at: number[] = [];
    const q = new ReconcileQueue<string>({ clock, settleMs: 5, backoffMs: 60_000, run: () => (at.push(clock.now()), false) });
    q.hint("x");
    advance(10);
    q.hint("x");
    advance(10);
    expect(at).toEqual([5, 15]);
  });

  it("stop(): no pass after it, and hints are ignored", () => {
    const { clock, advance, pending } = fakeClock();
    let runs = 0;
    const q = new ReconcileQueue<string>({ clock, run: () => (runs++, true) });
    q.hint("a");
    q.stop();
    q.hint("b");
    advance(1000);
    expect(runs).toBe(0);
    expect(pending()).toBe(0);
  });

  it("drop() forgets a domain", () => {
    const { clock, advance } = fakeClock();
    let runs = 0;
    const q = new ReconcileQueue<string>({ clock, run: () => (runs++, true) });
    q.hint("a");
    q.drop("a");
    advance(1000);
    expect(runs).toBe(0);
  });
});
