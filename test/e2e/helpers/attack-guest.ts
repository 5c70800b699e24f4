// The attack guest for the attack suite: built (or found in its cache) by scripts/attack-guest.sh
// from Debian's kernel and busybox, and the domain XML that boots it under libvirt (direct kernel
// boot, an e1000 NIC, a serial log in a file). What the guest sends is in
// test/attack-guest/nwfh-attack.c; the kernel command line tells it its plan.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../cli/support/build.js";
import { onPath } from "./libvirt.js";

export const GUEST_IP = "192.0.2.2";
export const VICTIM_IP = "192.0.2.1";
/** The source MAC and ARP sender MAC the guest forges: no NIC of the test has it. */
export const FORGED_MAC = "52:54:00:66:66:66";
/** One tick of the guest's sender. */
export const INTERVAL_MS = 20;
export const PHASE_MS = 3000;
/** The five marked phases, in order. */
export const PHASES_PLAN = ["own", "mac", "arp-mac", "arp-ip", "control"].map((p) => `${p}:${PHASE_MS}`).join(",");
/** Every kind of frame at every tick, for `ms` (counted in ticks: a paused guest resumes its count). */
export const continuousPlan = (ms: number) => `continuous:${ms}`;
/** The Debian 6.1 kernel does not boot in 64 MiB under qemu's direct kernel boot (seen here: it dies before its first message). */
export const GUEST_MIB = 96;

const COMMANDS = ["apt-get", "dpkg-deb", "gcc", "ip", "virsh", "qemu-system-x86_64", "ebtables"];

/** Why the attack suite cannot run here, or undefined. */
export function attackUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "not running as root (the guest's cache, a network namespace and libvirt need it)";
  const missing = COMMANDS.filter((c) => !onPath(c));
  if (missing.length > 0) return `not on PATH: ${missing.join(", ")} (install apt, dpkg, gcc, libc6-dev, iproute2, libvirt-clients, qemu-system-x86, ebtables)`;
  return undefined;
}

/** For suites: true when the attack suite can run; false (skip, saying why) elsewhere; under CI=true a reason throws. */
export function requireAttack(): boolean {
  const why = attackUnavailable();
  if (why === undefined) return true;
  if (process.env.CI === "true") throw new Error(`the attack suite must run under CI=true but cannot: ${why}`);
  console.warn(`attack suite skipped: ${why}`);
  return false;
}

export interface GuestImage {
  dir: string;
  kernel: string;
  initrd: string;
  /** nwfh-attack, static: the victim's counter runs it too. */
  tool: string;
}

let image: GuestImage | undefined;

/** The guest, built by scripts/attack-guest.sh on first use (a download and a build of about 20 s, then cached). */
export function guestImage(): GuestImage {
  if (image) return image;
  let out: string;
  try {
    out = execFileSync("bash", [join(REPO_ROOT, "scripts", "attack-guest.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 600_000 });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`scripts/attack-guest.sh failed: ${e.stderr?.trim() || e.message}`, { cause: error });
  }
  const dir = out.trim().split("\n").pop() ?? "";
  const found = { dir, kernel: join(dir, "vmlinuz"), initrd: join(dir, "initrd.img"), tool: join(dir, "nwfh-attack") };
  for (const f of [found.kernel, found.initrd, found.tool]) if (!existsSync(f)) throw new Error(`scripts/attack-guest.sh printed ${dir}, which has no ${f}`);
  image = found;
  return found;
}

/** An e1000 NIC on `bridge`, with a filterref (and its parameters) when given. */
export function attackNic(opts: { mac: string; bridge: string; filter?: string; parameters?: Record<string, string> }): string {
  const params = Object.entries(opts.parameters ?? {})
    .map(([name, value]) => `<parameter name='${name}' value='${value}'/>`)
    .join("");
  const filter = opts.filter === undefined ? "" : params ? `<filterref filter='${opts.filter}'>${params}</filterref>` : `<filterref filter='${opts.filter}'/>`;
  return `<interface type='bridge'><mac address='${opts.mac}'/><source bridge='${opts.bridge}'/><model type='e1000'/>${filter}</interface>`;
}

/** Where a domain's serial console is logged, as its daemon sees the path. */
export const serialLogPath = (name: string) => `/var/log/libvirt/qemu/${name}-serial.log`;

/**
 * The attack guest's domain: direct kernel boot, ACPI (power-off ends it; NIC hot-plug needs it),
 * `on_reboot` destroy (a panic or a failed power-off ends it too), IPv6 off in the guest.
 */
export function attackDomainXml(opts: { name: string; image: GuestImage; nics: string[]; run: number; plan: string; waitS?: number }): string {
  const cmdline = [
    "console=ttyS0",
    "ipv6.disable=1",
    "panic=-1",
    `nwfh.run=${opts.run}`,
    `nwfh.plan=${opts.plan}`,
    `nwfh.ip=${GUEST_IP}`,
    `nwfh.victim=${VICTIM_IP}`,
    `nwfh.forge=${FORGED_MAC}`,
    `nwfh.interval=${INTERVAL_MS}`,
    `nwfh.wait=${opts.waitS ?? 120}`,
  ].join(" ");
  return [
    `<domain type='qemu'>`,
    `  <name>${opts.name}</name>`,
    `  <memory unit='MiB'>${GUEST_MIB}</memory>`,
    `  <vcpu>1</vcpu>`,
    `  <os>`,
    `    <type arch='x86_64' machine='pc'>hvm</type>`,
    `    <kernel>${opts.image.kernel}</kernel>`,
    `    <initrd>${opts.image.initrd}</initrd>`,
    `    <cmdline>${cmdline}</cmdline>`,
    `  </os>`,
    `  <features><acpi/></features>`,
    `  <on_reboot>destroy</on_reboot>`,
    `  <devices>`,
    ...opts.nics.map((n) => `    ${n}`),
    `    <serial type='file'><source path='${serialLogPath(opts.name)}'/><target port='0'/></serial>`,
    `    <memballoon model='none'/>`,
    `  </devices>`,
    `</domain>`,
    "",
  ].join("\n");
}
