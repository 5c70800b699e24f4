// `check`: like `nginx -t`. Validates the policy and prints it as it takes effect (with the
// choice each section makes, and warnings about choices libvirt could not carry out), then checks
// that the hook is installed and executable, that the daemon runs it, and that the filters the
// policy names and the custom ones are defined. Exit 0 only when all of that holds.
// What it finds is data (src/cli/findings.ts): printed line by line, or as JSON with --json.
import { DEFAULT_FILTER } from "../../core/constants.js";
import { NwfilterHookError, formatError } from "../../core/errors.js";
import { reviewPolicy, type PolicyReview } from "../../core/policy-review.js";
import { settingsFromEnv } from "../../core/settings.js";
import { customFilterFiles } from "../../host/nwfilter-define.js";
import { networkNames, nodeHostFacts } from "../../host/node-host-facts.js";
import { compareVersions, isActive, type Policy } from "../../core/policy.js";
import type { Context } from "../context.js";
import { describeDaemon, hooksDirPlacement, reachOf } from "../../host/daemon.js";
import { EXIT } from "../errors.js";
import { collect, countFindings, rendered, type Emit, type Finding } from "../findings.js";
import { bakedPolicyPath, findInstalledHooks, interpreterOf, isOurs } from "../hook-file.js";
import { QEMU_D_SINCE, hookLocations } from "../paths.js";
import { policyLocation, policyText, readPolicy } from "../policy.js";
import { startupCacheState } from "../../host/startup-cache-state.js";
import { checkWatcher } from "../watch-service.js";

export interface CheckOptions {
  hooksDir: string;
  policy: string | undefined;
  uri: string;
  json?: boolean;
}

export interface CheckResult {
  findings: Finding[];
  /** The policy as it takes effect, when it could be read. */
  policy: Policy | undefined;
  review: PolicyReview | undefined;
}

/** check's exit code: 0 only when nothing failed. */
export function checkExit(result: Pick<CheckResult, "findings">): number {
  return result.findings.some((f) => f.status === "failed") ? EXIT.FINDINGS : EXIT.OK;
}

export function checkSummary(result: Pick<CheckResult, "findings">): string {
  const failed = countFindings(result.findings).failed;
  return failed > 0 ? `check: FAILED (${failed} problem${failed === 1 ? "" : "s"})` : "check: ok";
}

export async function check(ctx: Context, options: CheckOptions): Promise<number> {
  return rendered<CheckResult>(ctx, options.json ?? false, (emit) => runCheck(ctx, options, emit), {
    summary: checkSummary,
    exit: checkExit,
    // The policy as it takes effect: in text, the listing among the findings.
    json: ({ policy, review }) => ({
      policy: policy
        ? {
            source: policy.source,
            filter: policy.filter,
            onMissing: policy.onMissing,
            onExisting: policy.onExisting,
            active: isActive(policy),
            sections: (review?.effects ?? []).map((e) => ({ kind: e.section.kind, name: e.section.name, filter: e.section.filter ?? null, effect: e.effect })),
          }
        : null,
    }),
  });
}

