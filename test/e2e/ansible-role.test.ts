// The Ansible role ansible/roles/nwfilter_hook, applied to this machine with Debian's
// ansible-core (`ansible-playbook -c local -i localhost,` and the sample site.yml) against the
// real libvirtd: a bad variable stops the play before anything changes, check mode changes
// nothing, the role installs the package and converges (a second run changes nothing), and
// flipping OnMissing from enforce to audit changes the policy file and what the hook does.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/paths.js";
import { HOOK_PATH } from "./helpers/cli.js";
import { VERSION, buildPackage, installedVersion, onPath, requirePackageHost, run, runAsync, saveHost } from "./helpers/deb.js";
import { bridgeNic, defineDomain, domState, requireLibvirt, tinyDomainXml, virsh, virshFails } from "./helpers/libvirt.js";

const HAVE = requireLibvirt() && requirePackageHost(["dpkg", "ansible-playbook"]);
const ANSIBLE_DIR = join(REPO_ROOT, "ansible");
const POLICY = "/etc/nwfilter-hook/policy.ini";
const CACHE = "/var/cache/nwfilter-hook-deb";
const MAC = "52:54:00:4e:a5:01";

interface Recap {
  code: number | null;
  ok: number;
  changed: number;
  failed: number;
  output: string;
}

