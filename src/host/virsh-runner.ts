// Running virsh, one process per call (the one-shot runner), and what every runner shares: the
// result, the errors an admin can act on, and the deadlines. Every call is asynchronous and has
// a deadline: a daemon that is stopped (SIGSTOP) or hung accepts the connection and then never
// answers, and a caller that waited without limit would hang with it. On expiry the virsh process
// is killed (SIGTERM, then SIGKILL) and the call fails with a LibvirtError of kind "timeout" that
// names the command.
//
// A daemon that is only busy (30 domains starting at once keep all its workers) may take far
// longer than a hung one takes to be noticed, so there are two limits: connecting (a new session,
// or a virsh of its own) must answer within CONNECT_DEADLINE_MS; once connected, virsh's own
// keepalive (KEEPALIVE, answered by the daemon's event loop even while its workers are busy) says
// within seconds whether the daemon is alive, and a call's deadline is only a backstop.
import { spawn } from "node:child_process";
import { HostError } from "../core/errors.js";

export interface VirshResult {
  status: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** The deadline of this call once connected; default DEFAULT_DEADLINE_MS. */
  timeoutMs?: number;
  /** The command as messages write it (without a temporary file's path); default the arguments. */
  shown?: readonly string[];
}

/** A call that has been sent and not answered yet. */
export interface InFlight {
  /** As messages write it: "virsh update-device web1 --live". */
  what: string;
  /** When it was sent (ms since the epoch). */
  since: number;
  timeoutMs: number;
}

export interface VirshRunner {
  /** Runs `virsh ARGS...`; rejects with LibvirtError when virsh cannot be run at all or the deadline passes. */
  run(args: readonly string[], options?: RunOptions): Promise<VirshResult>;
  /** The connection URI, for messages. */
  readonly uri: string;
  /** The oldest call in flight, if any. */
  inFlight?(): InFlight | undefined;
  /** Ends what the runner keeps running (a session); the next call starts again. */
  close?(): void;
}

/** How long connecting to the daemon may take (a stopped daemon accepts the socket and never answers). */
export const CONNECT_DEADLINE_MS = 10_000;
/** virsh's keepalive: a ping after 5 s without traffic, the connection given up after 3 unanswered (about 20 s). */
export const KEEPALIVE = ["-k", "5", "-K", "3"] as const;
/** What virsh says when its keepalive gave up on the daemon. */
export const KEEPALIVE_LOST = /keepalive timeout/i;
/** How long a call may take once connected, by default: reads, listings, the version probe. */
export const DEFAULT_DEADLINE_MS = 60_000;
/**
 * Calls that change libvirt wait longer: a define or an update-device waits for the domain's job
 * lock (libvirt gives up on it after 30 s with an error of its own) and for the daemon's workers,
 * and rebuilds filter rules, which takes seconds under load.
 */
export const WRITE_DEADLINE_MS = 120_000;
/** Between SIGTERM and SIGKILL to a virsh that overran its deadline. */
export const KILL_GRACE_MS = 2_000;

export type LibvirtFailure = "virsh-missing" | "daemon-down" | "permission" | "domain-not-found" | "timeout" | "failed";

/** A virsh command failed; `kind` says why in terms an admin can act on. */
export class LibvirtError extends HostError {
  readonly kind: LibvirtFailure;
  constructor(kind: LibvirtFailure, message: string) {
    super(message);
    this.kind = kind;
  }
}

/** "10 s", "0.5 s". */
function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** Whether a call failed because the daemon did not answer in time (then the next call would wait as long). */
export function isTimeout(error: unknown): boolean {
  return error instanceof LibvirtError && error.kind === "timeout";
}

/** The error of a call that overran its deadline. */
export function deadlineError(shown: readonly string[], timeoutMs: number): LibvirtError {
  return new LibvirtError("timeout", `the libvirt daemon did not answer 'virsh ${shown.join(" ")}' within ${seconds(timeoutMs)}: is it stopped or hung?`);
}

/** SIGTERM now, SIGKILL after the grace unless it has exited by then. */
export function killHard(child: { exitCode: number | null; signalCode: string | null; kill(signal: NodeJS.Signals): boolean }, graceMs = KILL_GRACE_MS): void {
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  if (gone()) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => {
    if (!gone()) child.kill("SIGKILL");
  }, graceMs);
  timer.unref();
}

export interface ProcessVirshOptions {
  /** The virsh binary: a name looked up on PATH, or a path. */
  binary?: string;
  uri: string;
  env?: NodeJS.ProcessEnv;
  /** The deadline of a call that names none. */
  timeoutMs?: number;
}

const MAX_OUTPUT = 256 * 1024 * 1024;

/** Runs the real virsh, one process per call, with `-c URI`, in the C locale so that its messages are the ones we know. */
export function processVirsh(options: ProcessVirshOptions): VirshRunner {
  const binary = options.binary ?? "virsh";
  const env = { ...(options.env ?? process.env), LC_ALL: "C" };
  const flying = new Set<InFlight>();
  return {
    uri: options.uri,
    inFlight: () => [...flying].sort((a, b) => a.since - b.since)[0],
    run(args, run = {}) {
      const timeoutMs = run.timeoutMs ?? options.timeoutMs ?? DEFAULT_DEADLINE_MS;
      const shown = run.shown ?? args;
      return new Promise((resolve, reject) => {
        const entry: InFlight = { what: `virsh ${shown.join(" ")}`, since: Date.now(), timeoutMs };
        flying.add(entry);
        let settled = false;
        const settle = (fn: () => void) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          flying.delete(entry);
          fn();
        };
        const child = spawn(binary, ["-c", options.uri, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        let size = 0;
        const collect = (into: Buffer[]) => (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_OUTPUT) {
            killHard(child);
            settle(() => reject(new LibvirtError("failed", `'virsh ${shown.join(" ")}' printed more than ${MAX_OUTPUT} bytes`)));
            return;
          }
          into.push(chunk);
        };
        child.stdout.on("data", collect(out));
        child.stderr.on("data", collect(err));
        const timer = setTimeout(() => {
          killHard(child);
          settle(() => reject(deadlineError(shown, timeoutMs)));
        }, timeoutMs);
        child.on("error", (error: NodeJS.ErrnoException) => {
          settle(() => {
            if (error.code === "ENOENT") reject(new LibvirtError("virsh-missing", `virsh not found (looked for '${binary}' on PATH): install libvirt-clients`));
            else if (error.code === "EACCES") reject(new LibvirtError("permission", `permission denied running '${binary}'`));
            else reject(new LibvirtError("failed", `cannot run '${binary}': ${error.message}`));
          });
        });
        child.on("close", (code) => {
          settle(() => resolve({ status: code ?? 1, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") }));
        });
      });
    },
  };
}
