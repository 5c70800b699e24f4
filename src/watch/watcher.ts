// `nwfilter-hook watch`: keeps every domain compliant as libvirt changes it. Full state is the
// truth, events are hints: at start, after every reconnect, after a policy reload and every
// ResyncInterval every domain gets a pass; in between, events and definition files
// (event-sources.ts) name domains, looked up together per turn (name-lookup.ts). A pass is `apply
// --live` for one domain (domain-pass.ts): a compliant domain gets no write, so the watcher's own
// define ends in a pass that does nothing. Passes run one at a time (queue.ts); every virsh call
// is asynchronous with a deadline, so the event loop turns throughout: the heartbeat (status.ts)
// keeps the status fresh and the watchdog fed while the watcher works, and a daemon that stops
// answering costs a deadline, after which the connection (connection.ts) is made again, then a
// resync. Every resync first defines the shipped and the custom filters that are missing or
// differ; a policy reload resyncs, which moves running NICs to their new choice live.
import { WATCH_CONNECT_GRACE_MS, WATCH_HEARTBEAT_MS } from "../core/constants.js";
import { NwfilterHookError, formatError } from "../core/errors.js";
import { ENV_WATCH_DEBUG, STOP_WAIT_MS, STUCK_MARGIN_MS, connectionLost, describe, type WatcherDeps, type WatcherOptions } from "./watcher-deps.js";
import { managedFilters } from "../core/filter-choice.js";
import type { Policy } from "../core/policy.js";
import { Virsh, classify, type DomainInfo, type VirshRunner } from "../host/virsh.js";
import { Connection } from "./connection.js";
import { DefinitionFiles, EventStream } from "./event-sources.js";
import type { Logger } from "./log.js";
import { NameLookup, lookupText, namesText } from "./name-lookup.js";
import { ReconcileQueue } from "./queue.js";
import { ensureFilters, passOver } from "./domain-pass.js";
import { ResyncTracker, type ResyncSummary } from "./resync.js";
import { Heartbeat, StatusFile } from "./status.js";

export class Watcher {
  private policy: Policy;
  private readonly runner: VirshRunner & { close(): void };
  private readonly virsh: Virsh;
  private readonly queue: ReconcileQueue<string>;
  private readonly lookup: NameLookup;
  private readonly status: StatusFile;
  private readonly connection: Connection;
  private readonly events: EventStream;
  private readonly files: DefinitionFiles;
  private readonly heartbeat: Heartbeat;
  private readonly resync: ResyncTracker;
  private resyncTimer: unknown;
  /** What the last failed pass said, for the queue's failure report. */
  private lastFailed = "";
  private stopping = false;
  /** Why a resync was asked for while one ran: it runs again once that one ends. */
  private again: string | undefined;
  private readonly stopped: Promise<number>;
  private resolveStopped!: (code: number) => void;

  constructor(
    private readonly options: WatcherOptions,
    private readonly deps: WatcherDeps,
  ) {
    this.policy = options.policy;
    const { clock } = deps;
    this.runner = deps.runner({ uri: options.uri, binary: options.virshBinary, env: options.env });
    this.virsh = new Virsh(this.runner);
    this.queue = new ReconcileQueue<string>({ clock, run: (uuid) => this.pass(uuid), onFailure: (uuid, error, retry) => this.failed(uuid, error, retry) });
    this.lookup = new NameLookup({
      list: () => this.virsh.domainRefs(),
      uuidOf: (name) => this.virsh.domainUuid(name),
      found: (uuid) => this.queue.hint(uuid),
      failed: (error, names) => {
        if (this.stopping) return;
        if (connectionLost(error)) this.lost(describe(error));
        else this.log("warning", `cannot look up ${namesText(names)}: ${describe(error)}`);
      },
      // After the pass that runs: what it finds could not be passed before that pass ends anyway,
      // and the events of a storm pile up meanwhile and are looked up together.
      defer: (fn) => {
        let cancelled = false;
        void this.queue.idle().then(() => setImmediate(() => cancelled || fn()));
        return () => (cancelled = true);
      },
      // Debug lines (stderr only) where the environment asks for them: how a storm's hints fold.
      report: options.env[ENV_WATCH_DEBUG] === "1" ? (r) => this.log("debug", lookupText(r)) : undefined,
    });
    this.status = new StatusFile({
      clock,
      path: options.statusPath,
      write: (path, status) => deps.writeStatus(path, status),
      failedWrite: (error) => this.log("err", `cannot write the status file ${options.statusPath}: ${(error as Error).message}`),
      pid: deps.pid,
      uri: options.uri,
      policy: this.policy.source,
    });
    this.connection = new Connection({
      clock,
      graceMs: WATCH_CONNECT_GRACE_MS,
      attempt: () => this.virsh.daemonVersion(),
      connected: (version) => this.connected(version),
      failed: (error, first) => {
        const why = `libvirt: ${describe(error)}`;
        if (first) this.log("err", `${why}; retrying`);
        this.status.failure(why);
        this.runner.close();
      },
      changed: () => this.writeStatus(),
    });
    const binary = options.virshBinary ?? "virsh";
    this.events = new EventStream({
      spawner: deps.spawner,
      binary,
      uri: options.uri,
      env: options.env,
      domain: (name) => this.hint(name),
      warning: (line) => this.log("warning", `virsh event: ${line}`),
      ended: (why) => this.lost(why),
    });
    this.files = new DefinitionFiles({
      files: deps.files,
      clock,
      configDir: options.configDir,
      nwfilterDir: options.settings.nwfilterDir,
      domain: (name) => this.hint(name),
      filter: (name) => void this.filterChanged(`nwfilter '${name}' changed`),
      customDir: options.settings.filtersDir,
      custom: (name) => void this.filterChanged(`custom filter ${name}.xml changed`),
      warning: (message) => this.log("warning", message),
    });
    this.heartbeat = new Heartbeat({
      clock,
      intervalMs: WATCH_HEARTBEAT_MS,
      notifier: deps.notifier,
      stuckMarginMs: STUCK_MARGIN_MS,
      inFlight: () => this.runner.inFlight?.(),
      connected: () => this.connection.state === "watching",
      probe: () => this.probe(),
      alive: (call) => this.writeStatus(call),
      lost: (why) => this.lost(why),
      stuck: (call) =>
        this.log("err", `stuck: '${call.what}' has been out for ${Math.round((clock.now() - call.since) / 1000)} s, past its deadline: no more heartbeats`),
    });
    this.resync = new ResyncTracker(clock);
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
  }

