// `nwfilter-hook watch`: keeps every domain compliant as libvirt changes it.
//
// Full state is the truth, events are hints. At start, after every reconnect, after a policy
// reload and every ResyncInterval, every domain gets a pass; between resyncs, libvirt's events
// (`virsh event --all --loop`) and changes to the persistent definitions' files (libvirt rewrites
// /etc/libvirt/qemu/NAME.xml on every persistent change, `attach-device --config` included,
// which fires no event) ask for a pass over one domain: they name it, and the names of one turn
// of the event loop are looked up together (src/watch/name-lookup.ts). A pass is `apply --all
// --live` for that domain (src/host/reconcile.ts): a compliant domain gets no write, so the
// `Defined Updated` event and the file change that follow the watcher's own define end in a
// pass that does nothing, and there is no loop.
//
// Passes are synchronous and run one at a time from the queue, between which the event loop
// handles events, timers and signals: SIGTERM therefore always lands between two actions, never
// inside a define. libvirt is reached through one virsh session; a heartbeat probes it every few
// seconds (an event stream may stay silent, or even alive, after the daemon went away), and a
// lost connection is retried with backoff and followed by a resync.
import { spawn, type ChildProcess } from "node:child_process";
import { watch as watchDir, type FSWatcher } from "node:fs";
import { join } from "node:path";
import { DEFAULT_FILTER, WATCH_HEARTBEAT_MS } from "../core/constants.js";
import { NwfilterHookError, formatError } from "../core/errors.js";
import type { Policy } from "../core/policy.js";
import type { Settings } from "../core/settings.js";
import { nodeHostFacts } from "../host/node-host-facts.js";
import { defineFilter, describeDefine } from "../host/nwfilter-define.js";
import { loadPolicy } from "../host/policy-file.js";
import { reconcileDomain } from "../host/reconcile.js";
import { Virsh, type DomainInfo } from "../host/virsh.js";
import { processVirshSession } from "../host/virsh-session.js";
import { writeWatchStatus, type WatchState, type WatchStatus } from "../host/watch-status.js";
import { LineSplitter, hintOf, parseEventLine } from "./events.js";
import type { Logger } from "./log.js";
import { NameLookup, type LookupReport } from "./name-lookup.js";
import { ReconcileQueue } from "./queue.js";
import { sleep } from "../host/stdio.js";

export interface WatcherOptions {
  uri: string;
  policyPath: string;
  policy: Policy;
  settings: Settings;
  statusPath: string;
  /** The shipped filter definition, defined when the policy's filter is the default one. */
  shippedFilter: string;
  /** Where libvirt keeps persistent domain definitions (NAME.xml). */
  configDir: string;
  virshBinary?: string;
  env: NodeJS.ProcessEnv;
  euid: number | undefined;
  log: Logger;
  /** Tests: hold every define this long after reading the definition (a window for a concurrent change). */
  defineDelayMs?: number;
}

/** `NWFILTER_HOOK_WATCH_DEBUG=1`: also log what each lookup of names did. */
export const ENV_WATCH_DEBUG = "NWFILTER_HOOK_WATCH_DEBUG";

const RECONNECT_MIN_MS = 1_000;
const RECONNECT_MAX_MS = 30_000;
const FILTER_SETTLE_MS = 200;

/** An error as one line: ours as formatted for the user, anything else as it says. */
function describe(error: unknown): string {
  return error instanceof NwfilterHookError ? formatError(error) : String(error);
}

export class Watcher {
  private policy: Policy;
  private virsh: Virsh;
  private closeSession: () => void;
  private readonly queue: ReconcileQueue<string>;
  private readonly lookup: NameLookup;
  private events: ChildProcess | undefined;
  private fileWatchers: FSWatcher[] = [];
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private resyncTimer: ReturnType<typeof setInterval> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private reconnectDelay = RECONNECT_MIN_MS;
  private filterTimer: ReturnType<typeof setTimeout> | undefined;
  /** What the last failed pass said, for the queue's failure report. */
  private lastFailed = "";
  private state: WatchState = "starting";
  private stopping = false;
  private filterOk = false;
  private resync: { started: number; left: Set<string>; changed: number; failed: number; domains: number } | undefined;
  private readonly status: WatchStatus;
  private stopped!: Promise<number>;
  private resolveStopped!: (code: number) => void;

