// One long-lived interactive virsh for many commands. Starting virsh and connecting to the
// daemon costs far more than a command (bench/RESULTS.md, "Figures behind the code's choices"), so bulk reads
// (audit, apply --all, the watcher) send their commands to one `virsh` reading stdin.
//
// virsh's stdin, stdout and stderr are ordinary pipes, read asynchronously: the event loop turns
// while a command is out, so that the watcher keeps beating and a deadline can fire. Commands go
// one at a time, in the order asked. After each the session sends `echo --err MARK` and `echo
// MARK`: the command's stdout ends at the second marker, its stderr at the first. Interactive
// virsh echoes every command line after its prompt (readline on a pipe); that echo is cut off. A
// command failed when it wrote an error line, since interactive virsh has no exit status per
// command. A command that overruns its deadline kills the session (the daemon is stopped or hung:
// virsh would never read the next one); the next command starts a new one.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  CONNECT_DEADLINE_MS,
  DEFAULT_DEADLINE_MS,
  KEEPALIVE,
  KEEPALIVE_LOST,
  LibvirtError,
  deadlineError,
  killHard,
  processVirsh,
  type InFlight,
  type ProcessVirshOptions,
  type RunOptions,
  type VirshResult,
  type VirshRunner,
} from "./virsh-runner.js";

const PROMPT = "virsh # ";

export interface SessionOptions {
  binary: string;
  uri: string;
  env: NodeJS.ProcessEnv;
  /** How long starting virsh and connecting may take; default CONNECT_DEADLINE_MS. */
  connectTimeoutMs?: number;
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

/**
 * Where `line` stands in `text` as a line of its own (or ending a prompt), or -1. Output of the
 * command itself may hold the marker's text only inside a longer line.
 */
function lineAt(text: string, line: string): number {
  const needle = `${line}\n`;
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + 1)) {
    if (at === 0 || text[at - 1] === "\n" || text.endsWith(PROMPT, at)) return at;
  }
  return -1;
}

interface Call {
  args: readonly string[];
  options: RunOptions;
  resolve(result: VirshResult): void;
  reject(error: unknown): void;
}

interface Waiter {
  /** Where the command's stdout ends, and its stderr. */
  out: (text: string) => { at: number; length: number } | undefined;
  err: string;
  done(out: string, err: string): void;
  fail(error: LibvirtError): void;
}

export class VirshSession {
  private child: ChildProcessWithoutNullStreams | undefined;
  private stdoutBuf = "";
  private stderrBuf = "";
  private counter = 0;
  private readonly token = randomBytes(6).toString("hex");
  private echoes = true;
  /** Whether virsh is asked for its keepalive (KEEPALIVE); false once the driver has refused it. */
  private keepalive = true;
  private readonly queue: Call[] = [];
  private current: (InFlight & { timer: ReturnType<typeof setTimeout> }) | undefined;
  private waiter: Waiter | undefined;

  constructor(private readonly options: SessionOptions) {}

  get alive(): boolean {
    return this.child !== undefined;
  }

  /** The command sent and not answered yet. */
  inFlight(): InFlight | undefined {
    if (!this.current) return undefined;
    const { what, since, timeoutMs } = this.current;
    return { what, since, timeoutMs };
  }

