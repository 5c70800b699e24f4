// Work per domain, keyed by UUID: a hint for a domain that is already waiting is folded into
// that one pass, so an event storm (a host booting 200 VMs fires several events for each) costs
// one pass per domain. One pass runs at a time (passes are asynchronous: the event loop turns
// while one waits for libvirt). A domain whose pass failed is retried later, with a delay that
// doubles up to a ceiling; a new hint for it goes ahead at once (something changed), keeping the
// count of failures.
import { systemClock, type Clock } from "../host/clock.js";

export type QueueClock = Pick<Clock, "now" | "setTimeout" | "clearTimeout">;

export interface QueueOptions<K> {
  /** Does the work for one key; rejects (or resolves false) when it failed. */
  run(key: K): Promise<boolean>;
  /** How long a hint waits for more hints about the same domain before its pass, in ms. */
  settleMs?: number;
  backoffMs?: number;
  maxBackoffMs?: number;
  clock?: QueueClock;
  /** After a failure, with the delay before the retry. */
  onFailure?(key: K, error: unknown, retryInMs: number): void;
}

interface Entry {
  /** When the pass may run. */
  due: number;
  failures: number;
  /** Waiting to run (false while only a retry delay is remembered). */
  pending: boolean;
}

export class ReconcileQueue<K> {
  private readonly entries = new Map<K, Entry>();
  private timer: unknown;
  private timerDue = Infinity;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly clock: QueueClock;
  private readonly settle: number;
  private readonly backoff: number;
  private readonly maxBackoff: number;

  constructor(private readonly options: QueueOptions<K>) {
    this.clock = options.clock ?? systemClock;
    this.settle = options.settleMs ?? 10;
    this.backoff = options.backoffMs ?? 1_000;
    this.maxBackoff = options.maxBackoffMs ?? 300_000;
  }

  /** Asks for a pass over `key` soon. */
  hint(key: K): void {
    if (this.stopped) return;
    const e = this.entries.get(key);
    const due = this.clock.now() + this.settle;
    if (e === undefined) this.entries.set(key, { due, failures: 0, pending: true });
    else {
      // A new hint goes ahead of a retry delay: something changed.
      e.due = e.pending ? Math.min(e.due, due) : due;
      e.pending = true;
    }
    this.arm();
  }

  /** Forgets a key (its domain is gone). */
  drop(key: K): void {
    this.entries.delete(key);
  }

  get size(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.pending) n++;
    return n;
  }

  /** No passes after the one running now; resolves when that one has ended. */
  stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    return this.running ?? Promise.resolve();
  }

  /** Whether a pass runs now. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Resolves once no pass runs (at once when none does). */
  idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  private arm(): void {
    if (this.stopped || this.running) return;
    let next = Infinity;
    for (const e of this.entries.values()) if (e.pending && e.due < next) next = e.due;
    if (next === Infinity) return;
    if (this.timer !== undefined) {
      if (this.timerDue <= next) return;
      this.clock.clearTimeout(this.timer);
    }
    this.timerDue = next;
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.timerDue = Infinity;
        this.running = this.drain().finally(() => {
          this.running = undefined;
          this.arm();
        });
      },
      Math.max(0, next - this.clock.now()),
    );
  }

  /** Runs one due pass; the next is armed once it has ended. */
  private async drain(): Promise<void> {
    if (this.stopped) return;
    const now = this.clock.now();
    let key: K | undefined;
    let entry: Entry | undefined;
    for (const [k, e] of this.entries) {
      if (e.pending && e.due <= now && (entry === undefined || e.due < entry.due)) {
        key = k;
        entry = e;
      }
    }
    if (entry === undefined || key === undefined) return;
    entry.pending = false;
    let ok = false;
    let failure: unknown;
    try {
      ok = await this.options.run(key);
    } catch (error) {
      failure = error;
    }
    if (ok) {
      // A hint that came in during the pass keeps its entry pending; otherwise it is done.
      if (!entry.pending) this.entries.delete(key);
      else entry.failures = 0;
    } else {
      entry.failures++;
      const delay = Math.min(this.backoff * 2 ** (entry.failures - 1), this.maxBackoff);
      if (!entry.pending) {
        entry.pending = true;
        entry.due = this.clock.now() + delay;
      }
      this.options.onFailure?.(key, failure, delay);
    }
  }
}
