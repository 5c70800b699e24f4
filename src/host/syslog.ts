// Logging to syslog. The installed hook's shell line hands Node a pipe (its descriptor in
// NWFILTER_HOOK_LOG_FD) and, once Node has exited, passes what came through it to util-linux's
// `logger --prio-prefix` in the background: the hook never waits for logging, and Node never
// loads child_process, which alone costs more than a prepare call's own work. Run any other
// way, the hook spawns `logger` itself. Best effort by design: a missing logger or syslog never
// blocks the hook or changes its decision.
import { writeSync } from "node:fs";
import { ENV_LOG_FD, PRODUCT } from "../core/constants.js";
import { oneLine } from "../core/errors.js";
import type { Priority } from "../core/decide.js";
import type { Env } from "../core/settings.js";

export type { Priority };

const LEVEL: Record<Priority, number> = { err: 3, warning: 4, notice: 5 };
const FACILITY_DAEMON = 3;

/** A line for `logger --prio-prefix`: `<facility * 8 + level>message`. */
export function prioLine(priority: Priority, message: string): string {
  return `<${FACILITY_DAEMON * 8 + LEVEL[priority]}>${oneLine(message)}\n`;
}

export function syslog(priority: Priority, message: string, env: Env = process.env): void {
  const fd = Number(env[ENV_LOG_FD] ?? "");
  if (Number.isInteger(fd) && fd > 2) {
    try {
      writeSync(fd, prioLine(priority, message));
      return;
    } catch {
      // Not the shell line's pipe after all: log the other way.
    }
  }
  spawnLogger(priority, message);
}

function spawnLogger(priority: Priority, message: string): void {
  // Loaded only here: child_process pulls in streams, net and dgram.
  import("node:child_process").then(
    ({ spawn }) => {
      try {
        const child = spawn("logger", ["-t", PRODUCT, "-p", `daemon.${priority}`, "--", oneLine(message)], {
          stdio: "ignore",
          detached: true,
        });
        child.on("error", () => {});
        child.unref();
      } catch {
        // Logging is best effort by design.
      }
    },
    () => {},
  );
}