  constructor(private readonly options: WatcherOptions) {
    this.policy = options.policy;
    const runner = processVirshSession({ uri: options.uri, binary: options.virshBinary, env: options.env });
    this.virsh = new Virsh(runner);
    this.closeSession = () => runner.close();
    this.queue = new ReconcileQueue<string>({
      run: (uuid) => this.pass(uuid),
      onFailure: (uuid, error, retry) => this.failed(uuid, error, retry),
    });
    this.lookup = new NameLookup({
      list: () => this.virsh.domainRefs(),
      uuidOf: (name) => this.virsh.domainUuid(name),
      found: (uuid) => this.queue.hint(uuid),
      failed: (error, names) => this.log("warning", `cannot look up ${namesText(names)}: ${describe(error)}`),
      // Debug lines (stderr only) where the environment asks for them: how a storm's hints fold.
      report: options.env[ENV_WATCH_DEBUG] === "1" ? (r) => this.log("debug", lookupText(r)) : undefined,
    });
    const now = Date.now();
    this.status = {
      pid: process.pid,
      state: "starting",
      startedAt: now,
      heartbeat: now,
      uri: options.uri,
      policy: options.policyPath,
      lastResync: null,
      lastFailure: null,
    };
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
  }

  private log(priority: Parameters<Logger>[0], message: string): void {
    this.options.log(priority, message);
  }

  private writeStatus(): void {
    this.status.state = this.state;
    this.status.heartbeat = Date.now();
    this.status.policy = this.policy.source;
    try {
      writeWatchStatus(this.options.statusPath, this.status);
    } catch (error) {
      this.log("err", `cannot write the status file ${this.options.statusPath}: ${(error as Error).message}`);
    }
  }

  private noteFailure(what: string): void {
    this.status.lastFailure = { at: Date.now(), what };
  }

  /** An error line, and the failure `check` reports. */
  private logFailure(what: string): void {
    this.log("err", what);
    this.noteFailure(what);
  }

