// Exercises the prepare and migrate paths on a sample, in memory, so that the build can record
// V8's compiled code for them (scripts/build.mjs): the installed hook then starts without
// compiling its own code. Nothing here touches the file system or the process.
import type { HostFacts } from "./host-facts.js";
import { decide } from "./hook.js";
import { parsePolicy } from "./policy.js";

const SAMPLE_POLICY = `[filtering]
EnableMACAntiSpoofingFilterRules = true
ClusterLevel = 4.7
Filter = vdsm-no-mac-spoofing
OnMissing = enforce
OnExisting = keep

[exempt]
Domains = lab-*
Networks = trunk
Bridges = br-trunk
MACs = 52:54:00:aa:bb:cc
`;

const SAMPLE_NETWORK = `<network><name>default</name><forward mode='nat'/><bridge name='virbr0'/>
<portgroup name='pg' default='yes'/></network>`;

function sampleDomain(filterref: boolean): string {
  const ref = filterref ? "\n      <filterref filter='vdsm-no-mac-spoofing'/>" : "";
  return `<?xml version="1.0"?>
<domain type='kvm' id='1'>
  <name>sample</name>
  <metadata>
    <nwfh:policy xmlns:nwfh="urn:nwfilter-hook:1">
      <nwfh:interface mac="52:54:00:00:00:09" exempt="false"/>
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
      <source network='default'/>${ref}
    </interface>
  </devices>
</domain>
`;
}

export function warmUp(): void {
  const policy = parsePolicy(SAMPLE_POLICY, "sample.ini");
  const host: HostFacts = {
    network: (name) => (name === "default" ? { path: "default.xml", text: SAMPLE_NETWORK } : undefined),
    bridge: () => "linux",
    filterDefined: () => true,
  };
  decide("prepare", "sample", sampleDomain(true), policy, host);
  decide("prepare", "sample", sampleDomain(false), policy, host);
  decide("migrate", "sample", sampleDomain(false), policy, host);
}
