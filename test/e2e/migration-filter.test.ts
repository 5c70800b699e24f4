// A chosen filter and live migration, between two private libvirt daemons on this machine (a: the
// source, without the hook; b: the destination, whose policy chooses a custom filter for the
// migration bridge): b refuses the incoming migration while that filter is not defined there,
// naming it, and the VM keeps running on a; once b's custom filters are defined, the migration
// goes through and the VM runs on b with the chosen filter and its parameter. The daemons are the
// helper's own (test/e2e/helpers/two-daemons.ts); run it under the machine's libvirt lock like the
// other e2e suites (it spawns qemu).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliResult } from "./helpers/cli.js";
import { bindingList, bridgeNic, domainTaps, tinyDomainXml } from "./helpers/libvirt.js";
import { cliOn, expectMigrationRefusedForMissingFilter } from "./helpers/migration.js";
import { MIGRATION_BRIDGE, TwoDaemons, requirePrivateDaemons, type PrivateDaemon } from "./helpers/two-daemons.js";

const CAN_RUN = requirePrivateDaemons();
const CUSTOM = "nwfh-e2e-mig-site";
const VM = "nwfh-mig-choice";
const MAC = "52:54:00:4e:6d:21";

describe.skipIf(!CAN_RUN)("a chosen filter and live migration between two private libvirt daemons", () => {
  let two: TwoDaemons;
  let a: PrivateDaemon;
  let b: PrivateDaemon;
  let filtersDir: string;
  let onB: (args: string[]) => CliResult;
  const ok = (r: CliResult) => expect(r.code, `exit ${r.code}:\n${r.stdout}${r.stderr}`).toBe(0);

  beforeAll(() => {
    two = TwoDaemons.start();
    ({ a, b } = two);
    // b's custom filters directory (its /etc/nwfilter-hook/filters), empty for now.
    filtersDir = join(b.dir, "filters");
    mkdirSync(filtersDir);
    onB = cliOn(b, { NWFILTER_HOOK_FILTERS_DIR: filtersDir });
    writeFileSync(b.policy, `[bridge:${MIGRATION_BRIDGE}]\nFilter = ${CUSTOM}\nParameters = IP=192.0.2.30\n`, { mode: 0o644 });
    const r = onB(["install"]);
    ok(r);
    expect(r.stdout).toContain(`warning: the policy's filter '${CUSTOM}' is not defined in libvirt`);
    a.virshWithXml("define", tinyDomainXml({ name: VM, nics: [bridgeNic({ mac: MAC, bridge: MIGRATION_BRIDGE })] }));
    a.virsh("start", VM);
  });
  afterAll(() => two?.stop());

  it("b refuses the incoming migration, naming the chosen filter it does not have, and the VM keeps running on a", async () => {
    await expectMigrationRefusedForMissingFilter(two, VM, a, b, CUSTOM);
  });

  it("with b's custom filters defined, the VM migrates and runs on b with the chosen filter and its parameter", async () => {
    writeFileSync(
      join(filtersDir, `${CUSTOM}.xml`),
      `<filter name='${CUSTOM}' chain='root'>\n  <filterref filter='no-mac-spoofing'/>\n  <filterref filter='no-ip-spoofing'/>\n</filter>\n`,
    );
    const d = onB(["define-filter"]);
    ok(d);
    expect(d.stdout).toMatch(/^nwfilter 'vdsm-no-mac-spoofing': unchanged /m);
    expect(d.stdout).toMatch(new RegExp(`^nwfilter '${CUSTOM}': created `, "m"));

    await two.migrate(VM, a, b);
    expect(b.domState(VM)).toBe("running");
    const nic = b.virsh("dumpxml", VM).match(/<interface[\s\S]*?<\/interface>/)?.[0] ?? "";
    expect(nic).toContain(`<filterref filter='${CUSTOM}'>`);
    expect(nic).toContain("<parameter name='IP' value='192.0.2.30'/>");
    const [tap] = domainTaps(VM, b.uri);
    expect(tap?.mac).toBe(MAC);
    expect(bindingList(b.uri)).toContainEqual({ port: tap?.dev, filter: CUSTOM });
    expect(b.virsh("nwfilter-binding-dumpxml", tap?.dev ?? "")).toContain("<parameter name='IP' value='192.0.2.30'/>");
    expect(b.qemuLog(VM)).toMatch(/tainted: hook-script/);
  });
});
