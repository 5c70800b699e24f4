// Stand-ins for the libvirt built-in filters that the shipped vdsm-no-mac-spoofing includes, as a
// libvirt host has them defined (Debian: libvirt-daemon-config-nwfilter): small, but using $MAC as
// the real ones do, so that the hook's walk of the shipped filter finds what it finds on a host.
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export const INCLUDED_BY_DEFAULT: Readonly<Record<string, string>> = {
  "no-mac-spoofing":
    "<filter name='no-mac-spoofing' chain='mac' priority='-800'>\n  <rule action='return' direction='out' priority='500'>\n    <mac srcmacaddr='$MAC'/>\n  </rule>\n  <rule action='drop' direction='out' priority='500'/>\n</filter>\n",
  "no-arp-mac-spoofing":
    "<filter name='no-arp-mac-spoofing' chain='arp-mac' priority='-520'>\n  <rule action='return' direction='out' priority='350'>\n    <arp match='yes' arpsrcmacaddr='$MAC'/>\n  </rule>\n  <rule action='drop' direction='out' priority='1000'/>\n</filter>\n",
};

/** Writes the stand-ins as NAME.xml into an nwfilter directory. */
export function writeIncludedFilters(dir: string): void {
  for (const [name, xml] of Object.entries(INCLUDED_BY_DEFAULT)) writeFileSync(join(dir, `${name}.xml`), xml);
}
