// Collects a child process's output without blocking the event loop, so that a long command
// (dpkg, apt-get, a migration, a storm's virsh calls) leaves the test worker free to talk to
// vitest meanwhile.
import type { ChildProcess } from "node:child_process";

export interface Collected {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Resolves when `child` has exited and closed its pipes; a pipe the child was not given
 * ("ignore") reads as "". Rejects only when the child could not be started.
 */
export function collect(child: ChildProcess): Promise<Collected> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
