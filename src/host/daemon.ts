// Finding the libvirt daemon that a connection URI reaches, and making it reload so that it
// notices a hook added to an empty hooks directory (libvirt checks for hooks only at start and
// reload). The daemon is the process that listens on the URI's socket, found through /proc:
// never the one a pid file names, which may be another daemon's (a daemon in its own mount
// namespace sees the host's /run/libvirtd.pid).
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync, readlinkSync, statSync, type Stats } from "node:fs";
import { dirname, join } from "node:path";
import { DEFAULT_SOCKET_DIR, listeningUnixSockets, socketForUri, socketInode } from "../core/daemon-socket.js";
import { HostError } from "../core/errors.js";
import { PermissionError } from "./fs-error.js";
import { DEFAULT_URI } from "../core/constants.js";

/** The daemons that run qemu hooks. virtproxyd only forwards to virtqemud. */
const DAEMONS = ["virtqemud", "libvirtd"] as const;
const PROXY = "virtproxyd";

export type DaemonName = (typeof DAEMONS)[number];

/** Where libvirt's system daemons look for hooks, in their own view of the file system. */
export const DAEMON_HOOKS_DIR = "/etc/libvirt/hooks";

export interface DaemonLookup {
  daemon?: RunningDaemon;
  /** Why there is no daemon; empty when there is one. */
  why: string;
}

export interface RunningDaemon {
  name: DaemonName;
  /** How to reload it: `systemctl reload` when it is its unit's main process, else SIGHUP to `pid`. */
  manager: "systemd" | "signal";
  pid?: number;
  /** The socket the URI leads to, as this process sees it. */
  socket?: string;
  /** The daemon's root directory as this process reaches it (/proc/PID/root): its mount namespace. */
  root?: string;
}

export interface DaemonControl {
  /**
   * The daemon that `uri` reaches (default qemu:///system), when it runs on this host, and
   * otherwise why none was found, for the user. One look through /proc answers both.
   */
  locate(uri?: string): DaemonLookup;
  /** Makes the daemon reload; returns what was done, for the user. */
  reload(daemon: RunningDaemon): string;
}

export interface SystemDaemonOptions {
  runDir?: string;
  procDir?: string;
  /** Where the default sockets are (qemu:///system without ?socket=). */
  socketDir?: string;
}

export function describeDaemon(d: RunningDaemon): string {
  if (d.manager === "systemd") return d.pid === undefined ? `${d.name} (systemd)` : `${d.name} (systemd, pid ${d.pid})`;
  return `${d.name} (pid ${d.pid})`;
}

