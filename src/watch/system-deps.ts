// The watcher's collaborators as they run on a host: the system clock, real virsh sessions, Node's
// process spawner and inotify, systemd's notifications, the status file in /run and the policy
// file. Tests build their own WatcherDeps instead.
import { join } from "node:path";
import { systemClock } from "../host/clock.js";
import { nodeFileWatcher } from "../host/file-watch.js";
import { nodeHostFacts } from "../host/node-host-facts.js";
import { systemdNotifier } from "../host/notify.js";
import { loadPolicy } from "../host/policy-file.js";
import { nodeSpawner } from "../host/processes.js";
import { processVirshSession } from "../host/virsh-session.js";
import { writeWatchStatus } from "../host/watch-status.js";
import type { Logger } from "./log.js";
import type { WatcherDeps } from "./watcher.js";

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
