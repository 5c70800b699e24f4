// One long-lived interactive virsh for many commands. Starting virsh and connecting to the
// daemon costs far more than a command (about 20 ms against 1 ms for a dumpxml), so bulk reads
// (audit, apply --all, the watcher's resync) send their commands to one `virsh` reading stdin.
//
// The calls stay synchronous, like the one-shot runner: virsh's stdin, stdout and stderr are
// named pipes in a private directory, which this process opens with plain blocking opens and
// reads with readSync. Only virsh holds the other ends, so its death is an end of file here, not
// a hang. After each command the session sends `echo --err MARK` and `echo MARK`: the command's
// stdout ends at the second marker, its stderr at the first. Interactive virsh echoes every
// command line after its prompt (readline on a pipe); that echo is cut off. A command failed when
// it wrote an error line, since interactive virsh has no exit status per command.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { LibvirtError, processVirsh, type ProcessVirshOptions, type VirshResult, type VirshRunner } from "./virsh.js";

const PROMPT = "virsh # ";

export interface SessionOptions {
  binary: string;
  uri: string;
  env: NodeJS.ProcessEnv;
}

/** A word as virsh's own command parser reads it back (shell-like single quotes). */
export function virshWord(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, "'\\''")}'`;
}

/** Whether a command can go through a session: one line, nothing virsh's line reader would eat. */
export function sessionSafe(args: readonly string[]): boolean {
  return args.every((a) => !/[\n\r\0\t]/.test(a)) && args.join(" ").length < 1024;
}

export class VirshSession {
  private child: ChildProcess | undefined;
  private dir: string | undefined;
  private input = -1;
  private output = -1;
  private errors = -1;
  private stdoutBuf = "";
  private stderrBuf = "";
  private counter = 0;
  private readonly token = randomBytes(6).toString("hex");

  constructor(private readonly options: SessionOptions) {}

  get alive(): boolean {
    return this.child !== undefined;
  }

  private start(): void {
    const dir = mkdtempSync(join(tmpdir(), "nwfilter-hook-virsh-"));
    this.dir = dir;
    const fifo = (name: string) => {
      const path = join(dir, name);
      const r = spawnSync("mkfifo", ["-m", "0600", path]);
      if (r.status !== 0) {
        this.close();
        throw new LibvirtError("failed", `cannot create a pipe for virsh (mkfifo ${path}): ${r.stderr?.toString().trim() || r.error?.message}`);
      }
      return path;
    };
    const [inPath, outPath, errPath] = [fifo("in"), fifo("out"), fifo("err")];
    // The shell opens the pipes in this order before it becomes virsh, so the blocking opens
    // below always meet their other end, even when virsh itself then fails to start.
    const script = `exec <"$1" >"$2" 2>"$3"; shift 3; exec "$@"`;
    const child = spawn("/bin/sh", ["-c", script, "sh", inPath, outPath, errPath, this.options.binary, "-c", this.options.uri], {
      stdio: "ignore",
      // Wide enough that readline never scrolls an echoed line horizontally.
      env: { ...this.options.env, LC_ALL: "C", TERM: "dumb", INPUTRC: "/dev/null", COLUMNS: "65535" },
    });
    child.unref();
    child.on("error", () => {});
    child.on("exit", () => {
      if (this.child === child) this.child = undefined;
    });
    this.child = child;
    this.input = openSync(inPath, "w");
    this.output = openSync(outPath, "r");
    this.errors = openSync(errPath, "r");
    // The names are no longer needed: the descriptors are open on both sides.
    rmSync(dir, { recursive: true, force: true });
    this.dir = undefined;
    this.stdoutBuf = "";
    this.stderrBuf = "";
    // The banner and first prompt come before anything else; the answer says whether virsh
    // echoes command lines (readline does, on a pipe too).
    const probe = this.exchange(["echo", "ready"], true);
    this.echoes = probe.stdout.includes(`${PROMPT}echo ready\n`);
  }

