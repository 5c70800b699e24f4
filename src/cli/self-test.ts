// Runs an installed hook the way libvirt does (scrubbed environment, cwd /, domain XML on
// stdin) on a sample domain, and compares what it does with what the core says it must do.
import { decide } from "../core/decide.js";
import { nodeHostFacts } from "../host/node-host-facts.js";
import { loadPolicy } from "../host/policy-file.js";
import { settingsFromEnv } from "../core/settings.js";
import { ENV_POLICY } from "../core/constants.js";
import { HOOK_ENV, SAMPLE_DOMAIN, SELF_TEST_DOMAIN } from "../core/self-test-sample.js";
import type { Context } from "./context.js";

export { HOOK_ENV, SAMPLE_DOMAIN, SELF_TEST_DOMAIN } from "../core/self-test-sample.js";

export interface SelfTestResult {
  ok: boolean;
  message: string;
}

export function selfTest(ctx: Context, hookPath: string, policyPath: string): SelfTestResult {
  const env = ctx.hookEnv ?? HOOK_ENV;
  const settings = settingsFromEnv({ ...env, [ENV_POLICY]: policyPath });
  const policy = loadPolicy(policyPath, { euid: ctx.euid });
  const expected = decide("restore", SELF_TEST_DOMAIN, SAMPLE_DOMAIN, policy, nodeHostFacts(settings));
  const r = ctx.runFile(hookPath, [SELF_TEST_DOMAIN, "restore", "begin", "-"], { input: SAMPLE_DOMAIN, env, cwd: "/", timeoutMs: 30_000 });
  const firstLine = (s: string) => s.trim().split("\n")[0] ?? "";
  // EPIPE: the hook exited without reading all of stdin; its exit status tells the rest.
  if (r.error && (r.error as NodeJS.ErrnoException).code !== "EPIPE") return { ok: false, message: `cannot run ${hookPath}: ${r.error.message}` };
  if (r.status !== expected.exitCode) {
    const why = firstLine(r.stderr) || (r.signal ? `killed by ${r.signal}` : "no message");
    return { ok: false, message: `${hookPath} exited ${r.status ?? r.signal} on a sample restore, expected ${expected.exitCode}: ${why}` };
  }
  if (r.stdout !== (expected.stdout ?? "")) {
    return { ok: false, message: `${hookPath} printed other XML than expected on a sample restore` };
  }
  const added = expected.stdout !== undefined && expected.stdout !== SAMPLE_DOMAIN;
  const what =
    expected.exitCode !== 0
      ? `refused it, as the core does (${firstLine(r.stderr).replace(/^nwfilter-hook: /, "")})`
      : added
        ? "added the filter"
        : "left it unchanged, as the policy says";
  return { ok: true, message: `the installed hook ran a sample restore and ${what}` };
}
