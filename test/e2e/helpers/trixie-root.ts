// A Debian 13 (trixie) host beside this Debian 12 one (DESIGN.md, "Debian 13"): the root that
// scripts/trixie-root.sh built and caches, under an overlay of this run's own, so that installs
// and purges land in a temporary upper directory and never in the cache, and its virtlogd and
// libvirtd 11.3 started from it in a mount namespace of their own (`unshare -m --propagation
// private`: /dev and /sys bound into the root, a fresh /proc, a tmpfs on /run, then chroot).
// The daemon has its own host_uuid and `cgroup_controllers = [ ]` like the private 9.0 daemons
// (test/e2e/helpers/two-daemons.ts), and its `default` network is never started: it would
// collide with the host's virbr0.
//
// Commands run inside as an admin on a trixie host runs them: `nsenter -t PID -m -r` into
// virtlogd's namespace and root (virtlogd holds the namespace, also while libvirtd is stopped),
// with a clean environment, so that `virsh`, `apt-get`, `dpkg` and `/usr/bin/nwfilter-hook` are
// trixie's and `/usr/bin/node` is its nodejs 20.19. From outside, the daemon is
// `qemu+unix:///system?socket=/proc/PID/root/run/libvirt/libvirt-sock`.
//
//   const tx = TrixieHost.create("suite");     // overlay mounted, virtlogd started
//   tx.startLibvirtd();                        // "libvirt 11.3.0 ... QEMU 10.0.13"
//   tx.run(["nwfilter-hook", "audit"]);
//   tx.stop();                                 // everything it started, by pid; the overlay goes
//
// Nothing here touches the system libvirtd: the daemons, their qemu processes, the overlay and
// the bridge are this helper's own. A run that was killed before stop() is cleaned up by the
// next create() (each host's directory under STATE_ROOT holds its pid files).
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { collect } from "./child-output.js";
import { VirshError } from "./libvirt.js";
import { VirshHost } from "./virsh-host.js";
import { PrivateDaemon, claimStateDir, startPrivateDaemon, ownedByAnotherRun, pidIn, privateDaemonsUnavailable, runs, stopPid } from "./two-daemons.js";

/** Where scripts/trixie-root.sh caches the root (NWFH_TRIXIE_CACHE overrides it there and here). */
export const TRIXIE_CACHE = process.env.NWFH_TRIXIE_CACHE ?? "/var/cache/nwfilter-hook-test";
export const CACHED_ROOT = join(TRIXIE_CACHE, "trixie-root");
const STAMP = join(TRIXIE_CACHE, "trixie-root.stamp");
/** Where each host's overlay (upper, work and merged directories) goes. */
export const STATE_ROOT = "/tmp/nwfh-trixie";
/**
 * Where the suites' private libvirt 9.0 daemon goes (startOldDaemon()): apart from
 * two-daemons.ts's STATE_ROOT, whose clean-up of an interrupted run's leftovers, done by every
 * suite that starts private daemons, would stop it.
 */
export const OLD_STATE_ROOT = "/tmp/nwfh-trixie-old";
/** The Linux bridge the suites' domains use, on both Debian releases; made by create(). */
export const TRIXIE_BRIDGE = "nwfh-tx0";
/** The environment of every command run in the root, the daemons' included (libvirt hands its PATH to hooks). */
const ROOT_ENV = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C", HOME: "/root" };

/** Why the trixie suites cannot run here, or undefined when they can. */
export function trixieUnavailable(): string | undefined {
  const why = privateDaemonsUnavailable();
  if (why !== undefined) return why;
  if (!/\toverlay$/m.test(readFileSync("/proc/filesystems", "utf8"))) return "the kernel offers no overlay file system";
  if (!existsSync(STAMP) || !existsSync(join(CACHED_ROOT, "usr", "sbin", "libvirtd")))
    return `there is no Debian 13 root at ${CACHED_ROOT} (build it with: sudo bash scripts/trixie-root.sh)`;
  return undefined;
}

