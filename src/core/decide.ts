// The hook's decisions, as data: given the call, the domain XML, the policy and the host facts,
// what to print, what to log and how to exit. src/hook/main.ts does the reading and writing.
import { PRODUCT } from "./constants.js";
import type { HookOp } from "./hook-op.js";
import type { HostFacts } from "./host-facts.js";
import { problemText, wantedText, whereToGive } from "./filter-messages.js";
import { parametersText } from "./filter-params.js";
import type { FilterProblem, Wanted } from "./nic-report.js";
import type { DomainMetadata, Policy } from "./policy.js";
import { shellWord } from "./shell-word.js";
import { transform, type NicReport } from "./transform.js";
import type { XmlBytes } from "./xml-bytes.js";

/** A syslog priority, as the hook shell (src/host/syslog.ts) writes it. */
export type Priority = "err" | "warning" | "notice";

export const EXIT_OK = 0;
export const EXIT_REFUSED = 1;
export const EXIT_ERROR = 2;

export interface HookOutcome {
  exitCode: number;
  /** The domain XML for libvirt: bytes when the input came as bytes (decodeXml()), else text. */
  stdout?: string | Uint8Array;
  /** One line, without the trailing newline. */
  stderr?: string;
  log?: { priority: Priority; message: string };
}

/**
 * How many NICs a message names one by one. libvirt shows a refusal's stderr to whoever started
 * the domain, and syslog lines are short (logger's default is 1 KiB), so the rest are counted.
 */
export const LISTED_NICS = 8;

/** Some of a call's NICs: the first LISTED_NICS of them, and how many there are in all. */
class Listing {
  readonly first: NicReport[] = [];
  count = 0;

  add(nic: NicReport): void {
    if (this.first.length < LISTED_NICS) this.first.push(nic);
    this.count++;
  }
}

function listed(items: Listing, show: (nic: NicReport) => string, separator = "; "): string {
  const shown = items.first.map(show);
  if (items.count > LISTED_NICS) shown.push(`and ${items.count - LISTED_NICS} more`);
  return shown.join(separator);
}

export function describeNic(nic: NicReport): string {
  const parts = [`type ${nic.type || "(none)"}`];
  if (nic.source !== undefined) parts.push(`source ${nic.source}`);
  if (nic.filter !== undefined) parts.push(`filter ${nic.filter}`);
  return `${nic.mac ?? `interface #${nic.index + 1}`} (${parts.join(", ")})`;
}

/** What the hook knows of the watcher, from its status file (src/host/watch-status.ts). */
export interface WatcherHealth {
  healthy: boolean;
  /** "pid 1234, last heard from 3 s ago", or why it is not healthy. */
  detail: string;
}

/** The few NICs a refusal names, and whether all of those it counts lack the same thing. */
class Lacking extends Listing {
  text: string | undefined;
  mixed = false;

  override add(nic: NicReport): void {
    super.add(nic);
    const text = nic.wanted && !nic.problem ? wantedText(nic.wanted) : undefined;
    if (this.count === 1) this.text = text;
    else if (text === undefined || text !== this.text) this.mixed = true;
  }

  /** `1 interface(s) lack nwfilter 'x': NIC; NIC`, or each NIC with what it lacks. */
  describe(mode: DomainMetadata): string {
    if (!this.mixed && this.text !== undefined) return `${this.count} interface(s) lack nwfilter ${this.text}: ${listed(this, describeNic)}`;
    return `${this.count} interface(s) lack their nwfilter: ${listed(this, (n) => `${describeNic(n)} lacks nwfilter ${n.wanted ? wantedText(n.wanted) : "?"}${problemNote(n, mode)}`)}`;
  }
}

/** `, but ...: give it in ...` for a NIC whose wanted filterref libvirt would refuse. */
function problemNote(n: NicReport, mode: DomainMetadata): string {
  const p = n.problem;
  if (!p || !n.wanted) return "";
  const hint =
    p.kind === "variables" ? `; ${whereToGive(n.wanted, p.missing, mode)}` : p.kind === "undefined" ? `; define it with: ${PRODUCT} define-filter` : "";
  return `, but ${problemText(p)}${hint}`;
}

/** The NICs whose filterref libvirt would refuse for its variables, each with what it lacks and where to give it. */
function unresolvableText(items: Listing, mode: DomainMetadata): string {
  return listed(items, (n) => {
    const w = n.wanted as Wanted;
    const p = n.problem as FilterProblem;
    const hint = p.kind === "variables" ? `; ${whereToGive(w, p.missing, mode)}` : "";
    return `${describeNic(n)} with nwfilter ${wantedText(w)}: ${problemText(p)}${hint}`;
  });
}

/** The filters libvirt would not find, named once each: `nwfilter 'x' is not defined ...` or, `referenced`, `nwfilter 'x', which is not defined ...`. */
function undefinedText(items: Listing, referenced: boolean): string {
  const seen = new Set<string>();
  for (const n of items.first) {
    const p = n.problem;
    if (p?.kind !== "undefined") continue;
    if (!referenced) seen.add(problemText(p));
    else if (p.missing === p.filter) seen.add(`nwfilter '${p.filter}', which is not defined on this host`);
    else seen.add(`nwfilter '${p.filter}', which ${problemText(p).replace(/^nwfilter '[^']*' /, "")}`);
  }
  return [...seen].join("; ");
}

