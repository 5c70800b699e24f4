// install, uninstall and check against temporary hooks directories and the fake virsh: what
// they write, that a second install changes nothing, that a foreign hook is kept, and that the
// installed hook runs (its self-test runs the real built hook).
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HOOK_MARKER, bakedPolicyPath, interpreterOf, isOurs } from "../../src/cli/hook-file.js";
import { defaultPolicyText } from "../../src/cli/policy.js";
import { DEFAULT_POLICY, parsePolicy } from "../../src/core/policy.js";
import { DIST_QEMU, REPO_ROOT } from "./support/build.js";
import { makeHarness, type Harness } from "./support/harness.js";

let h: Harness;
let hook: string;
beforeEach(() => {
  h = makeHarness();
  hook = join(h.hooksDir, "qemu.d", "50-nwfilter-hook");
});
afterEach(() => h.cleanup());

const install = (...extra: string[]) => h.run(["install", "--hooks-dir", h.hooksDir, ...extra]);

describe("install", () => {
  it("installs the hook, the default policy and the filter, reloads the daemon and self-tests", async () => {
    const r = await install();
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatchInlineSnapshot(`
      "hook <tmp>/hooks/qemu.d/50-nwfilter-hook: installed (interpreter <node>, policy <tmp>/policy.ini)
      startup cache <tmp>/cache/<id>.cache: recorded (code cache for <node> <version>)
      policy <tmp>/policy.ini: written (the defaults, every key commented out)
      nwfilter 'vdsm-no-mac-spoofing': created (uuid 5a1b2c3d-0000-4000-8000-000000000001)
      daemon: reloaded libvirtd (SIGHUP to pid 4242, which listens on /run/libvirt/libvirt-sock)
      self-test: ok: the installed hook ran a sample restore and added the filter
      install: done
      "
    `);
    expect(h.reloads).toEqual(["libvirtd"]);

    const text = readFileSync(hook, "utf8");
    expect(statSync(hook).mode & 0o7777).toBe(0o755);
    expect(isOurs(text)).toBe(true);
    expect(interpreterOf(text)).toBe(process.execPath);
    expect(bakedPolicyPath(text)).toBe(h.policyPath);
    expect(text.split("\n").slice(0, 5).join("\n").replaceAll(process.execPath, "<node>").replace(h.root, "<tmp>")).toMatchInlineSnapshot(`
      "#!/bin/sh
      ":" //; case "$2 $3" in "prepare begin"|"migrate begin"|"restore begin") ;; *) exit 0;; esac; s=; [ "$2" = prepare ] && exec <node> --preserve-symlinks-main --no-global-search-paths \${s:+--no-verify-snapshot-checksum} \${s:+--snapshot-blob} \${s:+"$s"} "$0" "$@"; { l=$(NWFILTER_HOOK_LOG_FD=3 <node> --preserve-symlinks-main --no-global-search-paths \${s:+--no-verify-snapshot-checksum} \${s:+--snapshot-blob} \${s:+"$s"} "$0" "$@" 3>&1 >&4 4>&-); r=$?; } 4>&1; [ -n "$l" ] && { { printf '%s\\n' "$l" | logger --prio-prefix -t nwfilter-hook; } >/dev/null 2>&1 & }; exit $r
      "use strict";
      // nwfilter-hook: installed by 'nwfilter-hook install' (version 0.1.0); do not edit: install again to change it
      process.env.NWFILTER_HOOK_POLICY="<tmp>/policy.ini";"
    `);
    expect(text.split("\n")[5]).toMatch(
      new RegExp(`^const startupCache = \\[${JSON.stringify(join(h.root, "cache", `${startupIdOf(text)}.cache`))}, "\\d+:\\d+:\\d+:[\\d.]+"\\];$`),
    );
    // The rest is the built hook, unchanged.
    const ours = (line: string) =>
      line.startsWith(HOOK_MARKER) || line.startsWith("process.env.NWFILTER_HOOK_POLICY=") || line.startsWith("const startupCache = ");
    const unmarked = text
      .split("\n")
      .filter((line, i) => i > 5 || !ours(line))
      .join("\n")
      .replaceAll(` ${process.execPath} `, " node ");
    expect(unmarked === readFileSync(DIST_QEMU, "utf8")).toBe(true);

    expect(statSync(h.policyPath).mode & 0o7777).toBe(0o644);
    expect(readFileSync(h.policyPath, "utf8")).toBe(defaultPolicyText());
    expect(readFileSync(join(h.state, "nwfilters", "vdsm-no-mac-spoofing.xml"), "utf8")).toContain("<filterref filter='no-arp-mac-spoofing'/>");
    // No temporary file is left where libvirt would run it.
    expect(readFileSyncDir(join(h.hooksDir, "qemu.d"))).toEqual(["50-nwfilter-hook"]);
    expect(readFileSyncDir(h.hooksDir)).toEqual(["qemu.d"]);
  });

  it("a second run changes nothing and says so", async () => {
    expect((await install()).code).toBe(0);
    const before = { text: readFileSync(hook, "utf8"), mtime: statSync(hook).mtimeMs, policy: readFileSync(h.policyPath, "utf8") };
    const r = await install();
    expect(r.code).toBe(0);
    expect(r.stdout).toMatchInlineSnapshot(`
      "hook <tmp>/hooks/qemu.d/50-nwfilter-hook: unchanged
      startup cache <tmp>/cache/<id>.cache: unchanged (code cache for <node> <version>)
      policy <tmp>/policy.ini: exists, left alone
      nwfilter 'vdsm-no-mac-spoofing': unchanged (uuid 5a1b2c3d-0000-4000-8000-000000000001)
      daemon: no reload needed (the hook is unchanged)
      self-test: ok: the installed hook ran a sample restore and added the filter
      install: nothing changed (already installed)
      "
    `);
    expect(h.reloads).toEqual(["libvirtd"]); // only the first run reloaded
    expect(readFileSync(hook, "utf8")).toBe(before.text);
    expect(statSync(hook).mtimeMs).toBe(before.mtime);
    expect(readFileSync(h.policyPath, "utf8")).toBe(before.policy);
    expect(h.calls().filter((c) => c.startsWith("nwfilter-define"))).toHaveLength(1);
  });

  it("keeps an existing policy, and refuses to install over an invalid one", async () => {
    writeFileSync(h.policyPath, "[filtering]\nOnMissing = audit\n", { mode: 0o644 });
    const r = await install();
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("policy <tmp>/policy.ini: exists, left alone");
    expect(readFileSync(h.policyPath, "utf8")).toBe("[filtering]\nOnMissing = audit\n");
    expect(r.stdout).toMatch(/self-test: ok/);

    writeFileSync(h.policyPath, "[filtering]\nOnMising = audit\n");
    const bad = await install();
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/^nwfilter-hook: <tmp>\/policy.ini:2: unknown key 'OnMising' in \[filtering\]/);
  });

  it("without --no-reload a changed hook reloads the daemon; with it, it does not", async () => {
    const r = await install("--no-reload");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("daemon: not reloaded (--no-reload)");
    expect(h.reloads).toEqual([]);
  });

  it("an update (other content) says updated", async () => {
    expect((await install()).code).toBe(0);
    writeFileSync(hook, readFileSync(hook, "utf8").replace("do not edit", "edited"));
    const r = await install();
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("hook <tmp>/hooks/qemu.d/50-nwfilter-hook: updated");
    expect(r.stdout).toContain("install: done");
  });

  it("for libvirt < 6.5 installs hooks/qemu, never over a foreign hook without --force", async () => {
    writeFileSync(join(h.state, "version"), "6.0.0\n");
    const main = join(h.hooksDir, "qemu");
    writeFileSync(main, "#!/bin/sh\n# the site's own hook\nexit 0\n", { mode: 0o755 });
    const refused = await install();
    expect(refused).toEqual({
      code: 4,
      stdout: "",
      stderr: "nwfilter-hook: <tmp>/hooks/qemu exists and was not installed by nwfilter-hook: use --force to replace it (a backup is kept)\n",
    });
    expect(readFileSync(main, "utf8")).toContain("the site's own hook");

    const forced = await install("--force");
    expect(forced.stdout + forced.stderr).toContain("install: done");
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain("hook <tmp>/hooks/qemu: the existing hook, not ours, is kept as <tmp>/hooks/qemu.nwfilter-hook-backup (--force)");
    expect(isOurs(readFileSync(main, "utf8"))).toBe(true);
    expect(existsSync(hook)).toBe(false);

    // uninstall puts the site's hook back.
    const un = await h.run(["uninstall", "--hooks-dir", h.hooksDir]);
    expect(un.code).toBe(0);
    expect(un.stdout).toContain("restored the hook that 'install --force' had replaced");
    expect(readFileSync(main, "utf8")).toContain("the site's own hook");
    expect(existsSync(`${main}.nwfilter-hook-backup`)).toBe(false);
  });

  it("after a libvirt upgrade to >= 6.5, moves its own hooks/qemu to qemu.d", async () => {
    writeFileSync(join(h.state, "version"), "6.0.0\n");
    expect((await install()).code).toBe(0);
    writeFileSync(join(h.state, "version"), "9.0.0\n");
    const r = await install();
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("hook <tmp>/hooks/qemu: removed (an older install; libvirt 9.0.0 runs qemu.d)");
    expect(existsSync(join(h.hooksDir, "qemu"))).toBe(false);
    expect(existsSync(hook)).toBe(true);
  });

  it("stops with one line when the daemon is down, before writing anything", async () => {
    writeFileSync(join(h.state, "down"), "");
    const r = await install();
    expect(r.code).toBe(4);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatchInlineSnapshot(`
      "nwfilter-hook: the libvirt daemon is not running (cannot connect to qemu:///system): start libvirtd or virtqemud (failed to connect to the hypervisor; Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory)
      "
    `);
    expect(existsSync(hook)).toBe(false);
    expect(existsSync(h.policyPath)).toBe(false);
  });

  it("--defer-if-down: installs the hook and the policy, leaves the filter for the daemon to load at start", async () => {
    writeFileSync(join(h.state, "down"), "");
    const r = await install("--defer-if-down");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatchInlineSnapshot(`
      "hook <tmp>/hooks/qemu.d/50-nwfilter-hook: installed (interpreter <node>, policy <tmp>/policy.ini)
      startup cache <tmp>/cache/<id>.cache: recorded (code cache for <node> <version>)
      policy <tmp>/policy.ini: written (the defaults, every key commented out)
      nwfilter 'vdsm-no-mac-spoofing': written to <tmp>/virsh/nwfilters/vdsm-no-mac-spoofing.xml (libvirt defines it when it starts)
      daemon: not running: libvirt runs the hook and loads the filter when it starts
      self-test: ok: the installed hook ran a sample restore and added the filter
      install: done; takes effect when libvirt starts
      "
    `);
    expect(isOurs(readFileSync(hook, "utf8"))).toBe(true);
    expect(h.reloads).toEqual([]);
    const filter = join(h.state, "nwfilters", "vdsm-no-mac-spoofing.xml");
    expect(statSync(filter).mode & 0o7777).toBe(0o600);
    expect(readFileSync(filter, "utf8")).toBe(readFileSync(join(REPO_ROOT, "nwfilter", "vdsm-no-mac-spoofing.xml"), "utf8"));
    // Once the daemon runs, an install defines the filter through libvirt (the hook is unchanged).
    rmSync(join(h.state, "down"));
    rmSync(filter);
    const again = await install("--defer-if-down");
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("nwfilter 'vdsm-no-mac-spoofing': created");
    expect(again.stdout).toContain("daemon: no reload needed (the hook is unchanged)");
  });

  it("--defer-if-down leaves a filter definition that is already there alone", async () => {
    writeFileSync(join(h.state, "down"), "");
    const filter = join(h.state, "nwfilters", "vdsm-no-mac-spoofing.xml");
    writeFileSync(filter, "<filter name='vdsm-no-mac-spoofing' chain='root'/>\n");
    const r = await install("--defer-if-down");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("nwfilter 'vdsm-no-mac-spoofing': in <tmp>/virsh/nwfilters/vdsm-no-mac-spoofing.xml, left alone (the daemon is not running)");
    expect(readFileSync(filter, "utf8")).toBe("<filter name='vdsm-no-mac-spoofing' chain='root'/>\n");
  });

  it("reports a self-test failure with exit 1", async () => {
    // The hook names a Node that does not exist: libvirt could not run it either.
    const r = await h.run(["install", "--hooks-dir", h.hooksDir], { execPath: "/nonexistent/bin/node" });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^self-test: FAILED: <tmp>\/hooks\/qemu.d\/50-nwfilter-hook exited 127 on a sample restore, expected 0: .*nonexistent/m);
    expect(r.stdout).toMatch(/install: incomplete \(see above\)\n$/);
  });
});