function statOf(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function sameFile(a: Stats, b: Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/** Whether a hooks directory is the daemon's: misplaced, with why, or not (also when it cannot be told). */
export type HooksDirPlacement = { misplaced: false } | { misplaced: true; why: string };

/**
 * Whether `hooksDir` is where the daemon looks for hooks (or cannot be told). Compared as files
 * (device and inode), through the daemon's own root, so that a bind mount or a private mount
 * namespace is judged as the daemon sees it.
 */
export function hooksDirPlacement(daemon: RunningDaemon, hooksDir: string): HooksDirPlacement {
  const why = misplacement(daemon, hooksDir);
  return why === undefined ? { misplaced: false } : { misplaced: true, why };
}

function misplacement(daemon: RunningDaemon, hooksDir: string): string | undefined {
  // Without access to the daemon's root (not root ourselves), there is nothing to compare.
  if (daemon.root === undefined || statOf(daemon.root) === undefined) return undefined;
  const theirs = `${daemon.root}${DAEMON_HOOKS_DIR}`;
  // The hooks directory may not exist yet: then its parent must be the daemon's /etc/libvirt.
  for (const [ours, their] of [
    [hooksDir, theirs],
    [dirname(hooksDir), dirname(theirs)],
  ] as const) {
    const a = statOf(ours);
    const b = statOf(their);
    if (a && b && sameFile(a, b)) return undefined;
    // One of them there and not the other, or both and different: not the same directory.
    if (a || b) {
      return `${describeDaemon(daemon)}, which ${daemon.socket ? `listens on ${daemon.socket}` : "the connection reaches"}, runs the hooks in its own ${DAEMON_HOOKS_DIR} (here ${theirs}), not in ${hooksDir}: pass --hooks-dir with that directory`;
    }
  }
  return undefined;
}

/** Whether `uri` reaches a daemon on this host (whose hooks we install), or elsewhere and why. */
export type Reach = { elsewhere: false } | { elsewhere: true; why: string };

export function reachOf(uri: string): Reach {
  const target = socketForUri(uri, () => false);
  return target.kind === "elsewhere" ? { elsewhere: true, why: target.why } : { elsewhere: false };
}

export function systemDaemonControl(options: SystemDaemonOptions = {}): DaemonControl {
  const runDir = options.runDir ?? "/run";
  const procDir = options.procDir ?? "/proc";
  const socketDir = options.socketDir ?? DEFAULT_SOCKET_DIR;
  const systemd = () => statOf(join(runDir, "systemd", "system"))?.isDirectory() === true;
  const systemctl = (args: string[]) => spawnSync("systemctl", args, { encoding: "utf8", timeout: 60_000 });
  const read = (path: string): string | undefined => {
    try {
      return readFileSync(path, "utf8");
    } catch {
      return undefined;
    }
  };

  /** Pids of running processes whose command name is one of `names`. */
  const processes = (names: readonly string[]): Array<{ pid: number; comm: string }> => {
    let entries: string[];
    try {
      entries = readdirSync(procDir);
    } catch {
      return [];
    }
    const found: Array<{ pid: number; comm: string }> = [];
    for (const entry of entries) {
      if (!/^\d+$/.test(entry)) continue;
      const comm = read(join(procDir, entry, "comm"))?.trim();
      if (comm !== undefined && names.includes(comm)) found.push({ pid: Number(entry), comm });
    }
    return found.sort((a, b) => a.pid - b.pid);
  };

  /** The path (in the process's own view) of a listening socket it holds that is the file `want`. */
  const listensOn = (pid: number, want: Stats): string | undefined => {
    const sockets = listeningUnixSockets(read(join(procDir, String(pid), "net", "unix")) ?? "");
    if (sockets.size === 0) return undefined;
    let fds: string[];
    try {
      fds = readdirSync(join(procDir, String(pid), "fd"));
    } catch {
      return undefined;
    }
    for (const fd of fds) {
      let inode: number | undefined;
      try {
        inode = socketInode(readlinkSync(join(procDir, String(pid), "fd", fd)));
      } catch {
        continue; // closed meanwhile
      }
      const path = inode === undefined ? undefined : sockets.get(inode);
      if (path === undefined) continue;
      // The path the daemon bound, looked up in its own mount namespace, must be our socket.
      const theirs = statOf(join(procDir, String(pid), "root", path));
      if (theirs && sameFile(theirs, want)) return path;
    }
    return undefined;
  };

  const holder = (names: readonly string[], want: Stats) => {
    for (const p of processes(names)) {
      const path = listensOn(p.pid, want);
      if (path !== undefined) return { ...p, path };
    }
    return undefined;
  };

  const managerOf = (name: DaemonName, pid: number): RunningDaemon["manager"] => {
    if (!systemd()) return "signal";
    const r = systemctl(["show", "--property=MainPID", "--value", `${name}.service`]);
    return r.status === 0 && Number.parseInt(r.stdout.trim(), 10) === pid ? "systemd" : "signal";
  };

  const lookup = (uri: string): DaemonLookup => {
    const target = socketForUri(uri, (p) => statOf(p) !== undefined, socketDir);
    if (target.kind !== "local") return { why: target.why };
    const want = statOf(target.socket);
    if (!want) return { why: `${uri} leads to ${target.socket}, which does not exist: is the daemon running?` };
    let found = holder([...DAEMONS, PROXY], want);
    if (found?.comm === PROXY) {
      // virtproxyd forwards qemu:///system to virtqemud's socket beside its own.
      const proxied = statOf(join(procDir, String(found.pid), "root", dirname(found.path), "virtqemud-sock"));
      found = proxied ? holder(["virtqemud"], proxied) : undefined;
      if (!found) return { why: `${uri} leads to virtproxyd, and no virtqemud listens beside it` };
    }
    if (!found) return { why: `no libvirtd or virtqemud listens on ${target.socket} (where ${uri} leads)` };
    const name = found.comm as DaemonName;
    return {
      daemon: { name, manager: managerOf(name, found.pid), pid: found.pid, socket: target.socket, root: join(procDir, String(found.pid), "root") },
      why: "",
    };
  };

  return {
    locate: (uri = DEFAULT_URI) => lookup(uri),
    reload(daemon) {
      if (daemon.manager === "systemd") {
        const r = systemctl(["reload", `${daemon.name}.service`]);
        if (r.status !== 0) {
          const why = (r.stderr || r.error?.message || "").trim().split("\n")[0] ?? "";
          throw new HostError(`'systemctl reload ${daemon.name}' failed: ${why}`);
        }
        return `reloaded ${daemon.name} (systemctl reload)`;
      }
      try {
        process.kill(daemon.pid as number, "SIGHUP");
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EPERM") throw new PermissionError(`permission denied sending SIGHUP to ${daemon.name} (pid ${daemon.pid}): run as root`);
        throw new HostError(`cannot send SIGHUP to ${daemon.name} (pid ${daemon.pid}): ${code ?? String(error)}`);
      }
      return `reloaded ${daemon.name} (SIGHUP to pid ${daemon.pid}, which listens on ${daemon.socket ?? "the connection's socket"})`;
    },
  };
}
