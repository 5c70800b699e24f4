// nodeHostFacts (src/host/node-host-facts.ts): host facts from the file system only (a hook must
// never call libvirt): network definitions active first, sysfs bridges, nwfilter files.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HostError } from "../../../src/core/errors.js";
import type { HostFacts } from "../../../src/core/host-facts.js";
import { networkNames, nodeHostFacts } from "../../../src/host/node-host-facts.js";
import { settingsFromEnv } from "../../../src/core/settings.js";

let dir: string;
let host: HostFacts;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "nwfh-facts-"));
  for (const d of ["run", "etc", "nwfilter", "sys/br0/bridge", "sys/ovsbr0", "sys/eth0"]) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, "run", "both.xml"), "active");
  writeFileSync(join(dir, "etc", "both.xml"), "persistent");
  writeFileSync(join(dir, "etc", "persistent-only.xml"), "persistent only");
  mkdirSync(join(dir, "run", "isdir.xml"));
  writeFileSync(join(dir, "nwfilter", "vdsm-no-mac-spoofing.xml"), "<filter/>");
  writeFileSync(join(dir, "secret.xml"), "outside");
  host = nodeHostFacts(
    settingsFromEnv({
      NWFILTER_HOOK_NETWORK_DIRS: `${join(dir, "run")}:${join(dir, "missing-dir")}:${join(dir, "etc")}`,
      NWFILTER_HOOK_NWFILTER_DIR: join(dir, "nwfilter"),
      NWFILTER_HOOK_SYSFS_NET: join(dir, "sys"),
    }),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("network", () => {
  it("reads the first directory that has the network (active before persistent)", () => {
    expect(host.network("both")).toEqual({ path: join(dir, "run", "both.xml"), text: "active" });
    expect(host.network("persistent-only")).toEqual({ path: join(dir, "etc", "persistent-only.xml"), text: "persistent only" });
  });
  it("an unknown network is undefined", () => {
    expect(host.network("nope")).toBeUndefined();
  });
  it.each(["", ".", "..", "../secret", "a/b", "x\0y", "../run/both"])("never leaves the directories: %j", (name) => {
    expect(host.network(name)).toBeUndefined();
  });
  it("an unreadable definition is a HostError naming the file", () => {
    let error: unknown;
    try {
      host.network("isdir");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(HostError);
    expect((error as HostError).where?.file).toBe(join(dir, "run", "isdir.xml"));
    expect((error as HostError).message).toMatch(/^cannot read network definition: .*EISDIR/);
  });
});

describe("bridge", () => {
  it.each([
    ["br0", "linux"],
    ["ovsbr0", "other"],
    ["eth0", "other"],
    ["nothere", "absent"],
    ["..", "absent"],
    ["br0/bridge", "absent"],
    ["", "absent"],
  ])("%j -> %s", (name, kind) => {
    expect(host.bridge(name)).toBe(kind);
  });
});

describe("filterDefined", () => {
  it.each([
    ["vdsm-no-mac-spoofing", true],
    ["clean-traffic", false],
    ["../secret", false],
    ["", false],
  ])("%j -> %s", (name, defined) => {
    expect(host.filterDefined(name)).toBe(defined);
  });
});

describe("filter", () => {
  it("reads the definition from the nwfilter directory; an unknown or unsafe name is undefined", () => {
    expect(host.filter("vdsm-no-mac-spoofing")).toEqual({ path: join(dir, "nwfilter", "vdsm-no-mac-spoofing.xml"), text: "<filter/>" });
    for (const name of ["clean-traffic", "../secret", ""]) expect(host.filter(name)).toBeUndefined();
  });
});

describe("networkNames", () => {
  it("every NAME.xml of the network directories, once, sorted; a missing directory holds none", () => {
    const settings = settingsFromEnv({ NWFILTER_HOOK_NETWORK_DIRS: `${join(dir, "run")}:${join(dir, "missing-dir")}:${join(dir, "etc")}` });
    expect(networkNames(settings)).toEqual(["both", "isdir", "persistent-only"]);
  });
});

describe("settingsFromEnv", () => {
  it("defaults to libvirt's own paths", () => {
    expect(settingsFromEnv({})).toEqual({
      policyPath: "/etc/nwfilter-hook/policy.ini",
      networkDirs: ["/run/libvirt/network", "/etc/libvirt/qemu/networks"],
      nwfilterDir: "/etc/libvirt/nwfilter",
      sysfsNet: "/sys/class/net",
      filtersDir: "/etc/nwfilter-hook/filters",
    });
  });
  it("empty variables count as unset; empty entries of the directory list are dropped", () => {
    expect(settingsFromEnv({ NWFILTER_HOOK_POLICY: "", NWFILTER_HOOK_NETWORK_DIRS: "/a::/b:" })).toMatchObject({
      policyPath: "/etc/nwfilter-hook/policy.ini",
      networkDirs: ["/a", "/b"],
    });
  });
});
