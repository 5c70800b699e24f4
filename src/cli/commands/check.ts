// `check`: like `nginx -t`. Validates the policy and prints it as it takes effect (with the
// choice each section makes, and warnings about choices libvirt could not carry out), then checks
// that the hook is installed and executable, that the daemon runs it, and that the filters the
// policy names and the custom ones are defined. Exit 0 only when all of that holds.
import { accessSync, constants } from "node:fs";
import { DEFAULT_FILTER } from "../../core/constants.js";
import { NwfilterHookError, formatError } from "../../core/errors.js";
import { reviewPolicy, type PolicyReview } from "../../core/policy-review.js";
import { settingsFromEnv } from "../../core/settings.js";
import { customFilterFiles } from "../../host/nwfilter-define.js";
import { networkNames, nodeHostFacts } from "../../host/node-host-facts.js";
import { compareVersions, type Policy } from "../../core/policy.js";
import type { Context } from "../context.js";
import { describeDaemon, hooksDirProblem, notOnThisHost } from "../daemon.js";
import { EXIT } from "../errors.js";
import { bakedPolicyPath, findInstalledHooks, interpreterOf, isOurs, readIfExists } from "../hook-file.js";
import { QEMU_D_SINCE, hookLocations } from "../paths.js";
import { policyLocation, policyText, readPolicy } from "../policy.js";
import { describeStartupCache } from "../startup-cache.js";
import { checkWatcher } from "../watch-service.js";

export interface CheckOptions {
  hooksDir: string;
  policy: string | undefined;
  uri: string;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export async function check(ctx: Context, options: CheckOptions): Promise<number> {
  const say = (line: string) => ctx.stdout(`${line}\n`);
  const problems: string[] = [];
  const fail = (what: string, why: string) => {
    say(`${what}: FAILED: ${why}`);
    problems.push(what);
  };

  // 1. The policy.
  const location = policyLocation(ctx, options.policy, options.hooksDir);
  let policy: Policy | undefined;
  try {
    policy = readPolicy(ctx, location);
    say(`policy ${location.path}: ok${policy.source === location.path ? "" : " (absent: built-in defaults)"} [${location.origin}]`);
  } catch (error) {
    if (!(error instanceof NwfilterHookError)) throw error;
    fail("policy", formatError(error)); // the message names the file
  }
  if (policy) {
    // What each section chooses, as the hook will see this host's filters and networks.
    let review: PolicyReview | undefined;
    try {
      const settings = settingsFromEnv(ctx.env);
      review = reviewPolicy(policy, nodeHostFacts(settings), networkNames(settings));
    } catch (error) {
      if (!(error instanceof NwfilterHookError)) throw error;
      fail("policy review", formatError(error));
    }
    ctx.stdout(policyText(policy, review?.effects));
    for (const w of review?.warnings ?? []) say(`warning: ${w}`);
  }

  // 2. The hook.
  const where = hookLocations(options.hooksDir);
  const hooks = findInstalledHooks(options.hooksDir);
  if (hooks.length === 0) {
    const foreign = readIfExists(where.qemuD);
    fail(
      `hook ${where.qemuD}`,
      foreign && !isOurs(foreign.text)
        ? "a file that nwfilter-hook did not install is in its place"
        : `not installed in ${options.hooksDir}: run nwfilter-hook install`,
    );
  }
  for (const hook of hooks) {
    const node = interpreterOf(hook.text);
    const baked = bakedPolicyPath(hook.text);
    if (!executable(hook.path) || (hook.mode & 0o111) === 0) fail(`hook ${hook.path}`, "not executable (chmod 0755, or install again)");
    else if (node === undefined || !executable(node))
      fail(`hook ${hook.path}`, `its interpreter ${node ?? "(none)"} is missing or not executable: install again`);
    else {
      const note = baked !== location.path ? `; note: it reads the policy ${baked}, not ${location.path}` : "";
      say(`hook ${hook.path}: ok (installed, executable, interpreter ${node}${note})`);
      say(describeStartupCache(ctx, hook.text, node));
    }
  }
  if (hooks.length > 1) say(`warning: the hook is installed twice (${hooks.map((h) => h.path).join(", ")}): run nwfilter-hook install to fix it`);

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
    const elsewhere = notOnThisHost(options.uri);
    const qemuD = compareVersions(version, QEMU_D_SINCE) >= 0;
    const inQemuD = hooks.some((h) => h.path === where.qemuD);
    const misplaced = daemon && hooksDirProblem(daemon, options.hooksDir);
    if (elsewhere) fail("daemon", `the hooks checked here are this host's, but ${elsewhere}`);
    else if (misplaced) fail("daemon", misplaced);
    else if (inQemuD && !qemuD)
      fail(`daemon`, `libvirt ${version} runs only hooks/qemu, not qemu.d (that needs ${QEMU_D_SINCE}): run nwfilter-hook install again`);
    else say(`daemon: ok (${name}, libvirt ${version}, runs ${qemuD ? "hooks/qemu and qemu.d/*" : "hooks/qemu"})`);
  } catch (error) {
    if (!(error instanceof NwfilterHookError)) throw error;
    fail("daemon", formatError(error));
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
    fail("custom filters", formatError(error));
  }
  for (const [filter, from] of named) {
    if (!reachable) {
      fail(`nwfilter '${filter}'${from}`, "cannot tell: libvirt is not reachable");
      continue;
    }
    try {
      const xml = await virsh.nwfilterXml(filter);
      if (xml === undefined) fail(`nwfilter '${filter}'${from}`, "not defined: run nwfilter-hook define-filter");
      else say(`nwfilter '${filter}'${from}: ok (defined)`);
    } catch (error) {
      if (!(error instanceof NwfilterHookError)) throw error;
      fail(`nwfilter '${filter}'${from}`, formatError(error));
    }
  }

  // 5. The watcher (src/cli/watch-service.ts).
  const watcher = checkWatcher(ctx, policy, say);
  if (watcher !== undefined) fail("watcher", watcher);

  if (problems.length > 0) {
    say(`check: FAILED (${problems.length} problem${problems.length === 1 ? "" : "s"})`);
    return EXIT.FINDINGS;
  }
  say("check: ok");
  return EXIT.OK;
}
