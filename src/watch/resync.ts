// Keeping count of a full resync: every domain listed at its start is queued, and the resync ends
// when each has had its pass (or turned out gone), with how many changed and how many failed. A
// resync is abandoned when the connection goes: the one after the reconnect starts over.
import type { NicStatus } from "../core/transform.js";
import type { Clock } from "../host/clock.js";
import { countStatuses } from "../host/reconcile.js";

export type NicCounts = Record<NicStatus, number>;

export interface ResyncSummary {
  why: string;
  at: number;
  domains: number;
  changed: number;
  failed: number;
  ms: number;
  /** The NICs of the domains it passed over, by status once done (none of those it failed on). */
  nics: NicCounts;
}

export class ResyncTracker {
  private current: { why: string; started: number; left: Set<string>; changed: number; failed: number; domains: number; nics: NicCounts } | undefined;

  constructor(private readonly clock: Pick<Clock, "now">) {}

  get running(): boolean {
    return this.current !== undefined;
  }

  /** Starts counting these domains; returns the summary at once when there are none. */
  begin(why: string, uuids: Iterable<string>): ResyncSummary | undefined {
    const left = new Set(uuids);
    this.current = { why, started: this.clock.now(), left, changed: 0, failed: 0, domains: left.size, nics: countStatuses([]) };
    return left.size === 0 ? this.finish() : undefined;
  }

  /** A domain's pass ended; returns the summary when it was the last one. */
  done(uuid: string, outcome: { changed: boolean; failed: boolean; nics?: NicCounts }): ResyncSummary | undefined {
    const r = this.current;
    if (!r || !r.left.delete(uuid)) return undefined;
    if (outcome.changed) r.changed++;
    if (outcome.failed) r.failed++;
    if (outcome.nics) for (const [status, n] of Object.entries(outcome.nics) as [NicStatus, number][]) r.nics[status] += n;
    return r.left.size === 0 ? this.finish() : undefined;
  }

  abandon(): void {
    this.current = undefined;
  }

  private finish(): ResyncSummary | undefined {
    const r = this.current;
    if (!r) return undefined;
    this.current = undefined;
    const at = this.clock.now();
    return { why: r.why, at, domains: r.domains, changed: r.changed, failed: r.failed, ms: at - r.started, nics: r.nics };
  }
}
