// The built dist/nwfilter-hook, run as a program with a fake virsh first on PATH: that the
// bundle runs under Node, and that each kind of failure is one line on stderr with its exit code.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAKE_VIRSH_DIR, ensureBuilt } from "./support/build.js";

let cli: string;
let state: string;
beforeAll(() => {
  cli = ensureBuilt();
  state = mkdtempSync(join(tmpdir(), "nwfh-cli-bundle-"));
  mkdirSync(join(state, "domains"));
});
afterAll(() => rmSync(state, { recursive: true, force: true }));

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], {
    encoding: "utf8",
    input: "",
    env: { PATH: `${FAKE_VIRSH_DIR}:/usr/bin:/bin`, FAKE_VIRSH_DIR: state, NWFILTER_HOOK_POLICY: join(state, "absent.ini"), ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("dist/nwfilter-hook", () => {
  it("runs under Node and prints its help", () => {
    const r = run(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^nwfilter-hook COMMAND \[options\]/);
    expect(r.stdout).toContain("Exit codes:");
  });

  it("inject works from stdin", () => {
    const r = spawnSync(process.execPath, [cli, "inject", "--device"], {
      encoding: "utf8",
      input: "<interface type='ethernet'><mac address='52:54:00:00:00:01'/></interface>",
      env: { PATH: "/usr/bin:/bin", NWFILTER_HOOK_POLICY: join(state, "absent.ini") },
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("<interface type='ethernet'><mac address='52:54:00:00:00:01'/><filterref filter='vdsm-no-mac-spoofing'/></interface>");
  });

  it("virsh missing: exit 4", () => {
    expect(run(["audit"], { PATH: "/nonexistent" })).toEqual({
      code: 4,
      stdout: "",
      stderr: "nwfilter-hook: virsh not found (looked for 'virsh' on PATH): install libvirt-clients\n",
    });
  });

  it("daemon not running: exit 4", () => {
    writeFileSync(join(state, "down"), "");
    try {
      expect(run(["audit"])).toEqual({
        code: 4,
        stdout: "",
        stderr:
          "nwfilter-hook: the libvirt daemon is not running (cannot connect to qemu:///system): start libvirtd or virtqemud " +
          "(failed to connect to the hypervisor; Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory)\n",
      });
    } finally {
      rmSync(join(state, "down"));
    }
  });

  it("permission denied: exit 5", () => {
    writeFileSync(join(state, "denied"), "");
    try {
      const r = run(["apply", "--all"]);
      expect(r.code).toBe(5);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(
        /^nwfilter-hook: permission denied connecting to libvirt at qemu:\/\/\/system: run as root \(.*authentication unavailable.*\)\n$/,
      );
    } finally {
      rmSync(join(state, "denied"));
    }
  });

  it("domain not found: exit 4", () => {
    expect(run(["apply", "nope"])).toEqual({
      code: 4,
      stdout: "",
      stderr: "nwfilter-hook: domain 'nope' not found (virsh list --all shows the defined domains)\n",
    });
  });

  it("the --connect URI reaches virsh", () => {
    run(["audit", "-c", "qemu+ssh://root@host2/system"]);
    expect(readFileSync(join(state, "uri"), "utf8")).toBe("qemu+ssh://root@host2/system\n");
    run(["audit"], { LIBVIRT_DEFAULT_URI: "qemu:///embed" });
    expect(readFileSync(join(state, "uri"), "utf8")).toBe("qemu:///embed\n");
  });

  it("an invalid policy from the environment: exit 3", () => {
    const policy = join(state, "bad.ini");
    writeFileSync(policy, "[filtering]\nFilter = has space\n", { mode: 0o644 });
    expect(run(["audit"], { NWFILTER_HOOK_POLICY: policy })).toEqual({
      code: 3,
      stdout: "",
      stderr: `nwfilter-hook: ${policy}:2: Filter: 'has space' is not a valid nwfilter name\n`,
    });
  });
});
