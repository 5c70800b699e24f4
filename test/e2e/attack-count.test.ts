// The attack suite's counting (test/e2e/helpers/attack-count.ts) on frames made up here: what the
// victim's counter prints, the counts per column, and the leak of a continuous run. Needs no
// libvirt; it sits beside the suites whose figures it computes.
import { describe, expect, it } from "vitest";
import { countFrames, leakOf, parseFrames, type Frame, type Kind } from "./helpers/attack-count.js";

const T0 = 1_700_000_000_000;
/** A continuous tick `seq` at T0 + 20 ms * seq: its own frames, and the spoofed kinds given. */
function tick(seq: number, kinds: Kind[], own = true): Frame[] {
  const t = T0 + 20 * seq;
  const frames: Frame[] = own ? [{ phase: "continuous", kind: "own", format: "A", seq, t }] : [];
  return [...frames, ...kinds.map((kind, i) => ({ phase: "continuous" as const, kind, format: "A" as const, seq, t: t + i + 1 }))];
}
const ticks = (from: number, to: number, kinds: Kind[]) => Array.from({ length: to - from }, (_, i) => tick(from + i, kinds)).flat();

describe("parseFrames", () => {
  it("reads the counter's lines, with the receive time in ms", () => {
    expect(parseFrames("ready\nmac mac E 7 1700000000.123456789\ncontrol own A 12 1700000001.000000000\n")).toEqual([
      { phase: "mac", kind: "mac", format: "E", seq: 7, t: 1_700_000_000_123.4568 },
      { phase: "control", kind: "own", format: "A", seq: 12, t: 1_700_000_001_000 },
    ]);
  });

  it.each(["mac mac X 7 1.000000000", "mac spoof E 7 1.000000000", "mac mac E seven 1.000000000", "mac mac E 7 1.5", "error: boom"])(
    "refuses %j rather than miscount",
    (line) => {
      expect(() => parseFrames(`${line}\n`)).toThrow(/the counter printed a line it should not/);
    },
  );
});

describe("countFrames", () => {
  it("counts own frames by phase, spoofed ones by kind, and leaves out the end marker", () => {
    const f = (phase: Frame["phase"], kind: Kind, n: number): Frame[] => Array.from({ length: n }, (_, seq) => ({ phase, kind, format: "E", seq, t: T0 }));
    const frames = [
      ...f("own", "own", 3),
      ...f("mac", "mac", 4),
      ...f("arp-mac", "arp-mac", 5),
      ...f("arp-ip", "arp-ip", 6),
      ...f("control", "own", 2),
      ...f("done", "own", 3),
    ];
    expect(countFrames(frames)).toEqual({ own: 3, control: 2, mac: 4, "arp-mac": 5, "arp-ip": 6 });
  });
});

describe("leakOf", () => {
  const blocked: Kind[] = ["mac", "arp-mac"];
  it.each([
    {
      case: "the filter was there before the first frame",
      frames: ticks(0, 10, ["arp-ip"]),
      want: { leaked: 0, firstDropped: { seq: 0, t: T0 }, windowMs: 0, afterDropped: 0 },
    },
    {
      case: "ticks 3 to 7 leaked, the filter dropped from tick 8 on",
      frames: [...ticks(3, 8, ["mac", "arp-mac", "arp-ip"]), ...ticks(8, 12, ["arp-ip"])],
      want: { leaked: 10, firstDropped: { seq: 8, t: T0 + 160 }, windowMs: 160 - 60 - 1, afterDropped: 0 },
    },
    {
      case: "a tick whose own frame was lost is not taken for a dropped one",
      frames: [...ticks(0, 2, ["mac"]), ...tick(2, [], false), ...ticks(3, 5, [])],
      want: { leaked: 2, firstDropped: { seq: 3, t: T0 + 60 }, windowMs: 60 - 1, afterDropped: 0 },
    },
    {
      case: "never dropped: no window",
      frames: ticks(0, 5, ["mac"]),
      want: { leaked: 5, firstDropped: undefined, windowMs: undefined, afterDropped: 0 },
    },
    {
      case: "a filter that came and went",
      frames: [...ticks(0, 2, ["mac"]), ...ticks(2, 4, []), ...ticks(4, 6, ["arp-mac"])],
      want: { leaked: 4, firstDropped: { seq: 2, t: T0 + 40 }, windowMs: 40 - 1, afterDropped: 2 },
    },
  ])("$case", ({ frames, want }) => {
    expect(leakOf(frames, blocked)).toMatchObject(want);
  });

  it("looks only at the continuous phase", () => {
    const phased: Frame[] = [{ phase: "mac", kind: "mac", format: "E", seq: 0, t: T0 }];
    expect(leakOf(phased, blocked)).toMatchObject({ leaked: 0, firstTick: undefined, firstDropped: undefined, windowMs: undefined });
  });
});