  /** Ends the session: virsh reads end of file and quits. */
  close(): void {
    for (const fd of [this.input, this.output, this.errors]) {
      if (fd >= 0) {
        try {
          closeSync(fd);
        } catch {
          // already closed
        }
      }
    }
    this.input = this.output = this.errors = -1;
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null) child.kill("SIGTERM");
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * Reads from fd into the buffer until it holds a line that is `line` (or ends a prompt with
   * it); returns the text before that line and drops the line.
   */
  private readUntil(fd: number, which: "stdoutBuf" | "stderrBuf", line: string): string {
    const chunk = Buffer.allocUnsafe(256 * 1024);
    const needle = `${line}\n`;
    for (;;) {
      const text = this[which];
      for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + 1)) {
        if (at === 0 || text[at - 1] === "\n" || text.endsWith(PROMPT, at)) {
          this[which] = text.slice(at + needle.length);
          return text.slice(0, at);
        }
      }
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EAGAIN") continue;
        throw error;
      }
      if (n === 0) {
        const said = `${this.stderrBuf}`.trim().split("\n").slice(-3).join("; ");
        this.close();
        throw new LibvirtError("failed", `the virsh session ended unexpectedly${said ? `: ${said}` : ""}`);
      }
      this[which] += chunk.toString("utf8", 0, n);
    }
  }

  private echoes = true;

  private exchange(args: readonly string[], first = false): VirshResult {
    const readlineEcho = first || this.echoes;
    const mark = `nwfh-${this.token}-${++this.counter}`;
    const line = args.map(virshWord).join(" ");
    try {
      writeSync(this.input, `${line}\necho --err ${mark}\necho ${mark}\n`);
    } catch (error) {
      this.close();
      throw new LibvirtError("failed", `cannot talk to the virsh session: ${(error as Error).message}`);
    }
    const out = this.readUntil(this.output, "stdoutBuf", mark);
    const err = this.readUntil(this.errors, "stderrBuf", `error: ${mark}`);
    // With readline (Debian's virsh), out is "virsh # LINE\n" OUTPUT "virsh # echo --err MARK\n"
    // "\n" "virsh # echo MARK\n" (virsh ends each command that succeeded with an empty line, as
    // one-shot virsh does); without readline, the prompts come without the echoed lines.
    const failed = /^error: /m.test(err);
    let body = out;
    for (const tail of [`${PROMPT}echo ${mark}\n`, PROMPT, "\n", `${PROMPT}echo --err ${mark}\n`, PROMPT]) {
      if (body.endsWith(tail)) body = body.slice(0, -tail.length);
    }
    // The echoed line ends at the first newline after the prompt, however readline drew it.
    if (body.startsWith(PROMPT)) {
      const end = body.startsWith(`${PROMPT}${line}\n`) ? PROMPT.length + line.length : readlineEcho ? body.indexOf("\n") : PROMPT.length - 1;
      body = body.slice(end + 1);
    }
    return { status: failed ? 1 : 0, stdout: body, stderr: err };
  }

  run(args: readonly string[]): VirshResult {
    if (!this.child) this.start();
    return this.exchange(args);
  }
}

/**
 * A runner that sends what it can through one session and the rest (multi-line arguments) to
 * `fallback`. A session that cannot be started is reported like a one-shot virsh that fails.
 */
export function sessionRunner(options: SessionOptions, fallback: VirshRunner): VirshRunner & { close(): void } {
  const session = new VirshSession(options);
  // A virsh that does not talk back as an interactive virsh (or none at all) is left to the
  // one-shot runner, which says what is wrong the usual way.
  let unusable = false;
  return {
    uri: options.uri,
    run(args) {
      if (unusable || !sessionSafe(args)) return fallback.run(args);
      const starting = !session.alive;
      try {
        return session.run(args);
      } catch (error) {
        if (!starting || !(error instanceof LibvirtError)) throw error;
        unusable = true;
        session.close();
        return fallback.run(args);
      }
    },
    close: () => session.close(),
  };
}

/** processVirsh(), with the commands sent through one session (started on first use). */
export function processVirshSession(options: ProcessVirshOptions): VirshRunner & { close(): void } {
  return sessionRunner({ binary: options.binary ?? "virsh", uri: options.uri, env: options.env ?? process.env }, processVirsh(options));
}