  /** Starts watching; resolves with the exit code once stopped. */
  start(): Promise<number> {
    this.writeStatus();
    this.log("info", `starting (pid ${process.pid}, ${this.options.uri}, policy ${this.policy.source}, resync every ${this.policy.resyncInterval} s)`);
    for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => this.stop(signal));
    process.on("SIGHUP", () => this.reload());
    // A crash must not leave `virsh event` behind (systemd's cgroup would, a plain shell not).
    process.on("exit", () => this.stopEvents());
    this.heartbeatTimer = setInterval(() => this.heartbeat(), WATCH_HEARTBEAT_MS);
    this.scheduleResyncs();
    this.watchFiles();
    this.connect();
    return this.stopped;
  }

  private scheduleResyncs(): void {
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.resyncTimer = setInterval(() => {
      if (this.state === "watching") this.startResync("periodic");
    }, this.policy.resyncInterval * 1000);
  }

  // --- the connection ----------------------------------------------------------------------

  private connect(): void {
    this.reconnectTimer = undefined;
    if (this.stopping) return;
    let version: string;
    try {
      version = this.virsh.daemonVersion();
    } catch (error) {
      const why = describe(error);
      if (this.state !== "disconnected") this.log("err", `libvirt: ${why}; retrying`);
      this.state = "disconnected";
      this.noteFailure(`libvirt: ${why}`);
      this.writeStatus();
      this.closeSession();
      this.reconnectTimer = setTimeout(() => this.connect(), this.reconnectDelay);
      this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MAX_MS);
      return;
    }
    this.reconnectDelay = RECONNECT_MIN_MS;
    this.startEvents();
    this.state = "watching";
    this.log("info", `libvirt: connected to ${this.options.uri} (libvirt ${version}); resyncing`);
    this.writeStatus();
    this.startResync("connected");
  }

  /** The connection is gone (or the daemon restarted under us): drop what hangs on it, reconnect. */
  private lost(why: string): void {
    if (this.stopping || this.state === "disconnected") return;
    this.log("err", `libvirt: ${why}; reconnecting`);
    this.noteFailure(`libvirt: ${why}`);
    this.state = "disconnected";
    this.stopEvents();
    this.lookup.clear();
    this.closeSession();
    this.resync = undefined;
    this.writeStatus();
    if (!this.reconnectTimer) this.reconnectTimer = setTimeout(() => this.connect(), RECONNECT_MIN_MS);
  }

  private heartbeat(): void {
    if (this.stopping || this.state === "disconnected") return;
    try {
      const r = this.virsh.runner.run(["version", "--daemon"]);
      if (r.status !== 0) return this.lost(r.stderr.trim().split("\n").join("; ") || "the daemon does not answer");
      // virsh reconnects a session by itself and says so: the daemon restarted between two beats.
      if (/reconnect/i.test(r.stderr)) return this.lost("the daemon restarted");
    } catch (error) {
      return this.lost(describe(error));
    }
    if (!this.events) return this.lost("the event stream ended");
    this.writeStatus();
  }

  // --- events ------------------------------------------------------------------------------

  private startEvents(): void {
    this.stopEvents();
    const child = spawn(this.options.virshBinary ?? "virsh", ["-c", this.options.uri, "event", "--all", "--loop", "--timestamp"], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...this.options.env, LC_ALL: "C" },
    });
    this.events = child;
    const lines = new LineSplitter();
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      for (const line of lines.push(chunk)) this.onEventLine(line);
    });
    const errors = new LineSplitter();
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      for (const line of errors.push(chunk)) if (line.trim() !== "") this.log("warning", `virsh event: ${line.trim()}`);
    });
    child.on("error", (error) => this.log("err", `cannot run virsh event: ${error.message}`));
    child.on("exit", (code, signal) => {
      if (this.events !== child) return;
      this.events = undefined;
      if (!this.stopping) this.lost(`the event stream ended (virsh event exited ${signal ?? code})`);
    });
  }

  private stopEvents(): void {
    const child = this.events;
    this.events = undefined;
    if (child && child.exitCode === null) child.kill("SIGTERM");
  }

  private onEventLine(line: string): void {
    const event = parseEventLine(line);
    if (!event || this.stopping) return;
    const hint = hintOf(event);
    if (hint === "none" || hint === "gone") return;
    this.hintByName(event.domain);
  }

  /** Collects the name; this turn's names are looked up together (src/watch/name-lookup.ts). */
  private hintByName(name: string): void {
    if (this.state !== "watching" || this.stopping) return;
    this.lookup.add(name);
  }

  // --- files -------------------------------------------------------------------------------

  private watchFiles(): void {
    const watchOne = (dir: string, onFile: (file: string) => void) => {
      try {
        const w = watchDir(dir, { persistent: false }, (_type, file) => {
          if (typeof file === "string" && file.endsWith(".xml")) onFile(file.slice(0, -4));
        });
        w.on("error", () => {});
        this.fileWatchers.push(w);
      } catch (error) {
        this.log("warning", `cannot watch ${dir}: ${(error as NodeJS.ErrnoException).code ?? String(error)} (events and resyncs still apply)`);
      }
    };
    watchOne(this.options.configDir, (name) => this.hintByName(name));
    // libvirt writes the file before it is done with the definition: look a moment later, once.
    watchOne(this.options.settings.nwfilterDir, (name) => {
      if (name !== this.policy.filter || this.filterTimer) return;
      this.filterTimer = setTimeout(() => {
        this.filterTimer = undefined;
        if (this.state !== "watching" || this.stopping) return;
        // A filter that has just come back makes domains fixable again: look at all of them.
        const was = this.filterOk;
        if (this.checkFilter() && !was && this.resync === undefined && this.status.lastResync !== null) this.startResync("filter defined");
      }, FILTER_SETTLE_MS);
    });
  }

  // --- the filter --------------------------------------------------------------------------

  /** Defines the shipped filter where it is missing or differs; returns whether the filter is there. */
  private checkFilter(): boolean {
    try {
      if (this.policy.filter === DEFAULT_FILTER) {
        const r = defineFilter(this.virsh, this.options.shippedFilter);
        if (r.outcome !== "unchanged") this.log("notice", describeDefine(r));
        else if (r.wrote) this.log("notice", `nwfilter '${r.name}': defined again from ${this.options.shippedFilter} (libvirt's definition differed)`);
        this.filterOk = true;
      } else {
        this.filterOk = this.virsh.nwfilterXml(this.policy.filter) !== undefined;
        if (!this.filterOk) {
          const what = `nwfilter '${this.policy.filter}' is not defined in libvirt: domains are left alone until it is (define it with: nwfilter-hook define-filter FILE)`;
          this.logFailure(what);
        }
      }
    } catch (error) {
      const what = `nwfilter '${this.policy.filter}': ${describe(error)}`;
      this.logFailure(what);
      this.filterOk = false;
    }
    return this.filterOk;
  }

  // --- passes ------------------------------------------------------------------------------

  private startResync(why: string): void {
    if (!this.checkFilter()) return;
    let domains: DomainInfo[];
    try {
      domains = this.virsh.domainsByUuid();
    } catch (error) {
      const what = `resync (${why}): ${describe(error)}`;
      this.logFailure(what);
      return;
    }
    this.lookup.counted(domains.length);
    const left = new Set(domains.map((d) => d.uuid as string));
    this.resync = { started: Date.now(), left, changed: 0, failed: 0, domains: left.size };
    for (const uuid of left) this.queue.hint(uuid);
    if (left.size === 0) this.finishResync();
  }

  private resyncDone(uuid: string, changed: boolean, failed: boolean): void {
    const r = this.resync;
    if (!r || !r.left.delete(uuid)) return;
    if (changed) r.changed++;
    if (failed) r.failed++;
    if (r.left.size === 0) this.finishResync();
  }

  private finishResync(): void {
    const r = this.resync;
    if (!r) return;
    this.resync = undefined;
    const ms = Date.now() - r.started;
    this.status.lastResync = { at: Date.now(), domains: r.domains, changed: r.changed, failed: r.failed, ms };
    this.log("info", `resync: ${r.domains} domain${r.domains === 1 ? "" : "s"}: ${r.changed} changed, ${r.failed} failed (${ms} ms)`);
    this.writeStatus();
  }

  /** One domain, as `apply --live` does it. Returns false when it failed (retried later). */
  private pass(uuid: string): boolean {
    if (this.stopping) return true;
    // Disconnected: the resync after the reconnect covers it.
    if (this.state !== "watching" || !this.filterOk) {
      this.resyncDone(uuid, false, false);
      return true;
    }
    let d: DomainInfo | undefined;
    try {
      d = this.virsh.domainInfo(uuid);
      if (d === undefined) {
        this.resyncDone(uuid, false, false);
        return true;
      }
      const delay = this.options.defineDelayMs ?? 0;
      const name = d.name;
      const beforeDefine =
        delay > 0
          ? () => {
              this.log("info", `${name}: definition: read; holding the define for ${delay} ms (NWFILTER_HOOK_TEST_DEFINE_DELAY_MS)`);
              sleep(delay);
            }
          : undefined;
      const changed = reconcileDomain(this.virsh, d, this.policy, nodeHostFacts(this.options.settings), { live: true, dryRun: false, beforeDefine }, (line) => {
        // Actions only: "nothing to do" for every domain at every resync would drown them.
        if (/: (added|changed by someone else)/.test(line)) this.log("notice", line);
      });
      this.resyncDone(uuid, changed, false);
      return true;
    } catch (error) {
      if (!(error instanceof NwfilterHookError)) throw error;
      this.lastFailed = `${d?.name ?? uuid}: FAILED: ${formatError(error)}`;
      this.resyncDone(uuid, false, true);
      return false;
    }
  }

  private failed(uuid: string, error: unknown, retryMs: number): void {
    const what = this.lastFailed || `${uuid}: FAILED: ${String(error)}`;
    this.lastFailed = "";
    this.log("err", `${what} (retrying in ${Math.round(retryMs / 1000)} s)`);
    this.noteFailure(what);
    this.writeStatus();
  }

  // --- signals -----------------------------------------------------------------------------

  private reload(): void {
    if (this.stopping) return;
    let policy: Policy;
    try {
      policy = loadPolicy(this.options.policyPath, { euid: this.options.euid });
    } catch (error) {
      const what = `policy: ${describe(error)}; keeping the last good policy (${this.policy.source})`;
      this.logFailure(what);
      this.writeStatus();
      return;
    }
    this.policy = policy;
    this.log("info", `policy: reloaded ${policy.source} (OnMissing=${policy.onMissing}, resync every ${policy.resyncInterval} s); resyncing`);
    this.scheduleResyncs();
    this.writeStatus();
    if (this.state === "watching") this.startResync("policy reloaded");
  }

  /** Stops after the pass that runs now (passes are synchronous: this runs between two). */
  stop(signal = "stop"): void {
    if (this.stopping) return;
    this.stopping = true;
    this.queue.stop();
    this.lookup.clear();
    for (const t of [this.heartbeatTimer, this.resyncTimer]) if (t) clearInterval(t);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.filterTimer) clearTimeout(this.filterTimer);
    for (const w of this.fileWatchers) w.close();
    this.stopEvents();
    this.closeSession();
    this.state = "stopped";
    this.writeStatus();
    this.log("info", `stopped (${signal})`);
    this.resolveStopped(0);
  }
}

/** "domain 'web1'", "3 domains ('a', 'b', 'c')", "12 domains ('a', 'b', 'c', ...)". */
function namesText(names: readonly string[]): string {
  if (names.length === 1) return `domain '${names[0]}'`;
  const shown = names.slice(0, 3).map((n) => `'${n}'`);
  return `${names.length} domains (${shown.join(", ")}${names.length > 3 ? ", ..." : ""})`;
}

function lookupText(r: LookupReport): string {
  const by = r.by === "listing" ? "one listing" : `${r.names} domuuid`;
  return `lookup: ${r.hints} hint${r.hints === 1 ? "" : "s"} for ${r.names} name${r.names === 1 ? "" : "s"}, ${by}: ${r.found} found, ${r.names - r.found} gone`;
}

export function defaultConfigDir(uri: string): string {
  // qemu:///session keeps its definitions under the user's config directory.
  return /^qemu(\+\w+)?:\/\/[^/]*\/session/.test(uri) ? join(process.env.HOME ?? "/root", ".config/libvirt/qemu") : "/etc/libvirt/qemu";
}
