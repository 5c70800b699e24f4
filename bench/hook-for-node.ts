// For the benchmark: the hook as `install` would install it for a given Node (that Node's
// absolute path on its shell line, and the startup snapshot or code cache recorded for it),
// without libvirt. The policy path stays the default, so that the benchmark's
// NWFILTER_HOOK_POLICY reaches it.
//   node hook-for-node.js BUNDLE NODE DIR [KIND]   prints {"hook", "kind", "message"} as JSON
import { spawnSync } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { DEFAULT_POLICY_PATH } from "../src/core/constants.js";
import { hookContent } from "../src/cli/hook-file.js";
import { ENV_STARTUP, recordStartupCache, withStartupCache, type StartupContext } from "../src/host/startup-cache.js";

const [bundlePath = "", nodePath = "", dir = "", kind = ""] = process.argv.slice(2);
const ctx: StartupContext = {
  env: { ...(kind ? { [ENV_STARTUP]: kind } : {}) },
  // As install finds it: the startup recorder beside the built hook.
  bundleDir: dirname(resolve(bundlePath)),
  euid: process.geteuid?.(),
  runFile(path, args, o) {
    const r = spawnSync(path, [...args], { input: o.input, env: o.env, cwd: o.cwd, timeout: o.timeoutMs, encoding: "utf8" });
    return { status: r.status, signal: r.signal, stdout: r.stdout ?? "", stderr: r.stderr ?? "", ...(r.error ? { error: r.error } : {}) };
  },
};
const bundle = readFileSync(bundlePath, "utf8");
const recorded = recordStartupCache(ctx, { bundle, bundlePath, nodePath, dir: join(dir, "cache") });
const hook = join(dir, "qemu");
writeFileSync(hook, withStartupCache(hookContent({ bundle, nodePath, policyPath: DEFAULT_POLICY_PATH, version: "bench" }), recorded.cache));
chmodSync(hook, 0o755);
process.stdout.write(`${JSON.stringify({ hook, kind: recorded.cache?.kind ?? "none", message: recorded.message })}\n`);
