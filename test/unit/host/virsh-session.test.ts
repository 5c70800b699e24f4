// The virsh session (src/host/virsh-session.ts) against libvirt's in-process test driver
// (test:///default: no daemon involved): every answer is byte for byte what one-shot virsh gives.
// And deadlines, with fake virsh programs that never answer, or stop answering: connecting has
// its deadline and then each call its own; the call fails with a LibvirtError of kind "timeout"
// naming the command, the virsh is killed, the event loop turns meanwhile, and the next call
// starts a new session; so does a keepalive that gave up.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { VirshSession, processVirshSession, sessionRunner, virshWord } from "../../../src/host/virsh-session.js";
import { LibvirtError, Virsh, processVirsh } from "../../../src/host/virsh.js";

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

/**
 * An interactive virsh without readline, as far as the session needs one: `echo [--err] WORDS`,
 * `domstate NAME` (running), `keepalive-lost` (what virsh says when its keepalive gives up), and
 * `stall`, after which it reads nothing more (a daemon that stopped answering mid-session).
 */
const FAKE_INTERACTIVE = `
const lines = require("node:readline").createInterface({ input: process.stdin });
let stalled = false;
lines.on("line", (line) => {
  if (stalled) return;
  const [cmd, ...rest] = line.split(" ");
  // As virsh, an empty line on stdout after a command that succeeded.
  if (cmd === "echo" && rest[0] === "--err") process.stderr.write("error: " + rest.slice(1).join(" ") + "\\n"), process.stdout.write("\\n");
  else if (cmd === "echo") process.stdout.write(rest.join(" ") + "\\n");
  else if (cmd === "domstate") process.stdout.write("running\\n\\n");
  else if (cmd === "keepalive-lost")
    process.stderr.write("error: Disconnected from test:///x due to keepalive timeout\\nerror: internal error: connection closed due to keepalive timeout\\n");
  else if (cmd === "stall") stalled = true;
});
`;

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
  const script = join(dir, "interactive.cjs");
  writeFileSync(script, FAKE_INTERACTIVE);

  it.each([
    ["a session", (binary: string) => processVirshSession({ uri: URI, binary, connectTimeoutMs: 400 })],
    ["one-shot virsh", (binary: string) => processVirsh({ uri: URI, binary })],
  ])("%s that never answers (not even the connection): a timeout naming the command; the virsh is killed; timers run meanwhile", async (label, make) => {
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

  it("connecting has its deadline, then the call its own: a session that connects and then stalls", async () => {
    const stalls = fake("stalls", `exec '${process.execPath}' '${script}'`);
    const runner = processVirshSession({ uri: URI, binary: stalls.path, connectTimeoutMs: 5_000 });
    expect((await runner.run(["domstate", "x"], { timeoutMs: 300 })).stdout).toBe("running\n\n");
    const t0 = Date.now();
    const stalled = runner.run(["stall"], { timeoutMs: 700 });
    expect(runner.inFlight?.()).toMatchObject({ what: "virsh stall", timeoutMs: 700 });
    await expect(stalled).rejects.toThrow("the libvirt daemon did not answer 'virsh stall' within 0.7 s: is it stopped or hung?");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(690);
    // The next call has a new virsh, with the connection's deadline first.
    expect((await runner.run(["domstate", "x"])).stdout).toBe("running\n\n");
    expect(stalls.pids()).toHaveLength(2);
    expect(stalls.pids().slice(0, 1).filter(alive)).toEqual([]);
    runner.close();
  });

  it("virsh's keepalive gave up: the call fails as a timeout, and the next one starts a new session", async () => {
    const lost = fake("keepalive", `exec '${process.execPath}' '${script}'`);
    const virsh = new Virsh(processVirshSession({ uri: URI, binary: lost.path }));
    const error = await virsh.call(["keepalive-lost"]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({
      kind: "timeout",
      message: "the libvirt daemon stopped answering during 'virsh keepalive-lost' (no answer to virsh's keepalive): is it stopped or hung?",
    });
    expect(await virsh.domainState("x")).toBe("running");
    expect(lost.pids()).toHaveLength(2);
    virsh.runner.close?.();
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
    const runner = processVirshSession({ uri: URI, binary: hang.path, connectTimeoutMs: 100 });
    await expect(runner.run(["define", "/tmp/secret/input.xml"], { shown: ["define"] })).rejects.toThrow(
      "the libvirt daemon did not answer 'virsh define' within 0.1 s: is it stopped or hung?",
    );
    runner.close();
  });

  it.skipIf(!HAVE_VIRSH)("after a timeout the next call starts a new session; calls queued behind the one that timed out fail with it", async () => {
    // The first session hangs, the ones after it are the real virsh.
    const once = fake("hang-once", `if [ "$(wc -l < "$0.pids")" -le 1 ]; then exec sleep 600; fi\nexec virsh "$@"`);
    const runner = processVirshSession({ uri: URI, binary: once.path, connectTimeoutMs: 1_500 });
    const first = runner.run(["domstate", "test"]);
    const queued = runner.run(["list", "--name"]);
    expect(runner.inFlight?.()).toMatchObject({ what: "virsh domstate test", timeoutMs: 1_500 });
    await expect(first).rejects.toMatchObject({ kind: "timeout" });
    await expect(queued).rejects.toMatchObject({ kind: "timeout" });
    expect(runner.inFlight?.()).toBeUndefined();
    expect((await runner.run(["domstate", "test"])).stdout).toBe("running\n\n");
    // A new virsh (two on the test driver, which refuses the keepalive asked for first).
    expect(once.pids().length).toBeGreaterThanOrEqual(2);
    expect(once.pids().slice(0, 1).filter(alive)).toEqual([]);
    runner.close();
  });
});