  run(args: readonly string[], options: RunOptions = {}): Promise<VirshResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ args, options, resolve, reject });
      if (!this.current) void this.next();
    });
  }

  /** Ends the session: virsh reads end of file and quits. Calls not answered yet fail. */
  close(): void {
    const child = this.child;
    this.child = undefined;
    if (child) {
      child.stdin.end();
      killHard(child);
    }
    this.failAll(new LibvirtError("failed", "the virsh session was closed"));
  }

  private failAll(error: LibvirtError): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.fail(error);
    for (const call of this.queue.splice(0)) call.reject(error);
  }

  private start(): ChildProcessWithoutNullStreams {
    const child = spawn(this.options.binary, ["-c", this.options.uri, ...(this.keepalive ? KEEPALIVE : [])], {
      stdio: ["pipe", "pipe", "pipe"],
      // Wide enough that readline never scrolls an echoed line horizontally.
      env: { ...this.options.env, LC_ALL: "C", TERM: "dumb", INPUTRC: "/dev/null", COLUMNS: "65535" },
    });
    this.child = child;
    this.stdoutBuf = "";
    this.stderrBuf = "";
    // The session must not keep a process alive by itself: a call's deadline timer does while
    // the call is out, and the watcher's own timers do.
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void }).unref?.();
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      if (this.child !== child) return;
      this.stdoutBuf += chunk;
      this.check();
    });
    child.stderr.on("data", (chunk: string) => {
      if (this.child !== child) return;
      this.stderrBuf += chunk;
      this.check();
    });
    child.stdin.on("error", () => {});
    child.on("error", () => {});
    child.on("close", () => {
      if (this.child !== child) return;
      this.child = undefined;
      const said = this.stderrBuf.trim().split("\n").slice(-3).join("; ");
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter?.fail(new LibvirtError("failed", `the virsh session ended unexpectedly${said ? `: ${said}` : ""}`));
    });
    return child;
  }

  /** Hands the answer to the waiting exchange once both markers have come. */
  private check(): void {
    const w = this.waiter;
    if (!w) return;
    const out = w.out(this.stdoutBuf);
    const errAt = out && lineAt(this.stderrBuf, w.err);
    if (out === undefined || errAt === undefined || errAt === -1) return;
    const stdout = this.stdoutBuf.slice(0, out.at);
    const stderr = this.stderrBuf.slice(0, errAt);
    this.stdoutBuf = this.stdoutBuf.slice(out.at + out.length);
    this.stderrBuf = this.stderrBuf.slice(errAt + w.err.length + 1);
    this.waiter = undefined;
    w.done(stdout, stderr);
  }

  /**
   * One command. Where virsh echoes command lines (readline), its stdout ends where the echo of
   * the `echo --err MARK` after it begins, and one marker command does; otherwise (and for the
   * first exchange, which finds out) an `echo MARK` after it marks the end of stdout.
   */
  private exchange(child: ChildProcessWithoutNullStreams, args: readonly string[], first: boolean): Promise<VirshResult> {
    const single = !first && this.echoes;
    const mark = `nwfh-${this.token}-${++this.counter}`;
    const line = args.map(virshWord).join(" ");
    const echoed = `${PROMPT}echo --err ${mark}\n`;
    return new Promise((resolve, reject) => {
      this.waiter = {
        out: single
          ? (text) => {
              const at = text.indexOf(echoed);
              return at === -1 ? undefined : { at, length: echoed.length };
            }
          : (text) => {
              const at = lineAt(text, mark);
              return at === -1 ? undefined : { at, length: mark.length + 1 };
            },
        err: `error: ${mark}`,
        fail: reject,
        done: (out, err) => {
          const failed = /^error: /m.test(err);
          let body = out;
          if (single) {
            // "\n" (the empty line that ended the marker command before) "virsh # LINE\n" OUTPUT.
            if (body.startsWith(`\n${PROMPT}`)) body = body.slice(1);
          } else {
            // With readline (Debian's virsh), out is "virsh # LINE\n" OUTPUT "virsh # echo --err MARK\n"
            // "\n" "virsh # echo MARK\n" (virsh ends each command that succeeded with an empty line,
            // as one-shot virsh does); without readline, the prompts come without the echoed lines.
            for (const tail of [`${PROMPT}echo ${mark}\n`, PROMPT, "\n", echoed, PROMPT]) {
              if (body.endsWith(tail)) body = body.slice(0, -tail.length);
            }
          }
          // The echoed line ends at the first newline after the prompt, however readline drew it.
          if (body.startsWith(PROMPT)) {
            const end = body.startsWith(`${PROMPT}${line}\n`) ? PROMPT.length + line.length : first || this.echoes ? body.indexOf("\n") : PROMPT.length - 1;
            body = body.slice(end + 1);
          }
          resolve({ status: failed ? 1 : 0, stdout: body, stderr: err });
        },
      };
      child.stdin.write(single ? `${line}\necho --err ${mark}\n` : `${line}\necho --err ${mark}\necho ${mark}\n`);
    });
  }

  /**
   * Sends the next call: starting virsh first where needed, within CONNECT_DEADLINE_MS (a stopped
   * daemon never answers the connection), then within the call's own deadline.
   */
  private async next(): Promise<void> {
    const call = this.queue.shift();
    if (!call) return;
    const shown = call.options.shown ?? call.args;
    let timeoutMs = this.child ? (call.options.timeoutMs ?? DEFAULT_DEADLINE_MS) : (this.options.connectTimeoutMs ?? CONNECT_DEADLINE_MS);
    const expire = () => {
      // The daemon does not answer: virsh would never read the next command either.
      const child = this.child;
      this.child = undefined;
      this.current = undefined;
      if (child) killHard(child);
      const error = deadlineError(shown, timeoutMs);
      this.waiter = undefined;
      call.reject(error);
      // Those queued behind it would go to the same daemon.
      for (const queued of this.queue.splice(0)) queued.reject(error);
    };
    const current = { what: `virsh ${shown.join(" ")}`, since: Date.now(), timeoutMs, timer: setTimeout(expire, timeoutMs) };
    this.current = current;
    try {
      let child = this.child;
      if (!child) {
        child = await this.connect();
        if (this.current !== current) return;
        // Connected: from here on the call has its own deadline.
        clearTimeout(current.timer);
        timeoutMs = call.options.timeoutMs ?? DEFAULT_DEADLINE_MS;
        Object.assign(current, { since: Date.now(), timeoutMs, timer: setTimeout(expire, timeoutMs) });
      }
      const result = await this.exchange(child, call.args, false);
      if (this.current !== current) return;
      // The keepalive gave up on the daemon: virsh would try to connect again on the next command,
      // unbounded; the next call starts a new session instead.
      if (KEEPALIVE_LOST.test(result.stderr)) this.drop();
      call.resolve(result);
    } catch (error) {
      if (this.current === current) {
        this.drop();
        call.reject(error);
      }
    } finally {
      clearTimeout(current.timer);
      if (this.current === current) this.current = undefined;
    }
    if (!this.current && this.queue.length > 0) void this.next();
  }

  /** Starts virsh and waits for its first answer (it has connected by then). */
  private async connect(): Promise<ChildProcessWithoutNullStreams> {
    const child = this.start();
    try {
      // The banner and first prompt come before anything else; the answer says whether virsh
      // echoes command lines (readline does, on a pipe too).
      const probe = await this.exchange(child, ["echo", "ready"], true);
      this.echoes = probe.stdout.includes(`${PROMPT}echo ready\n`);
      return child;
    } catch (error) {
      // Drivers without keepalive (test:///) refuse a connection that asks for it: ask no more.
      if (!this.keepalive || !(error instanceof LibvirtError) || !/cannot setup keepalive/i.test(error.message)) throw error;
      this.keepalive = false;
      return this.connect();
    }
  }

  /** Kills the session's virsh; the next call starts another. */
  private drop(): void {
    const child = this.child;
    this.child = undefined;
    if (child) killHard(child);
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
    inFlight: () => session.inFlight() ?? fallback.inFlight?.(),
    async run(args, runOptions) {
      if (unusable || !sessionSafe(args)) return fallback.run(args, runOptions);
      const starting = !session.alive;
      try {
        return await session.run(args, runOptions);
      } catch (error) {
        // A deadline is the daemon's doing, not the session's: a one-shot virsh would wait as long.
        if (!starting || !(error instanceof LibvirtError) || error.kind === "timeout") throw error;
        unusable = true;
        session.close();
        return fallback.run(args, runOptions);
      }
    },
    close: () => session.close(),
  };
}

/** processVirsh(), with the commands sent through one session (started on first use). */
export function processVirshSession(options: ProcessVirshOptions & { connectTimeoutMs?: number }): VirshRunner & { close(): void } {
  const session = { binary: options.binary ?? "virsh", uri: options.uri, env: options.env ?? process.env, connectTimeoutMs: options.connectTimeoutMs };
  return sessionRunner(session, processVirsh(options));
}