  private log(priority: Parameters<Logger>[0], message: string): void {
    this.options.log(priority, message);
  }

  private writeStatus(call = this.runner.inFlight?.()): void {
    const c = this.connection;
    this.status.write({ state: c.state, waitingSince: c.waitingSince, inFlight: call, policy: this.policy.source });
  }

  /** An error line, and the failure `check` reports. */
  private logFailure(what: string): void {
    this.log("err", what);
    this.status.failure(what);
  }

  /** A call failed: the connection is gone (reconnect), or `what` failed (log it); nothing while stopping. */
  private trouble(error: unknown, what: string): void {
    if (this.stopping) return;
    if (connectionLost(error)) this.lost(describe(error));
    else this.logFailure(`${what}: ${describe(error)}`);
  }

  /** Starts watching; resolves with the exit code once stopped. */
  start(): Promise<number> {
    this.writeStatus();
    this.log("info", `starting (pid ${this.deps.pid}, ${this.options.uri}, policy ${this.policy.source}, resync every ${this.policy.resyncInterval} s)`);
    // Ready once it runs and its status is written, not once connected: at boot it is ordered
    // before the libvirt daemons, which must not wait for it.
    this.deps.notifier.ready(`connecting to ${this.options.uri}`);
    this.heartbeat.start();
    this.scheduleResyncs();
    this.files.start();
    this.connection.start();
    return this.stopped;
  }

  private scheduleResyncs(): void {
    const { clock } = this.deps;
    if (this.resyncTimer !== undefined) clock.clearInterval(this.resyncTimer);
    this.resyncTimer = clock.setInterval(() => {
      if (this.connection.state === "watching" && !this.resync.running) void this.startResync("periodic");
    }, this.policy.resyncInterval * 1000);
  }

  // --- the connection ----------------------------------------------------------------------

  private connected(version: string): void {
    this.events.start();
    this.log("info", `libvirt: connected to ${this.options.uri} (libvirt ${version}); resyncing`);
    void this.startResync("connected");
  }

  /** The connection is gone (or the daemon restarted under us): drop what hangs on it, reconnect. */
  private lost(why: string): void {
    if (this.stopping || this.connection.state !== "watching") return;
    this.logFailure(`libvirt: ${why}; reconnecting`);
    this.events.stop();
    this.lookup.clear();
    this.resync.abandon();
    this.again = undefined;
    this.runner.close();
    this.connection.lost();
  }

  /** The heartbeat's question to an idle connection; resolves with why it failed, or undefined. */
  private async probe(): Promise<string | undefined> {
    try {
      const r = await this.runner.run(["version", "--daemon"]);
      if (r.status !== 0) return describe(classify(r, ["version", "--daemon"], this.options.uri));
      // virsh reconnects a session by itself and says so: the daemon restarted between two beats.
      if (/reconnect/i.test(r.stderr)) return "the daemon restarted";
    } catch (error) {
      return describe(error);
    }
    return this.events.running ? undefined : "the event stream ended";
  }

  /** A name from an event or a file: this turn's names are looked up together. */
  private hint(name: string): void {
    if (this.connection.state !== "watching" || this.stopping) return;
    this.lookup.add(name);
  }

  // --- filters and passes -------------------------------------------------------------------

  /** A NIC whose chosen filter is still missing after this is left alone by its pass, which says so. */
  private async defineFilters(): Promise<void> {
    try {
      await ensureFilters(this.virsh, this.options.shippedFilter, this.options.settings.filtersDir, this.options.log);
    } catch (error) {
      this.trouble(error, "nwfilters");
    }
  }