/** Judges the host, emitting each finding as it is known. */
export async function runCheck(ctx: Context, options: CheckOptions, emit: Emit): Promise<CheckResult> {
  const { findings, add } = collect(emit);
  const ok = (code: string, subject: string, message: string) => add({ code, subject, status: "ok", message });
  const fail = (code: string, subject: string, message: string) => add({ code, subject, status: "failed", message });
  const warn = (code: string, message: string) => add({ code, subject: "", status: "warning", message });

  // 1. The policy.
  const location = policyLocation(ctx, options.policy, options.hooksDir);
  let policy: Policy | undefined;
  let review: PolicyReview | undefined;
  try {
    policy = readPolicy(ctx, location);
    ok("policy", `policy ${location.path}`, `ok${policy.source === location.path ? "" : " (absent: built-in defaults)"} [${location.origin}]`);
  } catch (error) {
    if (!(error instanceof NwfilterHookError)) throw error;
    fail("policy", "policy", formatError(error)); // the message names the file
  }
  if (policy) {
    // What each section chooses, as the hook will see this host's filters and networks.
    try {
      const settings = settingsFromEnv(ctx.env);
      review = reviewPolicy(policy, nodeHostFacts(settings), networkNames(settings));
    } catch (error) {
      if (!(error instanceof NwfilterHookError)) throw error;
      fail("policy-review", "policy review", formatError(error));
    }
    add({ code: "policy-listing", subject: "", status: "info", message: "", listing: policyText(policy, review?.effects) });
    for (const w of review?.warnings ?? []) warn("policy-review", w);
  }

  // 2. The hook.
  const where = hookLocations(options.hooksDir);
  const hooks = findInstalledHooks(ctx.files, options.hooksDir);
  if (hooks.length === 0) {
    const foreign = ctx.files.readIfExists(where.qemuD);
    fail(
      "hook",
      `hook ${where.qemuD}`,
      foreign && !isOurs(foreign.text)
        ? "a file that nwfilter-hook did not install is in its place"
        : `not installed in ${options.hooksDir}: run nwfilter-hook install`,
    );
  }
  for (const hook of hooks) {
    const node = interpreterOf(hook.text);
    const baked = bakedPolicyPath(hook.text);
    const subject = `hook ${hook.path}`;
    if (!ctx.files.executable(hook.path) || (hook.mode & 0o111) === 0) fail("hook", subject, "not executable (chmod 0755, or install again)");
    else if (node === undefined || !ctx.files.executable(node))
      fail("hook", subject, `its interpreter ${node ?? "(none)"} is missing or not executable: install again`);
    else {
      const note = baked !== location.path ? `; note: it reads the policy ${baked}, not ${location.path}` : "";
      ok("hook", subject, `ok (installed, executable, interpreter ${node}${note})`);
      const cache = startupCacheState(ctx, hook.text, node);
      add({
        code: "startup-cache",
        subject: cache.label,
        status: cache.state === "stale" ? "warning" : cache.state === "ok" ? "ok" : "info",
        message: cache.detail,
      });
    }
  }
  if (hooks.length > 1) warn("hook", `the hook is installed twice (${hooks.map((h) => h.path).join(", ")}): run nwfilter-hook install to fix it`);

  // 3. The daemon.
  const virsh = ctx.virsh(options.uri);
  let reachable = false;
  try {
    const version = await virsh.daemonVersion();
    reachable = true;
    const { daemon, why } = ctx.daemon.locate(options.uri);
    const name = daemon
      ? `${describeDaemon(daemon)}${daemon.socket ? ` on ${daemon.socket}` : ""}`
      : `the libvirt daemon (which process, cannot tell: ${why || "not found"})`;
    const reach = reachOf(options.uri);
    const qemuD = compareVersions(version, QEMU_D_SINCE) >= 0;
    const inQemuD = hooks.some((h) => h.path === where.qemuD);
    const placement = daemon ? hooksDirPlacement(daemon, options.hooksDir) : undefined;
    if (reach.elsewhere) fail("daemon", "daemon", `the hooks checked here are this host's, but ${reach.why}`);
    else if (placement?.misplaced) fail("daemon", "daemon", placement.why);
    else if (inQemuD && !qemuD)
      fail("daemon", "daemon", `libvirt ${version} runs only hooks/qemu, not qemu.d (that needs ${QEMU_D_SINCE}): run nwfilter-hook install again`);
    else ok("daemon", "daemon", `ok (${name}, libvirt ${version}, runs ${qemuD ? "hooks/qemu and qemu.d/*" : "hooks/qemu"})`);
  } catch (error) {
    if (!(error instanceof NwfilterHookError)) throw error;
    fail("daemon", "daemon", formatError(error));
  }

  // 4. The filters: the default, those the sections name, and the custom ones.
  const named = new Map<string, string>([[policy?.filter ?? DEFAULT_FILTER, ""]]);
  for (const section of policy?.sections ?? []) {
    if (typeof section.filter === "string" && !named.has(section.filter)) named.set(section.filter, ` (from [${section.kind}:${section.name}])`);
  }
  try {
    for (const f of customFilterFiles(settingsFromEnv(ctx.env).filtersDir)) if (!named.has(f.name)) named.set(f.name, ` (custom, ${f.path})`);
  } catch (error) {
    if (!(error instanceof NwfilterHookError)) throw error;
    fail("nwfilter", "custom filters", formatError(error));
  }
  for (const [filter, from] of named) {
    const subject = `nwfilter '${filter}'${from}`;
    if (!reachable) {
      fail("nwfilter", subject, "cannot tell: libvirt is not reachable");
      continue;
    }
    try {
      const xml = await virsh.nwfilterXml(filter);
      if (xml === undefined) fail("nwfilter", subject, "not defined: run nwfilter-hook define-filter");
      else ok("nwfilter", subject, "ok (defined)");
    } catch (error) {
      if (!(error instanceof NwfilterHookError)) throw error;
      fail("nwfilter", subject, formatError(error));
    }
  }

  // 5. The watcher (src/cli/watch-service.ts).
  add(checkWatcher(ctx, policy, Date.now()));
  return { findings, policy, review };
}
