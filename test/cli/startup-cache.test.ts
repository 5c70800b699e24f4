// The startup snapshot and code cache that `install` records (src/host/startup-cache.ts): the
// installed hook uses them when they are as install left them, and otherwise starts the plain
// way with the same results: a group-writable, corrupted or foreign one is never used.
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeStartupCache } from "../../src/host/startup-cache-state.js";
import { hookCode, preferredKind, recordStartupCache, removeStartupCache, startupCacheOf } from "../../src/host/startup-cache.js";
import { DEFAULT_POLICY_PATH } from "../../src/core/constants.js";
import { SNAPSHOT_V8_FLAGS, hookContent, withStartupCache } from "../../src/core/hook-header.js";
import { fileIdentity, payloadPart, payloadStart, payloadText, startupIdLine, startupIdOf } from "../../src/core/hook-payload.js";
import { codeId } from "../../src/host/code-id.js";
import { makeSandbox, runQemu, type Sandbox } from "../support/hook-process.js";
import { installedHook, startupContext, type InstalledHook } from "../support/installed-hook.js";
import { DIST_QEMU } from "../support/paths.js";

const DEBIAN_NODE = "/opt/debian-node18/usr/bin/node";

const domain = (filterref: boolean) => `<domain type='kvm'>
  <name>vm1</name>
  <devices>
    <interface type='bridge'>
      <mac address='52:54:00:00:00:01'/>
      <source bridge='br0'/>${filterref ? "\n      <filterref filter='vdsm-no-mac-spoofing'/>" : ""}
    </interface>
  </devices>
</domain>
`;

