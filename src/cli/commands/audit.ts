// `audit [DOMAIN...] [--json]`: every NIC of every (or the named) domain, in its persistent
// definition and, when it runs, its live state: the filterref it should carry (filter and
// parameters, and the policy level that chose them), the one it carries, and its status. Exit 1
// when a NIC is `missing` or `stale`, or libvirt could not instantiate its wanted filter.
import { NwfilterHookError, formatError } from "../../core/errors.js";
import { nodeHostFacts } from "../../host/node-host-facts.js";
import { isTimeout } from "../../host/virsh.js";
import { isActive } from "../../core/policy.js";
import { settingsFromEnv } from "../../core/settings.js";
import { transform, type NicReport, type NicStatus } from "../../core/transform.js";
import type { Context } from "../context.js";
import { countStatuses, selectDomains, STATUSES } from "../domains.js";
import { EXIT, exitCodeFor } from "../errors.js";
import { shellWord } from "../../core/shell-word.js";
import { filterText, statusText, table } from "../format.js";
import { leftAloneText } from "../../host/reconcile.js";
import type { FilterParameter } from "../../core/filter-params.js";
import { problemText } from "../../core/filter-messages.js";
import { reviewPolicy } from "../../core/policy-review.js";
import { policyLocation, readPolicy } from "../policy.js";

export interface AuditOptions {
  domains: string[];
  json: boolean;
  policy: string | undefined;
  hooksDir: string;
  uri: string;
}

export interface AuditNic {
  mac: string | null;
  type: string;
  source: string | null;
  /** The filter it carries (as `actual.filter`; kept for the scripts that read it). */
  filter: string | null;
  /** The filterref it carries: its filter (null: none) and parameters, in document order. */
  actual: { filter: string | null; parameters: FilterParameter[] };
  /** The filterref it should carry, and the policy level that chose it; null when exempt or ineligible. */
  wanted: { filter: string; parameters: FilterParameter[]; from: string } | null;
  status: NicStatus;
  reason: string | null;
  detail: string | null;
  /** Why libvirt could not instantiate the wanted filterref (a filter not defined, a variable not given). */
  problem: string | null;
  /** What of the domain's metadata the policy ignored for it (DomainMetadata = ignore). */
  ignored: string | null;
}

export interface AuditDomain {
  name: string;
  state: string;
  persistent: boolean;
  /** The persistent definition's NICs; null for a transient domain. */
  config: AuditNic[] | null;
  /** The running domain's NICs; null when it is not running. */
  live: AuditNic[] | null;
  error: string | null;
}

function toJson(nic: NicReport): AuditNic {
  return {
    mac: nic.mac ?? null,
    type: nic.type,
    source: nic.source ?? null,
    filter: nic.filter ?? null,
    actual: { filter: nic.filter ?? null, parameters: nic.parameters },
    wanted: nic.wanted ? { filter: nic.wanted.filter, parameters: nic.wanted.parameters, from: nic.wanted.from } : null,
    status: nic.status,
    reason: nic.reason ?? null,
    detail: nic.detail ?? null,
    problem: nic.problem ? problemText(nic.problem) : null,
    ignored: nic.ignored ?? null,
  };
}

/** Whether a NIC keeps audit from passing. */
function finding(n: NicReport): boolean {
  return n.status === "missing" || n.status === "stale" || n.problem !== undefined;
}

