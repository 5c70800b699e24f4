// The few facts about the host that decide eligibility and what libvirt would accept. The core
// only sees this interface; src/host/node-host-facts.ts reads them from the file system, tests
// supply their own.

export type BridgeKind = "linux" | "other" | "absent";

export interface HostFacts {
  /** A libvirt network's definition, the active one first, then the persistent one. */
  network(name: string): { path: string; text: string } | undefined;
  /** "linux" for a Linux bridge, "other" for a device that is not one (an OVS bridge), "absent" when there is none. */
  bridge(name: string): BridgeKind;
  /** Whether an nwfilter of this name is defined on the host. */
  filterDefined(name: string): boolean;
  /** An nwfilter's definition as libvirt keeps it (NAME.xml in its nwfilter directory), or undefined. */
  filter(name: string): { path: string; text: string } | undefined;
}
