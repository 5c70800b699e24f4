// Logging to syslog through util-linux's `logger`, so that the hook needs no native module.
// Fire and forget: a missing logger or syslog never blocks the hook or changes its decision.
import { spawn } from "node:child_process";
import { PRODUCT } from "./constants.js";

export type Priority = "err" | "warning" | "notice";

export function syslog(priority: Priority, message: string): void {
  try {
    const child = spawn("logger", ["-t", PRODUCT, "-p", `daemon.${priority}`, "--", message], {
      stdio: "ignore",
      detached: true,
    });
    child.on("error", () => {});
    child.unref();
  } catch {
    // Logging is best effort by design.
  }
}
