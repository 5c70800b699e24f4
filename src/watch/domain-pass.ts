// The watcher's work on libvirt, without its bookkeeping: keeping the shipped and the custom
// filters defined, and one domain's pass (what `apply --live` does for it, src/host/reconcile.ts).
import { HostError, XmlError, formatError } from "../core/errors.js";
import type { HostFacts } from "../core/host-facts.js";
import type { Policy } from "../core/policy.js";
import type { NicStatus } from "../core/transform.js";
import { delay, type Clock } from "../host/clock.js";
import { defineFilterFile, describeDefine, filtersToDefine, readFilterFile, type FilterFile } from "../host/nwfilter-define.js";
import { reconcileDomain } from "../host/reconcile.js";
import type { Virsh } from "../host/virsh.js";
import type { Logger } from "./log.js";

/**
 * Defines the shipped filter and every custom filter of `customDir` that is missing in libvirt or
 * differs (as VDSM redefines its filter at every start), reusing UUIDs; nothing is written for
 * one that is the same. A custom file that is not a valid filter is said, and the shipped filter
 * still defined. Rejects when virsh fails.
 */
export async function ensureFilters(virsh: Virsh, shippedFilter: string, customDir: string, log: Logger): Promise<void> {
  let files: FilterFile[];
  try {
    files = filtersToDefine(shippedFilter, customDir);
  } catch (error) {
    if (!(error instanceof XmlError) && !(error instanceof HostError)) throw error;
    log("err", `custom filters: ${formatError(error)}; defining the shipped filter only until it is fixed`);
    files = [readFilterFile(shippedFilter)];
  }
  for (const file of files) {
    const r = await defineFilterFile(virsh, file);
    if (r.outcome !== "unchanged") log("notice", `${describeDefine(r)} from ${file.path}`);
    else if (r.wrote) log("notice", `nwfilter '${r.name}': defined again from ${file.path} (libvirt's definition differed)`);
  }
}

export interface PassOptions {
  policy: Policy;
  host: HostFacts;
  log: Logger;
  clock: Clock;
  /** Tests: hold the define this long after reading the definition (NWFILTER_HOOK_TEST_DEFINE_DELAY_MS). */
  holdDefineMs?: number;
}

export interface PassResult {
  name: string;
  changed: boolean;
  /** NIC views given their filterref. */
  fixed: number;
  /** Its NICs by status once done (src/host/reconcile.ts). */
  nics: Record<NicStatus, number>;
}

/**
 * One domain by UUID: "gone" when there is none any more, else what the pass did. Logs the
 * actions only ("nothing to do" for every domain at every resync would drown them). Rejects when
 * virsh or the domain's XML fails.
 */
export async function passOver(virsh: Virsh, uuid: string, o: PassOptions): Promise<PassResult | "gone"> {
  const d = await virsh.domainInfo(uuid);
  if (d === undefined) return "gone";
  const hold = o.holdDefineMs ?? 0;
  const beforeDefine =
    hold > 0
      ? async () => {
          o.log("info", `${d.name}: definition: read; holding the define for ${hold} ms (NWFILTER_HOOK_TEST_DEFINE_DELAY_MS)`);
          await delay(o.clock, hold);
        }
      : undefined;
  const { changed, fixed, nics } = await reconcileDomain(virsh, d, o.policy, o.host, { live: true, dryRun: false, beforeDefine }, (line, kind) => {
    if (kind === "change" || kind === "retry") o.log("notice", line);
    // A NIC whose chosen filter is missing is left alone (a reference to it would make the domain
    // unstartable), and the watcher says so at every pass until it is there.
    else if (kind === "left-alone") o.log("warning", line);
  });
  return { name: d.name, changed, fixed, nics };
}
