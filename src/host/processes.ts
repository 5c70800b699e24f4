// Long-running helper processes (`virsh event`, `systemd-notify`) behind an interface, so that
// the watcher is tested with a spawner that hands it the output a test writes.
import { spawn } from "node:child_process";

export interface ChildHandle {
  /** Until it has exited. */
  readonly running: boolean;
  kill(signal?: NodeJS.Signals): void;
}

export interface ChildEvents {
  /** Text as it comes (UTF-8). */
  stdout?(chunk: string): void;
  stderr?(chunk: string): void;
  /** Once, when it has exited (code, or the signal that ended it). */
  exit?(code: number | null, signal: string | null): void;
  /** It could not be started (ENOENT, EACCES); exit does not follow. */
  error?(error: NodeJS.ErrnoException): void;
}

export interface ProcessSpawner {
  spawn(command: string, args: readonly string[], env: NodeJS.ProcessEnv, events: ChildEvents): ChildHandle;
}

export const nodeSpawner: ProcessSpawner = {
  spawn(command, args, env, events) {
    const child = spawn(command, [...args], { env, stdio: ["ignore", events.stdout ? "pipe" : "ignore", events.stderr ? "pipe" : "ignore"] });
    let running = true;
    child.stdout?.setEncoding("utf8");
    child.stderr?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => events.stdout?.(chunk));
    child.stderr?.on("data", (chunk: string) => events.stderr?.(chunk));
    child.on("error", (error: NodeJS.ErrnoException) => {
      if (!running) return;
      running = false;
      events.error?.(error);
    });
    child.on("close", (code, signal) => {
      if (!running) return;
      running = false;
      events.exit?.(code, signal);
    });
    return {
      get running() {
        return running;
      },
      kill(signal = "SIGTERM") {
        if (running && child.exitCode === null) child.kill(signal);
      },
    };
  },
};
