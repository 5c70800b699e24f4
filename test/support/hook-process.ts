// Running the built hook as libvirt runs it: a separate process with a scrubbed environment
// (LC_ALL=C, PATH, HOME, USER, LOGNAME, TMPDIR), cwd "/", the domain XML on stdin. A sandbox
// directory stands in for the host: the policy file, the network definition directories, the
// nwfilter directory and sysfs (all reached through the NWFILTER_HOOK_* overrides), and a fake
// `logger` first on PATH that records what the hook sends to syslog.
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DEFAULT_FILTER } from "../../src/core/constants.js";
import { writeIncludedFilters } from "./builtin-filters.js";
import { DIST_QEMU, REPO_ROOT } from "./paths.js";

export interface SandboxSpec {
  /** policy.ini text; absent: no policy file (built-in defaults). */
  policy?: string | Buffer;
  /** Default 0o644. */
  policyMode?: number;
  /** Mode of the directory holding policy.ini; default 0o755. */
  policyDirMode?: number;
  /** Network definitions in the first network directory (libvirt's /run/libvirt/network). */
  activeNetworks?: Record<string, string | Buffer>;
  /** Network definitions in the second directory (libvirt's /etc/libvirt/qemu/networks). */
  persistentNetworks?: Record<string, string | Buffer>;
  /** sysfs: a Linux bridge is a directory with a bridge/ subdirectory, an OVS bridge one without. */
  bridges?: Record<string, "linux" | "ovs">;
  /**
   * Filters defined on the host (files NAME.xml in the nwfilter directory): the shipped
   * definition for the default filter (with the two libvirt filters it includes), an empty
   * filter for any other name.
   */
  filters?: string[];
  /** Filter definitions written as given (NAME -> XML), besides `filters`. */
  filterDefs?: Record<string, string | Buffer>;
}

export interface LogEntry {
  tag: string | undefined;
  priority: string | undefined;
  message: string;
  /** The arguments the hook passed to logger, as they came. */
  argv: string[];
}

export interface Sandbox {
  dir: string;
  policyPath: string;
  env: Record<string, string>;
  /**
   * What was sent to the fake logger. The hook spawns logger detached and does not wait for it,
   * so this waits until `expected` entries are there (at most a few seconds); with expected 0
   * it waits a short grace period, then reports whatever arrived.
   */
  logged(expected: number): Promise<LogEntry[]>;
  remove(): void;
}

const FIELD = "\x1f";
const FACILITIES = ["kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news"];
const LEVELS = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];

