// `apply DOMAIN... | --all [--live] [--dry-run]`: the filter into persistent definitions
// (dumpxml --inactive --security-info, transform, define) and, with --live, into the running
// NICs (update-device --live with the NIC's live XML plus the filterref). Domains that need
// nothing are not touched.
import { HostError, NwfilterHookError, formatError } from "../../core/errors.js";
import type { HostFacts } from "../../core/host-facts.js";
import { describeNic } from "../../core/decide.js";
import { nodeHostFacts } from "../../host/node-host-facts.js";
import type { Policy } from "../../core/policy.js";
import { settingsFromEnv } from "../../core/settings.js";
import { transform, type NicReport } from "../../core/transform.js";
import type { DomainInfo, Virsh } from "../../host/virsh.js";
import type { Context } from "../context.js";
import { nothingToDo, selectDomains } from "../domains.js";
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

export function apply(ctx: Context, options: ApplyOptions): number {
  if (options.all && options.domains.length > 0) throw new UsageError("give domain names or --all, not both");
  if (!options.all && options.domains.length === 0) throw new UsageError("name the domains to fix, or give --all");
  const policy = readPolicy(ctx, policyLocation(ctx, options.policy, options.hooksDir));
  const virsh = ctx.virsh(options.uri);
  const host = nodeHostFacts(settingsFromEnv(ctx.env));
  const domains = selectDomains(virsh, options.domains);
  if (virsh.nwfilterXml(policy.filter) === undefined) {
    const what = `nwfilter '${policy.filter}' is not defined in libvirt: domains that reference it cannot start; run nwfilter-hook define-filter first`;
    if (!options.dryRun) throw new HostError(what);
    ctx.stderr(`nwfilter-hook: warning: ${what}\n`);
  }

  const out = (line: string) => ctx.stdout(`${line}\n`);
  const progress = new Progress(ctx.stderrIsTTY && domains.length >= PROGRESS_FROM ? ctx.stderr : undefined, domains.length);
  let changed = 0;
  let failed = 0;
  for (const d of domains) {
    progress.step(d.name);
    try {
      const result = applyDomain(virsh, d, policy, host, options, (line) => progress.log(out, line));
      if (result) changed++;
    } catch (error) {
      if (!(error instanceof NwfilterHookError)) throw error;
      failed++;
      progress.log(out, `${d.name}: FAILED: ${formatError(error)}`);
    }
  }
  progress.done();
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? "" : "s"}`;
  out(
    `apply: ${plural(domains.length, "domain")}: ${changed} ${options.dryRun ? "to change" : "changed"}, ` +
      `${domains.length - changed - failed} already compliant or exempt, ${failed} failed` +
      (options.dryRun ? " (dry run: nothing was changed)" : ""),
  );
  return failed > 0 ? EXIT.FINDINGS : EXIT.OK;
}

function nicList(nics: NicReport[]): string {
  return nics.map(describeNic).join("; ");
}

/** Returns whether the domain was (or, in a dry run, would be) changed. */
function applyDomain(virsh: Virsh, d: DomainInfo, policy: Policy, host: HostFacts, options: ApplyOptions, say: (line: string) => void): boolean {
  let changed = false;
  const verb = options.dryRun ? "would add" : "added";

  if (d.persistent) {
    const file = `persistent definition of domain '${d.name}'`;
    const before = virsh.dumpxml(d.name, "config");
    const r = transform(before, policy, host, { file, root: "domain" });
    const todo = r.nics.filter((n) => n.action !== undefined);
    if (todo.length === 0) {
      say(`${d.name}: definition: ${nothingToDo(r.nics)}`);
    } else {
      if (options.dryRun) say(unifiedDiff(`${d.name} (definition)`, before, r.xml).trimEnd());
      else virsh.define(r.xml, d.name);
      say(`${d.name}: definition: ${verb} filter '${policy.filter}' to ${nicList(todo)}`);
      changed = true;
    }
  }

  if (d.active) {
    const file = `live definition of domain '${d.name}'`;
    const before = virsh.dumpxml(d.name, "live");
    const r = transform(before, policy, host, { file, root: "domain" });
    const todo = r.nics.filter((n) => n.action !== undefined);
    if (todo.length === 0) {
      say(`${d.name}: running: ${nothingToDo(r.nics)}`);
    } else if (!options.live) {
      say(`${d.name}: running: ${todo.length} interface(s) lack the filter until the domain restarts; add --live to fix them now: ${nicList(todo)}`);
    } else {
      for (const nic of todo) {
        const device = r.xml.slice(nic.output.start, nic.output.end);
        const label = `${d.name} (running interface ${nic.mac ?? nic.index + 1})`;
        if (options.dryRun) say(unifiedDiff(label, `${before.slice(nic.input.start, nic.input.end)}\n`, `${device}\n`).trimEnd());
        else virsh.updateDeviceLive(d.name, device);
      }
      if (!options.dryRun) {
        const after = transform(virsh.dumpxml(d.name, "live"), policy, host, { file, checkOnly: true, root: "domain" });
        const still = after.nics.filter((n) => n.status === "missing" && todo.some((t) => t.mac === n.mac));
        if (still.length > 0) throw new HostError(`libvirt accepted update-device but the running interface still lacks the filter: ${nicList(still)}`);
      }
      say(`${d.name}: running: ${verb} filter '${policy.filter}' to ${nicList(todo)}`);
      changed = true;
    }
  }
  if (!d.persistent && !d.active) say(`${d.name}: neither defined nor running any more`);
  return changed;
}