describe.skipIf(!HAVE)("the Ansible role on this host", () => {
  let dir: string;
  let vars: string;
  let host: ReturnType<typeof saveHost>;
  let cacheExisted: boolean;
  const name = "nwfh-e2e-ansible-web";

  /** ansible-playbook -c local -i localhost, site.yml with the suite's variables (and `extra`). */
  const play = async (extra: Record<string, unknown> = {}, ...flags: string[]): Promise<Recap> => {
    const extraFile = join(dir, "extra.json");
    writeFileSync(extraFile, JSON.stringify(extra));
    const r = await runAsync(
      "ansible-playbook",
      ["-c", "local", "-i", "localhost,", join(ANSIBLE_DIR, "site.yml"), "-e", `@${vars}`, "-e", `@${extraFile}`, ...flags],
      {
        // Ansible refuses a locale that is not UTF-8.
        LC_ALL: "C.UTF-8",
        ANSIBLE_NOCOLOR: "1",
        ANSIBLE_LOCALHOST_WARNING: "false",
        ANSIBLE_PYTHON_INTERPRETER: "auto_silent",
        ANSIBLE_RETRY_FILES_ENABLED: "false",
      },
    );
    const output = r.stdout + r.stderr;
    const m = /localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)/.exec(output);
    if (!m) throw new Error(`no PLAY RECAP in the output of ansible-playbook (exit ${r.code}):\n${output}`);
    return { code: r.code, ok: Number(m[1]), changed: Number(m[2]), failed: Number(m[3]), output };
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "nwfh-e2e-ansible-"));
    const deb = buildPackage(dir);
    vars = join(dir, "vars.json");
    writeFileSync(vars, JSON.stringify({ nwfilter_hook_hosts: "localhost", nwfilter_hook_deb: deb }));
    cacheExisted = existsSync(CACHE);
    host = saveHost([name]);
  });

  afterAll(() => {
    try {
      host?.restore();
    } finally {
      if (!cacheExisted) rmSync(CACHE, { recursive: true, force: true });
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });

  // Debian's ansible-lint: CI installs it; elsewhere the lint is skipped without it.
  it.skipIf(!onPath("ansible-lint") && process.env.CI !== "true")("ansible-lint passes on the role and the sample playbook", async () => {
    const lint = await runAsync("sh", ["-c", `cd '${ANSIBLE_DIR}' && ansible-lint --nocolor`], { LC_ALL: "C.UTF-8" });
    expect(lint.code, lint.stdout + lint.stderr).toBe(0);
  });

  it("a bad variable fails the play before anything changes", async () => {
    const r = await play({ nwfilter_hook_on_missing: "sometimes", nwfilter_hook_cluster_level: 4.1 });
    expect(r.code).not.toBe(0);
    expect(r.failed).toBe(1);
    expect(r.changed).toBe(0);
    expect(r.output).toContain('nwfilter_hook: nwfilter_hook_on_missing: expected enforce, audit or watch, got \\"sometimes\\"');
    expect(r.output).toContain("nwfilter_hook: nwfilter_hook_cluster_level: expected a dotted version as a quoted string");
    expect(installedVersion()).toBeUndefined();
    expect(existsSync(CACHE) === cacheExisted).toBe(true);
  });

  it("--check on a host without the package changes nothing", async () => {
    const r = await play({}, "--check");
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain("check mode: nwfilter-hook is not installed yet");
    expect(installedVersion()).toBeUndefined();
    expect(existsSync(POLICY)).toBe(false);
  });

  it("installs the package, writes the policy, installs the hook; nwfilter-hook check passes", async () => {
    const r = await play();
    expect(r.code, r.output).toBe(0);
    expect(r.changed).toBeGreaterThan(0);
    expect(installedVersion()).toBe(`installed ${VERSION}`);
    const policy = readFileSync(POLICY, "utf8");
    expect(policy).toMatch(/^;OnMissing = enforce$/m);
    expect(policy).toMatch(/^;ResyncInterval = 600$/m);
    expect(existsSync(HOOK_PATH)).toBe(true);
    // No systemd here: the role says why it leaves the watcher alone.
    if (!existsSync("/run/systemd/system")) expect(r.output).toContain("the watcher is not enabled: systemd does not run this host");
    const check = run("/usr/bin/nwfilter-hook", ["check"]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
  });

  it("a second run changes nothing, and neither does --check", async () => {
    const again = await play();
    expect(again.code, again.output).toBe(0);
    expect(again.changed, again.output).toBe(0);
    const dry = await play({}, "--check");
    expect(dry.code, dry.output).toBe(0);
    expect(dry.changed, dry.output).toBe(0);
  });

  it("OnMissing enforce -> audit: the policy changes, and a non-compliant domain's start, refused before, is allowed", async () => {
    defineDomain(tinyDomainXml({ name, nics: [bridgeNic({ mac: MAC })] }));
    expect(virshFails("start", name).stderr).toContain(`refusing to start domain '${name}'`);
    expect(domState(name)).toBe("shut off");

    const before = readFileSync(POLICY, "utf8");
    const dry = await play({ nwfilter_hook_on_missing: "audit" }, "--check", "--diff");
    expect(dry.code, dry.output).toBe(0);
    expect(dry.changed).toBe(1);
    expect(dry.output).toMatch(/^\+OnMissing = audit$/m);
    expect(readFileSync(POLICY, "utf8")).toBe(before);

    const r = await play({ nwfilter_hook_on_missing: "audit" });
    expect(r.code, r.output).toBe(0);
    expect(r.changed).toBe(1);
    expect(readFileSync(POLICY, "utf8")).toMatch(/^OnMissing = audit$/m);
    virsh("start", name);
    expect(domState(name)).toBe("running");
    virsh("destroy", name);

    const again = await play({ nwfilter_hook_on_missing: "audit" });
    expect(again.changed, again.output).toBe(0);
  });

  it("sections and a custom filter: the filter is copied and defined, the policy names it, a second run changes nothing", async () => {
    const customName = "nwfh-e2e-ansible-site";
    const customPath = `/etc/nwfilter-hook/filters/${customName}.xml`;
    const custom = join(dir, `${customName}.xml`);
    writeFileSync(
      custom,
      `<filter name='${customName}' chain='root'>\n  <filterref filter='no-mac-spoofing'/>\n  <filterref filter='no-ip-spoofing'/>\n</filter>\n`,
    );
    const extra = {
      nwfilter_hook_domain_metadata: "ignore",
      nwfilter_hook_sections: [
        {
          kind: "network",
          name: "nwfh-e2e-ansible-net",
          filter: customName,
          parameters: [
            { name: "IP", value: "192.0.2.10" },
            { name: "IP", value: "192.0.2.11" },
          ],
        },
        { kind: "bridge", name: "nwfh-br0.100", filter: "none" },
      ],
      nwfilter_hook_custom_filters: [custom],
    };
    try {
      const bad = await play({ ...extra, nwfilter_hook_sections: [{ kind: "bridge", name: "b", parameters: [{ name: "MAC", value: "52:54:00:00:00:01" }] }] });
      expect(bad.failed).toBe(1);
      expect(bad.changed).toBe(0);
      expect(bad.output).toContain("nwfilter_hook: nwfilter_hook_sections: expected kind");
      expect(existsSync(customPath)).toBe(false);

      const r = await play(extra);
      expect(r.code, r.output).toBe(0);
      expect(readFileSync(customPath, "utf8")).toBe(readFileSync(custom, "utf8"));
      expect(virsh("nwfilter-dumpxml", customName)).toContain("no-ip-spoofing");
      const policy = readFileSync(POLICY, "utf8");
      expect(policy).toMatch(/^DomainMetadata = ignore$/m);
      expect(policy).toContain(`\n[network:nwfh-e2e-ansible-net]\nFilter = ${customName}\nParameters = IP=192.0.2.10, IP=192.0.2.11\n`);
      expect(policy).toContain("\n[bridge:nwfh-br0.100]\nFilter = none\n");
      const check = run("/usr/bin/nwfilter-hook", ["check"]);
      expect(check.code, check.stdout + check.stderr).toBe(0);
      expect(check.stdout).toContain(`nwfilter '${customName}' (from [network:nwfh-e2e-ansible-net]): ok (defined)`);

      const again = await play(extra);
      expect(again.changed, again.output).toBe(0);
      const dry = await play(extra, "--check");
      expect(dry.changed, dry.output).toBe(0);
    } finally {
      // The admin's files stay on a purge, as dpkg leaves them: this suite's own go here.
      rmSync(customPath, { force: true });
      try {
        virsh("nwfilter-undefine", customName);
      } catch {
        // not defined
      }
    }
  });
});
