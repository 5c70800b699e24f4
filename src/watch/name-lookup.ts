// From the names that events and file changes give to the UUIDs that passes are queued by.
// A name can change hands (a rename, an undefine and a define), a UUID cannot, so each name is
// looked up once, as late as possible, and the pass then works on the UUID. A storm (50
// definitions at once, a domain that fires a string of lifecycle and device events) hands over
// the same names many times: the names that arrive in one turn of the event loop are collected
// and looked up together, after that turn's I/O, in one listing of every domain (one virsh
// call), however many events named them. Under load the batches grow by themselves: while a
// pass runs, events pile up in the pipe and are read in one turn.
//
// A name that names no domain by then is dropped: the domain is gone or was renamed, and the
// rename's own event names the new name. A listing that fails drops its names too: the resync
// after the reconnect (or the next periodic one) covers them.
import type { DomainRef } from "../host/virsh.js";

/** What one lookup did, for the debug log. */
export interface LookupReport {
  /** Hints handed over since the last lookup (one name may come many times). */
  hints: number;
  /** The distinct names among them, and the UUIDs found for them. */
  names: number;
  found: number;
}

export interface NameLookupOptions {
  /** Every domain, as one virsh call lists them; throws when it fails. */
  list(): readonly DomainRef[];
  /** A domain that a hint named. */
  found(uuid: string): void;
  /** The listing failed: these names were not looked up. */
  failed(error: unknown, names: readonly string[]): void;
  /** After each lookup. */
  report?(report: LookupReport): void;
  /** Runs fn once, after the I/O of this turn of the event loop; returns how to cancel it. */
  defer?: (fn: () => void) => () => void;
}

const afterIo = (fn: () => void): (() => void) => {
  const handle = setImmediate(fn);
  return () => clearImmediate(handle);
};

export class NameLookup {
  private names = new Set<string>();
  private hints = 0;
  private cancel: (() => void) | undefined;
  private readonly defer: (fn: () => void) => () => void;

  constructor(private readonly options: NameLookupOptions) {
    this.defer = options.defer ?? afterIo;
  }

  /** A hint that names a domain: it is looked up with the others of this turn. */
  add(name: string): void {
    this.names.add(name);
    this.hints++;
    this.cancel ??= this.defer(() => this.flush());
  }

  get pending(): number {
    return this.names.size;
  }

  /** Looks up the names collected so far (one listing), hands over what it finds. */
  flush(): void {
    this.cancel?.();
    this.cancel = undefined;
    if (this.names.size === 0) return;
    const names = this.names;
    const hints = this.hints;
    this.names = new Set();
    this.hints = 0;
    let refs: readonly DomainRef[];
    try {
      refs = this.options.list();
    } catch (error) {
      this.options.failed(error, [...names]);
      return;
    }
    let found = 0;
    // libvirt keeps names unique: one UUID per name at most.
    for (const d of refs) {
      if (!names.has(d.name)) continue;
      found++;
      this.options.found(d.uuid);
    }
    this.options.report?.({ hints, names: names.size, found });
  }

  /** Forgets what is collected (disconnected or stopping: a resync covers it). */
  clear(): void {
    this.cancel?.();
    this.cancel = undefined;
    this.names.clear();
    this.hints = 0;
  }
}
