// Running a program to its end (the installed hook for its self-test, the startup recorder,
// systemctl, stat): the one place the CLI's programs are spawned, behind Context.runFile.
import { spawnSync } from "node:child_process";

export interface RunResult {
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Set when the program could not be started at all. */
  error?: Error;
}

export interface RunOptions {
  input?: string;
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

export function runFileSync(path: string, args: readonly string[], options: RunOptions): RunResult {
  const r = spawnSync(path, args, { input: options.input, env: options.env, cwd: options.cwd, timeout: options.timeoutMs, encoding: "utf8" });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? "", stderr: r.stderr ?? "", ...(r.error ? { error: r.error } : {}) };
}
