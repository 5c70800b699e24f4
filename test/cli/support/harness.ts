// Runs the CLI in-process (runCli) against a fake virsh and temporary directories, and gives
// back exit code, stdout and stderr with the temporary paths replaced by placeholders.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context } from "../../../src/cli/context.js";
import type { DaemonControl } from "../../../src/host/daemon.js";
import { nodeHostFiles } from "../../../src/host/host-files.js";
import { runCli } from "../../../src/cli/main.js";
import { HOOK_ENV } from "../../../src/cli/self-test.js";
import { Virsh, processVirsh } from "../../../src/host/virsh.js";
import { writeIncludedFilters } from "../../support/builtin-filters.js";
import { DIST, FAKE_VIRSH_DIR, REPO_ROOT, ensureBuilt } from "./build.js";

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Harness {
  /** The temporary root; removed by cleanup(). */
  root: string;
  hooksDir: string;
  policyPath: string;
  /** The fake virsh's state (see fake-virsh.cjs). */
  state: string;
  networksDir: string;
  sysfsNet: string;
  reloads: string[];
  env: Record<string, string>;
  run(
    args: string[],
    options?: { stdin?: string; stdinIsTTY?: boolean; stderrIsTTY?: boolean; env?: Record<string, string>; execPath?: string },
  ): Promise<Outcome>;
  /** A persistent domain (and, with live, a running one). */
  domain(name: string, config: string | undefined, live?: string): void;
  /** virsh calls so far, one per line. */
  calls(): string[];
  cleanup(): void;
}

export function makeHarness(): Harness {
  ensureBuilt();
  const root = mkdtempSync(join(tmpdir(), "nwfh-cli-test-"));
  const state = join(root, "virsh");
  const hooksDir = join(root, "hooks");
  const networksDir = join(root, "networks");
  const sysfsNet = join(root, "sys-class-net");
  for (const d of [state, join(state, "nwfilters"), join(state, "domains"), join(state, "live"), hooksDir, networksDir, sysfsNet])
    mkdirSync(d, { recursive: true });
  // libvirt's own filters that the shipped one includes are defined, as on a libvirt host.
  writeIncludedFilters(join(state, "nwfilters"));
  // A Linux bridge br0 and an Open vSwitch bridge ovs0, as sysfs shows them.
  mkdirSync(join(sysfsNet, "br0", "bridge"), { recursive: true });
  mkdirSync(join(sysfsNet, "ovs0"), { recursive: true });
  const policyPath = join(root, "policy.ini");
  const env: Record<string, string> = {
    NWFILTER_HOOK_POLICY: policyPath,
    NWFILTER_HOOK_NETWORK_DIRS: networksDir,
    NWFILTER_HOOK_NWFILTER_DIR: join(state, "nwfilters"),
    NWFILTER_HOOK_SYSFS_NET: sysfsNet,
    // The custom filters: none unless a test puts some there.
    NWFILTER_HOOK_FILTERS_DIR: join(root, "filters"),
    NWFILTER_HOOK_CACHE_DIR: join(root, "cache"),
    // The same artefact whatever Node runs the tests (the default depends on the Node).
    NWFILTER_HOOK_STARTUP: "code-cache",
    NWFILTER_HOOK_WATCH_STATUS: join(root, "watch.json"),
    NWFILTER_HOOK_NO_SYSTEMD: "1",
  };
  const reloads: string[] = [];
  const daemon: DaemonControl = {
    locate: () => ({ daemon: { name: "libvirtd", manager: "signal", pid: 4242, socket: "/run/libvirt/libvirt-sock" }, why: "" }),
    reload: (d) => {
      reloads.push(d.name);
      return `reloaded ${d.name} (SIGHUP to pid ${d.pid}, which listens on ${d.socket})`;
    },
  };
  // The startup cache's file names carry the id of the hook's code, which changes with the code.
  const scrub = (text: string) =>
    text
      .split(root)
      .join("<tmp>")
      .split(process.execPath)
      .join("<node>")
      .replace(/\b[0-9a-f]{16}\.(blob|cache)\b/g, "<id>.$1")
      .split(` ${process.version})`)
      .join(" <version>)");

  const harness: Harness = {
    root,
    hooksDir,
    policyPath,
    state,
    networksDir,
    sysfsNet,
    reloads,
    env,
    async run(args, options = {}) {
      let stdout = "";
      let stderr = "";
      const ctx: Context = {
        env: { ...env, ...options.env },
        stdout: (t) => {
          stdout += typeof t === "string" ? t : Buffer.from(t).toString("utf8");
        },
        stderr: (t) => {
          stderr += t;
        },
        stdoutIsTTY: false,
        stderrIsTTY: options.stderrIsTTY ?? false,
        stdinIsTTY: options.stdinIsTTY ?? options.stdin === undefined,
        columns: undefined,
        readStdin: () => Buffer.from(options.stdin ?? "", "utf8"),
        euid: process.geteuid?.(),
        execPath: options.execPath ?? process.execPath,
        bundleDir: DIST,
        packageRoot: REPO_ROOT,
        virsh: (uri) => new Virsh(processVirsh({ uri, binary: join(FAKE_VIRSH_DIR, "virsh"), env: { ...process.env, FAKE_VIRSH_DIR: state } })),
        daemon,
        files: nodeHostFiles,
        runFile(path, fileArgs, o) {
          const r = spawnSync(path, fileArgs, { input: o.input, env: o.env, cwd: o.cwd, timeout: o.timeoutMs, encoding: "utf8" });
          return { status: r.status, signal: r.signal, stdout: r.stdout ?? "", stderr: r.stderr ?? "", ...(r.error ? { error: r.error } : {}) };
        },
        sleep: () => {},
        // The hook's self-test sees the same (temporary) host as the CLI.
        hookEnv: { ...HOOK_ENV, ...env },
      };
      const code = await runCli(args, ctx);
      return { code, stdout: scrub(stdout), stderr: scrub(stderr) };
    },
    domain(name, config, live) {
      if (config !== undefined) writeFileSync(join(state, "domains", `${name}.xml`), config);
      if (live !== undefined) writeFileSync(join(state, "live", `${name}.xml`), live);
    },
    calls() {
      const log = join(state, "calls.log");
      return existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").filter(Boolean) : [];
    },
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
  return harness;
}
