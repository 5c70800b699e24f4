// Finding the libvirt daemon that runs qemu hooks and making it reload, so that it notices a
// hook added to an empty hooks directory (libvirt checks for hooks only at start and reload).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { HostError } from "../core/errors.js";
import { PermissionError } from "./errors.js";

/** The modular qemu daemon first: where it runs, it is the one that runs qemu hooks. */
const DAEMONS = ["virtqemud", "libvirtd"] as const;

export type DaemonName = (typeof DAEMONS)[number];

export interface RunningDaemon {
  name: DaemonName;
  manager: "systemd" | "pid-file";
  pid?: number;
  pidFile?: string;
}

export interface DaemonControl {
  find(): RunningDaemon | undefined;
  /** Makes the daemon reload; returns what was done, for the user. */
  reload(daemon: RunningDaemon): string;
}

export interface SystemDaemonOptions {
  runDir?: string;
  procDir?: string;
}

export function describeDaemon(d: RunningDaemon): string {
  return d.manager === "systemd" ? `${d.name} (systemd)` : `${d.name} (pid ${d.pid})`;
}

export function systemDaemonControl(options: SystemDaemonOptions = {}): DaemonControl {
  const runDir = options.runDir ?? "/run";
  const procDir = options.procDir ?? "/proc";
  const systemd = () => existsSync(join(runDir, "systemd", "system"));
  const systemctl = (args: string[]) => spawnSync("systemctl", args, { encoding: "utf8", timeout: 60_000 });

  return {
    find() {
      if (systemd()) {
        for (const name of DAEMONS) {
          if (systemctl(["is-active", "--quiet", `${name}.service`]).status === 0) return { name, manager: "systemd" };
        }
      }
      for (const name of DAEMONS) {
        const pidFile = join(runDir, `${name}.pid`);
        let pid: number;
        try {
          pid = Number.parseInt(readFileSync(pidFile, "utf8").trim(), 10);
        } catch {
          continue;
        }
        if (!Number.isInteger(pid) || pid <= 1) continue;
        let comm: string;
        try {
          comm = readFileSync(join(procDir, String(pid), "comm"), "utf8").trim();
        } catch {
          continue;
        }
        if (comm === name) return { name, manager: "pid-file", pid, pidFile };
      }
      return undefined;
    },
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
      return `reloaded ${daemon.name} (SIGHUP to pid ${daemon.pid} from ${daemon.pidFile})`;
    },
  };
}
