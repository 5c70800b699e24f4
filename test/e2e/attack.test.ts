// Proof by attack, against the real libvirtd: a guest that spoofs (a forged source MAC, a forged
// ARP sender MAC, ARP claiming its neighbour's IP) on a bridge with a victim that counts what
// reaches it, on every path by which a guest comes to run on this host. One row per case; the
// migration case, which needs two daemons, is test/e2e/attack-migration.test.ts. The guest is
// built from Debian's packages and cached (scripts/attack-guest.sh); the bridge, the victim's
// namespace, the domains, their logs and the hook go again at the end.
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SPOOFED } from "./helpers/attack-count.js";
import { GUEST_IP, attackNic, guestImage, requireAttack, serialLogPath } from "./helpers/attack-guest.js";
import { defineThenStartPath, hotPlugPath, phasesPath, restorePath, systemDaemon, type AttackRun, type PathContext } from "./helpers/attack-paths.js";
import { checkRun, type Expectation } from "./helpers/attack-report.js";
import { ATTACK_BRIDGE, Victim } from "./helpers/attack-victim.js";
import { E2eHost, cliOk } from "./helpers/cli.js";
import { requireLibvirt, virsh } from "./helpers/libvirt.js";
import { WatcherProcess, saveStatus, stopAll } from "./helpers/watcher.js";

const CAN_RUN = requireLibvirt() && requireAttack();

const OFF = "[filtering]\nEnableMACAntiSpoofingFilterRules = false\n";
const ENFORCE = "[filtering]\nOnMissing = enforce\n";
const WATCH = "[filtering]\nOnMissing = watch\nResyncInterval = 600\n";
const MAC_FILTER: Expectation = { blocked: ["mac", "arp-mac"], passes: ["arp-ip"], continuous: false };
/** A case boots a guest under TCG (10-30 s on a busy 2-core machine) and runs it for 5-15 s. */
const CASE_TIMEOUT_MS = 240_000;
/** How long the guest sends continuously on the paths where a watcher adds the filter. */
const SEND_MS = 4000;

interface Row {
  title: string;
  /** The hook's policy while the guest runs (a path may change it). */
  policy: string;
  /** Runs `nwfilter-hook watch` during the case. */
  watcher?: boolean;
  path: (ctx: PathContext, host: E2eHost, name: string, mac: string) => Promise<AttackRun>;
  want: Expectation;
}

const nic = (mac: string) => attackNic({ mac, bridge: ATTACK_BRIDGE });

const ROWS: Row[] = [
  {
    title: "no filter",
    policy: OFF,
    path: (ctx, _host, name, mac) => phasesPath(ctx, systemDaemon, { name, nic: nic(mac) }),
    want: { blocked: [], passes: [...SPOOFED], continuous: false },
  },
  {
    title: "after `apply` (vdsm-no-mac-spoofing)",
    policy: ENFORCE,
    path: (ctx, host, name, mac) => phasesPath(ctx, systemDaemon, { name, nic: nic(mac), beforeStart: () => cliOk(["apply", name, "--policy", host.policy]) }),
    want: MAC_FILTER,
  },
  {
    title: "define-then-start, `OnMissing = watch`",
    policy: WATCH,
    watcher: true,
    path: (ctx, _host, name, mac) => defineThenStartPath(ctx, systemDaemon, { name, mac, sendMs: SEND_MS }),
    want: { ...MAC_FILTER, continuous: true },
  },
  {
    title: "NIC hot-plugged live without the filter, the watcher running",
    policy: WATCH,
    watcher: true,
    path: (ctx, _host, name, mac) => hotPlugPath(ctx, systemDaemon, { name, mac, sendMs: SEND_MS }),
    want: { ...MAC_FILTER, continuous: true },
  },
  {
    title: "`virsh restore` of a guest saved while it sent unprotected",
    policy: OFF,
    path: (ctx, host, name, mac) => restorePath(ctx, systemDaemon, { name, mac, afterMs: 2000, protect: () => host.writePolicy(ENFORCE) }),
    want: { ...MAC_FILTER, continuous: true, unprotectedBefore: true },
  },
  {
    // The policy path: two lines for the attack bridge choose clean-traffic with the guest's IP;
    // the NIC is defined without a filterref, and `apply` writes the chosen one before the start.
    title: "clean-traffic with the guest's IP, chosen by `[bridge:nwfh-atk0]` and written by `apply`",
    policy: `${ENFORCE}\n[bridge:${ATTACK_BRIDGE}]\nFilter = clean-traffic\nParameters = IP=${GUEST_IP}\n`,
    path: (ctx, host, name, mac) =>
      phasesPath(ctx, systemDaemon, {
        name,
        nic: nic(mac),
        beforeStart: () => {
          cliOk(["apply", name, "--policy", host.policy]);
          // What apply wrote, not a hand-written filterref, is what protects the guest.
          const ref = /<filterref filter='clean-traffic'>\s*<parameter name='IP' value='([^']*)'\/>\s*<\/filterref>/.exec(virsh("dumpxml", "--inactive", name));
          if (ref?.[1] !== GUEST_IP) throw new Error(`apply did not write clean-traffic with IP=${GUEST_IP}:\n${virsh("dumpxml", "--inactive", name)}`);
        },
      }),
    want: { blocked: [...SPOOFED], passes: [], continuous: false },
  },
];

describe.skipIf(!CAN_RUN)("a guest that spoofs, against the real libvirtd", () => {
  let host: E2eHost;
  let victim: Victim;
  let ctx: PathContext;

  beforeAll(() => {
    const image = guestImage();
    host = new E2eHost("attack");
    const restoreStatus = saveStatus();
    host.onTearDown(() => restoreStatus());
    host.writePolicy(OFF);
    const r = host.install();
    if (r.code !== 0) throw new Error(`install failed:\n${r.stdout}${r.stderr}`);
    victim = Victim.create(image.tool, host.dir);
    ctx = { image, victim, dir: host.dir };
  });
  afterAll(async () => {
    // Each step runs even when the one before it fails: the host gets its hook and filter back.
    try {
      await stopAll();
    } finally {
      try {
        await victim?.remove();
      } finally {
        host?.tearDown();
      }
    }
  });

  it.each(ROWS.map((row, i) => ({ ...row, i })))(
    "$title",
    async (row) => {
      const name = host.domainName(`g${row.i}`);
      host.onTearDown(() => rmSync(serialLogPath(name), { force: true }));
      host.writePolicy(row.policy);
      let watcher: WatcherProcess | undefined;
      if (row.watcher) {
        watcher = new WatcherProcess(host.dir, host.policy, {}, `watch-${row.i}`);
        await watcher.waitForLog(/resync: \d+ domains?: /);
      }
      try {
        const run = await row.path(ctx, host, name, `52:54:00:a7:00:${(row.i + 1).toString(16).padStart(2, "0")}`);
        checkRun(row.title, run, row.want);
      } finally {
        if (watcher) expect(await watcher.stop()).toBe(0);
      }
    },
    CASE_TIMEOUT_MS,
  );
});
