// Logging to syslog through util-linux's `logger`, so that the hook needs no native module.
// Fire and forget: a missing logger or syslog never blocks the hook or changes its decision.
import { PRODUCT } from "./constants.js";

export type Priority = "err" | "warning" | "notice";

export function syslog(priority: Priority, message: string): void {
  // Loaded only when there is something to log: child_process pulls in streams, net and dgram,
  // which would cost every quiet prepare call several milliseconds.
  import("node:child_process").then(
    ({ spawn }) => {
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
    },
    () => {},
  );
}
