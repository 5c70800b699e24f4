// What `check` says of the startup snapshot or code cache that install recorded for the hook
// (src/host/startup-cache.ts): none, used, or not used and why. Asked of the hook's own Node
// through the startup recorder, as the hook's loader will judge it.
import { lstatSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { startupCacheOf } from "../core/hook-header.js";
import { startupIdOf } from "../core/hook-payload.js";
import { HOOK_ENV } from "../core/self-test-sample.js";
import { fileIdentityFor, recorder, type StartupContext } from "./startup-cache.js";
import { distrust } from "./trust.js";

/** What `check` says of the installed hook's artefact: none recorded, used, or not used and why. */
export interface StartupCacheState {
  state: "none" | "ok" | "stale";
  /** "startup cache FILE", or "startup cache" when none is named. */
  label: string;
  detail: string;
}

/** For `check`: whether the installed hook will use its artefact. A warning at worst, never a failure. */
export function startupCacheState(ctx: StartupContext, text: string, nodePath: string | undefined): StartupCacheState {
  const cache = startupCacheOf(text);
  if (!cache) return { state: "none", label: "startup cache", detail: "none recorded (the hook starts the plain way; install records one)" };
  const label = `startup cache ${cache.file}`;
  const stale = (why: string): StartupCacheState => ({ state: "stale", label, detail: `not used (${why}): run nwfilter-hook install again` });
  try {
    const bad = distrust(lstatSync(cache.file), ctx.euid) ?? distrust(lstatSync(dirname(cache.file)), ctx.euid);
    if (bad) return stale(`it or its directory is ${bad.reason}`);
  } catch {
    return stale("missing");
  }
  if (cache.kind === "snapshot") {
    const r = ctx.runFile("/bin/sh", ["-c", `s=; ${cache.shellCheck} [ -n "$s" ]`], { env: HOOK_ENV, cwd: "/", timeoutMs: 10_000 });
    return r.status === 0
      ? { state: "ok", label, detail: `ok (startup snapshot for ${nodePath ?? "its Node"})` }
      : stale("Node, the snapshot or its directory changed since install");
  }
  if (nodePath && fileIdentityFor(ctx, nodePath, cache.file) !== cache.identity) return stale("the file changed since install");
  const head = readFileSync(cache.file).subarray(0, 512).toString("latin1").split("\n")[0] ?? "";
  // The line the hook's loader will compare the file's first line with, for the hook's code.
  const r = nodePath ? recorder(ctx, nodePath, ["head", startupIdOf(text) ?? ""]) : undefined;
  const [version = "", want] = r && "answer" in r ? r.answer.split("\n") : [];
  if (head !== want) return stale(`recorded for other code or by another Node than ${nodePath ?? "the hook's"}`);
  return { state: "ok", label, detail: `ok (code cache for ${nodePath} ${version})` };
}

/** startupCacheState as the line `check` prints. */
export function describeStartupCache(ctx: StartupContext, text: string, nodePath: string | undefined): string {
  const s = startupCacheState(ctx, text, nodePath);
  return `${s.label}: ${s.detail}`;
}
