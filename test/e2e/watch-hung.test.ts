// A libvirt daemon that hangs (SIGSTOP: it accepts connections and never answers), a private
// one this file starts and stops by its pid (test/e2e/helpers/two-daemons.ts): `check`, `audit`
// and `apply --all` each end within 30 s with one clear line and their exit code (connecting has
// a 10 s deadline); a watcher pointed at it says the daemon does not answer (virsh's keepalive
// gives up on it while a call is out) and stays alive (its status stays fresh, systemd's
// watchdog keeps hearing from it); after SIGCONT it reconnects and resyncs by itself. Nothing here
// touches the system libvirtd.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DIST_CLI } from "../cli/support/build.js";
import { NOTIFY_LISTENER } from "../support/notify-listener.js";
import { FILTER, cli } from "./helpers/cli.js";
import { bridgeNic, tinyDomainXml } from "./helpers/libvirt.js";
import { requirePrivateDaemons, startPrivateDaemon, type PrivateDaemon } from "./helpers/two-daemons.js";
import { WatcherProcess, stopAll, waitFor } from "./helpers/watcher.js";

const CAN_RUN_PRIVATE = requirePrivateDaemons();
const NAME = "nwfh-e2e-hung";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** The built CLI as a process of its own, so that several run at once. */
function cliAsync(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [DIST_CLI, ...args], { env: { ...process.env, ...env, LC_ALL: "C" }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    child.on("close", (code) => resolve({ code, stdout, stderr, ms: Date.now() - t0 }));
  });
}

describe.skipIf(!CAN_RUN_PRIVATE)("a libvirt daemon that hangs (SIGSTOP, a private daemon)", () => {
  let d: PrivateDaemon | undefined;
  let listener: ChildProcess | undefined;
  let paused = false;

  beforeAll(() => {
    d = startPrivateDaemon("hung", { watchStatus: true });
  });
  afterAll(async () => {
    if (paused) d?.signalLibvirtd("SIGCONT");
    await stopAll();
    listener?.kill();
    d?.stop(true);
  });

  it("check, audit and apply end within 30 s with one line; the watcher stays alive, says so, and recovers after SIGCONT", async () => {
    const daemon = d as PrivateDaemon;
    const env = daemon.outsideEnv;
    const global = ["-c", daemon.uri, "--hooks-dir", daemon.hooksDir, "--policy", daemon.policy];
    writeFileSync(daemon.policy, "[filtering]\nOnMissing = watch\n", { mode: 0o644 });
    const installed = cli(["install", ...global], { env });
    expect(installed.code, installed.stdout + installed.stderr).toBe(0);
    daemon.virshWithXml("define", tinyDomainXml({ name: NAME, nics: [bridgeNic({ mac: "52:54:00:7c:00:01", filter: FILTER })] }));

    // The watcher, with a stand-in for systemd's notification socket.
    const socket = join(daemon.dir, "notify.sock");
    listener = spawn("python3", ["-c", NOTIFY_LISTENER, socket], { stdio: ["ignore", "pipe", "inherit"] });
    let notes = "";
    listener.stdout?.setEncoding("utf8").on("data", (c: string) => (notes += c));
    await waitFor(
      () => notes.includes("listening"),
      10_000,
      () => "the notification listener did not start",
    );
    const pings = () => notes.split("\n").filter((l) => l.includes('"WATCHDOG=1"')).length;
    const watcher = new WatcherProcess(daemon.dir, daemon.policy, { ...env, NOTIFY_SOCKET: socket }, "hung", [
      "-c",
      daemon.uri,
      "--status-file",
      daemon.watchStatusFile,
    ]);
    const status = () =>
      JSON.parse(readFileSync(daemon.watchStatusFile, "utf8")) as {
        state: string;
        heartbeat: number;
        lastFailure: { what: string } | null;
        waitingSince: number | null;
      };
    await watcher.waitForLog(/resync: /, 30_000);

    daemon.signalLibvirtd("SIGSTOP");
    paused = true;
    const [check, audit, apply] = await Promise.all([
      cliAsync(["check", ...global], env),
      cliAsync(["audit", ...global], env),
      cliAsync(["apply", "--all", "--live", ...global], env),
    ]);
    const didNotAnswer = (command: string) => `the libvirt daemon did not answer 'virsh ${command}' within 10 s: is it stopped or hung?`;
    for (const r of [check, audit, apply]) expect(r.ms).toBeLessThan(30_000);
    expect(check.code, check.stdout + check.stderr).toBe(1);
    expect(check.stdout).toContain(`daemon: FAILED: ${didNotAnswer("version --daemon")}\n`);
    expect(check.stdout).toContain(`nwfilter '${FILTER}': FAILED: cannot tell: libvirt is not reachable\n`);
    expect(audit).toMatchObject({ code: 4, stdout: "", stderr: `nwfilter-hook: ${didNotAnswer("list --name --all")}\n` });
    expect(apply).toMatchObject({ code: 4, stdout: "", stderr: `nwfilter-hook: ${didNotAnswer("list --name --all")}\n` });

    // The watcher's probe is out; virsh's keepalive gives up on the daemon (about 20 s): the
    // watcher says so, tries to connect again (each attempt within 10 s), and lives on.
    await waitFor(
      () => status().state === "connecting",
      45_000,
      () => `the watcher still says ${status().state}:\n${watcher.log()}`,
    );
    const notAnswering = /the libvirt daemon (stopped answering during|did not answer) 'virsh version --daemon'.*: is it stopped or hung\?/;
    expect(status().lastFailure?.what).toMatch(notAnswering);
    expect(watcher.lines(/error: libvirt: /)[0]).toMatch(notAnswering);
    const pingsThen = pings();
    for (let i = 0; i < 12; i++) {
      await new Promise((r) => setTimeout(r, 1_000));
      expect(Date.now() - status().heartbeat).toBeLessThan(12_000);
    }
    expect(pings() - pingsThen).toBeGreaterThanOrEqual(2);
    expect(watcher.child.exitCode).toBeNull();

    daemon.signalLibvirtd("SIGCONT");
    paused = false;
    await watcher.waitForLog(/libvirt: connected to /, 60_000, 2);
    await watcher.waitForLog(/resync: /, 60_000, 2);
    await waitFor(
      () => status().state === "watching" && status().waitingSince === null,
      10_000,
      () => `status after SIGCONT: ${JSON.stringify(status())}`,
    );
    const after = cli(["check", ...global], { env });
    expect(after.stdout).toMatch(/^daemon: ok /m);
    expect(await watcher.stop()).toBe(0);
  }, 240_000);
});
