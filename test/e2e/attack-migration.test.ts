// Proof by attack on an incoming live migration: the attack guest runs on daemon a, which has no
// hook, and spoofs continuously; it migrates live to daemon b, whose hook adds the filter at
// `migrate begin`. Its spoofed frames reach the victim while it runs on a, none after it arrived
// on b, and its own frames go on. Two private daemons (test/e2e/helpers/two-daemons.ts), so the
// system libvirtd is not touched; the bridge, the victim and the domains go at the end.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guestImage, requireAttack } from "./helpers/attack-guest.js";
import { migrationPath, type Daemon, type PathContext } from "./helpers/attack-paths.js";
import { checkRun } from "./helpers/attack-report.js";
import { Victim } from "./helpers/attack-victim.js";
import { cli } from "./helpers/cli.js";
import { TwoDaemons, requirePrivateDaemons, type PrivateDaemon } from "./helpers/two-daemons.js";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";

const CAN_RUN = requirePrivateDaemons() && requireAttack();

/** A private daemon as the attack paths use it: the serial logs lie in its own /var/log/libvirt. */
const daemon = (p: PrivateDaemon): Daemon => ({
  uri: p.uri,
  bindingDir: join(p.dir, "run", "libvirt", "nwfilter-binding"),
  serialLog: (name) => join(p.dir, "var", "log", "libvirt", "qemu", `${name}-serial.log`),
});

describe.skipIf(!CAN_RUN)("a guest that spoofs, migrated live to a host whose hook adds the filter", () => {
  let two: TwoDaemons;
  let victim: Victim;
  let dir: string;

  beforeAll(() => {
    const image = guestImage();
    dir = mkdtempSync(join(tmpdir(), "nwfh-e2e-attack-mig-"));
    two = TwoDaemons.start();
    const { b } = two;
    const r = cli(["install", "-c", b.uri, "--hooks-dir", b.hooksDir, "--policy", b.policy], { env: b.outsideEnv });
    if (r.code !== 0) throw new Error(`install on b failed:\n${r.stdout}${r.stderr}`);
    // Where their serial logs go: a private daemon makes its log directory only at its first start.
    for (const d of [two.a, two.b]) mkdirSync(join(d.dir, "var", "log", "libvirt", "qemu"), { recursive: true });
    victim = Victim.create(image.tool, dir);
  });
  afterAll(async () => {
    try {
      await victim?.remove();
    } finally {
      two?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });

  it("an incoming live migration (b's hook, OnMissing = enforce)", async () => {
    const { a, b } = two;
    const name = "nwfh-atk-mig";
    const ctx: PathContext = { image: guestImage(), victim, dir };
    const run = await migrationPath(ctx, {
      name,
      mac: "52:54:00:a7:01:01",
      from: daemon(a),
      to: daemon(b),
      migrate: () => two.migrate(name, a, b),
      afterMs: 2000,
    });
    expect(b.qemuLog(name)).toMatch(/tainted: hook-script/);
    checkRun("incoming live migration to a host with the hook", run, {
      blocked: ["mac", "arp-mac"],
      passes: ["arp-ip"],
      continuous: true,
      unprotectedBefore: true,
    });
  }, 240_000);
});
