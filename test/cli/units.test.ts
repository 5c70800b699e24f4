// The CLI's small parts on their own: virsh's messages mapped to failures, the installed hook's
// header for both forms of the built hook, the daemon finder and its SIGHUP.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileFunction } from "node:vm";
import { afterEach, describe, expect, it } from "vitest";
import { hooksDirPlacement, systemDaemonControl, type RunningDaemon } from "../../src/host/daemon.js";
import { EXIT, exitCodeFor } from "../../src/cli/errors.js";
import { bakedPolicyPath, hookContent, interpreterOf, isOurs } from "../../src/cli/hook-file.js";
import { DEFAULT_POLICY_PATH } from "../../src/core/constants.js";
import { LibvirtError, Virsh, classify, type VirshResult } from "../../src/host/virsh.js";

const failed = (stderr: string): VirshResult => ({ status: 1, stdout: "", stderr });

describe("virsh failures", () => {
  it.each([
    [
      "error: failed to connect to the hypervisor\nerror: Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory\n",
      "daemon-down",
      EXIT.HOST,
    ],
    [
      "error: failed to connect to the hypervisor\nerror: Failed to connect socket to '/var/run/libvirt/libvirt-sock': Permission denied\n",
      "permission",
      EXIT.PERMISSION,
    ],
    ["error: failed to connect to the hypervisor\nerror: authentication unavailable: no polkit agent available\n", "permission", EXIT.PERMISSION],
    ["error: failed to get domain 'web9'\n", "domain-not-found", EXIT.HOST],
    ["error: failed to get domain 'web9'\nerror: Domain not found: no domain with matching name 'web9'\n", "domain-not-found", EXIT.HOST],
    ["error: Failed to define domain from x.xml\nerror: XML error: bad\n", "failed", EXIT.HOST],
  ])("%j is %s", (stderr, kind, code) => {
    const e = classify(failed(stderr), ["dumpxml", "web9"], "qemu:///system");
    expect(e.kind).toBe(kind);
    expect(exitCodeFor(e)).toBe(code);
    expect(e.message).not.toContain("\n");
  });

  it("names the domain it was asked about", () => {
    expect(classify(failed("error: failed to get domain 'x'\n"), ["dumpxml", "x"], "u", "web1").message).toBe(
      "domain 'web1' not found (virsh list --all shows the defined domains)",
    );
  });

  it("an nwfilter that does not exist is undefined, not an error; other failures are", async () => {
    const virsh = (stderr: string) => new Virsh({ uri: "qemu:///system", run: () => Promise.resolve(failed(stderr)) });
    expect(
      await virsh("error: failed to get nwfilter 'x'\nerror: Network filter not found: no nwfilter with matching name 'x'\n").nwfilterXml("x"),
    ).toBeUndefined();
    await expect(
      virsh("error: failed to connect to the hypervisor\nerror: Failed to connect socket to 's': Connection refused\n").nwfilterXml("x"),
    ).rejects.toThrow(LibvirtError);
  });

  it("lists domains with their state and persistence", async () => {
    const answers: Record<string, string> = {
      "list --name --all": "a\nc\nb\n\n",
      "list --name": "b\nc\n\n",
      "list --name --all --transient": "c\n\n",
    };
    const virsh = new Virsh({ uri: "u", run: (args) => Promise.resolve({ status: 0, stdout: answers[args.join(" ")] ?? "", stderr: "" }) });
    expect(await virsh.domains()).toEqual([
      { name: "a", active: false, persistent: true },
      { name: "b", active: true, persistent: true },
      { name: "c", active: true, persistent: false },
    ]);
  });
});