  /** A filter's definition or a custom filter's file changed: define what differs, resync (NICs may now be fixable). */
  private async filterChanged(why: string): Promise<void> {
    if (this.connection.state === "watching" && !this.stopping && this.status.status.lastResync !== null) await this.requestResync(why);
  }

  /** A resync now, or once the one that runs has ended. */
  private async requestResync(why: string): Promise<void> {
    if (this.resync.running) this.again = why;
    else await this.startResync(why);
  }

  private async startResync(why: string): Promise<void> {
    await this.defineFilters();
    let domains: DomainInfo[];
    try {
      domains = await this.virsh.domainsByUuid();
    } catch (error) {
      return this.trouble(error, `resync (${why})`);
    }
    if (this.connection.state !== "watching" || this.stopping) return;
    this.lookup.counted(domains.length);
    const uuids = domains.map((d) => d.uuid as string);
    const summary = this.resync.begin(why, uuids);
    for (const uuid of uuids) this.queue.hint(uuid);
    if (summary) this.resynced(summary);
  }

  private resynced(r: ResyncSummary | undefined): void {
    if (!r) return;
    this.status.status.lastResync = { at: r.at, domains: r.domains, changed: r.changed, failed: r.failed, ms: r.ms, nics: r.nics };
    this.log("info", `resync: ${r.domains} domain${r.domains === 1 ? "" : "s"}: ${r.changed} changed, ${r.failed} failed (${r.ms} ms)`);
    this.connection.covered();
    this.writeStatus();
    const again = this.again;
    this.again = undefined;
    if (again !== undefined && this.connection.state === "watching" && !this.stopping) void this.startResync(again);
  }

  /** One domain, as `apply --live` does it. Resolves false when it failed (retried later). */
  private async pass(uuid: string): Promise<boolean> {
    if (this.stopping) return true;
    // Not connected: the resync after the reconnect covers it.
    if (this.connection.state !== "watching") {
      this.resynced(this.resync.done(uuid, { changed: false, failed: false }));
      return true;
    }
    let name = uuid;
    try {
      const { policy, options, deps } = this;
      const host = deps.hostFacts(options.settings);
      const r = await passOver(this.virsh, uuid, { policy, host, log: options.log, clock: deps.clock, holdDefineMs: options.defineDelayMs });
      if (r !== "gone") [name, this.status.status.fixes] = [r.name, (this.status.status.fixes ?? 0) + r.fixed];
      this.resynced(this.resync.done(uuid, { changed: r !== "gone" && r.changed, failed: false, nics: r === "gone" ? undefined : r.nics }));
      return true;
    } catch (error) {
      if (this.stopping) return true;
      if (!(error instanceof NwfilterHookError)) throw error;
      if (connectionLost(error)) {
        // The resync after the reconnect covers this domain.
        this.lost(describe(error));
        return true;
      }
      this.lastFailed = `${name}: FAILED: ${formatError(error)}`;
      this.resynced(this.resync.done(uuid, { changed: false, failed: true }));
      return false;
    }
  }

  private failed(uuid: string, error: unknown, retryMs: number): void {
    const what = this.lastFailed || `${uuid}: FAILED: ${String(error)}`;
    this.lastFailed = "";
    this.log("err", `${what} (retrying in ${Math.round(retryMs / 1000)} s)`);
    this.status.failure(what);
    this.writeStatus();
  }

  // --- signals -----------------------------------------------------------------------------

  /** SIGHUP: reads the policy again (a bad one is logged and the last good one kept); NICs move to their new choice live. */
  reload(): void {
    if (this.stopping) return;
    let policy: Policy;
    try {
      policy = this.deps.loadPolicy(this.options.policyPath);
    } catch (error) {
      this.logFailure(`policy: ${describe(error)}; keeping the last good policy (${this.policy.source})`);
      this.writeStatus();
      return;
    }
    this.policy = { ...policy, formerFilters: [...managedFilters(this.policy, new Map())] };
    this.log("info", `policy: reloaded ${policy.source} (OnMissing=${policy.onMissing}, resync every ${policy.resyncInterval} s); resyncing`);
    this.scheduleResyncs();
    this.writeStatus();
    if (this.connection.state === "watching") void this.requestResync("policy reloaded");
  }

  /** Stops after the pass that runs now (waiting for it at most STOP_WAIT_MS), so never between a read and its define. */
  async stop(signal = "stop"): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.deps.notifier.stopping();
    this.lookup.clear();
    this.heartbeat.stop();
    if (this.resyncTimer !== undefined) this.deps.clock.clearInterval(this.resyncTimer);
    this.files.stop();
    this.connection.stop();
    let timer: unknown;
    await Promise.race([this.queue.stop(), new Promise<void>((resolve) => (timer = this.deps.clock.setTimeout(resolve, STOP_WAIT_MS)))]);
    this.deps.clock.clearTimeout(timer);
    this.abandon();
    this.status.write({ state: "stopped", inFlight: undefined });
    this.log("info", `stopped (${signal})`);
    this.resolveStopped(0);
  }

  /** Ends the helper processes at once (the process is exiting: a crash must not leave `virsh event` behind). */
  abandon(): void {
    this.events.stop();
    this.runner.close();
  }
}
