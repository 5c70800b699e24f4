// Runs the hook's prepare and migrate paths on a sample, so that V8 has compiled the code a call
// runs: the startup recorder (src/hook/startup-recorder.ts) then records V8's code cache for it, for
// the build and for `install`, and a startup snapshot holds it compiled (src/hook/snapshot.ts). The
// sample host (policy, nwfilter, sysfs, networks, stdin) is a temporary directory, so that the code
// that reads them is compiled as well. It is given the hook's own `hookOutcome`: the recorder runs
// it against the hook's code compiled apart, so that its own functions stay out of the code cache
// that every call loads. The sample host's files are src/host/sample-host.ts's to write.
// The sample policy has no Domains globs and no [domain:GLOB] section: picomatch's compiled code
// would make up a large part of the cache, which every call deserializes, for a feature few hosts
// use (those that do compile it when they need it; figures in bench/RESULTS.md). It has a [network:NAME] choice with
// parameters, and the sample filters include others and use variables, so that the choice and the
// walk of filter definitions are warm too.
import { DEFAULT_FILTER, ENV_NETWORK_DIRS, ENV_NWFILTER_DIR, ENV_POLICY, ENV_SYSFS_NET } from "../core/constants.js";
import { withSampleHost } from "../host/sample-host.js";
import type { hookOutcome } from "./main.js";

const SAMPLE_POLICY = `[filtering]
EnableMACAntiSpoofingFilterRules = true
ClusterLevel = 4.7
Filter = vdsm-no-mac-spoofing
OnMissing = enforce
OnExisting = keep

[exempt]
Networks = trunk
Bridges = br-trunk
MACs = 52:54:00:aa:bb:cc

[network:default]
Filter = clean-traffic
Parameters = CTRL_IP_LEARNING=any
`;

/** The shipped filter and those it includes, and a filter whose IP libvirt learns, as small stand-ins. */
const SAMPLE_FILTERS: Record<string, string> = {
  [DEFAULT_FILTER]: `<filter name='${DEFAULT_FILTER}' chain='root'>\n  <filterref filter='no-mac-spoofing'/>\n  <filterref filter='no-arp-mac-spoofing'/>\n</filter>\n`,
  "no-mac-spoofing": "<filter name='no-mac-spoofing' chain='mac'>\n  <rule action='return' direction='out'><mac srcmacaddr='$MAC'/></rule>\n</filter>\n",
  "no-arp-mac-spoofing":
    "<filter name='no-arp-mac-spoofing' chain='arp-mac'>\n  <rule action='return' direction='out'><arp arpsrcmacaddr='$MAC'/></rule>\n</filter>\n",
  "clean-traffic":
    "<filter name='clean-traffic' chain='root'>\n  <filterref filter='no-mac-spoofing'/>\n  <rule action='return' direction='out'><ip srcipaddr='$IP[@0]'/></rule>\n</filter>\n",
};

const SAMPLE_NETWORK = `<network><name>default</name><forward mode='nat'/><bridge name='virbr0'/>
<portgroup name='pg' default='yes'/></network>`;

function sampleDomain(filterref: boolean): string {
  const ref = filterref ? "\n      <filterref filter='vdsm-no-mac-spoofing'/>" : "";
  const chosen = filterref ? "\n      <filterref filter='clean-traffic'>\n        <parameter name='CTRL_IP_LEARNING' value='any'/>\n      </filterref>" : "";
  return `<?xml version="1.0"?>
<domain type='kvm' id='1'>
  <name>sample</name>
  <metadata>
    <nwfh:policy xmlns:nwfh="urn:nwfilter-hook:1">
      <nwfh:interface mac="52:54:00:00:00:09" exempt="false" filter="clean-traffic">
        <nwfh:parameter name="IP" value="192.0.2.9"/>
      </nwfh:interface>
    </nwfh:policy>
  </metadata>
  <devices>
    <!-- sample -->
    <interface type='bridge'>
      <mac address='52:54:00:00:00:01'/>
      <source bridge='br0'/>
      <model type='virtio'/>${ref}
    </interface>
    <interface type='network'>
      <mac address='52:54:00:00:00:02'/>
      <source network='default'/>${chosen}
    </interface>
  </devices>
</domain>
`;
}

export function warmUp(outcome: typeof hookOutcome): void {
  const files: Record<string, string> = { "policy.ini": SAMPLE_POLICY, "networks/default.xml": SAMPLE_NETWORK };
  for (const [name, text] of Object.entries(SAMPLE_FILTERS)) files[`nwfilter/${name}.xml`] = text;
  files["compliant.xml"] = sampleDomain(true);
  files["open.xml"] = sampleDomain(false);
  withSampleHost(files, ["net/br0/bridge"], (host) => {
    const env = {
      [ENV_POLICY]: `${host.dir}/policy.ini`,
      [ENV_NWFILTER_DIR]: `${host.dir}/nwfilter`,
      [ENV_NETWORK_DIRS]: `${host.dir}/networks`,
      [ENV_SYSFS_NET]: `${host.dir}/net`,
    };
    const calls = [
      ["prepare", "compliant"],
      ["prepare", "open"],
      ["migrate", "open"],
    ] as const;
    for (const [op, file] of calls) host.withInput(`${file}.xml`, (fd) => void outcome("sample", op, env, fd));
  });
}