describe("install: the startup cache", () => {
  it("records a startup snapshot, checks it in the hook's shell line, keeps it on a second run; check and uninstall know it", async () => {
    const env = { NWFILTER_HOOK_STARTUP: "snapshot" };
    const r = await h.run(["install", "--hooks-dir", h.hooksDir], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("startup cache <tmp>/cache/<id>.blob: recorded (startup snapshot for <node> <version>)");
    expect(r.stdout).toContain("self-test: ok");
    const text = readFileSync(hook, "utf8");
    const line = text.split("\n")[1] ?? "";
    expect(line).toMatch(
      /; s=; \[ "\$\(\/(usr\/)?bin\/stat -L --printf '[^']+' -- '[^']+\/cache' '[^']+\.blob' '[^']+' .*\)" = '[^']+' \] && s='[^']+\.blob'; \[ "\$2" = prepare \] && exec /,
    );
    expect(interpreterOf(text)).toBe(process.execPath);
    const blob = readdirSync(join(h.root, "cache")).filter((f) => f.endsWith(".blob"));
    expect(blob).toHaveLength(1);
    expect(statSync(join(h.root, "cache", blob[0] ?? "")).mode & 0o7777).toBe(0o644);
    expect(statSync(join(h.root, "cache")).mode & 0o7777).toBe(0o755);

    const again = await h.run(["install", "--hooks-dir", h.hooksDir], { env });
    expect(again.stdout).toContain("startup cache <tmp>/cache/<id>.blob: unchanged (startup snapshot for <node> <version>)");
    expect(again.stdout).toContain("install: nothing changed (already installed)");
    expect(readFileSync(hook, "utf8")).toBe(text);

    expect((await h.run(["check", "--hooks-dir", h.hooksDir])).stdout).toContain("startup cache <tmp>/cache/<id>.blob: ok (startup snapshot for <node>)");
    chmodSync(join(h.root, "cache", blob[0] ?? ""), 0o664);
    expect((await h.run(["check", "--hooks-dir", h.hooksDir])).stdout).toContain(
      "startup cache <tmp>/cache/<id>.blob: not used (it or its directory is writable by group or others (mode 0664)): run nwfilter-hook install again",
    );
    // install puts it right.
    const fixed = await h.run(["install", "--hooks-dir", h.hooksDir], { env });
    expect(fixed.stdout).toContain("startup cache <tmp>/cache/<id>.blob: recorded");
    expect((await h.run(["check", "--hooks-dir", h.hooksDir])).stdout).toContain("startup cache <tmp>/cache/<id>.blob: ok");

    const un = await h.run(["uninstall", "--hooks-dir", h.hooksDir]);
    expect(un.stdout).toContain("startup cache <tmp>/cache/<id>.blob: removed");
    expect(existsSync(join(h.root, "cache"))).toBe(false);
  });

  it("records nothing in a cache directory that others can write, and the hook starts the plain way", async () => {
    mkdirSync(join(h.root, "cache"), { mode: 0o775 });
    chmodSync(join(h.root, "cache"), 0o775);
    const r = await install();
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      "startup cache <tmp>/cache: not recorded (the directory is writable by group or others (mode 0775)): the hook starts the plain way",
    );
    expect(r.stdout).toContain("self-test: ok");
    const text = readFileSync(hook, "utf8");
    expect(text).not.toContain("const startupCache");
    expect(text.split("\n")[1]).toContain('; s=; [ "$2" = prepare ]');
    expect((await h.run(["check", "--hooks-dir", h.hooksDir])).stdout).toContain("startup cache: none recorded");
  });
});

describe("the default policy file", () => {
  it("parses to the built-in defaults: every key is commented out", () => {
    const policy = parsePolicy(defaultPolicyText(), "policy.ini");
    expect({ ...policy, source: DEFAULT_POLICY.source }).toEqual(DEFAULT_POLICY);
    for (const key of ["EnableMACAntiSpoofingFilterRules", "ClusterLevel", "Filter", "OnMissing", "OnExisting", "Domains", "Networks", "Bridges", "MACs"]) {
      expect(defaultPolicyText()).toMatch(new RegExp(`^;${key} =`, "m"));
    }
  });
});

describe("uninstall", () => {
  it("removes only what install put there; --purge also the policy and the unreferenced filter", async () => {
    expect((await install()).code).toBe(0);
    mkdirSync(join(h.hooksDir, "qemu.d"), { recursive: true });
    writeFileSync(join(h.hooksDir, "qemu.d", "10-site"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const r = await h.run(["uninstall", "--purge", "--hooks-dir", h.hooksDir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatchInlineSnapshot(`
      "hook <tmp>/hooks/qemu.d/50-nwfilter-hook: removed
      startup cache <tmp>/cache/<id>.cache: removed
      daemon: reloaded libvirtd (SIGHUP to pid 4242, which listens on /run/libvirt/libvirt-sock)
      policy <tmp>/policy.ini: removed
      nwfilter 'vdsm-no-mac-spoofing': undefined
      uninstall: done
      "
    `);
    expect(readFileSyncDir(join(h.hooksDir, "qemu.d"))).toEqual(["10-site"]);
    expect(existsSync(h.policyPath)).toBe(false);
    expect(existsSync(join(h.state, "nwfilters", "vdsm-no-mac-spoofing.xml"))).toBe(false);
    expect((await h.run(["uninstall", "--purge", "--hooks-dir", h.hooksDir])).stdout).toBe("uninstall: nothing to remove\n");
  });

  it("--purge keeps the filter while a domain references it", async () => {
    expect((await install()).code).toBe(0);
    h.domain(
      "web1",
      "<domain><name>web1</name><devices><interface type='bridge'><source bridge='br0'/><filterref filter='vdsm-no-mac-spoofing'/></interface></devices></domain>",
    );
    const r = await h.run(["uninstall", "--purge", "--hooks-dir", h.hooksDir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("nwfilter 'vdsm-no-mac-spoofing': kept, referenced by domain 'web1'");
    expect(existsSync(join(h.state, "nwfilters", "vdsm-no-mac-spoofing.xml"))).toBe(true);
  });

  it("leaves a file in its place that is not ours", async () => {
    mkdirSync(join(h.hooksDir, "qemu.d"));
    writeFileSync(hook, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const r = await h.run(["uninstall", "--hooks-dir", h.hooksDir]);
    expect(r.stdout).toBe("hook <tmp>/hooks/qemu.d/50-nwfilter-hook: left alone (not installed by nwfilter-hook)\nuninstall: nothing to remove\n");
    expect(existsSync(hook)).toBe(true);
  });
});

describe("check", () => {
  it("fails, naming each problem, before install", async () => {
    const r = await h.run(["check", "--hooks-dir", h.hooksDir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatchInlineSnapshot(`
      "policy <tmp>/policy.ini: ok (absent: built-in defaults) [NWFILTER_HOOK_POLICY]
      # effective policy (<tmp>/policy.ini (absent: built-in defaults))
      [filtering]
      EnableMACAntiSpoofingFilterRules = true
      ClusterLevel = 4.7
      Filter = vdsm-no-mac-spoofing
      OnMissing = enforce
      OnExisting = keep
      ResyncInterval = 600
      DomainMetadata = trust

      [exempt]
      Domains =
      Networks =
      Bridges =
      MACs =
      hook <tmp>/hooks/qemu.d/50-nwfilter-hook: FAILED: not installed in <tmp>/hooks: run nwfilter-hook install
      daemon: ok (libvirtd (pid 4242) on /run/libvirt/libvirt-sock, libvirt 9.0.0, runs hooks/qemu and qemu.d/*)
      nwfilter 'vdsm-no-mac-spoofing': FAILED: not defined: run nwfilter-hook define-filter
      watcher: not running (there is no status file <tmp>/watch.json; optional unless OnMissing = watch)
      check: FAILED (2 problems)
      "
    `);
  });

  it("passes after install, printing the effective policy", async () => {
    writeFileSync(h.policyPath, "[filtering]\nOnMissing = audit\n[exempt]\nDomains = lab-*, router\nMACs = 52:54:00:AA:BB:CC\n", { mode: 0o644 });
    expect((await install()).code).toBe(0);
    const r = await h.run(["check", "--hooks-dir", h.hooksDir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatchInlineSnapshot(`
      "policy <tmp>/policy.ini: ok [NWFILTER_HOOK_POLICY]
      # effective policy (<tmp>/policy.ini)
      [filtering]
      EnableMACAntiSpoofingFilterRules = true
      ClusterLevel = 4.7
      Filter = vdsm-no-mac-spoofing
      OnMissing = audit
      OnExisting = keep
      ResyncInterval = 600
      DomainMetadata = trust

      [exempt]
      Domains = lab-*, router
      Networks =
      Bridges =
      MACs = 52:54:00:aa:bb:cc
      hook <tmp>/hooks/qemu.d/50-nwfilter-hook: ok (installed, executable, interpreter <node>)
      startup cache <tmp>/cache/<id>.cache: ok (code cache for <node> <version>)
      daemon: ok (libvirtd (pid 4242) on /run/libvirt/libvirt-sock, libvirt 9.0.0, runs hooks/qemu and qemu.d/*)
      nwfilter 'vdsm-no-mac-spoofing': ok (defined)
      watcher: not running (there is no status file <tmp>/watch.json; optional unless OnMissing = watch)
      check: ok
      "
    `);
  });

  it("reads the policy the installed hook reads when neither --policy nor the environment says", async () => {
    expect((await install()).code).toBe(0);
    const r = await h.run(["check", "--hooks-dir", h.hooksDir], { env: { NWFILTER_HOOK_POLICY: "" } });
    expect(r.stdout).toContain("policy <tmp>/policy.ini: ok [read by the installed hook <tmp>/hooks/qemu.d/50-nwfilter-hook]");
  });

  it("reports an invalid policy, a hook that is not executable and a daemon that is down", async () => {
    expect((await install()).code).toBe(0);
    writeFileSync(h.policyPath, "[filtering]\nClusterLevel = four\n");
    chmodSync(hook, 0o644);
    writeFileSync(join(h.state, "down"), "");
    const r = await h.run(["check", "--hooks-dir", h.hooksDir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatchInlineSnapshot(`
      "policy: FAILED: <tmp>/policy.ini:2: ClusterLevel: expected a dotted version such as 4.7, got 'four'
      hook <tmp>/hooks/qemu.d/50-nwfilter-hook: FAILED: not executable (chmod 0755, or install again)
      daemon: FAILED: the libvirt daemon is not running (cannot connect to qemu:///system): start libvirtd or virtqemud (failed to connect to the hypervisor; Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory)
      nwfilter 'vdsm-no-mac-spoofing': FAILED: cannot tell: libvirt is not reachable
      watcher: not running (there is no status file <tmp>/watch.json; optional unless OnMissing = watch)
      check: FAILED (4 problems)
      "
    `);
  });

  it("reports the watcher from its status file; a missing watcher is a problem only under OnMissing = watch", async () => {
    expect((await install()).code).toBe(0);
    const status = join(h.root, "watch.json");
    const now = Date.now();
    writeFileSync(
      status,
      JSON.stringify({
        pid: process.pid,
        state: "watching",
        startedAt: now,
        heartbeat: now,
        uri: "qemu:///system",
        policy: h.policyPath,
        lastResync: { at: now - 5_000, domains: 3, changed: 1, failed: 0, ms: 40 },
        lastFailure: { at: now - 60_000, what: "web1: FAILED: boom" },
      }),
    );
    const ok = await h.run(["check", "--hooks-dir", h.hooksDir]);
    expect(ok.code).toBe(0);
    // The ages count from when check ran, which a loaded machine may put a second or more after
    // the status was written: all three are older by the same whole seconds.
    const heard = /watcher: ok \(running, pid \d+, last heard from (\d+) s ago;/.exec(ok.stdout);
    expect(heard, ok.stdout).not.toBeNull();
    const late = Number(heard?.[1]);
    expect(late).toBeLessThan(10);
    expect(ok.stdout).toMatch(
      new RegExp(
        `watcher: ok \\(running, pid ${process.pid}, last heard from ${late} s ago; last resync \\S+ \\(${5 + late} s ago\\): 3 domains, 1 changed, 0 failed, 40 ms; last failure \\S+ \\(${60 + late} s ago\\): web1: FAILED: boom\\)`,
      ),
    );
    rmSync(status);
    const optional = await h.run(["check", "--hooks-dir", h.hooksDir]);
    expect(optional.code).toBe(0);
    expect(optional.stdout).toContain("watcher: not running (there is no status file <tmp>/watch.json; optional unless OnMissing = watch)");
    writeFileSync(h.policyPath, "[filtering]\nOnMissing = watch\n", { mode: 0o644 });
    const needed = await h.run(["check", "--hooks-dir", h.hooksDir]);
    expect(needed.code).toBe(1);
    expect(needed.stdout).toContain("watcher: FAILED: not healthy, and OnMissing = watch refuses starts without it: there is no status file <tmp>/watch.json");
  });

  it("notes when the installed hook reads another policy than the one checked", async () => {
    expect((await install()).code).toBe(0);
    const other = join(h.root, "candidate.ini");
    writeFileSync(other, "[filtering]\nOnMissing = enforce\n", { mode: 0o644 });
    const r = await h.run(["check", "--hooks-dir", h.hooksDir, "--policy", other]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("note: it reads the policy <tmp>/policy.ini, not <tmp>/candidate.ini");
  });
});

describe("define-filter", () => {
  it("says created, unchanged, then updated with the same uuid", async () => {
    const file = join(h.root, "f.xml");
    writeFileSync(file, "<filter name='site-filter' chain='root'>\n  <filterref filter='no-mac-spoofing'/>\n</filter>\n");
    expect((await h.run(["define-filter", file])).stdout).toBe("nwfilter 'site-filter': created (uuid 5a1b2c3d-0000-4000-8000-000000000001)\n");
    expect((await h.run(["define-filter", file])).stdout).toBe("nwfilter 'site-filter': unchanged (uuid 5a1b2c3d-0000-4000-8000-000000000001)\n");
    writeFileSync(
      file,
      '<!-- more -->\n<filter name="site-filter" chain="root">\n  <filterref filter="no-mac-spoofing"/>\n  <filterref filter="no-arp-mac-spoofing"/>\n</filter>\n',
    );
    expect((await h.run(["define-filter", file])).stdout).toBe("nwfilter 'site-filter': updated (uuid 5a1b2c3d-0000-4000-8000-000000000001)\n");
    const defined = readFileSync(join(h.state, "nwfilters", "site-filter.xml"), "utf8");
    expect(defined).toContain("<uuid>5a1b2c3d-0000-4000-8000-000000000001</uuid>");
    expect(defined).toContain("no-arp-mac-spoofing");
    // The uuid was sent with the update (libvirt refuses a new uuid for an existing name).
    expect(h.calls().filter((c) => c.startsWith("nwfilter-define"))).toHaveLength(2);
  });

  it("defines the shipped filter by default; refuses what is not a filter", async () => {
    expect((await h.run(["define-filter"])).stdout).toMatch(/^nwfilter 'vdsm-no-mac-spoofing': created/);
    const file = join(h.root, "dom.xml");
    writeFileSync(file, "<domain/>");
    expect(await h.run(["define-filter", file])).toEqual({
      code: 3,
      stdout: "",
      stderr: "nwfilter-hook: <tmp>/dom.xml: expected an nwfilter definition (<filter name=...>), found <domain>\n",
    });
  });
});

function readFileSyncDir(dir: string): string[] {
  return readdirSync(dir).sort();
}

function startupIdOf(text: string): string {
  return /^const startupId = "([0-9a-f]{16})";$/m.exec(text)?.[1] ?? "none";
}

describe("custom filters (/etc/nwfilter-hook/filters)", () => {
  const customDir = () => h.env.NWFILTER_HOOK_FILTERS_DIR as string;
  const custom = (name: string, body = "  <filterref filter='no-mac-spoofing'/>\n", file = `${name}.xml`) => {
    mkdirSync(customDir(), { recursive: true });
    writeFileSync(join(customDir(), file), `<filter name='${name}' chain='root'>\n${body}</filter>\n`);
  };

  it("define-filter without FILE defines the shipped filter and every custom one, in name order", async () => {
    custom("site-b");
    custom("site-a", "  <filterref filter='clean-traffic'/>\n");
    writeFileSync(join(customDir(), "README"), "not a filter\n");
    const first = await h.run(["define-filter"]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout.replace(/\(uuid [^)]*\)/g, "(uuid U)")).toBe(
      "nwfilter 'vdsm-no-mac-spoofing': created (uuid U)\nnwfilter 'site-a': created (uuid U)\nnwfilter 'site-b': created (uuid U)\n",
    );
    expect((await h.run(["define-filter"])).stdout).toMatch(
      /^nwfilter 'vdsm-no-mac-spoofing': unchanged .*\nnwfilter 'site-a': unchanged .*\nnwfilter 'site-b': unchanged .*\n$/,
    );
    custom("site-b", "  <filterref filter='no-arp-mac-spoofing'/>\n");
    expect((await h.run(["define-filter"])).stdout).toMatch(/\nnwfilter 'site-b': updated /);
  });

  it("a file whose name is not its filter's is refused before anything is defined", async () => {
    custom("site-a");
    custom("other", undefined, "site-z.xml");
    expect(await h.run(["define-filter"])).toEqual({
      code: 3,
      stdout: "",
      stderr:
        "nwfilter-hook: <tmp>/filters/site-z.xml: defines nwfilter 'other', but a custom filter NAME.xml must define <filter name='NAME'>: rename it other.xml\n",
    });
    expect(h.calls().filter((c) => c.startsWith("nwfilter-define"))).toEqual([]);
    rmSync(join(customDir(), "site-z.xml"));
    custom("vdsm-no-mac-spoofing");
    expect((await h.run(["define-filter"])).stderr).toBe(
      "nwfilter-hook: <tmp>/filters/vdsm-no-mac-spoofing.xml: defines the shipped nwfilter 'vdsm-no-mac-spoofing': give your own filter another name\n",
    );
  });

  it("install defines them too, and warns of a filter the policy names that nothing defines", async () => {
    custom("site-a");
    writeFileSync(h.policyPath, "[network:prod]\nFilter = site-a\n[bridge:br9]\nFilter = nowhere\n", { mode: 0o644 });
    const r = await install();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^nwfilter 'vdsm-no-mac-spoofing': created .*\nnwfilter 'site-a': created /m);
    expect(r.stdout).toContain(
      "warning: the policy's filter 'nowhere' is not defined in libvirt: put its definition in <tmp>/filters/nowhere.xml and run nwfilter-hook define-filter\n",
    );
    expect(r.stdout).not.toContain("'site-a' is not defined");
    expect((await install()).stdout).toMatch(/\nnwfilter 'site-a': unchanged /);
  });
});

describe("check: the choice sections", () => {
  const GATEWAY =
    "<filter name='clean-traffic-gateway' chain='root'>\n  <rule action='accept' direction='in'><mac srcmacaddr='$GATEWAY_MAC'/></rule>\n</filter>\n";
  const IPV6_NET =
    "<network>\n  <name>prod</name>\n  <forward mode='nat'/>\n  <bridge name='virbr7'/>\n  <ip address='192.0.2.1' netmask='255.255.255.0'/>\n  <ip family='ipv6' address='2001:db8::1' prefix='64'/>\n</network>\n";

  it("prints each section with what it chooses, the mode, and warns where libvirt could not carry a choice out", async () => {
    writeFileSync(join(h.state, "nwfilters", "clean-traffic-gateway.xml"), GATEWAY);
    writeFileSync(join(h.state, "nwfilters", "clean-traffic.xml"), "<filter name='clean-traffic' chain='root'/>\n");
    writeFileSync(join(h.networksDir, "prod.xml"), IPV6_NET);
    writeFileSync(
      h.policyPath,
      [
        "[filtering]",
        "DomainMetadata = ignore",
        "[domain:gw-*]",
        "Filter = clean-traffic-gateway",
        "[network:prod]",
        "Filter = clean-traffic",
        "Parameters = IP=192.0.2.10, IP=192.0.2.11",
        "[bridge:virbr7]",
        "Parameters = CTRL_IP_LEARNING=dhcp",
        "[bridge:br-open]",
        "Filter = none",
        "[domain:db-*]",
        "Parameters = X=1",
        "",
      ].join("\n"),
      { mode: 0o644 },
    );
    expect((await install()).code).toBe(0);
    const r = await h.run(["check", "--hooks-dir", h.hooksDir]);
    expect(r.stdout).toContain(
      [
        "DomainMetadata = ignore   ; the policy file is the only judge: metadata choices and exemptions are ignored",
        "",
        "[exempt]",
        "Domains =",
        "Networks =",
        "Bridges =",
        "MACs =",
        "",
        "# [domain:GLOB] sections are asked in this order: the first whose glob matches a domain's name wins.",
        "",
        "[domain:gw-*]",
        "Filter = clean-traffic-gateway",
        "# -> nwfilter 'clean-traffic-gateway' from [domain:gw-*]",
        "",
        "[network:prod]",
        "Filter = clean-traffic",
        "Parameters = IP=192.0.2.10, IP=192.0.2.11",
        "# -> nwfilter 'clean-traffic' (IP=192.0.2.10, IP=192.0.2.11) from [network:prod]",
        "",
        "[bridge:virbr7]",
        "Parameters = CTRL_IP_LEARNING=dhcp",
        "# -> nwfilter 'vdsm-no-mac-spoofing' (CTRL_IP_LEARNING=dhcp)",
        "",
        "[bridge:br-open]",
        "Filter = none",
        "# -> no filter (Filter = none from [bridge:br-open])",
        "",
        "[domain:db-*]",
        "Parameters = X=1",
        "# -> nwfilter 'vdsm-no-mac-spoofing' (X=1)",
        "warning: [domain:gw-*] chooses nwfilter 'clean-traffic-gateway', which needs GATEWAY_MAC: give it there (Parameters = ...) or a more specific section, or libvirt fails the start of every NIC it concerns",
        "warning: network 'prod' has IPv6 addresses, but its NICs get nwfilter 'clean-traffic' (from [network:prod]): it lets only IPv4 and ARP through and drops all IPv6",
        "",
      ].join("\n"),
    );
    expect(r.stdout).toContain("nwfilter 'clean-traffic-gateway' (from [domain:gw-*]): ok (defined)\n");
    expect(r.stdout).toContain("nwfilter 'clean-traffic' (from [network:prod]): ok (defined)\n");
    expect(r.code, r.stdout).toBe(0);
  });

  it("fails for a filter a section names that libvirt does not have", async () => {
    writeFileSync(h.policyPath, "[bridge:br0]\nFilter = nowhere\n", { mode: 0o644 });
    expect((await install()).code).toBe(0);
    const r = await h.run(["check", "--hooks-dir", h.hooksDir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("nwfilter 'nowhere' (from [bridge:br0]): FAILED: not defined: run nwfilter-hook define-filter\n");
  });
});