export function makeSandbox(spec: SandboxSpec = {}): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), "nwfh-hook-"));
  const etc = join(dir, "etc");
  const active = join(dir, "run-libvirt-network");
  const persistent = join(dir, "etc-libvirt-qemu-networks");
  const nwfilter = join(dir, "nwfilter");
  const sysfs = join(dir, "sys-class-net");
  const bin = join(dir, "bin");
  const logFile = join(dir, "syslog");
  for (const d of [etc, active, persistent, nwfilter, sysfs, bin]) mkdirSync(d, { mode: 0o755 });

  const policyPath = join(etc, "policy.ini");
  if (spec.policy !== undefined) {
    writeFileSync(policyPath, spec.policy);
    chmodSync(policyPath, spec.policyMode ?? 0o644);
  }
  chmodSync(etc, spec.policyDirMode ?? 0o755);
  for (const [name, text] of Object.entries(spec.activeNetworks ?? {})) writeFileSync(join(active, `${name}.xml`), text);
  for (const [name, text] of Object.entries(spec.persistentNetworks ?? {})) writeFileSync(join(persistent, `${name}.xml`), text);
  for (const [name, kind] of Object.entries(spec.bridges ?? {})) {
    mkdirSync(join(sysfs, name));
    if (kind === "linux") mkdirSync(join(sysfs, name, "bridge"));
  }
  const filterXml = readFileSync(join(REPO_ROOT, "nwfilter", `${DEFAULT_FILTER}.xml`));
  for (const name of spec.filters ?? [DEFAULT_FILTER]) {
    writeFileSync(join(nwfilter, `${name}.xml`), name === DEFAULT_FILTER ? filterXml : `<filter name='${name}' chain='root'/>\n`);
    if (name === DEFAULT_FILTER) writeIncludedFilters(nwfilter);
  }
  for (const [name, xml] of Object.entries(spec.filterDefs ?? {})) writeFileSync(join(nwfilter, `${name}.xml`), xml);
  // One record per message: the arguments separated by US (0x1f), ended by a newline, and with
  // --prio-prefix (the installed hook's shell line) each line read from stdin after them.
  // The hook leaves logger running in the background, so a record may come after the test has
  // begun to remove the sandbox: dd's nocreat makes such a late record vanish instead of
  // recreating the log file in a directory being removed.
  writeFileSync(logFile, "");
  const append = `dd of='${logFile}' oflag=append conv=notrunc,nocreat status=none 2>/dev/null`;
  const fakeLogger = [
    "#!/bin/sh",
    "record() { for a in \"$@\"; do printf '%s\\037' \"$a\"; done; printf '\\n'; }",
    'if [ "$1" = --prio-prefix ]; then',
    `  while IFS= read -r line; do record "$@" "$line" | ${append}; done`,
    "else",
    `  record "$@" | ${append}`,
    "fi",
    "",
  ].join("\n");
  writeFileSync(join(bin, "logger"), fakeLogger, {
    mode: 0o755,
  });

  const env: Record<string, string> = {
    LC_ALL: "C",
    PATH: `${bin}:${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
    HOME: dir,
    USER: "root",
    LOGNAME: "root",
    TMPDIR: dir,
    NWFILTER_HOOK_POLICY: policyPath,
    NWFILTER_HOOK_NETWORK_DIRS: `${active}:${persistent}`,
    NWFILTER_HOOK_NWFILTER_DIR: nwfilter,
    NWFILTER_HOOK_SYSFS_NET: sysfs,
  };

  const read = (): LogEntry[] => {
    let text: string;
    try {
      text = readFileSync(logFile, "utf8");
    } catch {
      return [];
    }
    // The fake logger writes a record in several writes, its newline last: only whole records
    // count (the text after the last newline is a record still being written, or nothing).
    return text
      .split("\n")
      .slice(0, -1)
      .map((line) => {
        const argv = line.split(FIELD).slice(0, -1);
        const opt = (flag: string) => {
          const i = argv.indexOf(flag);
          return i === -1 ? undefined : argv[i + 1];
        };
        if (argv[0] === "--prio-prefix") {
          // `<facility * 8 + level>message`
          const m = /^<(\d+)>([\s\S]*)$/.exec(argv[argv.length - 1] ?? "");
          const n = Number(m?.[1] ?? -1);
          const priority = m ? `${FACILITIES[n >> 3] ?? n >> 3}.${LEVELS[n & 7]}` : undefined;
          return { tag: opt("-t"), priority, message: m?.[2] ?? "", argv };
        }
        const dashes = argv.indexOf("--");
        return { tag: opt("-t"), priority: opt("-p"), message: dashes === -1 ? argv.join(" ") : argv.slice(dashes + 1).join(" "), argv };
      });
  };

  return {
    dir,
    policyPath,
    env,
    async logged(expected) {
      const deadline = Date.now() + (expected === 0 ? 300 : 5000);
      for (;;) {
        const entries = read();
        if ((expected > 0 && entries.length >= expected) || Date.now() > deadline) {
          if (expected === 0) return read();
          return entries;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface HookRun {
  /** Exit code; null when killed by a signal. */
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  ms: number;
  timedOut: boolean;
}

/** Runs dist/qemu ARGS with `stdin` on its standard input, as libvirt does. */
export function runQemu(
  args: readonly string[],
  stdin: string | Buffer,
  env: Record<string, string>,
  options: { timeoutMs?: number; hook?: string; closeStdout?: boolean } = {},
): Promise<HookRun> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(options.hook ?? DIST_QEMU, [...args], { cwd: "/", env, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs ?? 20_000);
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    // The hook does not read stdin for calls it ignores: a closed pipe is not a test failure.
    child.stdin.on("error", () => {});
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    // As a libvirt that stopped reading: the hook reads all of stdin first, so it writes only
    // after the pipe's reading end is gone.
    if (options.closeStdout) child.stdout.destroy();
    child.on("close", (status, signal) => {
      clearTimeout(timer);
      resolve({
        status,
        signal,
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err).toString("utf8"),
        ms: performance.now() - started,
        timedOut,
      });
    });
    child.stdin.end(stdin);
  });
}

/**
 * The hook's promise for stderr: empty, or exactly one line, prefixed with the product name,
 * without a stack trace. Returns a description of what is wrong, or undefined.
 */
export function stderrProblem(stderr: string): string | undefined {
  if (stderr === "") return undefined;
  if (!stderr.endsWith("\n")) return "stderr does not end with a newline";
  const body = stderr.slice(0, -1);
  if (body.includes("\n") || body.includes("\r")) return `stderr has more than one line: ${JSON.stringify(stderr)}`;
  if (/\n\s+at |\bat .*\(.*:\d+:\d+\)|node:internal|TypeError|RangeError|ReferenceError/.test(stderr)) {
    return `stderr looks like a crash: ${JSON.stringify(stderr)}`;
  }
  if (!body.startsWith("nwfilter-hook: ")) return `stderr does not start with "nwfilter-hook: ": ${JSON.stringify(stderr)}`;
  return undefined;
}
