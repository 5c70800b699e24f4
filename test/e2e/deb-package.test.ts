// The Debian package on this machine: built with `scripts/package.mjs`, linted, installed with
// dpkg, the start guard and `apply` exercised through the packaged /usr/bin/nwfilter-hook
// against the real libvirtd, upgraded to a rebuilt higher version (the admin's policy and the
// running VM untouched), removed (hook gone, VM running) and purged (nothing of it left on disk).
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { interpreterOf, isOurs } from "../../src/cli/hook-file.js";
import { defaultPolicyText } from "../../src/cli/policy.js";
import { FILTER, HOOK_PATH, filterXml } from "./helpers/cli.js";
import {
  PACKAGE,
  VERSION,
  buildPackage,
  fileListing,
  installedVersion,
  listingDiff,
  requirePackageHost,
  run,
  runAsync,
  runOk,
  saveHost,
} from "./helpers/deb.js";
import { bindingList, bridgeNic, defineDomain, domainTaps, domState, requireLibvirt, tinyDomainXml, virsh, virshFails } from "./helpers/libvirt.js";

const HAVE = requireLibvirt() && requirePackageHost(["dpkg", "dpkg-deb", "lintian"]);
const BIN = "/usr/bin/nwfilter-hook";
const POLICY = "/etc/nwfilter-hook/policy.ini";
const MAC = "52:54:00:4e:de:01";
const UPGRADE = `${VERSION}+upgrade1`;

