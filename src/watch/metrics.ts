// The watcher's state for Prometheus (node_exporter's textfile collector), rendered from the
// status it writes (its state, the last resync with the host's NICs by status, the NICs it fixed)
// and the errors it logged: text exposition format 0.0.4, a HELP and a TYPE line per metric.
// Pure: src/host/metrics-file.ts writes it, at every status write.
import type { WatchState, WatchStatus } from "../host/watch-status.js";
import { STATUSES } from "../host/reconcile.js";
import type { Logger } from "./log.js";

export const WATCH_STATES: readonly WatchState[] = ["connecting", "watching", "stopped"];

export interface MetricsInput {
  status: WatchStatus;
  /** Errors it logged since it started. */
  errors: number;
}

type Sample = [labels: string, value: number];

function metric(name: string, type: "gauge" | "counter", help: string, samples: Sample[]): string {
  const lines = samples.map(([labels, value]) => `${name}${labels} ${Number.isFinite(value) ? String(value) : "NaN"}`);
  return `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${lines.join("\n")}\n`;
}

const seconds = (ms: number) => ms / 1000;

export function renderMetrics({ status, errors }: MetricsInput): string {
  const r = status.lastResync;
  const up = status.state === "stopped" ? 0 : 1;
  return [
    metric("nwfilter_hook_watcher_up", "gauge", "1 while the watcher runs, 0 once it has stopped.", [["", up]]),
    metric(
      "nwfilter_hook_watcher_state",
      "gauge",
      "The watcher's state: 1 for the current one.",
      WATCH_STATES.map((s): Sample => [`{state="${s}"}`, s === status.state ? 1 : 0]),
    ),
    metric("nwfilter_hook_watcher_heartbeat_timestamp_seconds", "gauge", "When the watcher last wrote its status.", [["", seconds(status.heartbeat)]]),
    metric("nwfilter_hook_last_resync_timestamp_seconds", "gauge", "When the last resync of every domain ended; 0 before the first.", [
      ["", r ? seconds(r.at) : 0],
    ]),
    metric("nwfilter_hook_last_resync_duration_seconds", "gauge", "How long the last resync took.", [["", r ? seconds(r.ms) : 0]]),
    metric(
      "nwfilter_hook_last_resync_domains",
      "gauge",
      "Domains in the last resync: all of them, those it changed, those it failed on.",
      (["total", "changed", "failed"] as const).map((k): Sample => [`{outcome="${k}"}`, r ? (k === "total" ? r.domains : r[k]) : 0]),
    ),
    metric(
      "nwfilter_hook_last_resync_nics",
      "gauge",
      "The host's NICs by status once the last resync was done with them (as they run, else as defined); a NIC it fixed counts as compliant.",
      STATUSES.map((k): Sample => [`{status="${k}"}`, r?.nics?.[k] ?? 0]),
    ),
    metric("nwfilter_hook_fixes_total", "counter", "NIC definitions (persistent or live) the watcher gave their filter since it started.", [
      ["", status.fixes ?? 0],
    ]),
    metric("nwfilter_hook_errors_total", "counter", "Errors the watcher logged since it started.", [["", errors]]),
    metric("nwfilter_hook_last_failure_timestamp_seconds", "gauge", "When the watcher last failed at something; 0 if never.", [
      ["", status.lastFailure ? seconds(status.lastFailure.at) : 0],
    ]),
  ].join("");
}

/** The errors counter, kept from what the watcher logs: a line at priority "err". */
export function countingLogger(log: Logger): Logger & { counts(): { errors: number } } {
  let errors = 0;
  const counted = ((priority, message) => {
    if (priority === "err") errors++;
    log(priority, message);
  }) as Logger & { counts(): { errors: number } };
  counted.counts = () => ({ errors });
  return counted;
}
