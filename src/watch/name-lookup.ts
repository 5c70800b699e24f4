// From the names that events and file changes give to the UUIDs that passes are queued by.
// A name can change hands (a rename, an undefine and a define), a UUID cannot, so each name is
// looked up once, as late as possible, and the pass then works on the UUID. A storm (50
// definitions at once, a domain that fires a string of lifecycle and device events) hands over
// the same names many times: the names that arrive in one turn of the event loop are collected
// and looked up together once, after that turn's I/O, however many events named them. Under
// load the batches grow by themselves: while a pass runs, events pile up in the pipe and are
// read in one turn.
//
// One lookup is either one listing of every domain (`virsh list --all --uuid --name`) or one
// `virsh domuuid` per name, whichever costs less. Measured on libvirt 9.0 through the session:
// a listing costs about 0.1 ms plus 13 us per domain (0.75 ms for 50 domains, 13 ms for 1000),
// a domuuid about 0.25 ms, so one name costs what a listing of 20 domains does (a dominfo, as
// the watcher used before, costs 1.5 ms). virsh takes a domuuid argument as an ID first when it
// reads as a number and as a UUID when it has a UUID's length: such names are only matched in a
// listing, which compares names exactly.
//
// A name that names no domain by then is dropped: the domain is gone or was renamed, and the
// rename's own event names the new name. A lookup that fails drops its names too: the resync
// after the reconnect (or the next periodic one) covers them. Lookups are asynchronous and one
// runs at a time: names that come while one is out wait for the next.
import type { DomainRef } from "../host/virsh.js";

/** What one lookup did, for the debug log. */
export interface LookupReport {
  /** Hints handed over since the last lookup (one name may come many times). */
  hints: number;
  /** The distinct names among them, and the UUIDs found for them. */
  names: number;
  found: number;
  /** One listing of every domain, or one domuuid per name. */
  by: "listing" | "domuuid";
}

export interface NameLookupOptions {
  /** Every domain, in one virsh call; rejects when it fails. */
  list(): Promise<readonly DomainRef[]>;
  /** The UUID that `virsh domuuid NAME` gives, undefined for none; rejects when virsh fails. */
  uuidOf(name: string): Promise<string | undefined>;
  /** A domain that a hint named. */
  found(uuid: string): void;
  /** The lookup failed: these names were not looked up. */
  failed(error: unknown, names: readonly string[]): void;
  /** After each lookup. */
  report?(report: LookupReport): void;
  /** Runs fn once, after the I/O of this turn of the event loop; returns how to cancel it. */
  defer?: (fn: () => void) => () => void;
}

/** How many domains a listing covers for the cost of one domuuid. */
export const DOMAINS_PER_NAME = 20;

/** A name that virsh's domain lookup could take for an ID (strtol's syntax) or a UUID. */
export function ambiguousForVirsh(name: string): boolean {
  return /^\s*[+-]?\d+$/.test(name) || Buffer.byteLength(name, "utf8") === 36;
}

const afterIo = (fn: () => void): (() => void) => {
  const handle = setImmediate(fn);
  return () => clearImmediate(handle);
};

export class NameLookup {
  private names = new Set<string>();
  private hints = 0;
  private cancel: (() => void) | undefined;
  private flushing: Promise<void> | undefined;
  /** Raised by clear(): what a lookup that was out then finds is dropped. */
  private generation = 0;
  /** How many domains the host had when last counted; unknown until then (then: a listing). */
  private domains: number | undefined;
  private readonly defer: (fn: () => void) => () => void;

  constructor(private readonly options: NameLookupOptions) {
    this.defer = options.defer ?? afterIo;
  }

  /** A hint that names a domain: it is looked up with the others of this turn. */
  add(name: string): void {
    this.names.add(name);
    this.hints++;
    this.schedule();
  }

  private schedule(): void {
    if (this.flushing || this.cancel) return;
    this.cancel = this.defer(() => {
      this.cancel = undefined;
      void this.flush();
    });
  }

  get pending(): number {
    return this.names.size;
  }

  /** How many domains there are (a resync has just listed them): what a listing would cost. */
  counted(domains: number): void {
    this.domains = domains;
  }

  /** Looks up the names collected so far, hands over the UUIDs it finds; after the lookup that is out, if one is. */
  async flush(): Promise<void> {
    this.cancel?.();
    this.cancel = undefined;
    if (this.flushing) {
      await this.flushing;
      return this.flush();
    }
    if (this.names.size === 0) return;
    const names = this.names;
    const hints = this.hints;
    this.names = new Set();
    this.hints = 0;
    this.flushing = this.lookup(names, hints).finally(() => {
      this.flushing = undefined;
      if (this.names.size > 0) this.schedule();
    });
    return this.flushing;
  }

  private async lookup(names: ReadonlySet<string>, hints: number): Promise<void> {
    const generation = this.generation;
    const byListing = this.domains === undefined || names.size * DOMAINS_PER_NAME >= this.domains || [...names].some(ambiguousForVirsh);
    const uuids = byListing ? await this.byListing(names) : await this.oneByOne(names);
    if (uuids === undefined || generation !== this.generation) return;
    for (const uuid of uuids) this.options.found(uuid);
    this.options.report?.({ hints, names: names.size, found: uuids.length, by: byListing ? "listing" : "domuuid" });
  }

  private async byListing(names: ReadonlySet<string>): Promise<string[] | undefined> {
    let refs: readonly DomainRef[];
    try {
      refs = await this.options.list();
    } catch (error) {
      this.options.failed(error, [...names]);
      return undefined;
    }
    this.domains = refs.length;
    // libvirt keeps names unique: one UUID per name at most.
    return refs.filter((d) => names.has(d.name)).map((d) => d.uuid);
  }

  private async oneByOne(names: ReadonlySet<string>): Promise<string[] | undefined> {
    const uuids: string[] = [];
    for (const name of names) {
      let uuid: string | undefined;
      try {
        uuid = await this.options.uuidOf(name);
      } catch (error) {
        // The connection is likely gone: the resync after the reconnect covers them all.
        this.options.failed(error, [...names]);
        return undefined;
      }
      if (uuid !== undefined) uuids.push(uuid);
    }
    return uuids;
  }

  /** Forgets what is collected (disconnected or stopping: a resync covers it). */
  clear(): void {
    this.generation++;
    this.cancel?.();
    this.cancel = undefined;
    this.names.clear();
    this.hints = 0;
  }
}

/** "domain 'web1'", "3 domains ('a', 'b', 'c')", "12 domains ('a', 'b', 'c', ...)". */
export function namesText(names: readonly string[]): string {
  if (names.length === 1) return `domain '${names[0]}'`;
  const shown = names.slice(0, 3).map((n) => `'${n}'`);
  return `${names.length} domains (${shown.join(", ")}${names.length > 3 ? ", ..." : ""})`;
}

export function lookupText(r: LookupReport): string {
  const by = r.by === "listing" ? "one listing" : `${r.names} domuuid`;
  return `lookup: ${r.hints} hint${r.hints === 1 ? "" : "s"} for ${r.names} name${r.names === 1 ? "" : "s"}, ${by}: ${r.found} found, ${r.names - r.found} gone`;
}