describe("the installed hook's header", () => {
  const options = { nodePath: "/opt/node-18/bin/node", policyPath: DEFAULT_POLICY_PATH, version: "1.2.3" };

  it("a #!/bin/sh hook: every run of node names the absolute node; our lines go after the directive prologue", () => {
    const shell = (node: string) =>
      `#!/bin/sh\n":" //; case "$2 $3" in "prepare begin") exec ${node} --preserve-symlinks-main --no-global-search-paths "$0" "$@";; "migrate begin") ;; *) exit 0;; esac; ` +
      `l=$(NWFILTER_HOOK_LOG_FD=3 ${node} "$0" "$@" 3>&1 >&4 4>&-); exit $?\n`;
    const bundle = `${shell("node")}"use strict";\ncode();\n`;
    const text = hookContent({ ...options, bundle, policyPath: "/srv/policy.ini" });
    expect(text).toBe(
      `${shell("/opt/node-18/bin/node")}"use strict";\n` +
        "// nwfilter-hook: installed by 'nwfilter-hook install' (version 1.2.3); do not edit: install again to change it\n" +
        'process.env.NWFILTER_HOOK_POLICY="/srv/policy.ini";\ncode();\n',
    );
    expect(isOurs(text)).toBe(true);
    expect(interpreterOf(text)).toBe("/opt/node-18/bin/node");
    expect(bakedPolicyPath(text)).toBe("/srv/policy.ini");
  });

  it("a #!/usr/bin/env node hook: the #! line names the absolute node; the default policy is not baked in", () => {
    const text = hookContent({ ...options, bundle: '#!/usr/bin/env node\n"use strict";var a=1;\n' });
    expect(text).toBe(
      '#!/opt/node-18/bin/node\n"use strict";\n' +
        "// nwfilter-hook: installed by 'nwfilter-hook install' (version 1.2.3); do not edit: install again to change it\n" +
        "var a=1;\n",
    );
    expect(interpreterOf(text)).toBe("/opt/node-18/bin/node");
    expect(bakedPolicyPath(text)).toBe(DEFAULT_POLICY_PATH);
  });

  it("a baked policy path keeps strict mode: the directive stays the first statement", () => {
    const text = hookContent({ ...options, bundle: '#!/usr/bin/env node\n"use strict";x=1;\n', policyPath: "/srv/p.ini" });
    const body = text.slice(text.indexOf("\n") + 1);
    expect(body.startsWith('"use strict";\n')).toBe(true);
    // In strict mode, assigning an undeclared variable throws.
    const run = compileFunction(body, ["process"]) as (process: unknown) => void;
    expect(() => run({ env: {} })).toThrow(ReferenceError);
  });

  it("refuses a node path that a #! or shell line cannot hold", () => {
    expect(() => hookContent({ ...options, bundle: "#!/usr/bin/env node\n", nodePath: "/opt/my node/bin/node" })).toThrow(
      /cannot stand on a '#!' or shell line/,
    );
    expect(() => hookContent({ ...options, bundle: "#!/usr/bin/env node\n", nodePath: "node" })).toThrow(/absolute/);
  });

  it("a file without the marker is not ours", () => {
    expect(isOurs("#!/bin/sh\n# nwfilter-hook\nexit 0\n")).toBe(false);
  });
});

