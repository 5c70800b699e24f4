// Runs `dist/nwfilter-hook watch` as a separate process for the e2e suites, its stderr in a
// file, and stops it by its pid. The status file is the real /run/nwfilter-hook/watch.json,
// since the installed hook (whose environment libvirt scrubs) reads that one; what was there
// before is put back by restoreStatus(). A watcher for another daemon (`args`: -c URI,
// --status-file FILE) leaves that file alone.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { DIST_CLI, ensureBuilt } from "../../cli/support/build.js";

export const STATUS_FILE = "/run/nwfilter-hook/watch.json";

/** Every watcher a suite started, so that a failed test leaves none running (stopAll()). */
const started = new Set<WatcherProcess>();

export async function stopAll(): Promise<void> {
  for (const w of started) await w.stop().catch(() => w.signal("SIGKILL"));
  started.clear();
}

export class WatcherProcess {
  readonly child: ChildProcess;
  readonly logPath: string;
  private exited: Promise<number | null>;

  constructor(dir: string, policy: string, env: Record<string, string> = {}, label = "watch", args: string[] = []) {
    ensureBuilt();
    this.logPath = join(dir, `${label}.log`);
    const fd = openSync(this.logPath, "w");
    this.child = spawn(process.execPath, [DIST_CLI, "watch", "--policy", policy, "--no-syslog", ...args], {
      stdio: ["ignore", fd, fd],
      env: { ...process.env, ...env, LC_ALL: "C" },
    });
    closeSync(fd);
    this.exited = new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
    started.add(this);
  }

  log(): string {
    return readFileSync(this.logPath, "utf8");
  }

  lines(pattern: RegExp): string[] {
    return this.log()
      .split("\n")
      .filter((l) => pattern.test(l));
  }

  /** Waits until the log has a line matching `pattern` (counting from `after` matches). */
  async waitForLog(pattern: RegExp, timeoutMs = 10_000, count = 1): Promise<void> {
    await waitFor(
      () => this.lines(pattern).length >= count,
      timeoutMs,
      () => `no ${count} line(s) matching ${pattern} in the watcher's log:\n${this.log()}`,
    );
  }

  signal(name: NodeJS.Signals): void {
    this.child.kill(name);
  }

  /** SIGTERM and the exit code. */
  async stop(timeoutMs = 10_000): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    this.child.kill("SIGTERM");
    const code = await Promise.race([this.exited, delay(timeoutMs).then(() => "timeout" as const)]);
    if (code === "timeout") {
      this.child.kill("SIGKILL");
      throw new Error(`the watcher did not stop within ${timeoutMs} ms of SIGTERM:\n${this.log()}`);
    }
    return code;
  }
}

export async function waitFor(check: () => boolean, timeoutMs: number, why: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (check()) return;
    if (Date.now() > deadline) throw new Error(why());
    await delay(50);
  }
}

/** Saves the status file that was there before the suite; returns the function that puts it back. */
export function saveStatus(): () => void {
  const before = existsSync(STATUS_FILE) ? readFileSync(STATUS_FILE) : undefined;
  const dirExisted = existsSync(dirname(STATUS_FILE));
  return () => {
    if (before === undefined) rmSync(STATUS_FILE, { force: true });
    else writeFileSync(STATUS_FILE, before);
    const dir = dirname(STATUS_FILE);
    if (!dirExisted && existsSync(dir) && readdirSync(dir).length === 0) rmdirSync(dir);
  };
}