/** For suites: true when they can run; false (skip) elsewhere, but under CI=true it throws. */
export function requireTrixie(): boolean {
  const why = trixieUnavailable();
  if (why === undefined) return true;
  if (process.env.CI === "true") throw new Error(`the Debian 13 suites must run under CI=true but cannot: ${why}`);
  return false;
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  input?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

const isLibvirtd = (c: string) => c === "libvirtd";
const isVirtlogd = (c: string) => c === "virtlogd";
const isQemu = (c: string) => c.startsWith("qemu-system");

function mounted(path: string): boolean {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .some((line) => line.split(" ")[4] === path);
}

export class TrixieHost extends VirshHost {
  /** The merged root, as this process sees it (files under /run, /proc, /dev and /sys are the namespace's: see runPath()). */
  readonly root: string;
  private readonly upper: string;
  private readonly work: string;
  private bridgeMade = false;
  private readonly cleanups: Array<() => void> = [];

  private constructor(
    readonly label: string,
    readonly dir: string,
  ) {
    super();
    this.root = join(dir, "root");
    this.upper = join(dir, "upper");
    this.work = join(dir, "work");
  }

  /** Cleans up after an interrupted run, lays an overlay over the cached root, configures it and starts its virtlogd. */
  static create(label: string): TrixieHost {
    TrixieHost.cleanLeftovers();
    mkdirSync(STATE_ROOT, { recursive: true, mode: 0o700 });
    const host = new TrixieHost(label, mkdtempSync(join(STATE_ROOT, `${label}-`)));
    claimStateDir(host.dir);
    try {
      for (const d of [host.root, host.upper, host.work]) mkdirSync(d);
      execFileSync("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${CACHED_ROOT},upperdir=${host.upper},workdir=${host.work}`, host.root], {
        stdio: "pipe",
      });
      host.configure();
      if (!existsSync(`/sys/class/net/${TRIXIE_BRIDGE}`)) {
        execFileSync("ip", ["link", "add", TRIXIE_BRIDGE, "type", "bridge"], { stdio: "pipe" });
        host.bridgeMade = true;
      }
      execFileSync("ip", ["link", "set", TRIXIE_BRIDGE, "up"], { stdio: "pipe" });
      host.startVirtlogd();
    } catch (error) {
      const more = host.stop();
      if (more.length > 0) (error as Error).message += `\n(cleanup: ${more.join("; ")})`;
      throw error;
    }
    return host;
  }

  /**
   * Stops what an interrupted run left under STATE_ROOT (by its recorded pids), unmounts its
   * overlay and deletes its bridge; what another test run that still runs uses is left alone.
   */
  static cleanLeftovers(): void {
    let othersRun = false;
    if (existsSync(STATE_ROOT)) {
      for (const entry of readdirSync(STATE_ROOT)) {
        const dir = join(STATE_ROOT, entry);
        if (ownedByAnotherRun(dir)) othersRun = true;
        else new TrixieHost(`leftover ${entry}`, dir).stop();
      }
    }
    if (!othersRun && existsSync(`/sys/class/net/${TRIXIE_BRIDGE}`)) execFileSync("ip", ["link", "del", TRIXIE_BRIDGE], { stdio: "pipe" });
  }

  /** The daemon's own host_uuid (libvirt refuses to migrate to the same host) and no cgroups of its own. */
  private configure(): void {
    appendFileSync(join(this.root, "etc", "libvirt", "libvirtd.conf"), `\nhost_uuid = "${randomUUID()}"\n`);
    appendFileSync(join(this.root, "etc", "libvirt", "qemu.conf"), "\ncgroup_controllers = [ ]\n");
    // The `default` network (virbr0, 192.168.122.0/24) is the host's too: never autostart it here.
    rmSync(join(this.root, "etc", "libvirt", "qemu", "networks", "autostart", "default.xml"), { force: true });
  }

  private pid(name: "virtlogd" | "libvirtd"): number | undefined {
    const pid = pidIn(join(this.root, "tmp", `${name}.pid`)) ?? pidIn(join(this.upper, "tmp", `${name}.pid`));
    return pid !== undefined && runs(pid, name === "virtlogd" ? isVirtlogd : isLibvirtd) ? pid : undefined;
  }

  /** virtlogd's pid: the process whose mount namespace and root the commands enter. */
  get nsPid(): number {
    const pid = this.pid("virtlogd");
    if (pid === undefined) throw new Error(`trixie host ${this.label}: its virtlogd is not running`);
    return pid;
  }

  get libvirtdPid(): number {
    const pid = this.pid("libvirtd");
    if (pid === undefined) throw new Error(`trixie host ${this.label}: its libvirtd is not running`);
    return pid;
  }

  /** A path of the root as this process reaches it through the namespace (for /run, which is the namespace's tmpfs). */
  runPath(path: string): string {
    return join("/proc", String(this.nsPid), "root", path);
  }

  /** The daemon's socket as seen from outside, and the URI that reaches it from outside. */
  get socket(): string {
    return join("/proc", String(this.libvirtdPid), "root", "run", "libvirt", "libvirt-sock");
  }

  get uri(): string {
    return `qemu+unix:///system?socket=${this.socket}`;
  }

  private startVirtlogd(): void {
    const script = [
      "set -e",
      "r=$1; shift; cd /",
      'mount --rbind /dev "$r/dev"',
      'mount --rbind /sys "$r/sys"',
      'mount -t proc proc "$r/proc"',
      'mount -t tmpfs -o mode=0755 tmpfs "$r/run"',
      'exec chroot "$r" "$@"',
    ].join("\n");
    const virtlogd = "LIBVIRT_LOG_OUTPUTS=3:file:/var/log/libvirt/virtlogd.log exec virtlogd -d -p /tmp/virtlogd.pid";
    const r = spawnSync("unshare", ["-m", "--propagation", "private", "sh", "-c", script, "sh", this.root, "sh", "-c", virtlogd], {
      encoding: "utf8",
      env: ROOT_ENV,
      timeout: 60_000,
    });
    if (r.status !== 0 || this.pid("virtlogd") === undefined)
      throw new Error(`trixie host ${this.label}: starting virtlogd failed (exit ${r.status}): ${r.stderr}${r.error?.message ?? ""}`);
  }

  /**
   * Starts libvirtd in virtlogd's namespace and waits until `virsh version --daemon` answers
   * (libvirtd -d exits 0 even when its drivers fail); returns that answer.
   */
  startLibvirtd(timeoutMs = 120_000): string {
    if (this.pid("libvirtd") !== undefined) throw new Error(`trixie host ${this.label}: libvirtd runs already`);
    const r = this.run(["sh", "-c", "LIBVIRT_LOG_OUTPUTS=3:file:/var/log/libvirt/libvirtd.log exec libvirtd -d -p /tmp/libvirtd.pid"]);
    if (r.code !== 0) throw new Error(`trixie host ${this.label}: libvirtd -d failed (exit ${r.code}): ${r.stderr}${this.logTail()}`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = this.run(["virsh", "version", "--daemon"], { timeoutMs: 30_000 });
      if (v.code === 0) return v.stdout;
      if (Date.now() >= deadline || this.pid("libvirtd") === undefined)
        throw new Error(`trixie host ${this.label}: libvirtd does not answer: ${v.stderr}${this.logTail()}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
    }
  }

  /** Stops libvirtd alone (SIGTERM to its pid); virtlogd, the namespace and the running VMs' qemu stay. */
  stopLibvirtd(): void {
    const pid = this.libvirtdPid;
    stopPid(pid, isLibvirtd);
    if (runs(pid, isLibvirtd)) throw new Error(`trixie host ${this.label}: libvirtd (pid ${pid}) did not stop`);
    rmSync(join(this.root, "tmp", "libvirtd.pid"), { force: true });
  }

  private logTail(): string {
    try {
      const log = readFileSync(join(this.root, "var", "log", "libvirt", "libvirtd.log"), "utf8");
      return `\nlast lines of the root's /var/log/libvirt/libvirtd.log:\n${log.split("\n").slice(-15).join("\n")}`;
    } catch {
      return "";
    }
  }

  private nsenter(argv: string[]): [string, string[]] {
    return ["nsenter", ["-t", String(this.nsPid), "-m", "-r", "-w", "--", ...argv]];
  }

  /** Runs `argv` inside the root, in the daemon's namespace, with a clean environment (plus `env`). */
  run(argv: string[], options: RunOptions = {}): Run {
    const [command, args] = this.nsenter(argv);
    const r = spawnSync(command, args, {
      encoding: "utf8",
      input: options.input ?? "",
      env: { ...ROOT_ENV, ...options.env },
      timeout: options.timeoutMs ?? 120_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    if (r.error) throw r.error;
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** run() without blocking the event loop, for the long ones (apt-get, dpkg, migrations). */
  runAsync(argv: string[], options: RunOptions = {}): Promise<Run> {
    const [command, args] = this.nsenter(argv);
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"], env: { ...ROOT_ENV, ...options.env }, timeout: options.timeoutMs ?? 300_000 });
    child.stdin.end(options.input ?? "");
    return collect(child);
  }

  /**
   * Starts `argv` inside the root as a long-running process (the watcher, `virsh event`), its
   * stdout and stderr into the file `log` (outside). nsenter execs it, so the child's pid is its
   * own; stop it with the returned process's kill(), and onStop() makes sure it goes.
   */
  spawn(argv: string[], logFd: number, env: Record<string, string> = {}): ChildProcess {
    const [command, args] = this.nsenter(argv);
    const child = spawn(command, args, { stdio: ["ignore", logFd, logFd], env: { ...ROOT_ENV, ...env } });
    this.onStop(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
    return child;
  }

  /** Runs `fn` at stop(), before the daemons go (last registered first). */
  onStop(fn: () => void): void {
    this.cleanups.push(fn);
  }

  protected readonly where = "inside the trixie root";

  protected get qemuLogDir(): string {
    return join(this.root, "var", "log", "libvirt", "qemu");
  }

  /** `virsh ARGS` inside the root (trixie's virsh, its daemon); throws VirshError with virsh's stderr. */
  virsh(...args: string[]): string {
    const r = this.run(["virsh", ...args]);
    if (r.code !== 0) throw new VirshError(args, r.code, r.stderr);
    return r.stdout;
  }

  /** Writes `content` to a file of the root's /tmp; returns its path as the root sees it. */
  put(name: string, content: string | Buffer): string {
    writeFileSync(join(this.root, "tmp", name), content);
    return `/tmp/${name}`;
  }

  /** `virsh SUBCOMMAND FILE [extra...]` with `xml` in a file of the root's /tmp. */
  virshWithXml(subcommand: string, xml: string, ...extra: string[]): string {
    const name = `input-${randomUUID()}.xml`;
    const file = this.put(name, xml);
    try {
      return this.virsh(subcommand, file, ...extra);
    } finally {
      rmSync(join(this.root, "tmp", name), { force: true });
    }
  }

  /**
   * Runs the stop hooks, destroys every domain, stops libvirtd, any qemu it left and virtlogd
   * (by their pids, each checked to be in a private namespace), unmounts the overlay, deletes
   * the directory and the bridge it made. Returns what failed; throws instead when `throwOnError`.
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
    for (const fn of this.cleanups.splice(0).reverse()) attempt("cleanup", fn);
    const libvirtd = this.pid("libvirtd");
    const virtlogd = this.pid("virtlogd");
    if (libvirtd !== undefined) {
      attempt("destroy domains", () => {
        for (const name of this.virsh("list", "--name")
          .split("\n")
          .map((l) => l.trim())
          .filter(Boolean)) {
          attempt(`domain ${name}`, () => this.virsh("destroy", name));
        }
      });
    }
    const qemuRun = virtlogd === undefined ? undefined : join("/proc", String(virtlogd), "root", "run", "libvirt", "qemu");
    const qemuPids =
      qemuRun !== undefined && existsSync(qemuRun)
        ? readdirSync(qemuRun)
            .filter((f) => f.endsWith(".pid"))
            .map((f) => pidIn(join(qemuRun, f)))
            .filter((p): p is number => p !== undefined)
        : [];
    if (libvirtd !== undefined) attempt("stop libvirtd", () => stopPid(libvirtd, isLibvirtd));
    for (const pid of qemuPids) attempt(`stop qemu ${pid}`, () => stopPid(pid, isQemu, 5_000));
    if (virtlogd !== undefined) attempt("stop virtlogd", () => stopPid(virtlogd, isVirtlogd));
    attempt("unmount the overlay", () => {
      if (mounted(this.root)) execFileSync("umount", [this.root], { stdio: "pipe" });
    });
    attempt("remove its directory", () => {
      if (!mounted(this.root)) rmSync(this.dir, { recursive: true, force: true });
    });
    try {
      if (readdirSync(STATE_ROOT).length === 0) rmSync(STATE_ROOT, { recursive: true });
    } catch {
      // another host's directory is there, or it is gone already
    }
    if (this.bridgeMade && existsSync(`/sys/class/net/${TRIXIE_BRIDGE}`)) {
      attempt("bridge", () => execFileSync("ip", ["link", "del", TRIXIE_BRIDGE], { stdio: "pipe" }));
    }
    this.bridgeMade = false;
    if (throwOnError && errors.length > 0) throw new Error(`trixie host: stop: ${errors.join("; ")}`);
    return errors;
  }
}

/**
 * A private libvirtd 9.0 of this host's own packages (test/e2e/helpers/two-daemons.ts), the
 * Debian 12 side of the mixed-version migrations, with its directory under OLD_STATE_ROOT.
 * Stops what an interrupted run left there first; stop() it when done.
 */
export function startOldDaemon(label: string): PrivateDaemon {
  return startPrivateDaemon(label, { stateRoot: OLD_STATE_ROOT });
}

/** Stops the daemon and removes OLD_STATE_ROOT once empty; returns what failed. */
export function stopOldDaemon(daemon: PrivateDaemon | undefined): string[] {
  const errors = daemon?.stop() ?? [];
  try {
    if (readdirSync(OLD_STATE_ROOT).length === 0) rmSync(OLD_STATE_ROOT, { recursive: true });
  } catch {
    // gone already
  }
  return errors;
}
