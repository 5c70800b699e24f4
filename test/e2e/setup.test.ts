// The real-libvirt test environment itself: the daemon answers, the test bridge exists (the e2e
// setup, test/e2e/global-setup.ts, makes it when it is missing), and a tiny domain with a bridge
// NIC defines, starts and goes away again. When this fails, the other end-to-end suites cannot be
// trusted either.

import { existsSync, readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { METADATA_NS } from "../../src/core/constants.js";
import {
  bindingList,
  bridgeNic,
  defineDomain,
  destroyAndUndefine,
  domainExists,
  domainTaps,
  domState,
  requireLibvirt,
  TEST_BRIDGE,
  tinyDomainXml,
  virsh,
  virshFails,
} from "./helpers/libvirt.js";

const HAVE_LIBVIRT = requireLibvirt();
const NAME = `nwfh-e2e-setup-${process.pid}`;
const MAC = "52:54:00:4e:57:01";

describe.skipIf(!HAVE_LIBVIRT)("real libvirt test environment", () => {
  afterAll(() => {
    destroyAndUndefine(NAME);
  });

  it("answers on qemu:///system with the qemu driver", () => {
    expect(virsh("version")).toMatch(/Running hypervisor: QEMU/);
  });

  it(`has the Linux test bridge ${TEST_BRIDGE}, whose ports forward at once (STP off)`, () => {
    expect(existsSync(`/sys/class/net/${TEST_BRIDGE}/bridge`)).toBe(true);
    expect(readFileSync(`/sys/class/net/${TEST_BRIDGE}/bridge/stp_state`, "utf8").trim()).toBe("0");
  });

  it("defines, starts, destroys and undefines a tiny domain with a bridge NIC", () => {
    // Exempt, so that it starts where nwfilter-hook is installed (README's first command) too.
    const metadata = `<nwfh:policy xmlns:nwfh="${METADATA_NS}" exempt="true"/>`;
    const xml = tinyDomainXml({ name: NAME, nics: [bridgeNic({ mac: MAC })], metadata });
    defineDomain(xml);
    expect(domainExists(NAME)).toBe(true);
    expect(domState(NAME)).toBe("shut off");

    virsh("start", NAME);
    expect(domState(NAME)).toBe("running");
    const taps = domainTaps(NAME);
    expect(taps).toHaveLength(1);
    expect(taps[0]?.mac).toBe(MAC);
    // No filterref on this NIC, so no nwfilter binding for its tap.
    expect(bindingList().map((b) => b.port)).not.toContain(taps[0]?.dev);

    destroyAndUndefine(NAME);
    expect(domainExists(NAME)).toBe(false);
    // Cleaning up twice is harmless.
    destroyAndUndefine(NAME);
  });

  it("reports virsh's own error text", () => {
    expect(virshFails("domstate", `${NAME}-does-not-exist`).stderr).toMatch(/failed to get domain|Domain not found/);
  });
});
