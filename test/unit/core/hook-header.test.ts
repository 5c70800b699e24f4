// The top of the hook file (src/core/hook-header.ts): what the build and `install` write is what
// `check`, `install` and `uninstall` read back, and the lines stay valid shell and JavaScript.
import { execFileSync } from "node:child_process";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { DEFAULT_POLICY_PATH, ENV_LOG_FD, ENV_POLICY } from "../../../src/core/constants.js";
import {
  HOOK_MARKER,
  SNAPSHOT_V8_FLAGS,
  STAT_FORMAT,
  bakedPolicyPath,
  builtHookText,
  hookContent,
  interpreterOf,
  isOurs,
  snapshotCheck,
  startupCacheOf,
  withStartupCache,
  type StartupCache,
} from "../../../src/core/hook-header.js";
import { payloadPart, startupIdOf, wrapCode } from "../../../src/core/hook-payload.js";

const ID = "0123456789abcdef";
const CODE = wrapCode("module.exports.ran = true;");
const built = builtHookText({ id: ID, loader: '"use strict";\nloader();\n', code: CODE, cacheBase64: "AAAA" });

describe("the built hook", () => {
  it("starts as a shell script whose second line runs node for the three calls with work", () => {
    const [first, second = ""] = built.split("\n");
    expect(first).toBe("#!/bin/sh");
    expect(second).toContain('case "$2 $3" in "prepare begin"|"migrate begin"|"restore begin") ;; *) exit 0;; esac; s=; ');
    expect(second).toContain(`${ENV_LOG_FD}=3 node `);
    expect([...second.matchAll(/ node /g)]).toHaveLength(2);
    execFileSync("/bin/sh", ["-n", "-c", second]);
  });

  it("has one directive, first, then its id, the loader and the payload", () => {
    expect(built.split("\n").slice(2, 5)).toEqual(['"use strict";', `const startupId = "${ID}";`, "loader();"]);
    expect(built.match(/use strict/g)).toHaveLength(1);
    expect(startupIdOf(built)).toBe(ID);
    expect(payloadPart(built, "CODE")).toBe(CODE);
    expect(payloadPart(built, "CACHE")).toBe("AAAA");
  });

  it("passes a snapshot with the V8 flags it was built with, only when there is one", () => {
    const words = [...(built.split("\n")[1] ?? "").matchAll(/\$\{s:\+([^}"]+)\}/g)].map((m) => m[1]);
    expect(words).toEqual([...SNAPSHOT_V8_FLAGS, "--snapshot-blob", ...SNAPSHOT_V8_FLAGS, "--snapshot-blob"]);
  });
});

describe("the installed hook", () => {
  const nodePath = "/opt/node-20/bin/node";
  it.each([
    ["the default policy", DEFAULT_POLICY_PATH],
    ["another policy", "/srv/nwfilter/policy.ini"],
    ["a policy path JSON must escape", '/srv/a "quoted" \\ dir/pölicy.ini'],
  ])("names its Node and %s, and reads both back", (_, policyPath) => {
    const text = hookContent({ bundle: built, nodePath, policyPath, version: "1.2.3" });
    expect(isOurs(text)).toBe(true);
    expect(isOurs(built)).toBe(false);
    expect(interpreterOf(text)).toBe(nodePath);
    expect(text.split("\n")[1]).not.toMatch(/ node /);
    expect(bakedPolicyPath(text)).toBe(policyPath);
    expect(text.split("\n")[3]).toBe(`${HOOK_MARKER} (version 1.2.3); do not edit: install again to change it`);
    // The lines install adds are JavaScript that sets what they say.
    const env: Record<string, string> = {};
    runInNewContext(javascriptHead(text), { process: { env } });
    expect(env[ENV_POLICY]).toBe(policyPath === DEFAULT_POLICY_PATH ? undefined : policyPath);
    expect(startupIdOf(text)).toBe(ID);
    expect(payloadPart(text, "CODE")).toBe(CODE);
  });

  it.each<[string, string, StartupCache]>([
    [
      "a code cache",
      DEFAULT_POLICY_PATH,
      { kind: "code-cache", file: "/var/cache/nwfilter-hook/0123456789abcdef.cache", identity: "2049:77:100:1700000000123.456" },
    ],
    ["a code cache and another policy", "/srv/p.ini", { kind: "code-cache", file: "/var/cache/nwfilter-hook/0123456789abcdef.cache", identity: "1:2:3:4" }],
    [
      "a snapshot",
      DEFAULT_POLICY_PATH,
      {
        kind: "snapshot",
        file: "/var/cache/nwfilter-hook/0123456789abcdef.blob",
        shellCheck: snapshotCheck(
          "/usr/bin/stat",
          ["/var/cache/nwfilter-hook", "/usr/bin/node"],
          "0:0:755:1:2:3:4.5:6.7 0:0:755:8:9:10:11:12 ",
          "/var/cache/nwfilter-hook/0123456789abcdef.blob",
        ),
      },
    ],
  ])("wires in %s, which reads back as it was given", (_, policyPath, cache) => {
    const plain = hookContent({ bundle: built, nodePath, policyPath, version: "1.2.3" });
    expect(startupCacheOf(plain)).toBeUndefined();
    const text = withStartupCache(plain, cache);
    expect(startupCacheOf(text)).toEqual(cache);
    expect(bakedPolicyPath(text)).toBe(policyPath);
    expect(interpreterOf(text)).toBe(nodePath);
    expect(withStartupCache(plain, undefined)).toBe(plain);
    const shell = text.split("\n")[1] ?? "";
    execFileSync("/bin/sh", ["-n", "-c", shell]);
    if (cache.kind === "code-cache") {
      const globals: Record<string, unknown> = { process: { env: {} } };
      runInNewContext(`${javascriptHead(text)}; this.seen = startupCache;`, globals);
      expect(globals["seen"]).toEqual([cache.file, cache.identity]);
    } else {
      expect(shell).toContain(`; s=; ${cache.shellCheck} [ "$2" = prepare ]`);
    }
  });

  it("reads the code cache line as earlier versions wrote it", () => {
    const text = `#!/bin/sh\n"use strict";\n${HOOK_MARKER} (version 0.1.0); do not edit\nconst startupCache = ["/var/cache/nwfilter-hook/a.cache", "1:2:3:4.5"];\n`;
    expect(startupCacheOf(text)).toEqual({ kind: "code-cache", file: "/var/cache/nwfilter-hook/a.cache", identity: "1:2:3:4.5" });
  });

  it("a snapshot's check runs stat with the format the recorder compares, and quotes what it names", () => {
    const check = snapshotCheck("/usr/bin/stat", ["/a", "/b"], "x ", "/a/s.blob");
    expect(check).toBe(`[ "$(/usr/bin/stat -L --printf '${STAT_FORMAT}' -- '/a' '/b' 2>/dev/null)" = 'x ' ] && s='/a/s.blob';`);
    expect(() => snapshotCheck("/usr/bin/stat", ["/it's"], "x", "/s")).toThrow(/cannot quote/);
  });

  it("refuses a Node path that a '#!' or shell line cannot hold, and a built hook without its shell line", () => {
    const options = { bundle: built, policyPath: DEFAULT_POLICY_PATH, version: "1" };
    expect(() => hookContent({ ...options, nodePath: "node" })).toThrow(/absolute/);
    expect(() => hookContent({ ...options, nodePath: "/opt/my node" })).toThrow(/cannot stand/);
    expect(() => hookContent({ ...options, nodePath: `/${"n".repeat(130)}` })).toThrow(/too long/);
    expect(() => hookContent({ ...options, nodePath, bundle: "#!/bin/sh\nexit 0\n" })).toThrow(/rebuild it/);
  });
});

/** The JavaScript lines of a hook file before its id: the directive and what install adds. */
function javascriptHead(text: string): string {
  const lines = text.split("\n");
  return lines
    .slice(
      2,
      lines.findIndex((l) => l.startsWith("const startupId")),
    )
    .join("\n");
}
