// Names to UUIDs (src/watch/name-lookup.ts): the names of one turn of the event loop are looked
// up together once, by one listing or by one domuuid per name, whichever costs less; a name that
// names nothing by then is dropped; renames and reused names end at the domain that has the
// name at lookup time; names virsh would read as an ID or a UUID are matched only in a listing.
import { describe, expect, it } from "vitest";
import { DOMAINS_PER_NAME, NameLookup, ambiguousForVirsh, type LookupReport } from "../../../src/watch/name-lookup.js";

const U = (n: number) => `00000000-0000-4000-8000-${n.toString().padStart(12, "0")}`;

interface FakeDomain {
  uuid: string;
  name: string;
  /** Running domains have an ID. */
  id?: number;
}

/** virsh's domain lookup (virshLookupDomainBy): an ID, then a UUID, then a name. */
function virshLookup(domains: readonly FakeDomain[], ref: string): FakeDomain | undefined {
  if (/^\s*[+-]?\d+$/.test(ref) && Number(ref) >= 0) {
    const byId = domains.find((d) => d.id === Number(ref));
    if (byId) return byId;
  }
  if (ref.length === 36) {
    const byUuid = domains.find((d) => d.uuid === ref.toLowerCase());
    if (byUuid) return byUuid;
  }
  return domains.find((d) => d.name === ref);
}

/** A lookup whose deferred turn runs when the test says, over domains the test changes. */
function setup(initial: FakeDomain[] = []) {
  let domains = initial;
  let deferred: Array<() => void> = [];
  const found: string[] = [];
  const failures: Array<{ error: unknown; names: readonly string[] }> = [];
  const reports: LookupReport[] = [];
  const calls: string[] = [];
  let failNext: Error | undefined;
  const failing = () => {
    const e = failNext;
    failNext = undefined;
    if (e) throw e;
  };
  const lookup = new NameLookup({
    list: async () => {
      await Promise.resolve();
      calls.push("list");
      failing();
      return domains.map(({ uuid, name }) => ({ uuid, name }));
    },
    uuidOf: async (name) => {
      await Promise.resolve();
      calls.push(`domuuid ${name}`);
      failing();
      return virshLookup(domains, name)?.uuid;
    },
    found: (uuid) => found.push(uuid),
    failed: (error, names) => failures.push({ error, names }),
    report: (r) => reports.push(r),
    defer: (fn) => {
      deferred.push(fn);
      return () => (deferred = deferred.filter((f) => f !== fn));
    },
  });
  /** The end of this turn's I/O: what was deferred runs, and its (asynchronous) lookup ends. */
  const turn = async () => {
    const now = deferred;
    deferred = [];
    for (const fn of now) fn();
    await new Promise((r) => setImmediate(r));
  };
  return {
    lookup,
    turn,
    found,
    failures,
    reports,
    calls,
    scheduled: () => deferred.length,
    set: (d: FakeDomain[]) => (domains = d),
    failOnce: (e: Error) => (failNext = e),
  };
}

/** A host count that makes the lookup list, and one that makes it ask domuuid (for 1-3 names). */
const BOTH_WAYS = [
  ["by a listing", 1],
  ["by domuuid", 1000],
] as const;

const many = (n: number, from = 0): FakeDomain[] => Array.from({ length: n }, (_, i) => ({ uuid: U(from + i), name: `vm${from + i}` }));