let sandbox: Sandbox;
const temps: string[] = [];
beforeAll(() => {
  sandbox = makeSandbox({ bridges: { br0: "linux" } });
});
afterAll(() => {
  sandbox.remove();
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

function make(kind: "snapshot" | "code-cache", nodePath?: string, bundlePath?: string): InstalledHook {
  const i = installedHook(kind, nodePath, bundlePath);
  temps.push(i.dir);
  expect(i.recorded.cache?.kind, i.recorded.message).toBe(kind);
  return i;
}

/** A copy of an installed hook whose JavaScript throws: it works only when Node never runs the file, i.e. from the snapshot. */
function withoutItsCode(hook: string): string {
  const [sh = "", line = ""] = readFileSync(hook, "utf8").split("\n");
  const copy = `${hook}-no-code`;
  writeFileSync(copy, `${sh}\n${line}\nthrow new Error("the plain path ran");\n`, { mode: 0o755 });
  return copy;
}

const prepare = (hook: string) => runQemu(["vm1", "prepare", "begin", "-"], domain(true), sandbox.env, { hook });
const refusal = (hook: string) => runQemu(["vm1", "prepare", "begin", "-"], domain(false), sandbox.env, { hook });

describe("startup snapshot", () => {
  it("is what install picks for a Node without its own snapshot and for Node 18, a code cache after", () => {
    expect(preferredKind({ version: "v18.20.4", execPath: "", ownSnapshot: false, binaries: [] })).toBe("snapshot");
    expect(preferredKind({ version: "v18.20.4", execPath: "", ownSnapshot: true, binaries: [] })).toBe("snapshot");
    expect(preferredKind({ version: "v18.7.0", execPath: "", ownSnapshot: true, binaries: [] })).toBe("code-cache");
    expect(preferredKind({ version: "v20.20.2", execPath: "", ownSnapshot: true, binaries: [] })).toBe("code-cache");
    expect(preferredKind({ version: "v22.1.0", execPath: "", ownSnapshot: false, binaries: [] })).toBe("snapshot");
  });

  it("is used when it is as install left it: the hook file's own code does not even run", async () => {
    const i = make("snapshot");
    const run = await prepare(withoutItsCode(i.hook));
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    // And it refuses as the plain hook does.
    const [fast, plain] = await Promise.all([refusal(i.hook), refusal(DIST_QEMU)]);
    expect(fast.status).toBe(1);
    expect({ ...fast, ms: 0 }).toEqual({ ...plain, ms: 0 });
  });

  it("is run with the V8 flags it was built with: V8 refuses a snapshot made under other flags", () => {
    const line = readFileSync(DIST_QEMU, "utf8").split("\n")[1] ?? "";
    const words = [...line.matchAll(/\$\{s:\+([^}"]+)\}/g)].map((m) => m[1]);
    // Every Node on the line gets them, and only when there is a snapshot.
    expect(words.length % (SNAPSHOT_V8_FLAGS.length + 1)).toBe(0);
    for (let at = 0; at < words.length; at += SNAPSHOT_V8_FLAGS.length + 1) {
      expect(words.slice(at, at + SNAPSHOT_V8_FLAGS.length + 1)).toEqual([...SNAPSHOT_V8_FLAGS, "--snapshot-blob"]);
    }
  });

  // V8 10 (Node 18) checksums a snapshot by default, V8 11 and later only in debug builds: the
  // flag that spares it must reach both the build and the run, or Node refuses the snapshot.
  it.skipIf(!existsSync(DEBIAN_NODE))("is used by a Node 18 that would checksum it", async () => {
    const i = make("snapshot", DEBIAN_NODE);
    const run = await prepare(withoutItsCode(i.hook));
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
  });

  const refusedWhen: Array<[string, (i: InstalledHook) => void]> = [
    ["the snapshot is group-writable", (i) => chmodSync(i.recorded.cache?.file ?? "", 0o664)],
    ["the snapshot is writable by others", (i) => chmodSync(i.recorded.cache?.file ?? "", 0o646)],
    ["its directory is group-writable", (i) => chmodSync(i.cacheDir, 0o775)],
    [
      "the snapshot is corrupted",
      (i) => {
        const file = i.recorded.cache?.file ?? "";
        const bytes = readFileSync(file);
        bytes.fill(0x5a, bytes.length >> 1, (bytes.length >> 1) + 4096);
        writeFileSync(file, bytes);
      },
    ],
    ["the snapshot is truncated", (i) => writeFileSync(i.recorded.cache?.file ?? "", readFileSync(i.recorded.cache?.file ?? "").subarray(0, 1000))],
    ["the snapshot is missing", (i) => rmSync(i.recorded.cache?.file ?? "")],
  ];
  it.each(refusedWhen)("is not used when %s, and the hook works as before", async (_, spoil) => {
    const i = make("snapshot");
    spoil(i);
    const blind = await prepare(withoutItsCode(i.hook));
    expect(blind.status).not.toBe(0);
    expect(blind.stderr).toContain("the plain path ran");
    const [run, plain] = await Promise.all([refusal(i.hook), refusal(DIST_QEMU)]);
    expect({ ...run, ms: 0 }).toEqual({ ...plain, ms: 0 });
    expect((await prepare(i.hook)).status).toBe(0);
    expect(describeStartupCache(startupContext(), readFileSync(i.hook, "utf8"), process.execPath)).toMatch(
      /: not used \(.*\): run nwfilter-hook install again$/,
    );
  });

  it("is not used once the Node binary it was made for is replaced", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nwfh-node-copy-"));
    temps.push(dir);
    const node = join(dir, "node");
    copyFileSync(process.execPath, node);
    chmodSync(node, 0o755);
    const i = make("snapshot", node);
    expect((await prepare(withoutItsCode(i.hook))).status).toBe(0);
    // An upgrade: a new file in its place.
    copyFileSync(process.execPath, `${node}.new`);
    chmodSync(`${node}.new`, 0o755);
    renameSync(`${node}.new`, node);
    expect((await prepare(withoutItsCode(i.hook))).stderr).toContain("the plain path ran");
    expect((await prepare(i.hook)).status).toBe(0);
  });

  // Node 18 aborts on a snapshot made by another Node (it does not check): the shell line must
  // keep it from ever seeing one.
  it.skipIf(!existsSync(DEBIAN_NODE))("is not used when a snapshot made by another Node is put in its place", async () => {
    const debian = make("snapshot", DEBIAN_NODE);
    const other = make("snapshot");
    const file = debian.recorded.cache?.file ?? "";
    copyFileSync(other.recorded.cache?.file ?? "", file);
    const blind = await prepare(withoutItsCode(debian.hook));
    expect(blind.stderr).toContain("the plain path ran");
    const run = await prepare(debian.hook);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
  });

  it("is not recorded in a directory that others can write", () => {
    const dir = mkdtempSync(join(tmpdir(), "nwfh-cache-dir-"));
    temps.push(dir);
    chmodSync(dir, 0o777);
    const bundle = readFileSync(DIST_QEMU, "utf8");
    const r = recordStartupCache(startupContext(), { bundle, bundlePath: DIST_QEMU, nodePath: process.execPath, dir, kind: "snapshot" });
    expect(r.cache).toBeUndefined();
    expect(r.message).toBe(`startup cache ${dir}: not recorded (the directory is writable by group or others (mode 0777)): the hook starts the plain way`);
  });

  it("is recorded once: a second run finds it fits, and uninstall removes it", () => {
    const i = make("snapshot");
    const bundle = readFileSync(DIST_QEMU, "utf8");
    const again = recordStartupCache(startupContext(), { bundle, bundlePath: DIST_QEMU, nodePath: process.execPath, dir: i.cacheDir, kind: "snapshot" });
    expect(again.changed).toBe(false);
    expect(again.message).toMatch(/: unchanged \(startup snapshot for /);
    expect(again.cache).toEqual(i.recorded.cache);
    const text = readFileSync(i.hook, "utf8");
    expect(startupCacheOf(text)).toEqual(i.recorded.cache);
    expect(removeStartupCache(text)).toBe(`startup cache ${i.recorded.cache?.file}: removed`);
    expect(existsSync(i.cacheDir)).toBe(false);
  });
});

describe("another version of the hook", () => {
  it("leaves the files the installed hook uses until the next install: a call may be about to open them", () => {
    const first = make("code-cache");
    const bundle = readFileSync(DIST_QEMU, "utf8");
    const next = otherVersion(bundle, (code) => code.replace("lack nwfilter", "LACK NWFILTER"));
    const nextPath = join(first.dir, "next-qemu");
    writeFileSync(nextPath, next, { mode: 0o755 });
    const installed = readFileSync(first.hook, "utf8");
    const options = { bundle: next, bundlePath: nextPath, nodePath: process.execPath, dir: first.cacheDir, kind: "code-cache" as const };
    const upgraded = recordStartupCache(startupContext(), { ...options, installed });
    expect(upgraded.cache?.file).not.toBe(first.recorded.cache?.file);
    expect(existsSync(first.recorded.cache?.file ?? "")).toBe(true);
    // Once the new hook is in place, the old files go.
    const text = withStartupCache(hookContent({ bundle: next, nodePath: process.execPath, policyPath: DEFAULT_POLICY_PATH, version: "test" }), upgraded.cache);
    recordStartupCache(startupContext(), { ...options, installed: text });
    expect(existsSync(first.recorded.cache?.file ?? "")).toBe(false);
    expect(existsSync(upgraded.cache?.file ?? "")).toBe(true);
  });
});

/** The built hook with other code of the same length, and the id that goes with it. */
function otherVersion(bundle: string, edit: (code: string) => string): string {
  const other = edit(hookCode(bundle)?.code ?? "");
  const payload = payloadText(other, payloadPart(bundle, "CACHE") ?? "");
  const id = startupIdOf(bundle) ?? "";
  return `${bundle.slice(0, payloadStart(bundle))}${payload}\n`.replace(startupIdLine(id), startupIdLine(codeId(other)));
}

describe("code cache", () => {
  // V8 accepts a code cache for any source of the same length: a cache of other code, put in
  // place of the recorded one with the recorded first line, shows whether the hook uses it.
  // That is also why it must be as trusted as the hook itself.
  let i: InstalledHook;
  let swapped: Buffer;
  beforeAll(() => {
    i = make("code-cache");
    const bundle = readFileSync(DIST_QEMU, "utf8");
    expect(hookCode(bundle)?.code).toContain("lack nwfilter");
    const fixed = otherVersion(bundle, (code) => code.replace("lack nwfilter", "LACK NWFILTER"));
    const otherPath = join(i.dir, "other-qemu");
    writeFileSync(otherPath, fixed, { mode: 0o755 });
    const r = recordStartupCache(startupContext(), {
      bundle: fixed,
      bundlePath: otherPath,
      nodePath: process.execPath,
      dir: join(i.dir, "other-cache"),
      kind: "code-cache",
    });
    const otherCache = readFileSync(r.cache?.file ?? "");
    const mine = readFileSync(i.recorded.cache?.file ?? "");
    swapped = Buffer.concat([mine.subarray(0, mine.indexOf(10) + 1), otherCache.subarray(otherCache.indexOf(10) + 1)]);
  });
  // Puts a cache file in place; `recorded`: as if install had written it (the hook names its
  // identity), else as if it changed afterwards.
  const put = (data: Buffer, mode = 0o644, recorded = true) => {
    const file = i.recorded.cache?.file ?? "";
    writeFileSync(file, data);
    chmodSync(file, mode);
    chmodSync(i.cacheDir, 0o755);
    if (!recorded) return;
    const bundle = readFileSync(DIST_QEMU, "utf8");
    const plain = hookContent({ bundle, nodePath: process.execPath, policyPath: DEFAULT_POLICY_PATH, version: "test" });
    writeFileSync(i.hook, withStartupCache(plain, { kind: "code-cache", file, identity: fileIdentity(statSync(file)) }));
  };

  const checked = () => describeStartupCache(startupContext(), readFileSync(i.hook, "utf8"), process.execPath);

  // The recorder writes the first line, the hook's loader and `check` compute it: all three must
  // agree byte for byte, or a cache is never used and `check` says otherwise.
  it("is used when it is as install left it, and check says so", async () => {
    put(swapped);
    const run = await refusal(i.hook);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("LACK NWFILTER");
    expect(checked()).toBe(`startup cache ${i.recorded.cache?.file}: ok (code cache for ${process.execPath} ${process.version})`);
  });

  const ignoredWhen: Array<[string, () => void]> = [
    ["it is group-writable", () => put(swapped, 0o664)],
    ["it is writable by others", () => put(swapped, 0o646)],
    [
      "its directory is group-writable",
      () => {
        put(swapped);
        chmodSync(i.cacheDir, 0o775);
      },
    ],
    [
      "its first line names another Node",
      () => put(Buffer.from(swapped.toString("latin1").replace(/^(nwfilter-hook code cache \S+ )v[\d.]+/, "$1v0.0.1"), "latin1")),
    ],
    [
      "its first line names other code",
      () => put(Buffer.from(swapped.toString("latin1").replace(/^(nwfilter-hook code cache )[0-9a-f]{16}/, "$10000000000000000"), "latin1")),
    ],
  ];
  it.each(ignoredWhen)("is not used when %s, and check says so", async (_, spoil) => {
    spoil();
    const run = await refusal(i.hook);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("lack nwfilter");
    expect(checked()).toMatch(/: not used \(.*\): run nwfilter-hook install again$/);
    chmodSync(i.cacheDir, 0o755);
  });

  const corrupted: Array<[string, (b: Buffer) => Buffer]> = [
    // V8 does not notice this one and crashes on it: only the file's identity keeps it out.
    ["corrupted", (b) => Buffer.from(b).fill(0xa5, b.length >> 1, (b.length >> 1) + 512)],
    ["truncated", (b) => b.subarray(0, b.indexOf(10) + 200)],
    ["empty", () => Buffer.alloc(0)],
  ];
  it.each(corrupted)("%s after install, is ignored: the hook does what the plain hook does", async (_, spoil) => {
    put(swapped);
    put(spoil(swapped), 0o644, false);
    const [run, plain] = await Promise.all([refusal(i.hook), refusal(DIST_QEMU)]);
    expect({ ...run, ms: 0 }).toEqual({ ...plain, ms: 0 });
    expect((await prepare(i.hook)).status).toBe(0);
    expect(statSync(i.recorded.cache?.file ?? "").isFile()).toBe(true);
  });
});
