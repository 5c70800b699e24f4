// The watcher and systemd's watchdog, with the built CLI and a stand-in for systemd's notification
// socket (test/support/notify-listener.ts): READY=1 once it runs, WATCHDOG=1 from its heartbeat
// while its event loop turns (here it waits for a libvirt that is not there, which takes no
// libvirt at all), and none once the loop is blocked (NWFILTER_HOOK_TEST_BLOCK_LOOP_AFTER_MS),
// while its status goes stale; nothing at all without NOTIFY_SOCKET.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { NOTIFY_LISTENER } from "../support/notify-listener.js";
import { DIST_CLI, ensureBuilt } from "./support/build.js";

const HAVE = spawnSync("systemd-notify", ["--version"]).status === 0 && spawnSync("python3", ["--version"]).status === 0;
const NO_DAEMON = "qemu+unix:///system?socket=/nonexistent/libvirt-sock";

interface Message {
  pid: number;
  text: string;
  at: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!HAVE && process.env.CI !== "true")("the watcher and systemd's watchdog", () => {
  ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), "nwfh-notify-cli-"));
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });
  const policy = join(dir, "policy.ini");
  writeFileSync(policy, "[filtering]\nOnMissing = watch\n", { mode: 0o644 });

  const watcher = (label: string, env: Record<string, string>) => {
    const child = spawn(
      process.execPath,
      [DIST_CLI, "watch", "--policy", policy, "--no-syslog", "-c", NO_DAEMON, "--status-file", join(dir, `${label}.json`)],
      {
        stdio: ["ignore", "ignore", "pipe"],
        env: { ...process.env, ...env },
      },
    );
    children.push(child);
    let log = "";
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (c: string) => (log += c));
    return { child, log: () => log, status: () => JSON.parse(readFileSync(join(dir, `${label}.json`), "utf8")) as { heartbeat: number; state: string } };
  };

  it("READY=1 at once, WATCHDOG=1 every heartbeat while the loop turns, none once it is blocked", async () => {
    const socket = join(dir, "notify.sock");
    const listener = spawn("python3", ["-c", NOTIFY_LISTENER, socket], { stdio: ["ignore", "pipe", "inherit"] });
    children.push(listener);
    let out = "";
    listener.stdout.setEncoding("utf8");
    listener.stdout.on("data", (c: string) => (out += c));
    while (!out.includes("listening")) await sleep(20);
    const messages = () =>
      out
        .trim()
        .split("\n")
        .slice(1)
        .map((l) => JSON.parse(l) as Message)
        .filter((m) => !m.text.startsWith("BARRIER"));

    const w = watcher("blocked", { NOTIFY_SOCKET: socket, NWFILTER_HOOK_TEST_BLOCK_LOOP_AFTER_MS: "11000" });
    const started = Date.now();
    while (!messages().some((m) => m.text.startsWith("READY=1"))) {
      if (Date.now() - started > 10_000) throw new Error(`no READY=1:\n${w.log()}`);
      await sleep(20);
    }
    expect(messages()[0]).toMatchObject({ pid: w.child.pid, text: `READY=1\nSTATUS=connecting to ${NO_DAEMON}` });
    while (!w.log().includes("blocking the event loop")) {
      if (Date.now() - started > 30_000) throw new Error(`the loop was never blocked:\n${w.log()}`);
      await sleep(20);
    }
    const blockedAt = Date.now();
    const heartbeatThen = w.status().heartbeat;
    // Two heartbeats' time and more: nothing comes from a loop that does not turn.
    await sleep(12_000);
    const pings = messages().filter((m) => m.text === "WATCHDOG=1");
    expect(pings.filter((m) => m.at < blockedAt).length).toBeGreaterThanOrEqual(2);
    expect(pings.filter((m) => m.at > blockedAt + 2_000)).toEqual([]);
    expect(pings.every((m) => m.pid === w.child.pid)).toBe(true);
    // The status went stale with it: the hook stops trusting a watcher that hangs.
    expect(w.status().heartbeat).toBe(heartbeatThen);
    expect(w.status().state).toBe("connecting");
    expect(w.child.exitCode).toBeNull();
    w.child.kill("SIGKILL");
    listener.kill();
  }, 60_000);

  it("without NOTIFY_SOCKET: no systemd-notify at all, and SIGTERM stops it", async () => {
    const bin = join(dir, "bin");
    const trace = join(dir, "notify-calls");
    spawnSync("mkdir", ["-p", bin]);
    // A systemd-notify first on PATH that only records that it ran.
    writeFileSync(join(bin, "systemd-notify"), `#!/bin/sh\necho "$@" >> ${trace}\n`, { mode: 0o755 });
    const w = watcher("quiet", { PATH: `${bin}:${process.env.PATH ?? ""}`, NOTIFY_SOCKET: "" });
    const started = Date.now();
    while (!w.log().includes("libvirt:")) {
      if (Date.now() - started > 10_000) throw new Error(`the watcher did not try to connect:\n${w.log()}`);
      await sleep(20);
    }
    await sleep(6_000);
    w.child.kill("SIGTERM");
    while (w.child.exitCode === null) await sleep(20);
    expect(w.child.exitCode).toBe(0);
    expect(() => readFileSync(trace, "utf8")).toThrow(/ENOENT/);
    expect(w.status().state).toBe("stopped");
  }, 30_000);
});
