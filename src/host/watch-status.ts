// The watcher's status file under /run/nwfilter-hook/: the watcher rewrites it (atomically) at
// every heartbeat and every change of state; the hook reads it to decide OnMissing=watch, and
// `check` to report the watcher. Reading it is one small file and one kill(pid, 0): no libvirt.
import { readFileSync, renameSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { WATCH_STALE_MS } from "../core/constants.js";
import type { WatcherHealth } from "../core/decide.js";

export type WatchState = "starting" | "watching" | "disconnected" | "stopped";

export interface WatchStatus {
  pid: number;
  state: WatchState;
  /** Milliseconds since the epoch, as everywhere in this file. */
  startedAt: number;
  heartbeat: number;
  uri: string;
  policy: string;
  lastResync: { at: number; domains: number; changed: number; failed: number; ms: number } | null;
  lastFailure: { at: number; what: string } | null;
}

export function writeWatchStatus(path: string, status: WatchStatus): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  const temp = `${path}.tmp-${process.pid}`;
  writeFileSync(temp, `${JSON.stringify(status)}\n`, { mode: 0o644 });
  renameSync(temp, path);
}

/** The status, or why there is none to read. */
export function readWatchStatus(path: string): WatchStatus | string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === "ENOENT" ? `there is no status file ${path}` : `cannot read its status file ${path}: ${code ?? String(error)}`;
  }
  try {
    const s = JSON.parse(text) as WatchStatus;
    if (!Number.isInteger(s.pid) || typeof s.state !== "string" || typeof s.heartbeat !== "number") return `its status file ${path} is not valid`;
    return s;
  } catch {
    return `its status file ${path} is not valid JSON`;
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Healthy: the process named in the file lives, watches libvirt, and was heard from recently. */
export function judgeWatchStatus(status: WatchStatus | string, now: number, path: string): WatcherHealth {
  if (typeof status === "string") return { healthy: false, detail: status };
  const age = Math.round((now - status.heartbeat) / 1000);
  if (status.state === "stopped") return { healthy: false, detail: `it stopped (pid ${status.pid}, ${path})` };
  if (!processExists(status.pid)) return { healthy: false, detail: `its process ${status.pid} is gone (${path})` };
  if (status.state !== "watching") return { healthy: false, detail: `it is ${status.state} (pid ${status.pid})` };
  if (now - status.heartbeat > WATCH_STALE_MS) return { healthy: false, detail: `pid ${status.pid} was last heard from ${age} s ago (stuck?)` };
  return { healthy: true, detail: `pid ${status.pid}, last heard from ${Math.max(age, 0)} s ago` };
}

export function watcherHealth(path: string, now = Date.now()): WatcherHealth {
  return judgeWatchStatus(readWatchStatus(path), now, path);
}
