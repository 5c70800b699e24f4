// What `check` says about a policy beyond its syntax: the choice each section makes, in file
// order, and warnings: a chosen filter whose variables no level gives (libvirt would fail every
// start it concerns), one that includes a filter not defined here, and a choice that drops the
// IPv6 of a network that has IPv6 addresses (clean-traffic lets only IPv4 and ARP through).
import type { NicMetadata } from "./exemptions.js";
import { Chooser, DEFAULT_LEVEL, level, resolve, type Choice } from "./filter-choice.js";
import { problemText, wantedText } from "./filter-messages.js";
import { FilterWalker } from "./filter-variables.js";
import type { HostFacts } from "./host-facts.js";
import { classifyNetwork } from "./network.js";
import type { Policy } from "./policy.js";
import { choiceLabel, type ChoiceSection } from "./policy-sections.js";
import { attr, children, parseXml, type XmlElement } from "./xml.js";

/** Filters that let only IPv4 and ARP through, as far as a filter's tree shows. */
const IPV4_ONLY = ["clean-traffic", "clean-traffic-gateway"];

export interface PolicyReview {
  /** Per section, in file order, what it chooses for a NIC that only it (and what lies below it) concerns. */
  effects: Array<{ section: ChoiceSection; effect: string }>;
  warnings: string[];
}

/** A network's bridge and whether it has IPv6 addresses, from its definition; undefined when it has none here. */
function networkFacts(host: HostFacts, name: string): { bridge: string | undefined; ipv6: boolean } | undefined {
  const def = host.network(name);
  if (def === undefined) return undefined;
  const kind = classifyNetwork(def.text, def.path, undefined);
  const root = parseXml(def.text, def.path);
  const network: XmlElement = root.name === "networkstatus" ? (children(root, "network")[0] ?? root) : root;
  const ipv6 = children(network, "ip").some((ip) => attr(ip, "family") === "ipv6");
  return { bridge: kind.eligible ? kind.bridge : undefined, ipv6 };
}

function choiceText(c: Choice): string {
  if (c.filter === null) return `no filter (Filter = none from ${c.from})`;
  return `nwfilter ${wantedText({ filter: c.filter, parameters: c.parameters, chosen: c.parameters, from: c.from })}`;
}

/** Reviews the policy against this host's filters and networks (`networks`: the names to look at for IPv6). */
export function reviewPolicy(policy: Policy, host: HostFacts, networks: readonly string[]): PolicyReview {
  const walker = new FilterWalker(host);
  const nobody = new Map<string, NicMetadata>();
  const warnings: string[] = [];
  const effects: PolicyReview["effects"] = [];
  const judged = new Set<string>();
  const judge = (c: Choice, where: string) => {
    if (c.filter === null) return;
    const key = `${c.filter}\0${c.parameters.map((p) => `${p.name}=${p.value}`).join(",")}`;
    if (judged.has(key)) return;
    judged.add(key);
    const problem = walker.problem(c.filter, c.parameters);
    if (problem?.kind === "variables") {
      const names = problem.missing.join(", ");
      const others = policy.domainMetadata === "trust" ? ", a more specific section, or each NIC's metadata or own filterref" : " or a more specific section";
      warnings.push(
        `${where} chooses nwfilter '${c.filter}', which needs ${names}: give ${problem.missing.length === 1 ? "it" : "them"} there (Parameters = ...)${others}, or libvirt fails the start of every NIC it concerns`,
      );
    } else if (problem && !(problem.kind === "undefined" && problem.missing === problem.filter)) {
      // A chosen filter that is not defined at all is check's own finding, with the others it checks.
      warnings.push(`${where} chooses nwfilter '${c.filter}': ${problemText(problem)}`);
    }
  };

  for (const section of policy.sections) {
    const label = choiceLabel(section);
    let choice: Choice;
    let note = "";
    if (section.kind === "domain") {
      // For a NIC of a domain it is the first to match, without metadata, network or bridge sections.
      choice = resolve([level(section), { filter: policy.filter, parameters: [], label: DEFAULT_LEVEL }]);
    } else if (section.kind === "network") {
      const facts = networkFacts(host, section.name);
      if (facts === undefined) note = " (no such network is defined here)";
      choice = new Chooser(policy, undefined, nobody).choose(undefined, section.name, facts?.bridge);
    } else {
      choice = new Chooser(policy, undefined, nobody).choose(undefined, undefined, section.name);
    }
    effects.push({ section, effect: `${choiceText(choice)}${note}` });
    judge(choice, label);
  }
  judge({ filter: policy.filter, parameters: [], from: DEFAULT_LEVEL }, "[filtering] Filter");

  for (const name of networks) {
    const facts = networkFacts(host, name);
    if (!facts?.ipv6) continue;
    const choice = new Chooser(policy, undefined, nobody).choose(undefined, name, facts.bridge);
    if (choice.filter === null) continue;
    const tree = walker.tree(choice.filter);
    const dropper = IPV4_ONLY.find((f) => tree.filters.has(f));
    if (dropper !== undefined) {
      warnings.push(
        `network '${name}' has IPv6 addresses, but its NICs get nwfilter '${choice.filter}' (from ${choice.from})${dropper === choice.filter ? "" : `, which includes '${dropper}'`}: it lets only IPv4 and ARP through and drops all IPv6`,
      );
    }
  }
  return { effects, warnings };
}
