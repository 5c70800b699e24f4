// What the watcher is given: its options, its collaborators (each behind an interface in
// src/host/, so that tests bring their own; systemWatcherDeps() wires the real ones: the system
// clock, virsh sessions, Node's process spawner and inotify, systemd's notifications, the status
// file in /run and the policy file), and how it reads a failure.
import { join } from "node:path";
import { NwfilterHookError, formatError } from "../core/errors.js";
import type { HostFacts } from "../core/host-facts.js";
import type { Policy } from "../core/policy.js";
import type { Settings } from "../core/settings.js";
import { systemClock, type Clock } from "../host/clock.js";
import { nodeFileWatcher, type FileWatcher } from "../host/file-watch.js";
import { nodeHostFacts } from "../host/node-host-facts.js";
import { systemdNotifier, type Notifier } from "../host/notify.js";
import { loadPolicy } from "../host/policy-file.js";
import { nodeSpawner, type ProcessSpawner } from "../host/processes.js";
import { LibvirtError, type ProcessVirshOptions, type VirshRunner } from "../host/virsh.js";
import { processVirshSession } from "../host/virsh-session.js";
import { writeWatchStatus, type WatchStatus } from "../host/watch-status.js";
import type { Logger } from "./log.js";

export interface WatcherOptions {
  uri: string;
  policyPath: string;
  policy: Policy;
  settings: Settings;
  statusPath: string;
  /** The shipped filter definition, defined when the policy's filter is the default one. */
  shippedFilter: string;
  /** Where libvirt keeps persistent domain definitions (NAME.xml). */
  configDir: string;
  virshBinary?: string;
  env: NodeJS.ProcessEnv;
  log: Logger;
  /** Tests: hold every define this long after reading the definition (a window for a concurrent change). */
  defineDelayMs?: number;
}

/** What the watcher does to the host, each behind an interface (src/host/), so that tests bring their own. */
export interface WatcherDeps {
  clock: Clock;
  /** A virsh runner for the connection: one session, closed when the connection is lost. */
  runner(options: ProcessVirshOptions): VirshRunner & { close(): void };
  spawner: ProcessSpawner;
  files: FileWatcher;
  notifier: Notifier;
  writeStatus(path: string, status: WatchStatus): void;
  hostFacts(settings: Settings): HostFacts;
  /** Reads the policy again (SIGHUP); throws when it is bad. */
  loadPolicy(path: string): Policy;
  pid: number;
}

/** `NWFILTER_HOOK_WATCH_DEBUG=1`: also log what each lookup of names did. */
export const ENV_WATCH_DEBUG = "NWFILTER_HOOK_WATCH_DEBUG";

/** How far past its deadline a call may be before the watcher counts as stuck (and stops feeding the watchdog). */
export const STUCK_MARGIN_MS = 15_000;
/** How long stop() waits for the pass that runs (systemd's TimeoutStopSec is 30 s). */
export const STOP_WAIT_MS = 20_000;

/** An error as one line: ours as formatted for the user, anything else as it says. */
export function describe(error: unknown): string {
  return error instanceof NwfilterHookError ? formatError(error) : String(error);
}

/** A failure that says the connection is gone or the daemon does not answer: reconnect, then resync. */
export function connectionLost(error: unknown): boolean {
  return error instanceof LibvirtError && (error.kind === "timeout" || error.kind === "daemon-down");
}

export function systemWatcherDeps(env: NodeJS.ProcessEnv, euid: number | undefined, log: Logger): WatcherDeps {
  return {
    clock: systemClock,
    runner: processVirshSession,
    spawner: nodeSpawner,
    files: nodeFileWatcher,
    notifier: systemdNotifier(env, nodeSpawner, (message) => log("warning", message)),
    writeStatus: writeWatchStatus,
    hostFacts: nodeHostFacts,
    loadPolicy: (path) => loadPolicy(path, { euid }),
    pid: process.pid,
  };
}

/** Where libvirt keeps the persistent definitions of the domains that `uri` reaches. */
export function defaultConfigDir(uri: string, env: NodeJS.ProcessEnv): string {
  // qemu:///session keeps its definitions under the user's config directory.
  return /^qemu(\+\w+)?:\/\/[^/]*\/session/.test(uri) ? join(env.HOME ?? "/root", ".config/libvirt/qemu") : "/etc/libvirt/qemu";
}
