// The watcher's status file under /run/nwfilter-hook/: the watcher rewrites it (atomically) at
// every heartbeat and every change of state; the hook reads it to decide OnMissing=watch, and
// `check` to report the watcher. Reading it is one small file and one kill(pid, 0): no libvirt.
import { readFileSync, renameSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { WATCH_CONNECT_GRACE_MS, WATCH_STALE_MS } from "../core/constants.js";
import type { WatcherHealth } from "../core/decide.js";

/**
 * connecting: waiting for libvirt (at start, or after losing it), retrying every second or so;
 * watching: connected, following events; stopped: it has exited.
 */
export type WatchState = "connecting" | "watching" | "stopped";

export interface WatchStatus {
  pid: number;
  state: WatchState;
  /** Milliseconds since the epoch, as everywhere in this file. */
  startedAt: number;
  heartbeat: number;
  uri: string;
  policy: string;
  /**
   * Since when it has been without a connection that was followed by a full resync: set when it
   * starts and when it loses libvirt, cleared by the first resync after connecting. A start under
   * OnMissing=watch goes through while it is connecting for less than the grace from this.
   */
  waitingSince: number | null;
  /** The virsh call out at the last heartbeat (a call within its deadline counts as a sign of life). */
  inFlight: { what: string; since: number } | null;
  /** `nics`: the NICs by status once that resync was done with them (absent in older watchers' files). */
  lastResync: { at: number; domains: number; changed: number; failed: number; ms: number; nics?: Record<string, number> } | null;
  lastFailure: { at: number; what: string } | null;
  /** NIC views (definition or running) the watcher gave their filterref since it started. */
  fixes?: number;
}

export function writeWatchStatus(path: string, status: WatchStatus): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  const temp = `${path}.tmp-${process.pid}`;
  writeFileSync(temp, `${JSON.stringify(status)}\n`, { mode: 0o644 });
  renameSync(temp, path);
}

/** The status file as read: the status, or why there is none to read. */
export type WatchStatusRead = { ok: true; status: WatchStatus } | { ok: false; why: string };

/** The status, or why there is none to read. */
export function readWatchStatus(path: string): WatchStatusRead {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { ok: false, why: code === "ENOENT" ? `there is no status file ${path}` : `cannot read its status file ${path}: ${code ?? String(error)}` };
  }
  try {
    const s = JSON.parse(text) as WatchStatus;
    if (!Number.isInteger(s.pid) || typeof s.state !== "string" || typeof s.heartbeat !== "number")
      return { ok: false, why: `its status file ${path} is not valid` };
    return { ok: true, status: s };
  } catch {
    return { ok: false, why: `its status file ${path} is not valid JSON` };
  }
}

export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

const s = (ms: number) => Math.max(0, Math.round(ms / 1000));

/**
 * Healthy: the process named in the file lives, was heard from recently, and either watches
 * libvirt or has been waiting for it for less than the grace (it resyncs every domain once
 * connected, which adds the filter to every running NIC).
 */
export function judgeWatchStatus(read: WatchStatusRead, now: number, path: string, alive: (pid: number) => boolean = processExists): WatcherHealth {
  if (!read.ok) return { healthy: false, detail: read.why };
  const { status } = read;
  const age = s(now - status.heartbeat);
  if (status.state === "stopped") return { healthy: false, detail: `it stopped (pid ${status.pid}, ${path})` };
  if (!alive(status.pid)) return { healthy: false, detail: `its process ${status.pid} is gone (${path})` };
  if (now - status.heartbeat > WATCH_STALE_MS) return { healthy: false, detail: `pid ${status.pid} was last heard from ${age} s ago (stuck?)` };
  if (status.state === "watching") return { healthy: true, detail: `pid ${status.pid}, last heard from ${age} s ago` };
  if (status.state === "connecting" && typeof status.waitingSince === "number") {
    const waited = now - status.waitingSince;
    const grace = `the ${s(WATCH_CONNECT_GRACE_MS)} s grace`;
    if (waited < WATCH_CONNECT_GRACE_MS) {
      return { healthy: true, detail: `pid ${status.pid}, waiting ${s(waited)} s for libvirt (within ${grace}: it resyncs every domain once connected)` };
    }
    const why = status.lastFailure ? `; last failure: ${status.lastFailure.what}` : "";
    return { healthy: false, detail: `pid ${status.pid} has waited ${s(waited)} s for libvirt (longer than ${grace}${why})` };
  }
  return { healthy: false, detail: `it is ${status.state} (pid ${status.pid})` };
}

export function watcherHealth(path: string, now = Date.now()): WatcherHealth {
  return judgeWatchStatus(readWatchStatus(path), now, path);
}
