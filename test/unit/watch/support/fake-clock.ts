// A clock whose timers fire only when the test advances it (src/host/clock.ts's Clock). Between
// two timers, advance() lets the promises that the last one started settle, so that asynchronous
// work (a pass, a lookup, a probe) runs as far as it can at that moment.
import type { Clock } from "../../../../src/host/clock.js";

interface Timer {
  at: number;
  fn: () => void;
  id: number;
  every?: number;
}

/** Lets every promise that can settle now settle (fakes answer through promises, not I/O), and what they defer with setImmediate. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

export function fakeClock(start = 0) {
  let now = start;
  let timers: Timer[] = [];
  let ids = 0;
  const add = (fn: () => void, ms: number, every?: number) => {
    const id = ++ids;
    timers.push({ at: now + Math.max(0, ms), fn, id, every });
    return id;
  };
  const remove = (id: unknown) => {
    timers = timers.filter((t) => t.id !== id);
  };
  const clock: Clock = {
    now: () => now,
    setTimeout: (fn, ms) => add(fn, ms),
    clearTimeout: remove,
    setInterval: (fn, ms) => add(fn, ms, ms),
    clearInterval: remove,
  };
  /** Moves the clock on by `ms`, firing every timer due on the way, in order. */
  const advance = async (ms: number) => {
    const end = now + ms;
    await settle();
    for (;;) {
      timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = timers[0];
      if (!next || next.at > end) break;
      now = Math.max(now, next.at);
      if (next.every === undefined) timers.shift();
      else next.at += next.every;
      next.fn();
      await settle();
    }
    now = end;
    await settle();
  };
  return { clock, advance, pending: () => timers.length, now: () => now };
}