/** `added 'x' (IP=...) on NIC`, `replaced filter y with 'x' on NIC`, `rewrote filter y as 'x' (...) on NIC`. */
function actionText(n: NicReport): string {
  const w = n.wanted as Wanted;
  const params = w.parameters.length > 0 ? ` (${parametersText(w.parameters)})` : "";
  if (n.action === "replaced") return `replaced filter ${n.filter} with '${w.filter}' on ${describeNic(n)}`;
  if (n.action === "rewritten") return `rewrote filter ${n.filter} as '${w.filter}'${params} on ${describeNic(n)}`;
  return `added '${w.filter}'${params} on ${describeNic(n)}`;
}

/**
 * `watcher` is asked only when OnMissing=watch has to decide on a start that lacks the filter:
 * the other paths never read its status.
 */
export function decide(op: HookOp, domainArg: string, input: string | XmlBytes, policy: Policy, host: HostFacts, watcher?: () => WatcherHealth): HookOutcome {
  const xml = typeof input === "string" ? input : input.bytes;
  // Only what the messages name is kept: a domain may have 65,536 NICs, and a start judges them all.
  const replace = policy.onExisting === "replace";
  const mode = policy.domainMetadata;
  const notFound = new Listing();
  // NICs that lack their chosen filterref: none, a stale one, or (OnExisting=replace) another filter.
  const missing = new Lacking();
  const changed = new Listing();
  // NICs that will carry their chosen filterref when libvirt starts them, but libvirt would refuse it.
  const unresolvable = new Listing();
  const undefinedFilter = new Listing();
  const onNic = (n: NicReport) => {
    if (n.reason === "network-not-found") notFound.add(n);
    if (n.status === "missing" || n.status === "stale" || (n.status === "other-filter" && replace)) missing.add(n);
    if (n.action !== undefined) changed.add(n);
    const carries = n.status === "compliant" || n.action !== undefined;
    if (carries && n.problem) (n.problem.kind === "undefined" ? undefinedFilter : unresolvable).add(n);
  };
  const result = transform(input, policy, host, { file: `domain XML of '${domainArg}' on stdin`, checkOnly: op === "prepare", root: "domain", onNic });
  const domain = result.domain ?? domainArg;
  // OnMissing=watch refuses what enforce refuses, except a start that a healthy watcher covers.
  const enforce = policy.onMissing !== "audit";
  const notes = notFound.count > 0 ? [`${listed(notFound, describeNic, ", ")}: network definition not found, left alone`] : [];
  const policyNote = `policy ${policy.source}`;
  const verb = op === "prepare" ? "start" : op;

  // libvirt would fail the start on these whatever OnMissing says: refused first.
  if (unresolvable.count > 0) {
    return refuse(
      `refusing to ${verb} domain '${domain}': ${unresolvable.count} interface(s) cannot get their nwfilter: ${unresolvableText(unresolvable, mode)} (${policyNote})`,
    );
  }

  if (op === "prepare") {
    if (missing.count > 0) {
      const what = `domain '${domain}': ${missing.describe(mode)}; fix with: ${PRODUCT} apply ${shellWord(domain)}`;
      if (policy.onMissing === "watch") {
        const health = watcher?.() ?? { healthy: false, detail: "its status is not known here" };
        if (health.healthy)
          return warn(
            EXIT_OK,
            undefined,
            `watch: ${what} (starting: the watcher, ${health.detail}, adds the filter to the running interfaces: OnMissing=watch)`,
            notes,
          );
        return refuse(
          `refusing to start ${what} (OnMissing=watch, but no healthy watcher: ${health.detail}; start nwfilter-hook-watch.service) (${policyNote})`,
        );
      }
      if (enforce) return refuse(`refusing to start ${what} (${policyNote})`);
      return warn(EXIT_OK, undefined, `audit: ${what} (starting anyway: OnMissing=audit)`, notes);
    }
    if (undefinedFilter.count > 0) {
      const what = `domain '${domain}' references ${undefinedText(undefinedFilter, true)}; define it with: ${PRODUCT} define-filter`;
      if (enforce) return refuse(`refusing to start ${what}`);
      return warn(EXIT_OK, undefined, `audit: ${what}`, notes);
    }
    return notes.length > 0 ? warn(EXIT_OK, undefined, `domain '${domain}': ${notes.join("; ")}`, []) : { exitCode: EXIT_OK };
  }

  // migrate and restore: libvirt takes stdout as the domain XML it goes on with.
  if (undefinedFilter.count > 0) {
    const what = `${undefinedText(undefinedFilter, false)}; define it with: ${PRODUCT} define-filter`;
    if (enforce) return refuse(`refusing to ${op} domain '${domain}': ${what}`);
    return warn(EXIT_OK, xml, `audit: ${op} of domain '${domain}' passes unchanged: ${what}`, notes);
  }
  if (changed.count === 0) {
    return notes.length > 0 ? warn(EXIT_OK, xml, `${op} of domain '${domain}': ${notes.join("; ")}`, []) : { exitCode: EXIT_OK, stdout: xml };
  }
  const message = `${op} of domain '${domain}': ${listed(changed, actionText)}`;
  return { exitCode: EXIT_OK, stdout: result.xml, log: { priority: "notice", message: [message, ...notes].join("; ") } };
}

function refuse(message: string): HookOutcome {
  return { exitCode: EXIT_REFUSED, stderr: `${PRODUCT}: ${message}`, log: { priority: "err", message } };
}

function warn(exitCode: number, stdout: string | Uint8Array | undefined, message: string, notes: string[]): HookOutcome {
  const full = [message, ...notes].join("; ");
  const outcome: HookOutcome = { exitCode, stderr: `${PRODUCT}: warning: ${full}`, log: { priority: "warning", message: full } };
  if (stdout !== undefined) outcome.stdout = stdout;
  return outcome;
}
