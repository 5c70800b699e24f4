// Names to UUIDs (src/watch/name-lookup.ts): the names of one turn of the event loop are looked
// up together in one listing; a name that names nothing by then is dropped; renames and reused
// names end at the domain that has the name at lookup time.
import { describe, expect, it } from "vitest";
import type { DomainRef } from "../../../src/host/virsh.js";
import { NameLookup, type LookupReport } from "../../../src/watch/name-lookup.js";

const U = (n: number) => `00000000-0000-4000-8000-${n.toString().padStart(12, "0")}`;

/** A lookup whose deferred turn runs when the test says, over a domain list the test changes. */
function setup(initial: DomainRef[] = []) {
  let domains = initial;
  let deferred: Array<() => void> = [];
  const found: string[] = [];
  const failures: Array<{ error: unknown; names: readonly string[] }> = [];
  const reports: LookupReport[] = [];
  let listings = 0;
  let failNext: Error | undefined;
  const lookup = new NameLookup({
    list: () => {
      listings++;
      if (failNext) {
        const e = failNext;
        failNext = undefined;
        throw e;
      }
      return domains;
    },
    found: (uuid) => found.push(uuid),
    failed: (error, names) => failures.push({ error, names }),
    report: (r) => reports.push(r),
    defer: (fn) => {
      deferred.push(fn);
      return () => (deferred = deferred.filter((f) => f !== fn));
    },
  });
  /** The end of this turn's I/O: what was deferred runs. */
  const turn = () => {
    const now = deferred;
    deferred = [];
    for (const fn of now) fn();
  };
  return {
    lookup,
    turn,
    found,
    failures,
    reports,
    listings: () => listings,
    scheduled: () => deferred.length,
    set: (d: DomainRef[]) => (domains = d),
    failOnce: (e: Error) => (failNext = e),
  };
}

describe("NameLookup", () => {
  it("a burst of hints in one turn costs one listing, whatever the number of events", () => {
    const domains = Array.from({ length: 50 }, (_, i) => ({ uuid: U(i), name: `storm${i}` }));
    const t = setup(domains);
    // Each definition fires 'Defined Added', its file changes twice, the watcher's own define
    // fires 'Defined Updated': four hints per domain.
    for (let round = 0; round < 4; round++) for (const d of domains) t.lookup.add(d.name);
    expect(t.listings()).toBe(0);
    expect(t.scheduled()).toBe(1);
    t.turn();
    expect(t.listings()).toBe(1);
    expect(t.found.sort()).toEqual(domains.map((d) => d.uuid).sort());
    expect(t.reports).toEqual([{ hints: 200, names: 50, found: 50 }]);
  });

  it("each turn with hints gets its own listing, and a turn without hints none", () => {
    const t = setup([
      { uuid: U(1), name: "a" },
      { uuid: U(2), name: "b" },
    ]);
    t.lookup.add("a");
    t.turn();
    t.turn();
    t.lookup.add("b");
    t.lookup.add("a");
    t.turn();
    expect(t.listings()).toBe(2);
    expect(t.found).toEqual([U(1), U(1), U(2)]);
  });

  it("a name that names nothing by the time of the lookup is dropped", () => {
    const t = setup([{ uuid: U(1), name: "kept" }]);
    t.lookup.add("kept");
    t.lookup.add("undefined meanwhile");
    t.turn();
    expect(t.found).toEqual([U(1)]);
    expect(t.reports).toEqual([{ hints: 2, names: 2, found: 1 }]);
    expect(t.failures).toEqual([]);
  });

  it("a rename: the old name is dropped, the new one finds the same domain", () => {
    const t = setup([{ uuid: U(7), name: "old" }]);
    t.lookup.add("old"); // 'Undefined Renamed' is no hint, but the old file's removal is
    t.set([{ uuid: U(7), name: "new" }]);
    t.lookup.add("new"); // 'Defined Renamed'
    t.turn();
    expect(t.found).toEqual([U(7)]);
  });

  it("a name that changed hands before the lookup leads to the domain that has it now, and the renamed one to its new name", () => {
    // 'web' was renamed to 'web-old', and a new 'web' defined, all before the turn ended.
    const t = setup([
      { uuid: U(2), name: "web" },
      { uuid: U(1), name: "web-old" },
    ]);
    t.lookup.add("web");
    t.lookup.add("web-old");
    t.lookup.add("web");
    t.turn();
    expect(t.found.sort()).toEqual([U(1), U(2)]);
  });

  it("names are matched exactly: spaces at either end, quotes, ': '", () => {
    const odd = [" lead'q\": x", "sp ace  ", "sp ace"];
    const t = setup(odd.map((name, i) => ({ uuid: U(i), name })));
    t.lookup.add("sp ace  ");
    t.lookup.add(" lead'q\": x");
    t.turn();
    expect(t.found.sort()).toEqual([U(0), U(1)]);
  });

  it("a listing that fails drops its names, says which, and the next turn looks up again", () => {
    const t = setup([{ uuid: U(1), name: "a" }]);
    t.failOnce(new Error("the virsh session ended unexpectedly"));
    t.lookup.add("a");
    t.lookup.add("b");
    t.turn();
    expect(t.failures).toEqual([{ error: new Error("the virsh session ended unexpectedly"), names: ["a", "b"] }]);
    expect(t.found).toEqual([]);
    expect(t.lookup.pending).toBe(0);
    t.lookup.add("a");
    t.turn();
    expect(t.found).toEqual([U(1)]);
  });

  it("clear() forgets the collected names and cancels the pending turn", () => {
    const t = setup([{ uuid: U(1), name: "a" }]);
    t.lookup.add("a");
    t.lookup.clear();
    expect(t.scheduled()).toBe(0);
    t.turn();
    expect(t.listings()).toBe(0);
    t.lookup.add("a");
    t.turn();
    expect(t.reports).toEqual([{ hints: 1, names: 1, found: 1 }]);
  });

  it("flush() looks up at once and leaves nothing for the turn", () => {
    const t = setup([{ uuid: U(1), name: "a" }]);
    t.lookup.add("a");
    t.lookup.flush();
    expect(t.found).toEqual([U(1)]);
    expect(t.scheduled()).toBe(0);
    t.lookup.flush();
    expect(t.listings()).toBe(1);
  });

  it("by default the lookup waits for the end of the turn's I/O (setImmediate)", async () => {
    let listings = 0;
    const found: string[] = [];
    const lookup = new NameLookup({
      list: () => (listings++, [{ uuid: U(1), name: "a" }]),
      found: (u) => found.push(u),
      failed: () => {},
    });
    lookup.add("a");
    lookup.add("a");
    expect(listings).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(listings).toBe(1);
    expect(found).toEqual([U(1)]);
  });
});
