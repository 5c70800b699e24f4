// The walk of a filter's definition for the variables libvirt needs (src/core/filter-variables.ts):
// over libvirt's own definitions in /usr/share/libvirt/nwfilter (and the shipped filter), and over
// made-up trees (includes with parameters, list elements, cycles, missing filters).
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { FilterParameter } from "../../../src/core/filter-params.js";
import { FilterWalker } from "../../../src/core/filter-variables.js";
import type { HostFacts } from "../../../src/core/host-facts.js";
import { fakeHost } from "../../support/fake-host.js";
import { REPO_ROOT } from "../../support/paths.js";

const LIBVIRT_DIR = "/usr/share/libvirt/nwfilter";
const HAVE_LIBVIRT = existsSync(join(LIBVIRT_DIR, "clean-traffic.xml"));
const CI = process.env.CI === "true";

/** libvirt's definitions, and the shipped one, as a host has them defined. */
function libvirtHost(): HostFacts & { reads: string[] } {
  const reads: string[] = [];
  const read = (name: string) => {
    for (const dir of [LIBVIRT_DIR, join(REPO_ROOT, "nwfilter")]) {
      const path = join(dir, `${name}.xml`);
      if (existsSync(path)) return { path, text: readFileSync(path, "utf8") };
    }
    return undefined;
  };
  return {
    reads,
    network: () => undefined,
    bridge: () => "absent",
    filterDefined: (name) => read(name) !== undefined,
    filter: (name) => {
      reads.push(name);
      return read(name);
    },
  };
}

const P = (text: string): FilterParameter[] =>
  text === ""
    ? []
    : text.split(",").map((item) => {
        const [name = "", value = ""] = item.trim().split("=");
        return { name, value };
      });

