// The watcher's connection to libvirt, with its backoff. It starts `connecting`: it asks the
// daemon for its version (a call with a deadline, so that a daemon that is stopped or still
// starting its autostart domains, which it does before it lets any client in, costs at most the
// deadline) and tries again a second later, as long as it is within the grace in which the hook
// still lets starts through (WATCH_CONNECT_GRACE_MS); after that with a delay that doubles up to
// 30 s. Once connected it is `watching` until the watcher tells it the connection is lost (a
// probe or a call failed, the event stream ended), and then it connects again. `waitingSince`
// says since when no connection has been followed by a full resync (see WatchStatus).
import type { Clock } from "../host/clock.js";

export type ConnectionState = "connecting" | "watching" | "stopped";

export interface ConnectionOptions {
  clock: Clock;
  /** One attempt: the daemon's version, or a rejection saying why not. */
  attempt(): Promise<string>;
  /** Connected: start following events and resync. */
  connected(version: string): void;
  /** An attempt failed; `first` is true for the first failure of this wait (log it once). */
  failed(why: unknown, first: boolean): void;
  /** The state or waitingSince changed (write the status). */
  changed(): void;
  /** How long a wait still retries every `fastMs`. */
  graceMs: number;
  fastMs?: number;
  maxMs?: number;
}

export class Connection {
  state: ConnectionState = "connecting";
  waitingSince: number | null;
  private timer: unknown;
  private delay: number;
  private failures = 0;
  private attempting = false;
  private readonly fast: number;
  private readonly max: number;

  constructor(private readonly options: ConnectionOptions) {
    this.fast = options.fastMs ?? 1_000;
    this.max = options.maxMs ?? 30_000;
    this.delay = this.fast;
    this.waitingSince = options.clock.now();
  }

  /** Begins connecting (the first attempt at once). */
  start(): void {
    this.schedule(0);
  }

  /** The connection is gone: connect again, soon. */
  lost(): void {
    if (this.state !== "watching") return;
    this.state = "connecting";
    this.waitingSince ??= this.options.clock.now();
    this.failures = 0;
    this.delay = this.fast;
    this.options.changed();
    this.schedule(this.fast);
  }

  /** The resync after connecting has ended: every domain has had a pass; the next wait starts a new grace. */
  covered(): void {
    if (this.state !== "watching" || this.waitingSince === null) return;
    this.waitingSince = null;
    this.options.changed();
  }

  stop(): void {
    this.state = "stopped";
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(ms: number): void {
    if (this.state === "stopped") return;
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      void this.tryOnce();
    }, ms);
  }

  private async tryOnce(): Promise<void> {
    if (this.state !== "connecting" || this.attempting) return;
    this.attempting = true;
    let version: string;
    try {
      version = await this.options.attempt();
    } catch (error) {
      this.attempting = false;
      if (this.state !== "connecting") return;
      this.failures++;
      this.options.failed(error, this.failures === 1);
      const waited = this.options.clock.now() - (this.waitingSince ?? this.options.clock.now());
      // Within the grace the hook lets starts through on the promise of the resync: keep it short.
      this.delay = waited < this.options.graceMs ? this.fast : Math.min(Math.max(this.delay * 2, this.fast), this.max);
      this.options.changed();
      this.schedule(this.delay);
      return;
    }
    this.attempting = false;
    if (this.state !== "connecting") return;
    this.state = "watching";
    this.failures = 0;
    this.delay = this.fast;
    this.options.connected(version);
    this.options.changed();
  }
}
