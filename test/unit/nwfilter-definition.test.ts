// The shipped filter definition, nwfilter/vdsm-no-mac-spoofing.xml: libvirt's schema accepts it
// (what `virt-xml-validate FILE nwfilter` checks), and it is oVirt's vdsm-no-mac-spoofing: a
// root-chain filter made of exactly libvirt's no-mac-spoofing and no-arp-mac-spoofing.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_FILTER } from "../../src/core/constants.js";
import { parseXml } from "../../src/core/xml.js";
import { REPO_ROOT } from "../support/paths.js";
import { validateFiles, xmllintUsable } from "../support/xmllint.js";

const FILE = join(REPO_ROOT, "nwfilter", `${DEFAULT_FILTER}.xml`);
const NWFILTER_RNG = "/usr/share/libvirt/schemas/nwfilter.rng";
const CAN_VALIDATE = xmllintUsable();

describe("nwfilter/vdsm-no-mac-spoofing.xml", () => {
  it("is the root-chain filter of no-mac-spoofing and no-arp-mac-spoofing", () => {
    const text = readFileSync(FILE, "utf8");
    const root = parseXml(text, FILE);
    expect(root.name).toBe("filter");
    expect(root.attrs).toMatchObject({ name: DEFAULT_FILTER, chain: "root" });
    expect(root.children.map((c) => [c.name, c.attrs.filter])).toEqual([
      ["filterref", "no-mac-spoofing"],
      ["filterref", "no-arp-mac-spoofing"],
    ]);
  });

  it.skipIf(!CAN_VALIDATE && process.env.CI !== "true")("passes libvirt's nwfilter schema", () => {
    expect(validateFiles([FILE], NWFILTER_RNG).get(FILE)).toBe(true);
  });
});
