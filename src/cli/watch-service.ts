// The watcher as a system service, for `install`, `uninstall` and `check`: kept out of those
// commands' own modules so that each of them makes one call here.
//   install:   where systemd runs, writes /etc/systemd/system/nwfilter-hook-watch.service from
//              the shipped unit (systemd/) and enables and (re)starts it.
//   uninstall: stops, disables and removes that unit.
//   check:     reads the watcher's status file and says whether it runs, when it last resynced
//              and what it last failed at; a problem only when OnMissing = watch depends on it.
import { join } from "node:path";
import { DEFAULT_WATCH_STATUS } from "../core/constants.js";
import { HostError } from "../core/errors.js";
import type { Policy } from "../core/policy.js";
import { judgeWatchStatus, readWatchStatus } from "../host/watch-status.js";
import type { Context } from "./context.js";
import type { Emit, Finding } from "./findings.js";
import { fsError } from "./errors.js";

export const WATCH_UNIT = "nwfilter-hook-watch.service";
const UNIT_DIR = "/etc/systemd/system";
const UNIT_MARKER = "# Installed by 'nwfilter-hook install'";

export function watchStatusPath(ctx: Context): string {
  return ctx.env.NWFILTER_HOOK_WATCH_STATUS || DEFAULT_WATCH_STATUS;
}

function systemdRuns(ctx: Context): boolean {
  return !ctx.env.NWFILTER_HOOK_NO_SYSTEMD && ctx.files.exists("/run/systemd/system");
}

function systemctl(ctx: Context, args: string[]): void {
  const r = ctx.runFile("systemctl", args, { timeoutMs: 60_000 });
  if (r.status !== 0) throw new HostError(`'systemctl ${args.join(" ")}' failed: ${(r.stderr || r.error?.message || "").trim().split("\n")[0]}`);
}

/** The unit as installed: the shipped one with the absolute command of this Node and CLI. */
export function watchUnitText(ctx: Context): string {
  const shipped = join(ctx.packageRoot, "systemd", WATCH_UNIT);
  const text = ctx.files.readText(shipped, "read the watcher's unit");
  const command = `${ctx.execPath} ${join(ctx.bundleDir, "nwfilter-hook")}`;
  return `${UNIT_MARKER}; install again to change it.\n${text.replaceAll("@NWFILTER_HOOK@", command)}`;
}

/** Installs, enables and (re)starts the unit where systemd runs; returns whether anything changed. */
export function installWatchService(ctx: Context, emit: Emit): boolean {
  if (!systemdRuns(ctx)) return false;
  const path = join(UNIT_DIR, WATCH_UNIT);
  const wanted = watchUnitText(ctx);
  const existing = ctx.files.readIfExists(path)?.text;
  if (existing !== undefined && !existing.startsWith(UNIT_MARKER)) {
    emit({ code: "watcher", subject: `watcher ${path}`, status: "info", message: "left alone (not installed by nwfilter-hook)" });
    return false;
  }
  const changed = existing !== wanted;
  if (changed) {
    ctx.files.writeAtomically(path, wanted, 0o644);
    systemctl(ctx, ["daemon-reload"]);
  }
  systemctl(ctx, ["enable", WATCH_UNIT]);
  systemctl(ctx, [changed ? "restart" : "start", WATCH_UNIT]);
  const message = changed ? (existing ? "updated and restarted" : "installed and started") : "unchanged, running";
  emit({ code: "watcher", subject: `watcher ${WATCH_UNIT}`, status: "ok", message, changed });
  return changed;
}

export function uninstallWatchService(ctx: Context, emit: Emit): boolean {
  const path = join(UNIT_DIR, WATCH_UNIT);
  if (!ctx.files.readIfExists(path)?.text.startsWith(UNIT_MARKER)) return false;
  const systemd = systemdRuns(ctx);
  if (systemd) {
    try {
      systemctl(ctx, ["disable", "--now", WATCH_UNIT]);
    } catch (error) {
      emit({ code: "watcher", subject: `watcher ${WATCH_UNIT}`, status: "warning", message: (error as Error).message });
    }
  }
  try {
    ctx.files.remove(path);
  } catch (error) {
    throw fsError(error, "remove the watcher's unit", path);
  }
  if (systemd) systemctl(ctx, ["daemon-reload"]);
  emit({ code: "watcher", subject: `watcher ${WATCH_UNIT}`, status: "ok", message: "stopped and removed", changed: true });
  return true;
}

function when(ms: number, now: number): string {
  return `${new Date(ms).toISOString().replace(/\.\d+Z$/, "Z")} (${Math.max(0, Math.round((now - ms) / 1000))} s ago)`;
}

/** What `check` finds of the watcher: failed only when OnMissing = watch relies on a watcher that is not healthy. */
export function checkWatcher(ctx: Context, policy: Policy | undefined, now: number): Finding {
  const path = watchStatusPath(ctx);
  const read = readWatchStatus(path);
  const health = judgeWatchStatus(read, now, path);
  const watcher = (status: Finding["status"], message: string): Finding => ({ code: "watcher", subject: "watcher", status, message });
  if (!health.healthy || !read.ok) {
    if (policy?.onMissing === "watch")
      return watcher(
        "failed",
        `not healthy, and OnMissing = watch refuses starts without it: ${health.detail}; start it (systemctl start ${WATCH_UNIT}, or nwfilter-hook watch)`,
      );
    return watcher("info", `not running (${health.detail}; optional unless OnMissing = watch)`);
  }
  const { status } = read;
  const parts = [`running, ${health.detail}`];
  if (status.inFlight) parts.push(`busy with '${status.inFlight.what}' for ${Math.max(0, Math.round((now - status.inFlight.since) / 1000))} s`);
  const r = status.lastResync;
  parts.push(r ? `last resync ${when(r.at, now)}: ${r.domains} domains, ${r.changed} changed, ${r.failed} failed, ${r.ms} ms` : "no resync yet");
  parts.push(status.lastFailure ? `last failure ${when(status.lastFailure.at, now)}: ${status.lastFailure.what}` : "no failure");
  return watcher("ok", `ok (${parts.join("; ")})`);
}
