// Which policy file a command uses, the file `install` writes, and the effective policy as text.
import { DEFAULT_POLICY_PATH, ENV_POLICY } from "../core/constants.js";
import { parametersText } from "../core/filter-params.js";
import { DEFAULT_POLICY, isActive, type ChoiceSection, type Policy } from "../core/policy.js";
import { loadPolicy } from "../host/policy-file.js";
import type { Context } from "./context.js";
import { bakedPolicyPath, findInstalledHooks } from "./hook-file.js";

export interface PolicyLocation {
  path: string;
  /** Where the path came from, for messages. */
  origin: string;
}

/**
 * --policy, else NWFILTER_HOOK_POLICY, else (when asked) the path the installed hook reads, else
 * the default: the CLI judges with the policy the hook enforces.
 */
export function policyLocation(ctx: Context, flag: string | undefined, hooksDir: string | undefined): PolicyLocation {
  if (flag !== undefined && flag !== "") return { path: flag, origin: "--policy" };
  const env = ctx.env[ENV_POLICY];
  if (env !== undefined && env !== "") return { path: env, origin: ENV_POLICY };
  if (hooksDir !== undefined) {
    const hook = findInstalledHooks(ctx.files, hooksDir)[0];
    if (hook) return { path: bakedPolicyPath(hook.text), origin: `read by the installed hook ${hook.path}` };
  }
  return { path: DEFAULT_POLICY_PATH, origin: "default" };
}

export function readPolicy(ctx: Context, location: PolicyLocation): Policy {
  return loadPolicy(location.path, { euid: ctx.euid });
}

/** The policy file `install` writes when there is none: every key, commented out, at its default. */
export function defaultPolicyText(): string {
  const d = DEFAULT_POLICY;
  return `# nwfilter-hook policy: which VM network interfaces must reference the anti-MAC-spoofing
# nwfilter. Read by the libvirt qemu hook at every VM start, restore and incoming migration, and
# by the nwfilter-hook CLI. Every key is shown at its default, commented out: remove the ';' to
# change one. Check the file after editing it with:  nwfilter-hook check

[filtering]
# Master switch (oVirt's EnableMACAntiSpoofingFilterRules): true or false.
;EnableMACAntiSpoofingFilterRules = ${d.enabled}
# Cluster compatibility level, a dotted version; filtering applies from 3.2 on.
;ClusterLevel = ${d.clusterLevel}
# The nwfilter every eligible interface must reference (define it with: nwfilter-hook define-filter).
;Filter = ${d.filter}
# An interface without the filter at VM start: enforce (refuse the start), audit (log, start),
# or watch (start only while a healthy watcher, nwfilter-hook-watch.service, protects it live).
;OnMissing = ${d.onMissing}
# An interface that references another filter: keep it, or replace it with Filter.
;OnExisting = ${d.onExisting}
# Seconds between the watcher's full resyncs (10 to 86400).
;ResyncInterval = ${d.resyncInterval}
# May a domain's metadata exempt its interfaces and choose their filters and parameters? trust,
# or ignore (the policy file is the only judge: for hosts whose domain writers are not its admins).
;DomainMetadata = ${d.domainMetadata}

[exempt]
# Comma-separated lists. Domain-name globs, e.g.: lab-*, nested-router
;Domains =
# libvirt network names, e.g.: trunk
;Networks =
# Host bridge names, e.g.: br-trunk
;Bridges =
# Interface MAC addresses, any case, e.g.: 52:54:00:aa:bb:cc
;MACs =

# The filter an interface gets, by libvirt network, host bridge or domain-name glob; the most
# specific wins: the interface's own metadata, [domain:GLOB] (the first that matches), then
# [network:NAME], [bridge:NAME], and Filter above. Filter is a name or none (no filter required);
# Parameters are NAME=VALUE pairs (a name may repeat; MAC is filled in by libvirt). A section with
# Parameters only adds them to the filter a less specific level chose. Examples:
;[network:prod]
;Filter = clean-traffic
;Parameters = IP=192.0.2.10, IP=192.0.2.11, CTRL_IP_LEARNING=none
;[bridge:br-storage]
;Filter = none
;[domain:gw-*]
;Filter = clean-traffic-gateway
;Parameters = GATEWAY_MAC=52:54:00:00:00:fe
# Custom filters (a filter that includes others, say): NAME.xml in /etc/nwfilter-hook/filters,
# defined by nwfilter-hook install and nwfilter-hook define-filter.
`;
}

/**
 * The effective policy, in the policy file's own syntax; each choice section (in file order) with
 * what it chooses, when `effects` says it.
 */
export function policyText(policy: Policy, effects?: ReadonlyArray<{ section: ChoiceSection; effect: string }>): string {
  const list = (items: string[]) => items.join(", ");
  const lines = [
    `# effective policy (${policy.source})`,
    "[filtering]",
    `EnableMACAntiSpoofingFilterRules = ${policy.enabled}`,
    `ClusterLevel = ${policy.clusterLevel}`,
    `Filter = ${policy.filter}`,
    `OnMissing = ${policy.onMissing}`,
    `OnExisting = ${policy.onExisting}`,
    `ResyncInterval = ${policy.resyncInterval}`,
    `DomainMetadata = ${policy.domainMetadata}${policy.domainMetadata === "ignore" ? "   ; the policy file is the only judge: metadata choices and exemptions are ignored" : ""}`,
    "",
    "[exempt]",
    `Domains = ${list(policy.exempt.domains)}`,
    `Networks = ${list(policy.exempt.networks)}`,
    `Bridges = ${list(policy.exempt.bridges)}`,
    `MACs = ${list(policy.exempt.macs)}`,
  ];
  if (policy.sections.some((s) => s.kind === "domain")) {
    lines.push("", "# [domain:GLOB] sections are asked in this order: the first whose glob matches a domain's name wins.");
  }
  for (const section of policy.sections) {
    lines.push("", `[${section.kind}:${section.name}]`);
    if (section.filter !== undefined) lines.push(`Filter = ${section.filter ?? "none"}`);
    if (section.parameters.length > 0) lines.push(`Parameters = ${parametersText(section.parameters)}`);
    const effect = effects?.find((e) => e.section === section)?.effect;
    if (effect !== undefined) lines.push(`# -> ${effect}`);
  }
  if (!isActive(policy)) {
    lines.push(
      "",
      policy.enabled ? `# filtering is OFF: ClusterLevel ${policy.clusterLevel} is below 3.2` : "# filtering is OFF: EnableMACAntiSpoofingFilterRules = false",
    );
  }
  return `${lines.map((l) => l.replace(/ $/, "")).join("\n")}\n`;
}
