// The watcher's log: one line per action or error on stderr (journald under systemd) and to
// syslog through one long-lived `logger --prio-prefix`, so that a storm of actions does not
// start a process per line. Writes are synchronous: a line is out before the next action.
import { spawn, type ChildProcess } from "node:child_process";
import { PRODUCT } from "../core/constants.js";
import { oneLine } from "../core/errors.js";
import { writeAllSync } from "./stdio.js";
import { prioLine, type Priority } from "./syslog.js";

/** "debug" lines go to stderr only: they are for someone watching a storm, not for syslog. */
export type Logger = (priority: Priority | "info" | "debug", message: string) => void;

export function watchLogger(options: { syslog: boolean }): Logger & { close(): void } {
  let logger: ChildProcess | undefined;
  const toSyslog = (priority: Priority, message: string) => {
    if (!options.syslog) return;
    try {
      if (!logger || logger.exitCode !== null || !logger.stdin?.writable) {
        logger = spawn("logger", ["--prio-prefix", "-t", PRODUCT], { stdio: ["pipe", "ignore", "ignore"] });
        logger.on("error", () => {});
        logger.stdin?.on("error", () => {});
        logger.unref();
        (logger.stdin as unknown as { unref?: () => void } | null)?.unref?.();
      }
      logger.stdin?.write(prioLine(priority, message));
    } catch {
      // Logging is best effort: the stderr line is there.
    }
  };
  const log = ((priority: Priority | "info" | "debug", message: string) => {
    const line = oneLine(message);
    const label = priority === "err" ? "error: " : priority === "warning" || priority === "debug" ? `${priority}: ` : "";
    try {
      writeAllSync(2, `${PRODUCT} watch: ${label}${line}\n`);
    } catch {
      // stderr closed: syslog still gets it.
    }
    if (priority !== "debug") toSyslog(priority === "info" ? "notice" : priority, line);
  }) as Logger & { close(): void };
  log.close = () => {
    logger?.stdin?.end();
    logger = undefined;
  };
  return log;
}
