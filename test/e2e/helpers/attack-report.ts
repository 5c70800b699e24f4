// What each attack case must show, checked the same way for every row of the attack suites, and
// the row of README's table it makes. A case's frames count from the moment the filter was seen
// in place (all of them where it was there before the guest ran): own frames must arrive (or a
// broken run would look like a blocked attack), each blocked kind must read 0 and each kind the
// filter lets through must arrive. Where the filter arrived while the guest sent, what leaked
// before is counted and reported; where the guest ran unprotected first (a source host without
// the hook, a save before the hook), its spoofed frames must have got through then.
import { appendFileSync } from "node:fs";
import { expect } from "vitest";
import { countFrames, leakOf, receivedBefore, receivedFrom, type Counts, type Kind, type Leak } from "./attack-count.js";
import type { AttackRun } from "./attack-paths.js";

export interface Expectation {
  /** Spoofed kinds that must not reach the victim once the filter is in place. */
  blocked: Kind[];
  /** Spoofed kinds that reach it all the same. */
  passes: Kind[];
  /** The guest sent continuously (the filter may arrive while it sends), rather than the five phases. */
  continuous: boolean;
  /** The guest ran unprotected before: its spoofed frames must have reached the victim then. */
  unprotectedBefore?: boolean;
}

export interface CaseResult {
  title: string;
  after: Counts;
  before: Counts;
  leak: Leak | undefined;
  /** From the return of the command that acted (start, hot-plug, restore, migration) to libvirt writing the binding (an upper bound of the rules taking effect), or to the filter seen. */
  protectedMs: number | undefined;
  /** From that return to the first frame the victim heard. */
  firstFrameMs: number | undefined;
}

export function checkRun(title: string, run: AttackRun, want: Expectation): CaseResult {
  const why = () =>
    `${title}: counts after/before the filter: ${JSON.stringify(countFrames(after))} / ${JSON.stringify(countFrames(before))}\nconsole:\n${run.serial.split("\n").slice(-20).join("\n")}`;
  if (want.blocked.length > 0) expect(run.protectedAt, `${title}: the filter was never seen in place`).toBeDefined();
  const after = run.protectedAt === undefined ? run.frames : receivedFrom(run.frames, run.protectedAt);
  const before = run.protectedAt === undefined ? [] : receivedBefore(run.frames, run.protectedAt);
  const a = countFrames(after);
  const b = countFrames(before);

  if (want.continuous) {
    expect(a.own, `own frames after the filter arrived: ${why()}`).toBeGreaterThan(0);
  } else {
    expect(a.own, `own frames (the first phase): ${why()}`).toBeGreaterThan(0);
    expect(a.control, `own frames (the control phase): ${why()}`).toBeGreaterThan(0);
  }
  for (const kind of want.blocked) expect(a[kind], `${kind} frames after the filter arrived: ${why()}`).toBe(0);
  for (const kind of want.passes) expect(a[kind], `${kind} frames (this filter lets them through): ${why()}`).toBeGreaterThan(0);
  if (want.unprotectedBefore) {
    for (const kind of want.blocked) expect(b[kind], `${kind} frames while unprotected: ${why()}`).toBeGreaterThan(0);
    // The same guest went on sending: its ticks after the filter follow those before it.
    const lastBefore = Math.max(...before.map((f) => f.seq));
    const firstAfter = Math.min(...after.map((f) => f.seq));
    expect(firstAfter, `the guest's ticks after the filter continue those before it: ${why()}`).toBeGreaterThan(lastBefore);
  }
  const leak = want.continuous && !want.unprotectedBefore ? leakOf(run.frames, want.blocked) : undefined;
  if (leak !== undefined) expect(leak.afterDropped, `spoofed frames after the first dropped one: ${why()}`).toBe(0);
  const first = run.frames.length > 0 ? Math.min(...run.frames.map((f) => f.t)) : undefined;
  const result: CaseResult = {
    title,
    after: a,
    before: b,
    leak,
    protectedMs: run.protectedAt === undefined ? undefined : Math.round((run.boundAt ?? run.protectedAt) - run.returnedAt),
    firstFrameMs: first === undefined ? undefined : Math.round(first - run.returnedAt),
  };
  report(result);
  return result;
}

/** README's row: own + control, then each spoofed kind; frames that got through before the filter in brackets. */
export function tableRow(r: CaseResult): string {
  const cell = (k: Kind) => (r.before[k] > 0 ? `${r.after[k]} (${r.before[k]} before)` : String(r.after[k]));
  const own = r.after.control > 0 ? `${r.after.own} + ${r.after.control}` : String(r.after.own);
  return `| ${r.title} | ${own} | ${cell("mac")} | ${cell("arp-mac")} | ${cell("arp-ip")} |`;
}

function report(r: CaseResult): void {
  const leak = r.leak
    ? `; leaked ${r.leak.leaked}, window ${r.leak.windowMs ?? "-"} ms, binding written ${r.protectedMs} ms and first frame ${r.firstFrameMs} ms after the command returned`
    : "";
  console.log(`attack: ${tableRow(r)}${leak}`);
  // NWFH_ATTACK_REPORT=FILE collects the rows for README's table.
  const file = process.env.NWFH_ATTACK_REPORT;
  if (file) appendFileSync(file, `${tableRow(r)}${leak ? ` <!--${leak.slice(2)} -->` : ""}\n`);
}
