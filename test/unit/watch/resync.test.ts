// Resync tracking (src/watch/resync.ts): a resync ends when every domain listed at its start has
// had its pass, with counts and its duration; passes of other domains do not count; abandon().
import { describe, expect, it } from "vitest";
import { ResyncTracker } from "../../../src/watch/resync.js";

const NO_NICS = { compliant: 0, missing: 0, stale: 0, exempt: 0, ineligible: 0, "other-filter": 0 };

describe("ResyncTracker", () => {
  it("ends with the last listed domain, counting changed and failed", () => {
    let now = 100;
    const r = new ResyncTracker({ now: () => now });
    expect(r.begin("connected", ["a", "b", "c"])).toBeUndefined();
    expect(r.running).toBe(true);
    now = 150;
    expect(r.done("a", { changed: true, failed: false })).toBeUndefined();
    expect(r.done("x", { changed: true, failed: false })).toBeUndefined();
    expect(r.done("a", { changed: true, failed: false })).toBeUndefined();
    expect(r.done("b", { changed: false, failed: true })).toBeUndefined();
    now = 400;
    expect(r.done("c", { changed: false, failed: false })).toEqual({ why: "connected", at: 400, domains: 3, changed: 1, failed: 1, ms: 300, nics: NO_NICS });
    expect(r.running).toBe(false);
  });

  it("adds up the NICs of the domains it passed over, by status", () => {
    const r = new ResyncTracker({ now: () => 5 });
    r.begin("periodic", ["a", "b", "c"]);
    r.done("a", { changed: true, failed: false, nics: { ...NO_NICS, compliant: 2, exempt: 1 } });
    r.done("b", { changed: false, failed: true });
    expect(r.done("c", { changed: false, failed: false, nics: { ...NO_NICS, compliant: 1, stale: 1 } })?.nics).toEqual({
      ...NO_NICS,
      compliant: 3,
      exempt: 1,
      stale: 1,
    });
  });

  it("no domains: over at once", () => {
    const r = new ResyncTracker({ now: () => 5 });
    expect(r.begin("periodic", [])).toEqual({ why: "periodic", at: 5, domains: 0, changed: 0, failed: 0, ms: 0, nics: NO_NICS });
  });

  it("abandon(): what comes after counts for nothing", () => {
    const r = new ResyncTracker({ now: () => 5 });
    r.begin("periodic", ["a"]);
    r.abandon();
    expect(r.running).toBe(false);
    expect(r.done("a", { changed: true, failed: false })).toBeUndefined();
  });
});
