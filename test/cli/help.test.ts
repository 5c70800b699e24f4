// --help for every command (with examples and the exit codes), --version, and bad command
// lines: one line on stderr, exit 2.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DIST } from "./support/build.js";
import { makeHarness, type Harness } from "./support/harness.js";

const COMMANDS = ["install", "uninstall", "define-filter", "check", "inject", "audit", "apply"];

describe("nwfilter-hook --help", () => {
  let h: Harness;
  beforeAll(() => {
    h = makeHarness();
  });
  afterAll(() => h.cleanup());

  it("lists every command, the exit codes and the environment", async () => {
    const r = await h.run(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  nwfilter-hook ${c}\\b`, "m"));
    expect(r.stdout).toMatchInlineSnapshot(`
      "nwfilter-hook COMMAND [options]

      Makes every VM network interface on this libvirt host reference the anti-MAC-spoofing nwfilter:
      installs the qemu hook that guards VM starts, and fixes, audits and checks domains.

      Commands:
        nwfilter-hook install               install the hook, the default policy (when there is none) and
                                            the filter; reload the daemon; self-test
        nwfilter-hook uninstall             remove what install put there
        nwfilter-hook define-filter [file]  define or update the nwfilters (the shipped one and the custom
                                            ones), reusing the UUID of an existing definition
        nwfilter-hook check                 validate the policy and print it with what each section
                                            chooses; check the hook, the daemon and the filters (exit 0
                                            only when all hold)
        nwfilter-hook inject [file]         add each NIC's chosen filterref to a domain XML (or, with
                                            --device, to one <interface>) and print it
        nwfilter-hook audit [domains..]     report every NIC of every (or the named) domain: persistent
                                            and live; exit 1 when any is missing the filter
        nwfilter-hook apply [domains..]     add the filter to persistent definitions (and with --live to
                                            running NICs)
        nwfilter-hook watch                 keep every domain compliant as libvirt changes it (runs until
                                            SIGTERM; SIGHUP re-reads the policy)

      Options:
        -c, --connect    libvirt connection URI [string] [default: $LIBVIRT_DEFAULT_URI or qemu:///system]
            --hooks-dir  libvirt's hooks directory                [string] [default: "/etc/libvirt/hooks"]
            --policy     policy file                                         [string] [default: see below]
        -h, --help       Show help                                                               [boolean]
            --version    Show version number                                                     [boolean]

      Exit codes:
        0   success (check: everything holds; audit: no interface lacks the filter)
        1   the command found or left a problem: check failed, audit found a 'missing'
            or 'stale' interface, apply failed or left an interface alone, install or
            uninstall did not complete
        2   bad command line
        3   invalid policy file or XML
        4   libvirt or host error: virsh missing, daemon not running, domain not found,
            a virsh command failed, a file could not be read or written
        5   permission denied (run as root)
        70  internal error (a bug)

      Policy file: --policy, else $NWFILTER_HOOK_POLICY, else the one the installed hook reads,
      else /etc/nwfilter-hook/policy.ini.

      Environment: NWFILTER_HOOK_POLICY (policy path, overridden by --policy),
      NWFILTER_HOOK_NETWORK_DIRS, NWFILTER_HOOK_NWFILTER_DIR, NWFILTER_HOOK_SYSFS_NET,
      NWFILTER_HOOK_FILTERS_DIR, NWFILTER_HOOK_METRICS_FILE (watch --metrics-file), LIBVIRT_DEFAULT_URI
      (overridden by --connect).
      "
    `);
  });

  it.each(COMMANDS)("%s --help shows examples and the exit codes", async (command) => {
    const r = await h.run([command, "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`nwfilter-hook ${command}`);
    expect(r.stdout).toContain("Examples:");
    expect(r.stdout).toContain("Exit codes:");
  });

  it("inject --help shows the hot-plug recipe", async () => {
    expect((await h.run(["inject", "--help"])).stdout).toMatchInlineSnapshot(`
      "nwfilter-hook inject [file]

      add each NIC's chosen filterref to a domain XML (or, with --device, to one <interface>) and print it

      Positionals:
        file  XML file, or - for stdin                                           [string] [default: stdin]

      Options:
        -c, --connect    libvirt connection URI [string] [default: $LIBVIRT_DEFAULT_URI or qemu:///system]
            --hooks-dir  libvirt's hooks directory                [string] [default: "/etc/libvirt/hooks"]
            --policy     policy file                                         [string] [default: see below]
        -h, --help       Show help                                                               [boolean]
            --version    Show version number                                                     [boolean]
            --device     the input is one <interface> element (hot-plug)        [boolean] [default: false]
            --domain     with --device: the domain the NIC is for; its exemptions (name, metadata) then
                         apply (reads its definition with virsh)                                  [string]
            --diff       print a unified diff instead of the XML                [boolean] [default: false]

      Examples:
        nwfilter-hook inject --device nic.xml > nic2.xml  one NIC, for hot-plug (see below)
        nwfilter-hook inject --diff web1.xml              show what would change in a domain XML
        nwfilter-hook inject - < web1.xml                 from stdin

      Hot-plug a NIC with the filter:
        nwfilter-hook inject --device --domain DOMAIN nic.xml > nic2.xml
        virsh attach-device DOMAIN nic2.xml --live --config

      Without --domain, calls no libvirt API: reads network definitions and sysfs, like the hook. The XML
      goes to stdout, messages to stderr.

      Exit codes:
        0   success (check: everything holds; audit: no interface lacks the filter)
        1   the command found or left a problem: check failed, audit found a 'missing'
            or 'stale' interface, apply failed or left an interface alone, install or
            uninstall did not complete
        2   bad command line
        3   invalid policy file or XML
        4   libvirt or host error: virsh missing, daemon not running, domain not found,
            a virsh command failed, a file could not be read or written
        5   permission denied (run as root)
        70  internal error (a bug)
      "
    `);
  });

  it("--version prints the package version", async () => {
    expect(await h.run(["--version"])).toEqual({ code: 0, stdout: "0.1.0\n", stderr: "" });
  });

  it("runs from a working directory that is gone, without a stack trace", () => {
    const gone = mkdtempSync(join(tmpdir(), "nwfh-gone-"));
    const r = spawnSync("/bin/sh", ["-c", 'cd "$1" && rmdir "$1" && exec "$2" "$3" --version', "sh", gone, process.execPath, join(DIST, "nwfilter-hook")], {
      encoding: "utf8",
    });
    expect({ code: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 0, stdout: "0.1.0\n", stderr: "" });
  });
});

describe("bad command lines", () => {
  let h: Harness;
  beforeAll(() => {
    h = makeHarness();
  });
  afterAll(() => h.cleanup());

  it.each([
    [[], "nwfilter-hook: name a command (see nwfilter-hook --help)\n"],
    [["frobnicate"], "nwfilter-hook: Unknown argument: frobnicate (see nwfilter-hook --help)\n"],
    [["audit", "--bogus"], "nwfilter-hook: Unknown argument: bogus (see nwfilter-hook --help)\n"],
    [["apply"], "nwfilter-hook: name the domains to fix, or give --all\n"],
    [["apply", "--all", "web1"], "nwfilter-hook: give domain names or --all, not both\n"],
  ])("%j: one line, exit 2, nothing run", async (args, stderr) => {
    const r = await h.run(args);
    expect(r).toEqual({ code: 2, stdout: "", stderr });
    expect(h.calls()).toEqual([]);
  });
});
