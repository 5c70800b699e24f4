// Private libvirt daemons on this one machine (DESIGN.md, "Two libvirt daemons on one host"):
// two for real live migrations between them, or one that a test may stop and start again. Each
// runs its own virtlogd and libvirtd in a mount namespace of its own (`unshare -m --propagation
// private`) where its own directories are bind-mounted over /etc/libvirt, /run/libvirt,
// /var/lib/libvirt, /var/log/libvirt and /var/cache/libvirt; it has its own host_uuid (libvirt
// refuses to migrate to the same host) and `cgroup_controllers = [ ]` (the two would otherwise
// make the same cgroups). From outside it is `qemu+unix:///system?socket=DIR/run/libvirt/libvirt-sock`.
//
// Nothing here touches the system libvirtd or the host's /etc/libvirt: the daemons, their qemu
// processes and the test bridge are this helper's own, stopped by pid and removed by stop().
// A run that was killed before stop() is cleaned up by the next start (each daemon's directory
// under STATE_ROOT records its pids).
//
//   const two = TwoDaemons.start();           // two.a, two.b: PrivateDaemon
//   two.a.virsh('start', 'vm1');
//   await two.migrate('vm1', two.a, two.b);
//   two.onStop(() => child.kill());           // e.g. a watcher started with -c two.b.uri
//   two.stop();
//
//   const d = startPrivateDaemon('restart');  // one daemon
//   startPrivateDaemon('boot', { watchStatus: true })  // with its own /run/nwfilter-hook: its
//                                             // hook reads d.watchStatusFile as the watcher's status
//   d.stopLibvirtd();                         // its libvirtd only: virtlogd, namespace and files stay
//   d.startLibvirtd();                        // the same daemon again, in the same namespace
//   d.stop(true);
import { execFileSync, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { onPath, sleep, virshWith } from "./libvirt.js";
import { VirshHost } from "./virsh-host.js";

/** Where the private daemons' directories go (one per daemon, named by the helper). */
export const STATE_ROOT = "/tmp/nwfh-two-daemons";
/** The Linux bridge the test domains use; made by start(), deleted by stop(). */
export const MIGRATION_BRIDGE = "nwfh-mig0";

const MOUNTED = ["etc/libvirt", "run/libvirt", "var/lib/libvirt", "var/log/libvirt", "var/cache/libvirt"];
/** Where the installed hook reads the watcher's status (DEFAULT_WATCH_STATUS), mounted only where asked. */
const WATCH_RUN = "run/nwfilter-hook";
/** The system's qemu capabilities cache: a copy spares a private daemon the qemu probe when it is fresh. */
export const SYSTEM_CAPABILITIES = "/var/cache/libvirt/qemu/capabilities";
const COMMANDS = ["unshare", "nsenter", "mount", "libvirtd", "virtlogd", "virsh", "qemu-system-x86_64", "ip", "ebtables"];

/** Why private daemons cannot run here, or undefined when they can. */
export function privateDaemonsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "not running as root (private mount namespaces and libvirtd need it)";
  const missing = COMMANDS.filter((c) => !onPath(c));
  if (missing.length > 0) return `not on PATH: ${missing.join(", ")} (install libvirt-daemon-system libvirt-clients qemu-system-x86 ebtables iproute2)`;
  if (!existsSync("/usr/share/libvirt/nwfilter/no-mac-spoofing.xml")) return "libvirt's built-in nwfilters are missing from /usr/share/libvirt/nwfilter";
  return undefined;
}

/** For suites: true when private daemons can run; false (skip) elsewhere, but under CI=true it throws. */
export function requirePrivateDaemons(): boolean {
  const why = privateDaemonsUnavailable();
  if (why === undefined) return true;
  if (process.env.CI === "true") throw new Error(`private libvirt daemons are required under CI=true but cannot run: ${why}`);
  return false;
}

function comm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return undefined;
  }
}

export function pidIn(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, "utf8").trim(), 10);
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `pid` runs (a zombie does not) and is a program that `name` accepts. */
export function runs(pid: number, name: (c: string) => boolean): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return false;
  }
  // PID (COMM) STATE ...: COMM may hold spaces and parentheses, so split at the last ')'.
  const close = stat.lastIndexOf(")");
  const state = stat.slice(close + 2, close + 3);
  return state !== "Z" && state !== "X" && name(stat.slice(stat.indexOf("(") + 1, close));
}