describe("NameLookup", () => {
  it("a burst of hints in one turn costs one listing, whatever the number of events", async () => {
    const domains = many(50);
    const t = setup(domains);
    t.lookup.counted(50);
    // Each definition fires 'Defined Added', its file changes twice, the watcher's own define
    // fires 'Defined Updated': four hints per domain.
    for (let round = 0; round < 4; round++) for (const d of domains) t.lookup.add(d.name);
    expect(t.calls).toEqual([]);
    expect(t.scheduled()).toBe(1);
    await t.turn();
    expect(t.calls).toEqual(["list"]);
    expect(t.found.sort()).toEqual(domains.map((d) => d.uuid).sort());
    expect(t.reports).toEqual([{ hints: 200, names: 50, found: 50, by: "listing" }]);
  });

  it("few names on a host of many domains: one domuuid per name, however many hints named them", async () => {
    const t = setup(many(1000));
    t.lookup.counted(1000);
    for (let i = 0; i < 10; i++) t.lookup.add("vm7");
    t.lookup.add("vm8");
    await t.turn();
    expect(t.calls).toEqual(["domuuid vm7", "domuuid vm8"]);
    expect(t.found).toEqual([U(7), U(8)]);
    expect(t.reports).toEqual([{ hints: 11, names: 2, found: 2, by: "domuuid" }]);
  });

  it("chooses by the count of domains: unknown at first (a listing), then as the last listing or resync found it", async () => {
    const t = setup(many(100));
    t.lookup.add("vm1");
    await t.turn();
    expect(t.calls).toEqual(["list"]);
    t.calls.length = 0;
    const names = (n: number) => Array.from({ length: n }, (_, i) => `vm${i}`);
    for (const n of names(100 / DOMAINS_PER_NAME - 1)) t.lookup.add(n);
    await t.turn();
    expect(t.calls.every((c) => c.startsWith("domuuid "))).toBe(true);
    t.calls.length = 0;
    for (const n of names(100 / DOMAINS_PER_NAME)) t.lookup.add(n);
    await t.turn();
    expect(t.calls).toEqual(["list"]);
    t.calls.length = 0;
    t.lookup.counted(10_000);
    for (const n of names(100 / DOMAINS_PER_NAME)) t.lookup.add(n);
    await t.turn();
    expect(t.calls).toHaveLength(100 / DOMAINS_PER_NAME);
  });

  it("each turn with hints gets its own lookup, and a turn without hints none", async () => {
    const t = setup(many(2));
    t.lookup.add("vm0");
    await t.turn();
    await t.turn();
    t.lookup.add("vm1");
    t.lookup.add("vm0");
    await t.turn();
    expect(t.calls).toEqual(["list", "list"]);
    expect(t.found).toEqual([U(0), U(0), U(1)]);
  });

  it.each(BOTH_WAYS)("a name that names nothing by the time of the lookup is dropped (%s)", async (_, count) => {
    const t = setup(many(3));
    t.lookup.counted(count);
    t.lookup.add("vm1");
    t.lookup.add("undefined meanwhile");
    await t.turn();
    expect(t.found).toEqual([U(1)]);
    expect(t.reports).toMatchObject([{ hints: 2, names: 2, found: 1 }]);
    expect(t.failures).toEqual([]);
  });

  it.each(BOTH_WAYS)(
    "a rename: the old name is dropped, the new one finds the same domain; a name reused meanwhile finds its new owner (%s)",
    async (_, count) => {
      const t = setup([{ uuid: U(7), name: "old" }]);
      t.lookup.counted(count);
      t.lookup.add("old"); // 'Undefined Renamed' is no hint, but the old file's removal is
      t.set([{ uuid: U(7), name: "new" }]);
      t.lookup.add("new"); // 'Defined Renamed'
      await t.turn();
      expect(t.found).toEqual([U(7)]);
      // 'web' renamed to 'web-old' and a new 'web' defined, all before the turn ended.
      t.set([
        { uuid: U(2), name: "web" },
        { uuid: U(1), name: "web-old" },
      ]);
      t.found.length = 0;
      t.lookup.add("web");
      t.lookup.add("web-old");
      t.lookup.add("web");
      await t.turn();
      expect(t.found.sort()).toEqual([U(1), U(2)]);
    },
  );

  it("a name virsh would read as an ID or a UUID is matched in a listing, never handed to domuuid", async () => {
    const uuidName = U(99);
    const domains: FakeDomain[] = [
      { uuid: U(1), name: "web", id: 5 },
      { uuid: U(2), name: "5" },
      { uuid: U(3), name: uuidName },
      { uuid: U(99), name: "other" },
      ...many(996, 100),
    ];
    for (const [name, uuid] of [
      ["5", U(2)],
      [" 5", undefined],
      [uuidName, U(3)],
    ] as const) {
      const t = setup(domains);
      t.lookup.counted(domains.length);
      t.lookup.add(name);
      await t.turn();
      expect(t.calls).toEqual(["list"]);
      expect(t.found).toEqual(uuid === undefined ? [] : [uuid]);
    }
    // What domuuid would have found instead:
    expect(virshLookup(domains, "5")?.uuid).toBe(U(1));
    expect(virshLookup(domains, uuidName)?.uuid).toBe(U(99));
  });

  it("names are matched exactly: spaces at either end, quotes, ': '", async () => {
    const odd = [" lead'q\": x", "sp ace  ", "sp ace"];
    for (const count of [1, 1000]) {
      const t = setup(odd.map((name, i) => ({ uuid: U(i), name })));
      t.lookup.counted(count);
      t.lookup.add("sp ace  ");
      t.lookup.add(" lead'q\": x");
      await t.turn();
      expect(t.found.sort()).toEqual([U(0), U(1)]);
    }
  });

  it.each(BOTH_WAYS)("when the lookup %s fails, the turn's names are dropped and named, and the next turn looks up again", async (_, count) => {
    const t = setup(many(2));
    t.lookup.counted(count);
    const error = new Error("the virsh session ended unexpectedly");
    t.failOnce(error);
    t.lookup.add("vm0");
    t.lookup.add("vm1");
    await t.turn();
    expect(t.failures).toEqual([{ error, names: ["vm0", "vm1"] }]);
    expect(t.found).toEqual([]);
    expect(t.reports).toEqual([]);
    expect(t.lookup.pending).toBe(0);
    t.lookup.add("vm0");
    await t.turn();
    expect(t.found).toEqual([U(0)]);
  });

  it("clear() forgets the collected names and cancels the pending turn", async () => {
    const t = setup(many(1));
    t.lookup.add("vm0");
    t.lookup.clear();
    expect(t.scheduled()).toBe(0);
    await t.turn();
    expect(t.calls).toEqual([]);
    t.lookup.add("vm0");
    await t.turn();
    expect(t.reports).toEqual([{ hints: 1, names: 1, found: 1, by: "listing" }]);
  });

  it("flush() looks up at once and leaves nothing for the turn", async () => {
    const t = setup(many(1));
    t.lookup.add("vm0");
    await t.lookup.flush();
    expect(t.found).toEqual([U(0)]);
    expect(t.scheduled()).toBe(0);
    await t.lookup.flush();
    expect(t.calls).toEqual(["list"]);
  });

  it("by default the lookup waits for the end of the turn's I/O (setImmediate)", async () => {
    let listings = 0;
    const found: string[] = [];
    const lookup = new NameLookup({
      list: () => (listings++, Promise.resolve([{ uuid: U(1), name: "a" }])),
      uuidOf: () => Promise.resolve(undefined),
      found: (u) => found.push(u),
      failed: () => {},
    });
    lookup.add("a");
    lookup.add("a");
    expect(listings).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(listings).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(found).toEqual([U(1)]);
  });

  it("names that come while a lookup is out wait for it, then go in one more lookup", async () => {
    let release: () => void = () => {};
    const calls: string[] = [];
    const found: string[] = [];
    const domains = many(3);
    let deferred: Array<() => void> = [];
    const lookup = new NameLookup({
      list: async () => {
        calls.push("list");
        await new Promise<void>((r) => (release = r));
        return domains;
      },
      uuidOf: () => Promise.reject(new Error("not asked")),
      found: (u) => found.push(u),
      failed: (e) => {
        throw e;
      },
      defer: (fn) => (deferred.push(fn), () => (deferred = deferred.filter((f) => f !== fn))),
    });
    const turn = () => deferred.splice(0).forEach((fn) => fn());
    lookup.add("vm0");
    turn();
    expect(calls).toEqual(["list"]);
    lookup.add("vm1");
    lookup.add("vm2");
    // No second lookup while the first is out.
    turn();
    expect(deferred).toHaveLength(0);
    expect(calls).toEqual(["list"]);
    release();
    await new Promise((r) => setImmediate(r));
    expect(found).toEqual([U(0)]);
    turn();
    expect(calls).toEqual(["list", "list"]);
    release();
    await new Promise((r) => setImmediate(r));
    expect(found).toEqual([U(0), U(1), U(2)]);
  });

  it("clear() while a lookup is out: what it finds is dropped (the resync after the reconnect covers it)", async () => {
    let release: () => void = () => {};
    const found: string[] = [];
    const lookup = new NameLookup({
      list: async () => {
        await new Promise<void>((r) => (release = r));
        return many(1);
      },
      uuidOf: () => Promise.resolve(undefined),
      found: (u) => found.push(u),
      failed: () => {},
      defer: (fn) => (fn(), () => {}),
    });
    lookup.add("vm0");
    lookup.clear();
    release();
    await new Promise((r) => setImmediate(r));
    expect(found).toEqual([]);
  });
});

describe("ambiguousForVirsh", () => {
  it.each([
    ["5", true],
    ["0", true],
    ["-3", true],
    ["+7", true],
    [" 12", true],
    ["12 ", false], // strtol leaves the space: not an ID
    ["web1", false],
    ["1web", false],
    [U(4), true],
    ["x".repeat(36), true],
    ["x".repeat(35), false],
    ["é".repeat(18), true], // 36 bytes in UTF-8, as virsh counts
  ])("%j: %s", (name, ambiguous) => {
    expect(ambiguousForVirsh(name)).toBe(ambiguous);
  });
});
