// systemd's notifications (src/host/notify.ts): nothing without NOTIFY_SOCKET; one systemd-notify
// at a time, a WATCHDOG=1 that finds one running dropped, READY=1 and STOPPING=1 kept for after it;
// a failure said once. And the real systemd-notify against a datagram socket that a test listener
// holds (python3), as systemd does.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { nodeSpawner } from "../../../src/host/processes.js";
import { systemdNotifier } from "../../../src/host/notify.js";
import { fakeSpawner } from "../watch/support/fake-host.js";
import { NOTIFY_LISTENER } from "../../support/notify-listener.js";

describe("systemdNotifier", () => {
  it("without NOTIFY_SOCKET: disabled, and nothing is started", () => {
    const { spawner, children } = fakeSpawner();
    const n = systemdNotifier({}, spawner, () => {});
    n.ready("x");
    n.watchdog();
    n.stopping();
    expect(n.enabled).toBe(false);
    expect(children).toEqual([]);
  });

  it("one at a time: a watchdog ping that finds one running is dropped, READY and STOPPING wait for it", () => {
    const { spawner, children } = fakeSpawner();
    const n = systemdNotifier({ NOTIFY_SOCKET: "/run/systemd/notify" }, spawner, () => {});
    n.ready("connecting to qemu:///system");
    n.watchdog();
    n.stopping();
    expect(children.map((c) => c.args)).toEqual([["READY=1", "STATUS=connecting to qemu:///system"]]);
    expect(children[0]?.command).toBe("systemd-notify");
    expect(children[0]?.env.NOTIFY_SOCKET).toBe("/run/systemd/notify");
    children[0]?.exit(0);
    expect(children.map((c) => c.args)).toEqual([["READY=1", "STATUS=connecting to qemu:///system"], ["STOPPING=1"]]);
    children[1]?.exit(0);
    n.watchdog();
    expect(children.map((c) => c.args).at(-1)).toEqual(["WATCHDOG=1"]);
  });

  it("a failure is said once", () => {
    const { spawner, children } = fakeSpawner();
    const warnings: string[] = [];
    const n = systemdNotifier({ NOTIFY_SOCKET: "/x" }, spawner, (m) => warnings.push(m));
    for (let i = 0; i < 3; i++) {
      n.watchdog();
      children.at(-1)?.exit(1);
    }
    expect(warnings).toEqual(["'systemd-notify WATCHDOG=1' failed (exit 1): systemd may not hear from the watcher"]);
  });
});

const HAVE = spawnSync("systemd-notify", ["--version"]).status === 0 && spawnSync("python3", ["--version"]).status === 0;

describe.skipIf(!HAVE && process.env.CI !== "true")("systemdNotifier with the real systemd-notify", () => {
  const dir = mkdtempSync(join(tmpdir(), "nwfh-notify-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("READY=1 and WATCHDOG=1 arrive on the socket, sent as this process", async () => {
    const socket = join(dir, "notify.sock");
    const listener = spawn("python3", ["-c", NOTIFY_LISTENER, socket], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    listener.stdout.setEncoding("utf8");
    listener.stdout.on("data", (c: string) => (out += c));
    try {
      await waitUntil(() => out.includes("listening"), 10_000);
      // Collected, not thrown: a warning comes from a child's exit handler, where a throw would be
      // an unhandled error, and the last ping's systemd-notify may still wait when the listener goes.
      const warnings: string[] = [];
      const n = systemdNotifier({ ...process.env, NOTIFY_SOCKET: socket }, nodeSpawner, (m) => warnings.push(m));
      n.ready("connecting");
      await waitUntil(() => out.includes("READY=1"), 10_000);
      // A ping that finds READY's systemd-notify still waiting for the socket's reader is dropped.
      await waitUntil(() => (n.watchdog(), out.includes("WATCHDOG=1")), 10_000);
      const messages = out
        .trim()
        .split("\n")
        .slice(1)
        .map((l) => JSON.parse(l) as { pid: number; text: string; at: number })
        .map(({ pid, text }) => ({ pid, text }))
        .filter((m, i, all) => !m.text.startsWith("BARRIER") && all.findIndex((o) => o.text === m.text) === i);
      // As root, systemd-notify sends with its parent's pid, which systemd then takes for the watcher's.
      expect(messages.map((m) => m.text)).toEqual(["READY=1\nSTATUS=connecting", "WATCHDOG=1"]);
      if (process.getuid?.() === 0) expect(messages.map((m) => m.pid)).toEqual([process.pid, process.pid]);
      expect(warnings).toEqual([]);
    } finally {
      listener.kill();
    }
  });
});

async function waitUntil(check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}
