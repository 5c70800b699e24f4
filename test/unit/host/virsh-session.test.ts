// The virsh session (src/host/virsh-session.ts) against libvirt's in-process test driver
// (test:///default: no daemon involved): every answer is byte for byte what one-shot virsh gives.
import { spawnSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { VirshSession, sessionRunner, virshWord } from "../../../src/host/virsh-session.js";
import { processVirsh } from "../../../src/host/virsh.js";

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
  ])("%j", (args) => {
    // The test driver's CPU time moves between two calls.
    const cpu = (r: { stdout: string }) => r.stdout.replace(/^CPU time:.*$/m, "");
    const a = session.run(args);
    const b = oneShot.run(args);
    expect(cpu(a)).toBe(cpu(b));
    expect(a.stderr).toBe(b.stderr);
    expect(a.status === 0).toBe(b.status === 0);
  });

  it("many commands in one session cost far less than a virsh each", () => {
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) session.run(["domstate", "test"]);
    const session50 = performance.now() - t0;
    const t1 = performance.now();
    for (let i = 0; i < 5; i++) oneShot.run(["domstate", "test"]);
    const oneShot5 = performance.now() - t1;
    expect(session50).toBeLessThan(oneShot5 * 4);
  });

  it("a session whose virsh went away starts again on the next command", () => {
    session.close();
    expect(session.alive).toBe(false);
    expect(session.run(["domstate", "test"]).stdout).toBe("running\n\n");
  });

  it("falls back to one-shot virsh where no session can run", () => {
    const runner = sessionRunner({ binary: "/nonexistent/virsh", uri: URI, env: process.env }, oneShot);
    expect(runner.run(["domstate", "test"]).stdout).toBe("running\n\n");
    runner.close();
  });
});