describe.skipIf(!HAVE)("the Debian package, installed, upgraded, removed and purged on this host", () => {
  let dir: string;
  let deb: string;
  let debUpgrade: string;
  let before: string[];
  let host: ReturnType<typeof saveHost>;
  const name = "nwfh-e2e-deb-web";

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "nwfh-e2e-deb-"));
    deb = buildPackage(dir);
    debUpgrade = buildPackage(dir, UPGRADE);
    host = saveHost([name]);
    before = fileListing();
  });

  afterAll(() => {
    // Whatever happened above: no package, no domain, hooks and filter as they were.
    try {
      host?.restore();
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });

  it("lintian finds no error or warning", async () => {
    for (const file of [deb, debUpgrade]) {
      const r = await runAsync("lintian", ["--fail-on", "error,warning", file]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).not.toMatch(/^[EW]: /m);
    }
  });

  it("holds the layout the CLI expects, the policy conffile and the watcher's unit", () => {
    const contents = runOk("dpkg-deb", ["--contents", deb]);
    for (const path of [
      "./usr/lib/nwfilter-hook/dist/nwfilter-hook",
      "./usr/lib/nwfilter-hook/dist/qemu",
      "./usr/lib/nwfilter-hook/dist/startup-recorder.js",
      "./usr/lib/nwfilter-hook/package.json",
      "./usr/share/nwfilter-hook/vdsm-no-mac-spoofing.xml",
      "./etc/nwfilter-hook/policy.ini",
      "./etc/nwfilter-hook/filters/",
      "./lib/systemd/system/nwfilter-hook-watch.service",
      "./usr/share/man/man8/nwfilter-hook.8.gz",
      "./usr/share/doc/nwfilter-hook/copyright",
    ]) {
      expect(contents).toContain(path);
    }
    expect(contents).toMatch(/\.\/usr\/bin\/nwfilter-hook -> \.\.\/lib\/nwfilter-hook\/dist\/nwfilter-hook/);
    expect(contents).toMatch(/\.\/usr\/lib\/nwfilter-hook\/nwfilter -> \.\.\/\.\.\/share\/nwfilter-hook/);
    expect(runOk("dpkg-deb", ["--field", deb, "Depends"]).trim()).toBe("nodejs (>= 18.17), libvirt-clients");
    expect(runOk("dpkg-deb", ["--info", deb, "conffiles"]).trim()).toBe(POLICY);
    const unit = runOk("sh", ["-c", `dpkg-deb --fsys-tarfile '${deb}' | tar -xO ./lib/systemd/system/nwfilter-hook-watch.service`]);
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/nwfilter-hook watch$/m);
    expect(unit).not.toContain("@NWFILTER_HOOK@");
  });

  it("dpkg -i: postinst installs the hook (naming /usr/bin/node), defines the filter, keeps the shipped policy", async () => {
    const r = await runAsync("dpkg", ["-i", deb]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`hook ${HOOK_PATH}: installed (interpreter /usr/bin/node)`);
    expect(r.stdout).toContain(`policy ${POLICY}: exists, left alone`);
    // The packaged startup recorder ran with the package's Node.
    expect(r.stdout).toMatch(/^startup cache \/var\/cache\/nwfilter-hook\/[0-9a-f]{16}\.(blob|cache): (recorded|unchanged) \(/m);
    expect(r.stdout).toMatch(/self-test: ok/);
    expect(r.stdout).toMatch(/^install: done$/m);
    const hook = readFileSync(HOOK_PATH, "utf8");
    expect(isOurs(hook)).toBe(true);
    expect(interpreterOf(hook)).toBe("/usr/bin/node");
    expect(readFileSync(POLICY, "utf8")).toBe(defaultPolicyText());
    expect(statSync(POLICY).mode & 0o7777).toBe(0o644);
    expect(filterXml()).toContain(`<filter name='${FILTER}'`);
    expect(runOk(BIN, ["--version"]).trim()).toBe(VERSION);
    const check = run(BIN, ["check"]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
  });

  it("the packaged CLI installs with --defer-if-down when no daemon answers: the hook, and the filter left for libvirt", () => {
    const alt = join(dir, "down");
    const nwfilterDir = join(alt, "nwfilter");
    runOk("mkdir", ["-p", join(alt, "hooks"), nwfilterDir]);
    const env = { NWFILTER_HOOK_NWFILTER_DIR: nwfilterDir, NWFILTER_HOOK_POLICY: join(alt, "policy.ini") };
    const args = ["install", "--defer-if-down", "-c", `qemu+unix:///system?socket=${alt}/no-socket`, "--hooks-dir", join(alt, "hooks")];
    const r = run(BIN, args, env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`nwfilter '${FILTER}': written to ${nwfilterDir}/${FILTER}.xml (libvirt defines it when it starts)`);
    expect(r.stdout).toContain("daemon: not running: libvirt runs the hook and loads the filter when it starts");
    expect(r.stdout).toMatch(/^install: done; takes effect when libvirt starts$/m);
    expect(isOurs(readFileSync(join(alt, "hooks", "qemu.d", "50-nwfilter-hook"), "utf8"))).toBe(true);
    // Without --defer-if-down it stops, as before, and writes nothing more.
    const strict = run(
      BIN,
      args.filter((a) => a !== "--defer-if-down"),
      env,
    );
    expect(strict.code).toBe(4);
    expect(strict.stderr).toMatch(/the libvirt daemon is not running/);
  });

  it("through /usr/bin/nwfilter-hook: a non-compliant domain is refused at start, apply fixes it, it starts with a binding", () => {
    defineDomain(tinyDomainXml({ name, nics: [bridgeNic({ mac: MAC })] }));
    const refused = virshFails("start", name).stderr;
    expect(refused).toContain(`refusing to start domain '${name}'`);
    expect(refused).toContain(`${MAC} (type bridge, source nwfh-br0)`);
    expect(domState(name)).toBe("shut off");

    const applied = run(BIN, ["apply", name]);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    expect(applied.stdout).toContain(`${name}: definition: added filter '${FILTER}' to ${MAC}`);
    virsh("start", name);
    expect(domState(name)).toBe("running");
    const tap = domainTaps(name).find((t) => t.mac === MAC)?.dev as string;
    expect(bindingList()).toContainEqual({ port: tap, filter: FILTER });
  });

  it("upgrade to a rebuilt higher version: the admin's policy and the running VM are untouched, the hook is updated", async () => {
    const edited = defaultPolicyText().replace(";Domains =", "Domains = lab-*");
    writeFileSync(POLICY, edited);
    const id = virsh("domid", name).trim();
    const tap = domainTaps(name).find((t) => t.mac === MAC)?.dev as string;

    const r = await runAsync("dpkg", ["-i", debUpgrade]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`hook ${HOOK_PATH}: updated (interpreter /usr/bin/node`);
    expect(r.stdout).toContain(`policy ${POLICY}: exists, left alone`);
    expect(r.stdout).toMatch(/daemon: reloaded/);
    expect(installedVersion()).toBe(`installed ${UPGRADE}`);
    expect(readFileSync(POLICY, "utf8")).toBe(edited);
    expect(readFileSync(HOOK_PATH, "utf8")).toContain(`(version ${UPGRADE})`);
    expect(runOk(BIN, ["--version"]).trim()).toBe(UPGRADE);
    expect(domState(name)).toBe("running");
    expect(virsh("domid", name).trim()).toBe(id);
    expect(bindingList()).toContainEqual({ port: tap, filter: FILTER });
  });

  it("dpkg -r: prerm uninstalls the hook; the VM keeps running with its filter; the policy stays", async () => {
    const id = virsh("domid", name).trim();
    const r = await runAsync("dpkg", ["-r", PACKAGE]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`hook ${HOOK_PATH}: removed`);
    expect(existsSync(HOOK_PATH)).toBe(false);
    expect(existsSync(BIN)).toBe(false);
    expect(existsSync("/usr/lib/nwfilter-hook")).toBe(false);
    expect(existsSync(POLICY)).toBe(true);
    expect(domState(name)).toBe("running");
    expect(virsh("domid", name).trim()).toBe(id);
    expect(bindingList().some((b) => b.filter === FILTER)).toBe(true);
  });

  it("dpkg -P: nothing of the package is left on disk (the filter stays in libvirt while domains use it)", async () => {
    const r = await runAsync("dpkg", ["-P", PACKAGE]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(installedVersion()).toBeUndefined();
    expect(existsSync("/etc/nwfilter-hook")).toBe(false);
    const diff = listingDiff(before, fileListing());
    // libvirt's own copy of the filter, which the running domain still references.
    const expected = host.filterBefore === undefined ? [`f /etc/libvirt/nwfilter/${FILTER}.xml`] : [];
    expect(diff).toEqual({ added: expected, removed: [] });
  });
});
