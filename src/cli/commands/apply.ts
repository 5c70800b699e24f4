// `apply DOMAIN... | --all [--live] [--dry-run]`: each NIC's chosen filterref into persistent
// definitions (dumpxml --inactive --security-info, transform, define) and, with --live, into the
// running NICs that lack it or carry a stale one (update-device --live), one domain at a time
// by src/host/reconcile.ts, which the watcher shares. Domains that need nothing are not touched.
import { HostError, NwfilterHookError, formatError } from "../../core/errors.js";
import { isTimeout } from "../../host/virsh.js";
import { nodeHostFacts } from "../../host/node-host-facts.js";
import { reconcileDomain } from "../../host/reconcile.js";
import { settingsFromEnv } from "../../core/settings.js";
import type { Context } from "../context.js";
import { selectDomains } from "../domains.js";
import { EXIT, UsageError } from "../errors.js";
import { Progress, unifiedDiff } from "../format.js";
import { policyLocation, readPolicy } from "../policy.js";

export interface ApplyOptions {
  domains: string[];
  all: boolean;
  live: boolean;
  dryRun: boolean;
  policy: string | undefined;
  hooksDir: string;
  uri: string;
}

/** A progress bar from this many domains on, when stderr is a terminal. */
const PROGRESS_FROM = 5;

export async function apply(ctx: Context, options: ApplyOptions): Promise<number> {
  if (options.all && options.domains.length > 0) throw new UsageError("give domain names or --all, not both");
  if (!options.all && options.domains.length === 0) throw new UsageError("name the domains to fix, or give --all");
  const policy = readPolicy(ctx, policyLocation(ctx, options.policy, options.hooksDir));
  const virsh = ctx.virsh(options.uri);
  const host = nodeHostFacts(settingsFromEnv(ctx.env));
  const domains = await selectDomains(virsh, options.domains);
  if ((await virsh.nwfilterXml(policy.filter)) === undefined) {
    const what = `nwfilter '${policy.filter}' is not defined in libvirt: domains that reference it cannot start; run nwfilter-hook define-filter first`;
    if (!options.dryRun) throw new HostError(what);
    ctx.stderr(`nwfilter-hook: warning: ${what}\n`);
  }

  const out = (line: string) => ctx.stdout(`${line}\n`);
  const progress = new Progress(ctx.stderrIsTTY && domains.length >= PROGRESS_FROM ? ctx.stderr : undefined, domains.length);
  let changed = 0;
  let failed = 0;
  let leftAlone = 0;
  /** Domains not changed only because some of their NICs had to be left alone. */
  let held = 0;
  for (const d of domains) {
    progress.step(d.name);
    try {
      const say = (line: string) => progress.log(out, line);
      const showChange = (label: string, before: string, after: string) => say(unifiedDiff(label, before, after).trimEnd());
      const result = await reconcileDomain(virsh, d, policy, host, { live: options.live, dryRun: options.dryRun, showChange }, say);
      if (result.changed) changed++;
      leftAlone += result.leftAlone;
      if (!result.changed && result.leftAlone > 0) held++;
    } catch (error) {
      // A daemon that does not answer would not answer for the next domain either: stop here.
      if (!(error instanceof NwfilterHookError) || isTimeout(error)) throw error;
      failed++;
      progress.log(out, `${d.name}: FAILED: ${formatError(error)}`);
    }
  }
  progress.done();
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? "" : "s"}`;
  out(
    `apply: ${plural(domains.length, "domain")}: ${changed} ${options.dryRun ? "to change" : "changed"}, ` +
      `${domains.length - changed - failed - held} already compliant or exempt, ${failed} failed` +
      (leftAlone > 0 ? `; ${plural(leftAlone, "interface")} left alone (their filter cannot be instantiated)` : "") +
      (options.dryRun ? " (dry run: nothing was changed)" : ""),
  );
  return failed > 0 || leftAlone > 0 ? EXIT.FINDINGS : EXIT.OK;
}