/**
 * Whether `pid` lives in a mount namespace other than this process's. Every process of a private
 * daemon does; the system libvirtd (which a stale or reused pid could name) does not.
 */
function inPrivateNamespace(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`) !== readlinkSync("/proc/self/ns/mnt");
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after `graceMs`, to `pid` only while it is still the program `name` in a private namespace. */
export function stopPid(pid: number, name: (c: string) => boolean, graceMs = 15_000): void {
  const alive = () => runs(pid, name);
  if (!alive()) return;
  if (!inPrivateNamespace(pid)) throw new Error(`pid ${pid} runs in this process's mount namespace: not a private daemon's, left alone`);
  // A daemon a test stopped with SIGSTOP would never see the SIGTERM.
  process.kill(pid, "SIGCONT");
  process.kill(pid, "SIGTERM");
  for (let waited = 0; waited < graceMs; waited += 100) {
    if (!alive()) return;
    sleep(100);
  }
  if (alive()) process.kill(pid, "SIGKILL");
  for (let waited = 0; waited < 5_000 && alive(); waited += 100) sleep(100);
}

const isLibvirtd = (c: string) => c === "libvirtd";
const isVirtlogd = (c: string) => c === "virtlogd";
// Each writes its log and pid file into the daemon's directory ($d in PrivateDaemon.launch()).
const VIRTLOGD = 'LIBVIRT_LOG_OUTPUTS="3:file:$d/virtlogd.log" virtlogd -d -p "$d/virtlogd.pid"';
const LIBVIRTD = 'LIBVIRT_LOG_OUTPUTS="3:file:$d/libvirtd.log" libvirtd -d -p "$d/libvirtd.pid"';

/** One private virtlogd + libvirtd pair. */
export class PrivateDaemon extends VirshHost {
  readonly uri: string;
  readonly socket: string;
  /** Its /etc/libvirt/hooks, as seen from outside: pass it to `install --hooks-dir`. */
  readonly hooksDir: string;
  readonly nwfilterDir: string;
  /** Its /etc/libvirt/qemu (the persistent definitions), as seen from outside. */
  readonly qemuConfigDir: string;
  /** A policy path for this daemon's hook (not written by the helper). */
  readonly policy: string;
  /** With `watchStatus`: the watcher's status file that this daemon's hook reads, as seen from outside. */
  readonly watchStatusFile: string;
  /** Whether this helper made the host's /run/nwfilter-hook (an empty mount point), to remove it again. */
  private madeRunDir = false;
  private pids: { libvirtd?: number; virtlogd?: number } = {};

  constructor(
    readonly label: string,
    readonly dir: string,
    readonly watchStatus = false,
  ) {
    super();
    this.watchStatusFile = join(dir, WATCH_RUN, "watch.json");
    this.socket = join(dir, "run", "libvirt", "libvirt-sock");
    this.uri = `qemu+unix:///system?socket=${this.socket}`;
    this.hooksDir = join(dir, "etc", "libvirt", "hooks");
    this.nwfilterDir = join(dir, "etc", "libvirt", "nwfilter");
    this.qemuConfigDir = join(dir, "etc", "libvirt", "qemu");
    this.policy = join(dir, "policy.ini");
  }

  /**
   * The directory overrides that the CLI and the watcher need for this daemon, run from outside
   * its mount namespace: its nwfilter directory, its networks (active, then persistent) and its
   * domain definitions.
   */
  get outsideEnv(): Record<string, string> {
    return {
      NWFILTER_HOOK_NWFILTER_DIR: this.nwfilterDir,
      NWFILTER_HOOK_NETWORK_DIRS: `${join(this.dir, "run", "libvirt", "network")}:${join(this.qemuConfigDir, "networks")}`,
      NWFILTER_HOOK_QEMU_CONFIG_DIR: this.qemuConfigDir,
    };
  }

  private get mounted(): string[] {
    return this.watchStatus ? [...MOUNTED, WATCH_RUN] : MOUNTED;
  }

  get pid(): number {
    if (this.pids.libvirtd === undefined) throw new Error(`daemon ${this.label} is not running`);
    return this.pids.libvirtd;
  }

  /** Writes the daemon's configuration; `capabilities` is a qemu capabilities cache to start from. */
  prepare(capabilities: string | undefined): void {
    for (const d of this.mounted) {
      mkdirSync(join(this.dir, d), { recursive: true });
      chmodSync(join(this.dir, d), 0o755);
    }
    mkdirSync(this.hooksDir, { recursive: true });
    // As the package ships it: libvirtd makes it only at the first define, and a watcher wants it before.
    mkdirSync(this.qemuConfigDir, { recursive: true });
    // A private /etc/libvirt has no built-in filters: no-mac-spoofing and friends come from here.
    cpSync("/usr/share/libvirt/nwfilter", this.nwfilterDir, { recursive: true });
    writeFileSync(join(this.dir, "etc", "libvirt", "libvirtd.conf"), `host_uuid = "${randomUUID()}"\n`);
    writeFileSync(join(this.dir, "etc", "libvirt", "qemu.conf"), "cgroup_controllers = [ ]\n");
    // A copied capabilities cache spares the qemu probe (about 8 s) when it is still valid.
    if (capabilities !== undefined && existsSync(capabilities)) {
      cpSync(capabilities, join(this.dir, "var", "cache", "libvirt", "qemu", "capabilities"), { recursive: true });
    }
  }

  /** Starts virtlogd and libvirtd in a private mount namespace and waits until libvirtd answers. */
  start(timeoutMs = 90_000): void {
    // The mount point is made on the host's /run when missing (mkdir is not private): removed at stop().
    if (this.watchStatus && !existsSync(`/${WATCH_RUN}`)) {
      mkdirSync(`/${WATCH_RUN}`, { mode: 0o755 });
      this.madeRunDir = true;
    }
    const mounts = `for x in ${this.mounted.join(" ")}; do mkdir -p "/$x"; mount --bind "$d/$x" "/$x"; done`;
    this.launch(["unshare", "-m", "--propagation", "private"], [mounts, VIRTLOGD, LIBVIRTD], "starting");
    this.waitUntilAnswering(timeoutMs);
  }

  /**
   * Stops libvirtd alone (SIGTERM to its own pid, SIGKILL if it lingers), as when a daemon
   * restarts: virtlogd, the namespace, the definitions and the state stay. Returns the pid.
   */
  stopLibvirtd(): number {
    const pid = this.pid;
    stopPid(pid, isLibvirtd);
    if (runs(pid, isLibvirtd)) throw new Error(`daemon ${this.label}: libvirtd (pid ${pid}) did not stop`);
    this.pids.libvirtd = undefined;
    // It removes its pid file when it exits cleanly; after a SIGKILL the stale one must not name it.
    rmSync(join(this.dir, "libvirtd.pid"), { force: true });
    return pid;
  }

  /**
   * SIGSTOP or SIGCONT to this daemon's libvirtd (a daemon that hangs, and resumes), only while
   * its pid is still libvirtd in a private namespace.
   */
  signalLibvirtd(signal: "SIGSTOP" | "SIGCONT"): void {
    const pid = this.pid;
    if (!runs(pid, isLibvirtd) || !inPrivateNamespace(pid)) throw new Error(`daemon ${this.label}: pid ${pid} is not its private libvirtd`);
    process.kill(pid, signal);
  }

  /** Starts libvirtd again after stopLibvirtd(), in the namespace its virtlogd still holds, and waits until it answers. */
  startLibvirtd(timeoutMs = 90_000): void {
    if (this.pids.libvirtd !== undefined) throw new Error(`daemon ${this.label}: libvirtd runs already (pid ${this.pids.libvirtd})`);
    const virtlogd = this.pids.virtlogd;
    if (virtlogd === undefined || !runs(virtlogd, isVirtlogd))
      throw new Error(`daemon ${this.label}: its virtlogd is gone, so is its namespace: start() it anew`);
    // In our own namespace libvirtd would serve the host's /etc/libvirt.
    if (!inPrivateNamespace(virtlogd))
      throw new Error(`daemon ${this.label}: virtlogd (pid ${virtlogd}) runs in this process's mount namespace, not a private one`);
    this.launch(["nsenter", "-t", String(virtlogd), "-m", "--"], [LIBVIRTD], "starting libvirtd again in");
    this.waitUntilAnswering(timeoutMs);
  }

  /** Runs `lines` as a shell script (with $d this daemon's directory) under `prefix`, then reads the pids the daemons wrote. */
  private launch(prefix: string[], lines: string[], what: string): void {
    const [command, ...args] = prefix as [string, ...string[]];
    const script = ["set -e", "d=$1", ...lines].join("\n");
    const r = spawnSync(command, [...args, "sh", "-c", script, "sh", this.dir], { encoding: "utf8", timeout: 60_000 });
    this.pids = { virtlogd: pidIn(join(this.dir, "virtlogd.pid")), libvirtd: pidIn(join(this.dir, "libvirtd.pid")) };
    if (r.status !== 0) throw new Error(`${what} daemon ${this.label} failed (exit ${r.status}): ${r.stderr}${r.error?.message ?? ""}${this.logTail()}`);
  }

  private waitUntilAnswering(timeoutMs: number): void {
    // libvirtd -d exits 0 even when its drivers fail: only an answer says it works.
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        this.virshWithTimeout(10_000, "version", "--daemon");
        return;
      } catch (error) {
        if (Date.now() >= deadline || comm(this.pids.libvirtd ?? 0) !== "libvirtd") {
          throw new Error(`daemon ${this.label} does not answer on ${this.uri}: ${(error as Error).message}${this.logTail()}`, { cause: error });
        }
        sleep(200);
      }
    }
  }

  private logTail(): string {
    try {
      return `\nlast lines of ${this.dir}/libvirtd.log:\n${readFileSync(join(this.dir, "libvirtd.log"), "utf8").split("\n").slice(-15).join("\n")}`;
    } catch {
      return "";
    }
  }

  protected get where(): string {
    return `against ${this.uri}`;
  }

  protected get qemuLogDir(): string {
    return join(this.dir, "var", "log", "libvirt", "qemu");
  }

  virsh(...args: string[]): string {
    return virshWith({ uri: this.uri }, ...args);
  }

  virshWithTimeout(timeoutMs: number, ...args: string[]): string {
    return virshWith({ uri: this.uri, timeoutMs }, ...args);
  }

  /** `virsh SUBCOMMAND FILE [extra...]` with `xml` in a file. */
  virshWithXml(subcommand: string, xml: string, ...extra: string[]): string {
    const file = join(this.dir, `input-${randomUUID()}.xml`);
    writeFileSync(file, xml);
    try {
      return this.virsh(subcommand, file, ...extra);
    } finally {
      rmSync(file, { force: true });
    }
  }

  /**
   * Removes every domain, stops libvirtd and virtlogd (by the pids they wrote), kills any qemu
   * they left behind (by the pid files in its /run/libvirt/qemu) and deletes the directory (and
   * STATE_ROOT once empty). Returns what failed; throws it instead when `throwOnError`, after
   * trying all of it.
   */
  stop(throwOnError = false): string[] {
    const errors: string[] = [];
    const attempt = (what: string, fn: () => void) => {
      try {
        fn();
      } catch (error) {
        errors.push(`${this.label}: ${what}: ${(error as Error).message}`);
      }
    };
    const libvirtd = this.pids.libvirtd ?? pidIn(join(this.dir, "libvirtd.pid"));
    const virtlogd = this.pids.virtlogd ?? pidIn(join(this.dir, "virtlogd.pid"));
    if (libvirtd !== undefined && comm(libvirtd) === "libvirtd") {
      attempt("remove domains", () => {
        const names = this.virshWithTimeout(30_000, "list", "--all", "--name")
          .split("\n")
          .map((l) => l.trim())
          .filter(Boolean);
        for (const name of names) attempt(`domain ${name}`, () => this.removeDomain(name));
      });
    }
    const qemuRun = join(this.dir, "run", "libvirt", "qemu");
    const qemuPids = existsSync(qemuRun)
      ? readdirSync(qemuRun)
          .filter((f) => f.endsWith(".pid"))
          .map((f) => pidIn(join(qemuRun, f)))
          .filter((p): p is number => p !== undefined)
      : [];
    if (libvirtd !== undefined) attempt("stop libvirtd", () => stopPid(libvirtd, isLibvirtd));
    for (const pid of qemuPids) attempt(`stop qemu ${pid}`, () => stopPid(pid, (c) => c.startsWith("qemu-system"), 5_000));
    if (virtlogd !== undefined) attempt("stop virtlogd", () => stopPid(virtlogd, isVirtlogd));
    this.pids = {};
    attempt("remove its directory", () => rmSync(this.dir, { recursive: true, force: true }));
    if (this.madeRunDir) {
      attempt(`remove /${WATCH_RUN}`, () => {
        if (existsSync(`/${WATCH_RUN}`) && readdirSync(`/${WATCH_RUN}`).length === 0) rmSync(`/${WATCH_RUN}`, { recursive: true });
      });
      this.madeRunDir = false;
    }
    if (dirname(this.dir) === STATE_ROOT) {
      try {
        if (readdirSync(STATE_ROOT).length === 0) rmSync(STATE_ROOT, { recursive: true });
      } catch {
        // another daemon's directory is there, or it is gone already
      }
    }
    if (throwOnError && errors.length > 0) throw new Error(`daemon ${this.label}: stop: ${errors.join("; ")}`);
    return errors;
  }
}

