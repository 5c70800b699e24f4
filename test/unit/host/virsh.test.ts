// Virsh's listings (src/host/virsh.ts) against libvirt's in-process test driver
// (test:///default, no daemon involved), through one session so that its defines last: names
// come back exactly as defined, spaces at either end and quotes included; a lookup by name
// goes by ID first when the name reads as a number.
import { spawnSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { Virsh, WRITE_DEADLINE_MS } from "../../../src/host/virsh.js";
import { processVirshSession } from "../../../src/host/virsh-session.js";

const HAVE_VIRSH = spawnSync("virsh", ["--version"]).status === 0;
const ODD = [" lead'q\": x", "sp ace  ", "sp ace"];
const domain = (name: string) =>
  `<domain type='test'><name>${name.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</name><memory>1024</memory><os><type>hvm</type></os></domain>`;

describe.skipIf(!HAVE_VIRSH && process.env.CI !== "true")("Virsh listings on the test driver", () => {
  const runner = processVirshSession({ uri: "test:///default" });
  const virsh = new Virsh(runner);
  afterAll(() => runner.close());

  it("domainRefs(): every domain's UUID and exact name, from one call", async () => {
    for (const name of ODD) await virsh.define(domain(name));
    const calls: string[][] = [];
    const counted = new Virsh({ uri: runner.uri, run: (args, options) => (calls.push([...args]), runner.run(args, options)) });
    const refs = await counted.domainRefs();
    expect(calls).toEqual([["list", "--all", "--uuid", "--name"]]);
    expect(refs.map((r) => r.name).sort()).toEqual([...ODD, "test"].sort());
    for (const r of refs) {
      expect(r.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect((await virsh.domainInfo(r.uuid))?.uuid).toBe(r.uuid);
    }
  });

  it("domainUuid(): a name's UUID, undefined for none; a number is taken as an ID first, as virsh does", async () => {
    const test = (await virsh.domainRefs()).find((r) => r.name === "test")?.uuid;
    const spaced = (await virsh.domainRefs()).find((r) => r.name === "sp ace  ")?.uuid;
    expect(await virsh.domainUuid("sp ace  ")).toBe(spaced);
    expect(await virsh.domainUuid("no such domain")).toBeUndefined();
    await virsh.define(domain("1"));
    // The running 'test' domain has ID 1: why the watcher matches such names in a listing.
    expect(await virsh.domainUuid("1")).toBe(test);
    expect((await virsh.domainRefs()).find((r) => r.name === "1")?.uuid).not.toBe(test);
  });

  it("domainsByUuid(): the same names, with state", async () => {
    const all = await virsh.domainsByUuid();
    expect(all.map((d) => d.name)).toEqual([...ODD, "1", "test"].sort());
    expect(all.find((d) => d.name === "test")).toMatchObject({ active: true, persistent: true });
    expect(all.find((d) => d.name === "sp ace  ")).toMatchObject({ active: false, persistent: true });
  });

  it("a write is given the longer deadline, and messages never name its temporary file", async () => {
    const seen: Array<{ args: readonly string[]; timeoutMs?: number; shown?: readonly string[] }> = [];
    const recorded = new Virsh({ uri: runner.uri, run: (args, options = {}) => (seen.push({ args, ...options }), runner.run(args, options)) });
    await recorded.define(domain("deadline"));
    await recorded.domainState("deadline");
    expect(seen[0]).toMatchObject({ timeoutMs: WRITE_DEADLINE_MS, shown: ["define"] });
    expect(seen[0]?.args[1]).toMatch(/input\.xml$/);
    expect(seen[1]?.timeoutMs).toBeUndefined();
  });
});
