// systemd's service notifications (sd_notify(3)): READY=1 once the watcher runs, WATCHDOG=1 from
// its heartbeat timer (so only while its event loop turns: systemd kills and restarts it when they
// stop for WatchdogSec=), STOPPING=1 as it stops. Node's dgram cannot send to a unix socket, so
// each message goes through systemd's own client, `systemd-notify`: run by root it sends with the
// watcher's pid as sender, and it waits until systemd has read the message (without that wait
// systemd may no longer tell whose message it was once systemd-notify has exited). Nothing is
// sent, and nothing is started, when NOTIFY_SOCKET is unset: not run by systemd as Type=notify.
import type { ChildHandle, ProcessSpawner } from "./processes.js";

export interface Notifier {
  /** Whether messages go anywhere. */
  readonly enabled: boolean;
  ready(status: string): void;
  watchdog(): void;
  stopping(): void;
}

export const ENV_NOTIFY_SOCKET = "NOTIFY_SOCKET";

export const silentNotifier: Notifier = { enabled: false, ready: () => {}, watchdog: () => {}, stopping: () => {} };

/** One systemd-notify at a time; a WATCHDOG=1 that finds one still running is dropped (the next heartbeat sends another). */
export function systemdNotifier(env: NodeJS.ProcessEnv, spawner: ProcessSpawner, warn: (message: string) => void, binary = "systemd-notify"): Notifier {
  if (!env[ENV_NOTIFY_SOCKET]) return silentNotifier;
  let running: ChildHandle | undefined;
  let waiting: string[] = [];
  let warned = false;
  const warnOnce = (message: string) => {
    if (warned) return;
    warned = true;
    warn(message);
  };
  const send = (assignments: readonly string[], droppable: boolean) => {
    if (running?.running) {
      if (!droppable) waiting.push(...assignments);
      return;
    }
    running = spawner.spawn(binary, assignments, env, {
      exit: (code, signal) => {
        if (code !== 0) warnOnce(`'${binary} ${assignments.join(" ")}' failed (exit ${signal ?? code}): systemd may not hear from the watcher`);
        running = undefined;
        const next = waiting;
        waiting = [];
        if (next.length > 0) send(next, false);
      },
      error: (error) => {
        running = undefined;
        warnOnce(`cannot run ${binary} (${error.code ?? error.message}): systemd does not hear from the watcher`);
      },
    });
  };
  return {
    enabled: true,
    ready: (status) => send(["READY=1", `STATUS=${status}`], false),
    watchdog: () => send(["WATCHDOG=1"], true),
    stopping: () => send(["STOPPING=1"], false),
  };
}