describe("the daemon", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const BOUND = "/run/libvirt/libvirt-sock";
  /**
   * A fake /proc: each daemon has its comm, a listening socket bound to BOUND in its
   * net/unix, an fd linking to it, and a root (its mount namespace) where BOUND is a file of
   * its own, as with private daemons; a pid file names the first daemon, whatever the URI.
   */
  const fakeHost = (daemons: Array<{ name: string; pid: number; listens?: boolean; bound?: string; ns?: number }>) => {
    const root = mkdtempSync(join(tmpdir(), "nwfh-daemon-"));
    dirs.push(root);
    mkdirSync(join(root, "run"));
    const sockets: Record<number, string> = {};
    daemons.forEach(({ name, pid, listens = true, bound = BOUND, ns: nsOf = pid }, i) => {
      const proc = join(root, "proc", String(pid));
      const ns = join(root, `ns${nsOf}`);
      mkdirSync(join(proc, "fd"), { recursive: true });
      mkdirSync(join(proc, "net"));
      mkdirSync(join(ns, "run", "libvirt"), { recursive: true });
      mkdirSync(join(ns, "etc", "libvirt", "hooks"), { recursive: true });
      writeFileSync(join(ns, bound), "");
      symlinkSync(ns, join(proc, "root"));
      writeFileSync(join(proc, "comm"), `${name}\n`);
      const inode = 9000 + i;
      const flags = listens ? "00010000" : "00000000";
      writeFileSync(
        join(proc, "net", "unix"),
        `Num       RefCount Protocol Flags    Type St Inode Path\n0000000000000000: 00000002 00000000 ${flags} 0001 01 ${inode} ${bound}\n`,
      );
      symlinkSync("/dev/null", join(proc, "fd", "0"));
      symlinkSync(`socket:[${inode}]`, join(proc, "fd", "3"));
      if (i === 0) writeFileSync(join(root, "run", `${name}.pid`), `${pid}\n`);
      sockets[pid] = join(ns, bound);
    });
    const control = systemDaemonControl({ runDir: join(root, "run"), procDir: join(root, "proc"), socketDir: join(root, "nodaemon") });
    const uriOf = (pid: number) => `qemu+unix:///system?socket=${sockets[pid]}`;
    return { root, control, uriOf };
  };

  it("finds the daemon that listens on the URI's socket, not the one a pid file names", () => {
    const host = fakeHost([
      { name: "libvirtd", pid: 100 },
      { name: "libvirtd", pid: 200 },
      { name: "virtqemud", pid: 300 },
    ]);
    expect(host.control.locate(host.uriOf(200)).daemon).toMatchObject({
      name: "libvirtd",
      manager: "signal",
      pid: 200,
      socket: host.uriOf(200).split("=")[1],
      root: join(host.root, "proc", "200", "root"),
    });
    expect(host.control.locate(host.uriOf(100)).daemon).toMatchObject({ pid: 100 });
    expect(host.control.locate(host.uriOf(300)).daemon).toMatchObject({ name: "virtqemud", pid: 300 });
  });

  it("follows virtproxyd to the virtqemud that listens beside it", () => {
    const host = fakeHost([
      { name: "virtproxyd", pid: 100 },
      { name: "virtqemud", pid: 200, bound: "/run/libvirt/virtqemud-sock", ns: 100 },
      { name: "virtqemud", pid: 300, bound: "/run/libvirt/virtqemud-sock" },
    ]);
    expect(host.control.locate(host.uriOf(100)).daemon).toMatchObject({ name: "virtqemud", pid: 200 });
    const lonely = fakeHost([{ name: "virtproxyd", pid: 100 }]);
    expect(lonely.control.locate(lonely.uriOf(100)).why).toBe(`${lonely.uriOf(100)} leads to virtproxyd, and no virtqemud listens beside it`);
  });

  it("finds none, and says why, where nothing of ours listens on the socket", () => {
    const host = fakeHost([
      { name: "libvirtd", pid: 100, listens: false },
      { name: "bash", pid: 200 },
    ]);
    for (const pid of [100, 200]) {
      expect(host.control.locate(host.uriOf(pid)).daemon).toBeUndefined();
      expect(host.control.locate(host.uriOf(pid)).why).toBe(
        `no libvirtd or virtqemud listens on ${host.uriOf(pid).split("=")[1]} (where ${host.uriOf(pid)} leads)`,
      );
    }
    expect(host.control.locate("qemu+unix:///system?socket=/nonexistent/sock").daemon).toBeUndefined();
    expect(host.control.locate("qemu+unix:///system?socket=/nonexistent/sock").why).toMatch(/leads to \/nonexistent\/sock, which does not exist/);
    expect(host.control.locate("qemu+ssh://host2/system").why).toMatch(/over ssh on host2/);
  });

  it("judges the hooks directory as the daemon sees it", () => {
    const hooksDirProblem = (d: RunningDaemon, dir: string) => {
      const placement = hooksDirPlacement(d, dir);
      return placement.misplaced ? placement.why : undefined;
    };
    const host = fakeHost([{ name: "libvirtd", pid: 100 }]);
    const daemon = host.control.locate(host.uriOf(100)).daemon as RunningDaemon;
    const own = join(host.root, "ns100", "etc", "libvirt", "hooks");
    expect(hooksDirProblem(daemon, own)).toBeUndefined();
    rmSync(own, { recursive: true });
    expect(hooksDirProblem(daemon, own)).toBeUndefined(); // not there yet: its parent is the daemon's /etc/libvirt
    const other = join(host.root, "other", "hooks");
    mkdirSync(other, { recursive: true });
    expect(hooksDirProblem(daemon, other)).toBe(
      `libvirtd (pid 100), which listens on ${host.uriOf(100).split("=")[1]}, runs the hooks in its own /etc/libvirt/hooks (here ${join(host.root, "proc", "100", "root")}/etc/libvirt/hooks), not in ${other}: pass --hooks-dir with that directory`,
    );
    mkdirSync(own);
    expect(hooksDirProblem(daemon, other)).toMatch(/runs the hooks in its own \/etc\/libvirt\/hooks .*: pass --hooks-dir/);
    expect(hooksDirProblem({ name: "libvirtd", manager: "systemd" }, other)).toBeUndefined(); // no root: nothing to tell
  });

  it("sends SIGHUP to the daemon's own pid", async () => {
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
    const host = fakeHost([{ name: "libvirtd", pid: child.pid as number }]);
    const daemon = host.control.locate(host.uriOf(child.pid as number)).daemon;
    expect(daemon).toBeDefined();
    expect(host.control.reload(daemon as RunningDaemon)).toBe(
      `reloaded libvirtd (SIGHUP to pid ${child.pid}, which listens on ${host.uriOf(child.pid as number).split("=")[1]})`,
    );
    expect(await exited).toBe("SIGHUP");
  });
});
