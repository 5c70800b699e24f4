// The watcher's signs of life: the status file that the hook and `check` read, and the heartbeat
// that keeps it fresh and pings systemd's watchdog.
//
// The heartbeat says whether the watcher is alive, not whether it is idle. Every interval: when
// a virsh call is out and within its deadline, that call is the probe (the watcher is working,
// and the status names the call and since when); when none is, it asks the daemon for its version
// (`version --daemon`, with its own deadline); while it waits to connect, the status alone. Each
// tick also sends WATCHDOG=1, so systemd hears from the watcher exactly as long as its event loop
// turns. A call far past its deadline can only be a bug that left the watcher stuck: then the
// heartbeat stops, the status goes stale (the hook stops trusting it) and systemd's watchdog
// restarts the watcher.
import type { Clock } from "../host/clock.js";
import type { Notifier } from "../host/notify.js";
import type { InFlight } from "../host/virsh.js";
import type { WatchState, WatchStatus } from "../host/watch-status.js";

export interface StatusFileOptions {
  clock: Pick<Clock, "now">;
  path: string;
  write(path: string, status: WatchStatus): void;
  /** A write failed (logged, never fatal: the next heartbeat tries again). */
  failedWrite(error: unknown): void;
  pid: number;
  uri: string;
  policy: string;
}

/** The status as the watcher keeps it; every write refreshes the heartbeat. */
export class StatusFile {
  readonly status: WatchStatus;

  constructor(private readonly options: StatusFileOptions) {
    const now = options.clock.now();
    this.status = {
      pid: options.pid,
      state: "connecting",
      startedAt: now,
      heartbeat: now,
      uri: options.uri,
      policy: options.policy,
      waitingSince: now,
      inFlight: null,
      lastResync: null,
      lastFailure: null,
      fixes: 0,
    };
  }

  write(update: { state?: WatchState; waitingSince?: number | null; inFlight?: InFlight | undefined; policy?: string } = {}): void {
    const s = this.status;
    if (update.state !== undefined) s.state = update.state;
    if (update.waitingSince !== undefined) s.waitingSince = update.waitingSince;
    if (update.policy !== undefined) s.policy = update.policy;
    if ("inFlight" in update) s.inFlight = update.inFlight ? { what: update.inFlight.what, since: update.inFlight.since } : null;
    s.heartbeat = this.options.clock.now();
    try {
      this.options.write(this.options.path, s);
    } catch (error) {
      this.options.failedWrite(error);
    }
  }

  /** What `check` reports as the last failure (written with the next write). */
  failure(what: string): void {
    this.status.lastFailure = { at: this.options.clock.now(), what };
  }
}

export interface HeartbeatOptions {
  clock: Clock;
  intervalMs: number;
  notifier: Notifier;
  /** How far past its deadline a call may be before the watcher counts as stuck. */
  stuckMarginMs: number;
  inFlight(): InFlight | undefined;
  /** Whether the watcher is connected (else it is waiting to connect: nothing to probe). */
  connected(): boolean;
  /** Idle and connected: asks the daemon; resolves with why it failed, or undefined. */
  probe(): Promise<string | undefined>;
  /** A sign of life: write the status (naming the call out, if any). */
  alive(inFlight: InFlight | undefined): void;
  /** The probe failed. */
  lost(why: string): void;
  /** A call overran its deadline by far (said once per call). */
  stuck(call: InFlight): void;
}

export class Heartbeat {
  private timer: unknown;
  private probing = false;
  private stuckOn: InFlight | undefined;

  constructor(private readonly options: HeartbeatOptions) {}

  start(): void {
    this.stop();
    this.timer = this.options.clock.setInterval(() => this.tick(), this.options.intervalMs);
  }

  stop(): void {
    if (this.timer !== undefined) this.options.clock.clearInterval(this.timer);
    this.timer = undefined;
  }

  tick(): void {
    const o = this.options;
    const call = o.inFlight();
    if (call && o.clock.now() - call.since > call.timeoutMs + o.stuckMarginMs) {
      if (this.stuckOn?.since !== call.since || this.stuckOn.what !== call.what) o.stuck(call);
      this.stuckOn = call;
      return;
    }
    this.stuckOn = undefined;
    o.notifier.watchdog();
    if (call || !o.connected()) return o.alive(call);
    if (this.probing) return;
    this.probing = true;
    void o.probe().then((failure) => {
      this.probing = false;
      if (this.timer === undefined) return;
      if (failure !== undefined) o.lost(failure);
      else o.alive(undefined);
    });
  }
}