/** This process, as the owner file of a state directory names it: pid and start time (pid reuse). */
function processIdentity(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22, starttime, counted after COMM's closing parenthesis (COMM may hold spaces).
    const starttime = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
    return starttime === undefined ? undefined : `${pid} ${starttime}`;
  } catch {
    return undefined;
  }
}

/** Marks a new state directory as this process's, so that another test run leaves it alone. */
export function claimStateDir(dir: string): void {
  writeFileSync(join(dir, "owner"), `${processIdentity(process.pid) ?? process.pid}\n`);
}

/**
 * Whether a state directory belongs to another test process that still runs (another vitest run
 * on the same machine, using its daemons now): only what a dead run left may be cleaned up. A
 * directory of this process is a leftover of an earlier suite (the e2e suites run one at a time).
 */
export function ownedByAnotherRun(dir: string): boolean {
  let owner: string;
  try {
    owner = readFileSync(join(dir, "owner"), "utf8").trim();
  } catch {
    return false;
  }
  const pid = Number.parseInt(owner, 10);
  if (!Number.isInteger(pid) || pid === process.pid) return false;
  return processIdentity(pid) === owner;
}

/** A new daemon with a directory of its own under `root` (nothing written in it yet). */
function newDaemon(label: string, watchStatus = false, root = STATE_ROOT): PrivateDaemon {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const dir = mkdtempSync(join(root, `${label}-`));
  claimStateDir(dir);
  return new PrivateDaemon(label, dir, watchStatus);
}

