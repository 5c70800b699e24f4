// `audit [DOMAIN...] [--json]`: every NIC of every (or the named) domain, in its persistent
// definition and, when it runs, its live state. Exit 1 when any NIC is `missing`.
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
import { statusText, table } from "../format.js";
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
  filter: string | null;
  status: NicStatus;
  reason: string | null;
  detail: string | null;
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
    status: nic.status,
    reason: nic.reason ?? null,
    detail: nic.detail ?? null,
  };
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
  if (options.json) {
    const doc = {
      policy: { source: policy.source, filter: policy.filter, onMissing: policy.onMissing, onExisting: policy.onExisting, active: isActive(policy) },
      domains: results.map((r): AuditDomain => ({ ...r, config: r.config?.map(toJson) ?? null, live: r.live?.map(toJson) ?? null })),
      summary: { domains: results.length, interfaces: all.length, ...counts },
    };
    ctx.stdout(`${JSON.stringify(doc, null, 2)}\n`);
  } else {
    const rows: string[][] = [];
    for (const r of results) {
      const views: Array<[string, NicReport[] | null]> = [
        ["config", r.config],
        ["live", r.live],
      ];
      for (const [view, nics] of views) {
        if (nics === null) continue;
        if (nics.length === 0) rows.push([r.name, r.state, view, "-", "-", "-", "-", "(no interfaces)"]);
        for (const n of nics) rows.push([r.name, r.state, view, n.mac ?? "-", n.type || "-", n.source ?? "-", n.filter ?? "-", statusText(n)]);
      }
      if (r.error !== null) rows.push([r.name, r.state, "-", "-", "-", "-", "-", `error: ${r.error}`]);
    }
    if (rows.length > 0) ctx.stdout(table(["DOMAIN", "STATE", "VIEW", "MAC", "TYPE", "SOURCE", "FILTER", "STATUS"], rows));
    const summary = STATUSES.map((s) => `${counts[s]} ${s}`).join(", ");
    ctx.stdout(
      `audit: ${results.length} domain${results.length === 1 ? "" : "s"}, ${all.length} interface${all.length === 1 ? "" : "s"} (persistent and live views): ${summary}; filter '${policy.filter}', policy ${policy.source}\n`,
    );
    if (!isActive(policy)) ctx.stdout("audit: filtering is off in the policy: every interface counts as exempt\n");
    if (counts.missing > 0) {
      const names = results.filter((r) => [...(r.config ?? []), ...(r.live ?? [])].some((n) => n.status === "missing")).map((r) => r.name);
      ctx.stdout(`audit: fix with: nwfilter-hook apply --live ${names.map(shellWord).join(" ")}\n`);
    }
  }
  if (errorCode !== EXIT.OK) return errorCode;
  return counts.missing > 0 ? EXIT.FINDINGS : EXIT.OK;
}
