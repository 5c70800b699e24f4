// The CLI's small parts on their own: virsh's messages mapped to failures, the installed hook's
// header for both forms of the built hook, the daemon finder and its SIGHUP.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileFunction } from "node:vm";
import { afterEach, describe, expect, it } from "vitest";
import { systemDaemonControl } from "../../src/cli/daemon.js";
import { EXIT, exitCodeFor } from "../../src/cli/errors.js";
import { bakedPolicyPath, hookContent, interpreterOf, isOurs } from "../../src/cli/hook-file.js";
import { DEFAULT_POLICY_PATH } from "../../src/core/constants.js";
import { LibvirtError, Virsh, classify, type VirshResult } from "../../src/host/virsh.js";

const failed = (stderr: string): VirshResult => ({ status: 1, stdout: "", stderr });

describe("virsh failures", () => {
  it.each([
    ["error: failed to connect to the hypervisor\nerror: Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory\n", "daemon-down", EXIT.HOST],
    ["error: failed to connect to the hypervisor\nerror: Failed to connect socket to '/var/run/libvirt/libvirt-sock': Permission denied\n", "permission", EXIT.PERMISSION],
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

  it("an nwfilter that does not exist is undefined, not an error; other failures are", () => {
    const virsh = (stderr: string) => new Virsh({ uri: "qemu:///system", run: () => failed(stderr) });
    expect(virsh("error: failed to get nwfilter 'x'\nerror: Network filter not found: no nwfilter with matching name 'x'\n").nwfilterXml("x")).toBeUndefined();
    expect(() => virsh("error: failed to connect to the hypervisor\nerror: Failed to connect socket to 's': Connection refused\n").nwfilterXml("x")).toThrow(LibvirtError);
  });

  it("lists domains with their state and persistence", () => {
    const answers: Record<string, string> = {
      "list --name --all": "a\nc\nb\n\n",
      "list --name": "b\nc\n\n",
      "list --name --all --transient": "c\n\n",
    };
    const virsh = new Virsh({ uri: "u", run: (args) => ({ status: 0, stdout: answers[args.join(" ")] ?? "", stderr: "" }) });
    expect(virsh.domains()).toEqual([
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
    expect(() => hookContent({ ...options, bundle: "#!/usr/bin/env node\n", nodePath: "/opt/my node/bin/node" })).toThrow(/cannot stand on a '#!' or shell line/);
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
  const fakeHost = (daemons: Record<string, number>, systemd = false) => {
    const root = mkdtempSync(join(tmpdir(), "nwfh-daemon-"));
    dirs.push(root);
    mkdirSync(join(root, "run"));
    if (systemd) mkdirSync(join(root, "run", "systemd", "system"), { recursive: true });
    for (const [name, pid] of Object.entries(daemons)) {
      writeFileSync(join(root, "run", `${name}.pid`), `${pid}\n`);
      mkdirSync(join(root, "proc", String(pid)), { recursive: true });
      writeFileSync(join(root, "proc", String(pid), "comm"), `${name}\n`);
    }
    return systemDaemonControl({ runDir: join(root, "run"), procDir: join(root, "proc") });
  };

  it("finds virtqemud before libvirtd, by pid file and /proc/PID/comm", () => {
    expect(fakeHost({ libvirtd: 100, virtqemud: 200 }).find()).toMatchObject({ name: "virtqemud", manager: "pid-file", pid: 200 });
    expect(fakeHost({ libvirtd: 100 }).find()).toMatchObject({ name: "libvirtd", pid: 100 });
    expect(fakeHost({}).find()).toBeUndefined();
  });

  it("ignores a stale pid file whose pid now names another program", () => {
    const control = fakeHost({ libvirtd: 100 });
    const root = dirs[dirs.length - 1] as string;
    writeFileSync(join(root, "proc", "100", "comm"), "bash\n");
    expect(control.find()).toBeUndefined();
  });

  it("sends SIGHUP to the daemon's pid", async () => {
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
    const control = fakeHost({ libvirtd: child.pid as number });
    const daemon = control.find();
    expect(daemon).toBeDefined();
    expect(control.reload(daemon as NonNullable<typeof daemon>)).toMatch(/^reloaded libvirtd \(SIGHUP to pid \d+ from .*libvirtd.pid\)$/);
    expect(await exited).toBe("SIGHUP");
  });
});
