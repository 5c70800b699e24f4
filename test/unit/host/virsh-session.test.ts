// The virsh session (src/host/virsh-session.ts) against libvirt's in-process test driver
// (test:///default: no daemon involved): every answer is byte for byte what one-shot virsh gives.
// And deadlines, with fake virsh programs that never answer: the call fails with a LibvirtError
// of kind "timeout" naming the command, the virsh is killed, the event loop turns meanwhile, and
// the next call starts a new session.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { VirshSession, processVirshSession, sessionRunner, virshWord } from "../../../src/host/virsh-session.js";
import { LibvirtError, processVirsh } from "../../../src/host/virsh.js";

const HAVE_VIRSH = spawnSync("virsh", ["--version"]).status === 0;
const URI = "test:///default";

describe("virshWord", () => {
  it("quotes what virsh's parser would split or unquote", () => {
    expect(virshWord("web1")).toBe("web1");
    expect(virshWord("/tmp/a-b.xml")).toBe("/tmp/a-b.xml");
    expect(virshWord("it's a name")).toBe(`'it'\\''s a name'`);
    expect(virshWord("a;b")).toBe("'a;b'");
    expect(virshWord("")).toBe("''");
  });
});

describe.skipIf(!HAVE_VIRSH && process.env.CI !== "true")("VirshSession on the test driver", () => {
  const session = new VirshSession({ binary: "virsh", uri: URI, env: process.env });
  const oneShot = processVirsh({ uri: URI });
  afterAll(() => session.close());

  it.each([
    [["list", "--all"]],
    [["list", "--all", "--uuid", "--name"]],
    [["dumpxml", "test"]],
    [["dumpxml", "--inactive", "--security-info", "test"]],
    [["dominfo", "test"]],
    [["dumpxml", "no such domain"]],
    [["domstate", "it's 'odd'"]],
    [["echo", "a long line that readline would scroll sideways on a narrow terminal ".repeat(4)]],
    [["nwfilter-dumpxml", "nothing"]],
  ])("%j", async (args) => {
    // The test driver's CPU time moves between two calls.
    const cpu = (r: { stdout: string }) => r.stdout.replace(/^CPU time:.*$/m, "");
    const a = await session.run(args);
    const b = await oneShot.run(args);
    expect(cpu(a)).toBe(cpu(b));
    expect(a.stderr).toBe(b.stderr);
    expect(a.status === 0).toBe(b.status === 0);
  });

  it("many commands in one session cost far less than a virsh each", async () => {
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) await session.run(["domstate", "test"]);
    const session50 = performance.now() - t0;
    const t1 = performance.now();
    for (let i = 0; i < 5; i++) await oneShot.run(["domstate", "test"]);
    const oneShot5 = performance.now() - t1;
    expect(session50).toBeLessThan(oneShot5 * 4);
  });

  it("commands asked for at once are answered in order, each with its own output", async () => {
    const names = ["test", "no such domain", "test"];
    const results = await Promise.all(names.map((n) => session.run(["domstate", n])));
    expect(results.map((r) => r.status)).toEqual([0, 1, 0]);
    expect(results[0]?.stdout).toBe("running\n\n");
    expect(results[1]?.stderr).toMatch(/failed to get domain 'no such domain'/);
  });

  it("a session whose virsh went away starts again on the next command", async () => {
    session.close();
    expect(session.alive).toBe(false);
    expect((await session.run(["domstate", "test"])).stdout).toBe("running\n\n");
  });

  it("falls back to one-shot virsh where no session can run", async () => {
    const runner = sessionRunner({ binary: "/nonexistent/virsh", uri: URI, env: process.env }, oneShot);
    expect((await runner.run(["domstate", "test"])).stdout).toBe("running\n\n");
    runner.close();
  });
});

describe("deadlines", () => {
  const dir = mkdtempSync(join(tmpdir(), "nwfh-virsh-deadline-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  /** A fake virsh: records its pid, then runs `body` (a shell script). */
  const fake = (name: string, body: string) => {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\necho $$ >> "${path}.pids"\n${body}\n`);
    chmodSync(path, 0o755);
    return { path, pids: () => (existsSync(`${path}.pids`) ? readFileSync(`${path}.pids`, "utf8").trim().split("\n").map(Number) : []) };
  };
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
      return false;
    }
  };
  const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it.each([
    ["a session", (binary: string) => processVirshSession({ uri: URI, binary })],
    ["one-shot virsh", (binary: string) => processVirsh({ uri: URI, binary })],
  ])("%s that never answers: a timeout naming the command; the virsh is killed; timers run meanwhile", async (label, make) => {
    const hang = fake(`hang-${label.replace(/\W/g, "")}`, "exec sleep 600");
    const runner = make(hang.path);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 20);
    const t0 = Date.now();
    const error = await runner.run(["version", "--daemon"], { timeoutMs: 400 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    clearInterval(ticker);
    expect(error).toBeInstanceOf(LibvirtError);
    expect((error as LibvirtError).kind).toBe("timeout");
    expect((error as LibvirtError).message).toBe("the libvirt daemon did not answer 'virsh version --daemon' within 0.4 s: is it stopped or hung?");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(390);
    expect(ticks).toBeGreaterThanOrEqual(5);
    await settle(300);
    expect(hang.pids().length).toBe(1);
    expect(hang.pids().filter(alive)).toEqual([]);
    runner.close?.();
  });

  it("a virsh that ignores SIGTERM is killed after the grace", async () => {
    const stubborn = fake("stubborn", "trap '' TERM\nwhile :; do sleep 0.1; done");
    const runner = processVirsh({ uri: URI, binary: stubborn.path });
    await expect(runner.run(["list"], { timeoutMs: 200 })).rejects.toThrow(/did not answer 'virsh list' within 0.2 s/);
    await settle(500);
    expect(stubborn.pids().filter(alive)).toHaveLength(1);
    await settle(2_200);
    expect(stubborn.pids().filter(alive)).toEqual([]);
  });

  it("the command shown in the message is the one the caller names (no temporary file)", async () => {
    const hang = fake("hang-shown", "exec sleep 600");
    const runner = processVirshSession({ uri: URI, binary: hang.path });
    await expect(runner.run(["define", "/tmp/secret/input.xml"], { timeoutMs: 100, shown: ["define"] })).rejects.toThrow(
      "the libvirt daemon did not answer 'virsh define' within 0.1 s: is it stopped or hung?",
    );
    runner.close();
  });

  it.skipIf(!HAVE_VIRSH)("after a timeout the next call starts a new session; calls queued behind the one that timed out fail with it", async () => {
    // The first session hangs, the ones after it are the real virsh.
    const once = fake("hang-once", `if [ "$(wc -l < "$0.pids")" -le 1 ]; then exec sleep 600; fi\nexec virsh "$@"`);
    const runner = processVirshSession({ uri: URI, binary: once.path });
    const first = runner.run(["domstate", "test"], { timeoutMs: 300 });
    const queued = runner.run(["list", "--name"], { timeoutMs: 5_000 });
    expect(runner.inFlight?.()).toMatchObject({ what: "virsh domstate test", timeoutMs: 300 });
    await expect(first).rejects.toMatchObject({ kind: "timeout" });
    await expect(queued).rejects.toMatchObject({ kind: "timeout" });
    expect(runner.inFlight?.()).toBeUndefined();
    expect((await runner.run(["domstate", "test"])).stdout).toBe("running\n\n");
    expect(once.pids()).toHaveLength(2);
    runner.close();
  });
});