/**
 * Stops the daemons that an interrupted run left under `root` (by their recorded pids); those of
 * another test run that still runs are left alone. Returns whether there were such.
 */
export function cleanDaemonsLeftIn(root: string): boolean {
  if (!existsSync(root)) return false;
  let othersRun = false;
  for (const entry of readdirSync(root)) {
    const dir = join(root, entry);
    if (ownedByAnotherRun(dir)) othersRun = true;
    else new PrivateDaemon(`leftover ${entry}`, dir).stop();
  }
  return othersRun;
}

/**
 * Cleans up after an interrupted run, then starts one private daemon; stop() it when done. With
 * `watchStatus`, its namespace has a /run/nwfilter-hook of its own (watchStatusFile from outside).
 * With `stateRoot`, its directory is there instead of under STATE_ROOT, and only that is cleaned.
 */
export function startPrivateDaemon(label: string, options: { watchStatus?: boolean; stateRoot?: string } = {}): PrivateDaemon {
  if (options.stateRoot === undefined) TwoDaemons.cleanLeftovers();
  else cleanDaemonsLeftIn(options.stateRoot);
  const daemon = newDaemon(label, options.watchStatus, options.stateRoot);
  try {
    daemon.prepare(SYSTEM_CAPABILITIES);
    daemon.start();
  } catch (error) {
    const more = daemon.stop();
    if (more.length > 0) (error as Error).message += `\n(cleanup: ${more.join("; ")})`;
    throw error;
  }
  return daemon;
}