export async function audit(ctx: Context, options: AuditOptions): Promise<number> {
  const location = policyLocation(ctx, options.policy, options.hooksDir);
  const policy = readPolicy(ctx, location);
  const virsh = ctx.virsh(options.uri);
  const host = nodeHostFacts(settingsFromEnv(ctx.env));
  const domains = await selectDomains(virsh, options.domains);

  // The reports themselves, for the table; AuditDomain (with AuditNic) is their JSON form.
  const results: Array<Omit<AuditDomain, "config" | "live"> & { config: NicReport[] | null; live: NicReport[] | null }> = [];
  const all: NicReport[] = [];
  let errorCode: number = EXIT.OK;
  for (const d of domains) {
    const entry: (typeof results)[number] = {
      name: d.name,
      state: d.active ? "running" : "shut off",
      persistent: d.persistent,
      config: null,
      live: null,
      error: null,
    };
    try {
      if (d.active) entry.state = await virsh.domainState(d.name);
      const judge = async (view: "config" | "live") => {
        const xml = await virsh.dumpxml(d.name, view);
        const file = `${view === "config" ? "persistent" : "live"} definition of domain '${d.name}'`;
        const nics = transform(xml, policy, host, { file, checkOnly: true, root: "domain" }).nics;
        all.push(...nics);
        return nics;
      };
      if (d.persistent) entry.config = await judge("config");
      if (d.active) entry.live = await judge("live");
    } catch (error) {
      // A daemon that does not answer would not answer for the next domain either: stop here.
      if (!(error instanceof NwfilterHookError) || isTimeout(error)) throw error;
      entry.error = formatError(error);
      errorCode = exitCodeFor(error);
      ctx.stderr(`nwfilter-hook: audit: domain '${d.name}': ${entry.error}\n`);
    }
    results.push(entry);
  }

  const counts = countStatuses(all);
  const unfit = all.filter((n) => n.problem !== undefined).length;
  // clean-traffic drops all IPv6: said for the networks whose NICs get it and that have IPv6 addresses.
  const networks = [...new Set(all.filter((n) => n.type === "network" && n.wanted && n.source).map((n) => (n.source as string).replace(/\/.*$/, "")))];
  const warnings = networks.length === 0 ? [] : reviewPolicy(policy, host, networks).warnings.filter((w) => w.startsWith("network '"));
  if (options.json) {
    const doc = {
      policy: {
        source: policy.source,
        filter: policy.filter,
        onMissing: policy.onMissing,
        onExisting: policy.onExisting,
        domainMetadata: policy.domainMetadata,
        active: isActive(policy),
      },
      domains: results.map((r): AuditDomain => ({ ...r, config: r.config?.map(toJson) ?? null, live: r.live?.map(toJson) ?? null })),
      warnings,
      summary: { domains: results.length, interfaces: all.length, ...counts, unfit },
    };
    ctx.stdout(`${JSON.stringify(doc, null, 2)}\n`);
  } else {
    const rows: string[][] = [];
    const notes: string[] = [];
    for (const r of results) {
      const views: Array<[string, NicReport[] | null]> = [
        ["config", r.config],
        ["live", r.live],
      ];
      for (const [view, nics] of views) {
        if (nics === null) continue;
        if (nics.length === 0) rows.push([r.name, r.state, view, "-", "-", "-", "-", "-", "(no interfaces)"]);
        for (const n of nics) {
          const wanted = n.wanted ? filterText(n.wanted.filter, n.wanted.parameters) : "-";
          const actual = n.filter === undefined ? "-" : filterText(n.filter, n.parameters);
          const status = `${statusText(n)}${n.problem ? " (cannot be instantiated)" : ""}`;
          rows.push([r.name, r.state, view, n.mac ?? "-", n.type || "-", n.source ?? "-", wanted, actual, status]);
          const where = `${r.name} ${view}`;
          if (n.problem) notes.push(`audit: ${where}: ${leftAloneText(n, policy.domainMetadata).replace(/: left alone/, "")}`);
          if (n.ignored) notes.push(`audit: ${where}: ${n.mac ?? `interface #${n.index + 1}`}: ignored ${n.ignored}`);
        }
      }
      if (r.error !== null) rows.push([r.name, r.state, "-", "-", "-", "-", "-", "-", `error: ${r.error}`]);
    }
    if (rows.length > 0) ctx.stdout(table(["DOMAIN", "STATE", "VIEW", "MAC", "TYPE", "SOURCE", "WANTED", "ACTUAL", "STATUS"], rows));
    for (const note of notes) ctx.stdout(`${note}\n`);
    for (const w of warnings) ctx.stdout(`audit: warning: ${w}\n`);
    const summary = STATUSES.map((s) => `${counts[s]} ${s}`).join(", ");
    ctx.stdout(
      `audit: ${results.length} domain${results.length === 1 ? "" : "s"}, ${all.length} interface${all.length === 1 ? "" : "s"} (persistent and live views): ${summary}` +
        `${unfit > 0 ? `; ${unfit} whose filter cannot be instantiated` : ""}; default filter '${policy.filter}', policy ${policy.source}\n`,
    );
    if (!isActive(policy)) ctx.stdout("audit: filtering is off in the policy: every interface counts as exempt\n");
    const stale = results.filter((r) => (r.live ?? []).some((n) => n.status === "stale")).map((r) => r.name);
    if (stale.length > 0) ctx.stdout(`audit: running interfaces differ from the policy (stale) in: ${stale.join(", ")}\n`);
    const fixable = results.filter((r) => [...(r.config ?? []), ...(r.live ?? [])].some((n) => (n.status === "missing" || n.status === "stale") && !n.problem));
    if (fixable.length > 0) ctx.stdout(`audit: fix with: nwfilter-hook apply --live ${fixable.map((r) => shellWord(r.name)).join(" ")}\n`);
  }
  if (errorCode !== EXIT.OK) return errorCode;
  return all.some(finding) ? EXIT.FINDINGS : EXIT.OK;
}