describe.skipIf(!HAVE_LIBVIRT && !CI)("libvirt's own filters (/usr/share/libvirt/nwfilter)", () => {
  it("are there under CI", () => {
    expect(HAVE_LIBVIRT, `${LIBVIRT_DIR} is missing: install libvirt-daemon-system`).toBe(true);
  });

  it.each([
    ["clean-traffic", "", undefined],
    ["clean-traffic", "CTRL_IP_LEARNING=none", ["IP"]],
    ["clean-traffic", "CTRL_IP_LEARNING=DHCP", undefined],
    ["clean-traffic", "IP=192.0.2.10,IP=192.0.2.11,CTRL_IP_LEARNING=none", undefined],
    // libvirt names only GATEWAY_MAC, and learns IP once it is given.
    ["clean-traffic-gateway", "", ["GATEWAY_MAC"]],
    ["clean-traffic-gateway", "CTRL_IP_LEARNING=none", ["IP", "GATEWAY_MAC"]],
    ["clean-traffic-gateway", "IP=192.0.2.10", ["GATEWAY_MAC"]],
    ["clean-traffic-gateway", "GATEWAY_MAC=52:54:00:00:00:fe", undefined],
    ["allow-dhcp-server", "", ["DHCPSERVER"]],
    ["allow-dhcp-server", "DHCPSERVER=192.0.2.1", undefined],
    ["allow-dhcpv6-server", "", ["DHCPSERVER"]],
    ["no-ip-spoofing", "", undefined],
    ["no-ip-spoofing", "CTRL_IP_LEARNING=none", ["IP"]],
    ["no-arp-spoofing", "", undefined],
    ["no-ipv6-spoofing", "", ["IPV6"]],
    ["no-mac-spoofing", "", undefined],
    ["allow-arp", "", undefined],
    ["vdsm-no-mac-spoofing", "", undefined],
  ])("%s with (%s): missing %j", (filter, params, missing) => {
    const problem = new FilterWalker(libvirtHost()).problem(filter, P(params));
    expect(problem).toEqual(missing === undefined ? undefined : { kind: "variables", filter, missing });
  });

  it("an unknown CTRL_IP_LEARNING is refused, as libvirt refuses it, when IP is to be learned", () => {
    expect(new FilterWalker(libvirtHost()).problem("clean-traffic", P("CTRL_IP_LEARNING=maybe"))).toEqual({
      kind: "learning",
      filter: "clean-traffic",
      value: "maybe",
    });
  });

  it("clean-traffic's tree holds what it includes, down to the end", () => {
    const tree = new FilterWalker(libvirtHost()).tree("clean-traffic");
    expect([...tree.filters].sort()).toEqual(
      [
        "allow-incoming-ipv4",
        "clean-traffic",
        "no-arp-ip-spoofing",
        "no-arp-mac-spoofing",
        "no-arp-spoofing",
        "no-ip-spoofing",
        "no-mac-spoofing",
        "no-other-l2-traffic",
        "no-other-rarp-traffic",
        "qemu-announce-self",
        "qemu-announce-self-rarp",
      ].sort(),
    );
    expect(tree.undefinedFilter).toBeUndefined();
  });

  it("reads each definition once per walker, however many NICs ask", () => {
    const host = libvirtHost();
    const walker = new FilterWalker(host);
    for (let i = 0; i < 5; i++) {
      walker.problem("clean-traffic", P(`IP=192.0.2.${i}`));
      walker.problem("no-arp-spoofing", []);
    }
    expect(host.reads.length).toBe(new Set(host.reads).size);
    expect(host.reads).toContain("no-arp-ip-spoofing");
  });

  it("README's table of what each built-in filter needs is what the walk finds", () => {
    const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
    const start = readme.indexOf("| built-in filter |");
    expect(start, "README.md has the table of built-in filters").toBeGreaterThan(-1);
    const lines = readme.slice(start).split("\n");
    const rows = lines.slice(
      2,
      lines.findIndex((l) => !l.startsWith("|")),
    );
    const table = new Map(rows.map((r) => r.split("|").map((c) => c.trim())).map((c) => [c[1]?.replace(/`/g, "") ?? "", c[2] ?? ""]));
    const walker = new FilterWalker(libvirtHost());
    const names = readdirSync(LIBVIRT_DIR)
      .filter((f) => f.endsWith(".xml"))
      .map((f) => f.slice(0, -4))
      .sort();
    const derived = new Map(names.map((n) => [n, needsText(walker, n)]));
    expect(Object.fromEntries(table)).toEqual(Object.fromEntries(derived));
  });
});

/** What README's table says a filter needs: `MAC`, `IP` (learned) and what must be given. */
function needsText(walker: FilterWalker, name: string): string {
  const names = [...new Set(walker.tree(name).uses.map((u) => u.name))];
  const parts: string[] = [];
  if (names.includes("MAC")) parts.push("MAC (automatic)");
  if (names.includes("IP")) parts.push("IP (learned unless CTRL_IP_LEARNING = none)");
  const given = names.filter((n) => n !== "MAC" && n !== "IP");
  if (given.length > 0) parts.push(`**${given.join(", ")}** (must be given)`);
  return parts.length === 0 ? "nothing" : parts.join(", ");
}

describe("made-up trees", () => {
  const def = (name: string, body: string) => `<filter name='${name}' chain='root'>\n${body}</filter>\n`;
  const rule = (attrs: string) => `  <rule action='accept' direction='out'><ip ${attrs}/></rule>\n`;
  const ref = (name: string, params = "") =>
    params === ""
      ? `  <filterref filter='${name}'/>\n`
      : `  <filterref filter='${name}'>${P(params)
          .map((p) => `<parameter name='${p.name}' value='${p.value}'/>`)
          .join("")}</filterref>\n`;

  it("an include's own parameters stand in for the included filter's variables", () => {
    const host = fakeHost({ filterDefs: { outer: def("outer", ref("inner", "PORT=53")), inner: def("inner", rule("dstportstart='$PORT' srcipaddr='$SRC'")) } });
    expect(new FilterWalker(host).problem("outer", [])).toEqual({ kind: "variables", filter: "outer", missing: ["SRC"] });
    expect(new FilterWalker(host).problem("outer", P("SRC=10.0.0.1"))).toBeUndefined();
    // The included filter alone needs both.
    expect(new FilterWalker(host).problem("inner", [])).toEqual({ kind: "variables", filter: "inner", missing: ["PORT", "SRC"] });
  });

  it("list elements: $X[N] needs N + 1 values; an include's own list cannot be lengthened by the NIC", () => {
    const host = fakeHost({
      filterDefs: {
        lists: def("lists", rule("srcipaddr='$ADDR[2]'")),
        wraps: def("wraps", ref("lists", "ADDR=10.0.0.1")),
      },
    });
    const walker = new FilterWalker(host);
    expect(walker.problem("lists", P("ADDR=1,ADDR=2"))).toEqual({ kind: "variables", filter: "lists", missing: ["ADDR[2]"] });
    expect(walker.problem("lists", P("ADDR=1,ADDR=2,ADDR=3"))).toBeUndefined();
    expect(walker.problem("wraps", P("ADDR=1,ADDR=2,ADDR=3"))).toEqual({ kind: "variables", filter: "wraps", missing: ["ADDR[2]"] });
  });

  it("iterators ($X[@N]) need the variable only, and are named as libvirt names them", () => {
    const host = fakeHost({ filterDefs: { it: def("it", rule("srcipaddr='$A[@1]' dstipaddr='$B[@0]'")) } });
    expect(new FilterWalker(host).problem("it", [])).toEqual({ kind: "variables", filter: "it", missing: ["A[@1]", "B"] });
    expect(new FilterWalker(host).problem("it", P("A=1,B=2"))).toBeUndefined();
  });

  it("IP is learned only when it is the one variable missing; the others are named, as libvirt names them", () => {
    const host = fakeHost({ filterDefs: { two: def("two", rule("srcipaddr='$IP' dstipaddr='$PEER'")) } });
    expect(new FilterWalker(host).problem("two", [])).toEqual({ kind: "variables", filter: "two", missing: ["PEER"] });
    expect(new FilterWalker(host).problem("two", P("PEER=10.0.0.2"))).toBeUndefined();
    expect(new FilterWalker(host).problem("two", P("CTRL_IP_LEARNING=none"))).toEqual({ kind: "variables", filter: "two", missing: ["IP", "PEER"] });
  });

  it("MAC is always there, and a value that does not start with $ is no variable", () => {
    const host = fakeHost({ filterDefs: { m: def("m", rule("srcmacaddr='$MAC' dstipaddr='10.0.0.1' comment='costs $5'")) } });
    expect(new FilterWalker(host).problem("m", [])).toBeUndefined();
  });

  it("a cycle ends the walk (libvirt refuses one at define time anyway)", () => {
    const host = fakeHost({ filterDefs: { a: def("a", ref("b") + rule("srcipaddr='$X'")), b: def("b", ref("a") + rule("dstipaddr='$Y'")) } });
    expect(new FilterWalker(host).problem("a", [])).toEqual({ kind: "variables", filter: "a", missing: ["Y", "X"] });
  });

  it("a filter of the tree that is not defined here, with the way to it", () => {
    const host = fakeHost({ filterDefs: { top: def("top", ref("mid")), mid: def("mid", ref("gone")) } });
    expect(new FilterWalker(host).problem("top", [])).toEqual({ kind: "undefined", filter: "top", missing: "gone", via: ["mid", "gone"] });
    expect(new FilterWalker(host).problem("nowhere", [])).toEqual({ kind: "undefined", filter: "nowhere", missing: "nowhere", via: [] });
  });

  it("a definition that is not a <filter> is an error naming its file", () => {
    const host = fakeHost({ filterDefs: { odd: "<network/>" } });
    expect(() => new FilterWalker(host).problem("odd", [])).toThrow(/expected an nwfilter definition/);
  });
});
