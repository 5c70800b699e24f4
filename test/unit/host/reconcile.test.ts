// reconcileDomain (src/host/reconcile.ts) with a fake VirshRunner: a definition that someone else
// changes between the read and the define is read again and their change kept; one that keeps
// changing is left alone after five attempts; a compliant domain gets no write.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import type { HostFacts } from "../../../src/core/host-facts.js";
import { parsePolicy } from "../../../src/core/policy.js";
import { reconcileDomain, type ReconcileLine } from "../../../src/host/reconcile.js";
import { Virsh, type VirshResult } from "../../../src/host/virsh.js";

const host: HostFacts = {
  network: () => undefined,
  bridge: () => "linux",
  filterDefined: () => true,
  // Defined, with no variables to give.
  filter: (name) => ({ path: `/etc/libvirt/nwfilter/${name}.xml`, text: `<filter name='${name}' chain='root'/>` }),
};
const policy = parsePolicy("", "(defaults)");
const REF = "<filterref filter='vdsm-no-mac-spoofing'/>";
const domain = (description: string, filter = false) =>
  `<domain type='kvm'>\n  <name>web1</name>\n  <description>${description}</description>\n  <devices>\n    <interface type='bridge'>\n      <mac address='52:54:00:00:00:01'/>\n      <source bridge='br0'/>\n${filter ? `      ${REF}\n` : ""}    </interface>\n  </devices>\n</domain>\n`;

/** A runner whose nth `dumpxml --inactive` answers reads[n] (the last one from then on), and which records the defines. */
function fake(reads: string[]) {
  const calls: string[] = [];
  const defined: string[] = [];
  let n = 0;
  const ok = (stdout: string): VirshResult => ({ status: 0, stdout, stderr: "" });
  const virsh = new Virsh({
    uri: "test:///fake",
    run: (args) => {
      calls.push(args[0] === "define" ? "define" : args.join(" "));
      if (args[0] === "dumpxml") return Promise.resolve(ok((reads[Math.min(n++, reads.length - 1)] as string) + "\n"));
      if (args[0] === "define") {
        defined.push(readFileSync(args[1] as string, "utf8"));
        return Promise.resolve(ok("Domain 'web1' defined\n"));
      }
      return Promise.reject(new Error(`unexpected: virsh ${args.join(" ")}`));
    },
  });
  return { virsh, calls, defined };
}

const NO_NICS = { compliant: 0, missing: 0, stale: 0, exempt: 0, ineligible: 0, "other-filter": 0 };
const d = { name: "web1", uuid: "00000000-0000-4000-8000-000000000001", active: false, persistent: true };

describe("reconcileDomain", () => {
  it("a definition changed between the read and the define: read again, their change kept, the filter added on top", async () => {
    const f = fake([domain("ours"), domain("theirs"), domain("theirs"), domain("theirs")]);
    const said: string[] = [];
    const kinds: ReconcileLine[] = [];
    const say = (l: string, k: ReconcileLine) => void (said.push(l), kinds.push(k));
    expect(await reconcileDomain(f.virsh, d, policy, host, { live: false, dryRun: false }, say)).toEqual({
      changed: true,
      leftAlone: 0,
      fixed: 1,
      // The NIC it gave the filter counts as compliant.
      nics: { ...NO_NICS, compliant: 1 },
    });
    expect(f.calls).toEqual([
      `dumpxml --inactive --security-info ${d.uuid}`,
      `dumpxml --inactive --security-info ${d.uuid}`,
      `dumpxml --inactive --security-info ${d.uuid}`,
      `dumpxml --inactive --security-info ${d.uuid}`,
      "define",
    ]);
    expect(f.defined).toHaveLength(1);
    expect(f.defined[0]).toContain("<description>theirs</description>");
    expect(f.defined[0]).toContain(REF);
    expect(said).toEqual([
      "web1: definition: changed by someone else meanwhile; reading it again",
      "web1: definition: added filter 'vdsm-no-mac-spoofing' to 52:54:00:00:00:01 (type bridge, source br0)",
    ]);
    // The watcher weighs the lines by their kind, not by their words.
    expect(kinds).toEqual(["retry", "change"]);
  });

  it("a definition that keeps changing is left alone after five attempts, with an error", async () => {
    const reads = Array.from({ length: 12 }, (_, i) => domain(`edit ${i}`));
    const f = fake(reads);
    await expect(reconcileDomain(f.virsh, d, policy, host, { live: false, dryRun: false }, () => {})).rejects.toThrow(
      "the definition kept changing while it was being fixed (5 attempts): left alone",
    );
    expect(f.defined).toEqual([]);
    expect(f.calls).toHaveLength(10);
  });

  it("the check just before the define runs after beforeDefine (the window a test holds open)", async () => {
    const order: string[] = [];
    const f = fake([domain("ours")]);
    const virsh = new Virsh({
      uri: f.virsh.uri,
      run: (args, o) => (order.push(args[0] as string), f.virsh.runner.run(args, o)),
    });
    await reconcileDomain(virsh, d, policy, host, { live: false, dryRun: false, beforeDefine: () => void order.push("hold") }, () => {});
    expect(order).toEqual(["dumpxml", "hold", "dumpxml", "define"]);
  });

  it("a dry run counts what it would fix, and the NIC as it stands", async () => {
    const f = fake([domain("ours")]);
    expect(await reconcileDomain(f.virsh, d, policy, host, { live: false, dryRun: true }, () => {})).toEqual({
      changed: true,
      leftAlone: 0,
      fixed: 1,
      nics: { ...NO_NICS, compliant: 1 },
    });
    expect(f.defined).toEqual([]);
  });

  it("a compliant definition gets no write", async () => {
    const f = fake([domain("ours", true)]);
    const said: string[] = [];
    expect(await reconcileDomain(f.virsh, d, policy, host, { live: false, dryRun: false }, (l) => said.push(l))).toEqual({
      changed: false,
      leftAlone: 0,
      fixed: 0,
      nics: { ...NO_NICS, compliant: 1 },
    });
    expect(f.calls).toEqual([`dumpxml --inactive --security-info ${d.uuid}`]);
    expect(said).toEqual(["web1: definition: nothing to do (1 compliant)"]);
  });
});