/** A free TCP port on 127.0.0.1 for qemu's migration stream. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export class TwoDaemons {
  private readonly cleanups: Array<() => void> = [];
  private bridgeMade = false;

  private constructor(
    readonly a: PrivateDaemon,
    readonly b: PrivateDaemon,
  ) {}

  /** Cleans up after an interrupted run, then starts daemons a and b and the test bridge. */
  static start(): TwoDaemons {
    TwoDaemons.cleanLeftovers();
    const two = new TwoDaemons(newDaemon("a"), newDaemon("b"));
    try {
      const ip = (...args: string[]) => execFileSync("ip", args, { stdio: "pipe" });
      if (!existsSync(`/sys/class/net/${MIGRATION_BRIDGE}`)) {
        ip("link", "add", MIGRATION_BRIDGE, "type", "bridge");
        two.bridgeMade = true;
      }
      ip("link", "set", MIGRATION_BRIDGE, "up");
      // a probes qemu if the system's cache is stale; b then starts from a's fresh cache.
      two.a.prepare(SYSTEM_CAPABILITIES);
      two.a.start();
      two.b.prepare(join(two.a.dir, "var", "cache", "libvirt", "qemu", "capabilities"));
      two.b.start();
    } catch (error) {
      const more = two.stop(false);
      if (more.length > 0) (error as Error).message += `\n(cleanup: ${more.join("; ")})`;
      throw error;
    }
    return two;
  }

  /**
   * Stops daemons that an interrupted run left under STATE_ROOT (by their recorded pids), and its
   * bridge; those of another test run that still runs are left alone, and the bridge with them.
   */
  static cleanLeftovers(): void {
    const othersRun = cleanDaemonsLeftIn(STATE_ROOT);
    if (!othersRun && existsSync(`/sys/class/net/${MIGRATION_BRIDGE}`)) execFileSync("ip", ["link", "del", MIGRATION_BRIDGE], { stdio: "pipe" });
  }

  /** Runs `fn` at stop(), before the daemons go (last registered first). */
  onStop(fn: () => void): void {
    this.cleanups.push(fn);
  }

  /**
   * `virsh migrate --live NAME` from `from` to `to`, the migration stream over 127.0.0.1 on a
   * free port; `extra` are more virsh migrate options (--persistent, --persistent-xml FILE).
   * Returns virsh's output; throws VirshError when the migration fails.
   */
  async migrate(name: string, from: PrivateDaemon, to: PrivateDaemon, ...extra: string[]): Promise<string> {
    const port = await freePort();
    return virshWith(
      { uri: from.uri, timeoutMs: 120_000 },
      "migrate",
      "--live",
      name,
      to.uri,
      "--migrateuri",
      `tcp://127.0.0.1:${port}`,
      "--listen-address",
      "127.0.0.1",
      ...extra,
    );
  }

  /** Stops everything start() started; throws (when `throwOnError`) after trying all of it. */
  stop(throwOnError = true): string[] {
    const errors: string[] = [];
    for (const fn of this.cleanups.splice(0).reverse()) {
      try {
        fn();
      } catch (error) {
        errors.push(`cleanup: ${(error as Error).message}`);
      }
    }
    errors.push(...this.b.stop(), ...this.a.stop());
    if (this.bridgeMade && existsSync(`/sys/class/net/${MIGRATION_BRIDGE}`)) {
      try {
        execFileSync("ip", ["link", "del", MIGRATION_BRIDGE], { stdio: "pipe" });
      } catch (error) {
        errors.push(`bridge: ${(error as Error).message}`);
      }
    }
    this.bridgeMade = false;
    if (throwOnError && errors.length > 0) throw new Error(`two daemons: stop: ${errors.join("; ")}`);
    return errors;
  }
}
