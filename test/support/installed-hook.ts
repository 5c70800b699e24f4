// The built hook as `install` leaves it on a host: the absolute path of a Node on its shell line
// and the startup snapshot or code cache recorded for that Node (src/host/startup-cache.ts), in a
// temporary directory, without libvirt. The policy path stays the default, so that the
// NWFILTER_HOOK_POLICY of a sandbox reaches the hook.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_POLICY_PATH } from "../../src/core/constants.js";
import { hookContent } from "../../src/cli/hook-file.js";
import { ENV_STARTUP, recordStartupCache, withStartupCache, type Recorded, type StartupContext, type StartupKind } from "../../src/host/startup-cache.js";
import { DIST } from "./build.js";
import { DIST_QEMU } from "./paths.js";

export const startupContext = (env: Record<string, string> = {}): StartupContext => ({
  env,
  bundleDir: DIST,
  euid: process.geteuid?.(),
  runFile(path, args, o) {
    const r = spawnSync(path, [...args], { input: o.input, env: o.env, cwd: o.cwd, timeout: o.timeoutMs, encoding: "utf8" });
    return { status: r.status, signal: r.signal, stdout: r.stdout ?? "", stderr: r.stderr ?? "", ...(r.error ? { error: r.error } : {}) };
  },
});

export interface InstalledHook {
  /** The hook file. */
  hook: string;
  dir: string;
  cacheDir: string;
  recorded: Recorded;
}

/** Makes the installed hook for `nodePath` with the given artefact in a new temporary directory. */
export function installedHook(kind: StartupKind, nodePath: string = process.execPath, bundlePath: string = DIST_QEMU): InstalledHook {
  const dir = mkdtempSync(join(tmpdir(), `nwfh-installed-${kind}-`));
  const cacheDir = join(dir, "cache");
  const bundle = readFileSync(bundlePath, "utf8");
  const recorded = recordStartupCache(startupContext({ [ENV_STARTUP]: kind }), { bundle, bundlePath, nodePath, dir: cacheDir });
  const hook = join(dir, "qemu");
  writeFileSync(hook, withStartupCache(hookContent({ bundle, nodePath, policyPath: DEFAULT_POLICY_PATH, version: "test" }), recorded.cache));
  chmodSync(hook, 0o755);
  return { hook, dir, cacheDir, recorded };
}
