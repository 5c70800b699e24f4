// The watcher as a system service, for `install`, `uninstall` and `check`: kept out of those
// commands' own modules so that each of them makes one call here.
//   install:   where systemd runs, writes /etc/systemd/system/nwfilter-hook-watch.service from
//              the shipped unit (systemd/) and enables and (re)starts it.
//   uninstall: stops, disables and removes that unit.
//   check:     reads the watcher's status file and says whether it runs, when it last resynced
//              and what it last failed at; a problem only when OnMissing = watch depends on it.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_WATCH_STATUS } from "../core/constants.js";
import { HostError } from "../core/errors.js";
import type { Policy } from "../core/policy.js";
import { judgeWatchStatus, readWatchStatus } from "../host/watch-status.js";
import type { Context } from "./context.js";
import { fsError } from "./errors.js";
import { readIfExists, writeAtomically } from "./hook-file.js";

export const WATCH_UNIT = "nwfilter-hook-watch.service";
const UNIT_DIR = "/etc/systemd/system";
const UNIT_MARKER = "# Installed by 'nwfilter-hook install'";

export function watchStatusPath(ctx: Context): string {
  return ctx.env.NWFILTER_HOOK_WATCH_STATUS || DEFAULT_WATCH_STATUS;
}

function systemdRuns(ctx: Context): boolean {
  return !ctx.env.NWFILTER_HOOK_NO_SYSTEMD && existsSync("/run/systemd/system");
}

function systemctl(args: string[]): void {
  const r = spawnSync("systemctl", args, { encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) throw new HostError(`'systemctl ${args.join(" ")}' failed: ${(r.stderr || r.error?.message || "").trim().split("\n")[0]}`);
}

/** The unit as installed: the shipped one with the absolute command of this Node and CLI. */
export function watchUnitText(ctx: Context): string {
  const shipped = join(ctx.packageRoot, "systemd", WATCH_UNIT);
  let text: string;
  try {
    text = readFileSync(shipped, "utf8");
  } catch (error) {
    throw fsError(error, "read the watcher's unit", shipped);
  }
  const command = `${ctx.execPath} ${join(ctx.bundleDir, "nwfilter-hook")}`;
  return `${UNIT_MARKER}; install again to change it.\n${text.replaceAll("@NWFILTER_HOOK@", command)}`;
}

/** Installs, enables and (re)starts the unit where systemd runs; returns whether anything changed. */
export function installWatchService(ctx: Context, say: (line: string) => void): boolean {
  if (!systemdRuns(ctx)) return false;
  const path = join(UNIT_DIR, WATCH_UNIT);
  const wanted = watchUnitText(ctx);
  const existing = readIfExists(path)?.text;
  if (existing !== undefined && !existing.startsWith(UNIT_MARKER)) {
    say(`watcher ${path}: left alone (not installed by nwfilter-hook)`);
    return false;
  }
  const changed = existing !== wanted;
  if (changed) {
    writeAtomically(path, wanted, 0o644);
    systemctl(["daemon-reload"]);
  }
  systemctl(["enable", WATCH_UNIT]);
  systemctl([changed ? "restart" : "start", WATCH_UNIT]);
  say(`watcher ${WATCH_UNIT}: ${changed ? (existing ? "updated and restarted" : "installed and started") : "unchanged, running"}`);
  return changed;
}

export function uninstallWatchService(ctx: Context, say: (line: string) => void): boolean {
  const path = join(UNIT_DIR, WATCH_UNIT);
  if (!readIfExists(path)?.text.startsWith(UNIT_MARKER)) return false;
  const systemd = systemdRuns(ctx);
  if (systemd) {
    try {
      systemctl(["disable", "--now", WATCH_UNIT]);
    } catch (error) {
      say(`watcher ${WATCH_UNIT}: ${(error as Error).message}`);
    }
  }
  try {
    rmSync(path);
  } catch (error) {
    throw fsError(error, "remove the watcher's unit", path);
  }
  if (systemd) systemctl(["daemon-reload"]);
  say(`watcher ${WATCH_UNIT}: stopped and removed`);
  return true;
}

function when(ms: number, now: number): string {
  return `${new Date(ms).toISOString().replace(/\.\d+Z$/, "Z")} (${Math.max(0, Math.round((now - ms) / 1000))} s ago)`;
}

/** One line about the watcher; returns a problem when OnMissing = watch relies on a watcher that is not healthy. */
export function checkWatcher(ctx: Context, policy: Policy | undefined, say: (line: string) => void): string | undefined {
  const path = watchStatusPath(ctx);
  const now = Date.now();
  const status = readWatchStatus(path);
  const health = judgeWatchStatus(status, now, path);
  const needed = policy?.onMissing === "watch";
  if (!health.healthy) {
    if (needed)
      return `not healthy, and OnMissing = watch refuses starts without it: ${health.detail}; start it (systemctl start ${WATCH_UNIT}, or nwfilter-hook watch)`;
    say(`watcher: not running (${health.detail}; optional unless OnMissing = watch)`);
    return undefined;
  }
  if (typeof status === "string") return undefined;
  const parts = [`running, ${health.detail}`];
  if (status.inFlight) parts.push(`busy with '${status.inFlight.what}' for ${Math.max(0, Math.round((now - status.inFlight.since) / 1000))} s`);
  const r = status.lastResync;
  parts.push(r ? `last resync ${when(r.at, now)}: ${r.domains} domains, ${r.changed} changed, ${r.failed} failed, ${r.ms} ms` : "no resync yet");
  parts.push(status.lastFailure ? `last failure ${when(status.lastFailure.at, now)}: ${status.lastFailure.what}` : "no failure");
  say(`watcher: ok (${parts.join("; ")})`);
  return undefined;
}
