// Helpers for end-to-end suites that drive a real libvirtd (qemu:///system) through virsh.
// Node built-ins only. The daemons must run (`bash scripts/libvirt-up.sh` starts them, as CI
// does); the test bridge and /dev/kvm are the e2e setup's (test/e2e/global-setup.ts).
//
// A suite that needs libvirt:
//   const HAVE_LIBVIRT = requireLibvirt();
//   describe.skipIf(!HAVE_LIBVIRT)('...', () => { ... });
// Outside CI it skips where libvirt is missing; under CI=true it fails instead.

import { execFileSync } from "node:child_process";
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

export const URI = "qemu:///system";
/** The Linux bridge the suites' NICs use: made by the e2e setup when missing (test/e2e/global-setup.ts). */
export const TEST_BRIDGE = "nwfh-br0";

/** virsh failed: the message carries virsh's own stderr. */
export class VirshError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly status: number | null,
    readonly stderr: string,
  ) {
    super(`virsh ${args.join(" ")} failed (exit ${status ?? "signal"}): ${stderr.trim() || "(no stderr)"}`);
    this.name = "VirshError";
  }
}

/** Runs a virsh command that must fail, and returns its VirshError (throws when it succeeds). */
export function virshFails(...args: string[]): VirshError {
  try {
    virsh(...args);
  } catch (error) {
    if (error instanceof VirshError) return error;
    throw error;
  }
  throw new Error(`virsh ${args.join(" ")} succeeded; it was expected to fail`);
}

interface ExecFailure {
  status?: number | null;
  stderr?: string | Buffer;
  message?: string;
}

export function onPath(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** Runs `virsh -c qemu:///system ARGS...`; returns stdout, throws VirshError with stderr. */
export function virsh(...args: string[]): string {
  return virshWith({}, ...args);
}

/** Like virsh(), with `input` fed to stdin, a timeout in ms (default 60 s) and another URI. */
export function virshWith(opts: { input?: string; timeoutMs?: number; uri?: string }, ...args: string[]): string {
  try {
    return execFileSync("virsh", ["-c", opts.uri ?? URI, ...args], {
      encoding: "utf8",
      input: opts.input ?? "",
      stdio: ["pipe", "pipe", "pipe"],
      timeout: opts.timeoutMs ?? 60_000,
      env: { ...process.env, LC_ALL: "C" },
    });
  } catch (e) {
    const err = e as ExecFailure;
    const stderr = typeof err.stderr === "string" ? err.stderr : (err.stderr?.toString("utf8") ?? err.message ?? "");
    throw new VirshError(args, err.status ?? null, stderr);
  }
}

let availability: { ok: boolean; why?: string } | undefined;

/** Whether real-libvirt tests can run here: root, virsh on PATH, qemu:///system answering. */
export function libvirtAvailable(): { ok: boolean; why?: string } {
  if (availability) return availability;
  if (process.getuid?.() !== 0) {
    availability = { ok: false, why: "not running as root" };
  } else if (!onPath("virsh")) {
    availability = { ok: false, why: "virsh not found on PATH (install libvirt-clients)" };
  } else {
    try {
      virshWith({ timeoutMs: 30_000 }, "version");
      availability = { ok: true };
    } catch (e) {
      availability = {
        ok: false,
        why: `'virsh -c ${URI} version' failed (start it with scripts/libvirt-up.sh): ${(e as Error).message}`,
      };
    }
  }
  return availability;
}

/**
 * For suites: true when libvirt is usable. Otherwise false (the suite skips), except under
 * CI=true, where a skipped real-libvirt suite would hide a broken setup: then it throws.
 */
export function requireLibvirt(): boolean {
  const a = libvirtAvailable();
  if (a.ok) return true;
  if (process.env.CI === "true") {
    throw new Error(`real libvirt is required under CI=true but is not available: ${a.why ?? "unknown"}`);
  }
  return false;
}

function escapeText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * A diskless 32 MiB domain that starts in well under a second (it only runs SeaBIOS).
 * `nics` are raw `<interface>` elements; `metadata` is raw content for `<metadata>`.
 * `<acpi/>` is there so that NIC hot-plug works.
 */
export function tinyDomainXml(opts: { name: string; nics: string[]; metadata?: string; type?: "qemu" | "kvm" }): string {
  const lines = [`<domain type='${opts.type ?? "qemu"}'>`, `  <name>${escapeText(opts.name)}</name>`];
  if (opts.metadata !== undefined) lines.push(`  <metadata>${opts.metadata}</metadata>`);
  lines.push(
    `  <memory unit='MiB'>32</memory>`,
    `  <os><type arch='x86_64' machine='pc'>hvm</type></os>`,
    `  <features><acpi/></features>`,
    `  <devices>`,
    ...opts.nics.map((nic) => `    ${nic.trim()}`),
    `    <memballoon model='none'/>`,
    `  </devices>`,
    `</domain>`,
    "",
  );
  return lines.join("\n");
}

/** A bridge `<interface>` on TEST_BRIDGE, optionally with a MAC and a filterref. */
export function bridgeNic(opts: { mac?: string; filter?: string; bridge?: string } = {}): string {
  return [
    `<interface type='bridge'>`,
    opts.mac ? `<mac address='${opts.mac}'/>` : "",
    `<source bridge='${opts.bridge ?? TEST_BRIDGE}'/>`,
    `<model type='virtio'/>`,
    opts.filter ? `<filterref filter='${opts.filter}'/>` : "",
    `</interface>`,
  ].join("");
}

/** Runs `virsh SUBCOMMAND FILE [extra...]` with `xml` written to a temporary file. */
export function virshWithXmlFile(subcommand: string, xml: string, ...extra: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "nwfh-e2e-"));
  try {
    const file = join(dir, "input.xml");
    writeFileSync(file, xml);
    return virsh(subcommand, file, ...extra);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `virsh define` of the given XML; returns virsh's output. */
export function defineDomain(xml: string): string {
  return virshWithXmlFile("define", xml);
}

const GONE = /failed to get domain|Domain not found|domain is not running|no domain with matching/i;

/**
 * Destroys (if running) and undefines (if persistent) a domain; a missing domain is fine.
 * Also removes the domain's qemu log, so that test runs leave nothing behind.
 */
export function destroyAndUndefine(name: string): void {
  for (const args of [
    ["destroy", name],
    ["undefine", "--managed-save", name],
  ]) {
    try {
      virsh(...args);
    } catch (e) {
      if (!(e instanceof VirshError && GONE.test(e.stderr))) throw e;
    }
  }
  if (!name.includes("/")) rmSync(`/var/log/libvirt/qemu/${name}.log`, { force: true });
}

/** Whether a domain of that name exists (running or defined). */
export function domainExists(name: string): boolean {
  try {
    virsh("domuuid", name);
    return true;
  } catch (e) {
    if (e instanceof VirshError && GONE.test(e.stderr)) return false;
    throw e;
  }
}

/** `virsh domstate NAME`, e.g. 'running', 'shut off'. */
export function domState(name: string): string {
  return virsh("domstate", name).trim();
}

/** Rows of `virsh nwfilter-binding-list`: the port (tap device) and the filter bound to it. */
export function bindingList(uri = URI): { port: string; filter: string }[] {
  const rows: { port: string; filter: string }[] = [];
  const lines = virshWith({ uri }, "nwfilter-binding-list").split("\n");
  // Header (" Port Dev   Filter") and a dashed rule come first.
  const rule = lines.findIndex((l) => /^-+$/.test(l.trim()));
  for (const line of lines.slice(rule + 1)) {
    const [port, filter] = line.trim().split(/\s+/);
    if (port && filter) rows.push({ port, filter });
  }
  return rows;
}

/** Tap devices of a running domain, from `virsh domiflist` (one per NIC, in order). */
export function domainTaps(name: string, uri = URI): { dev: string; mac: string }[] {
  const out: { dev: string; mac: string }[] = [];
  const lines = virshWith({ uri }, "domiflist", name).split("\n");
  const rule = lines.findIndex((l) => /^-+$/.test(l.trim()));
  for (const line of lines.slice(rule + 1)) {
    const cols = line.trim().split(/\s+/);
    const dev = cols[0];
    const mac = cols[cols.length - 1];
    if (dev && mac && cols.length >= 2) out.push({ dev, mac });
  }
  return out;
}

/** `ebtables -t nat -L`: where libvirt's nwfilter puts the MAC anti-spoofing rules. */
export function ebtablesNat(): string {
  return execFileSync("ebtables", ["-t", "nat", "-L"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function daemonPid(): number {
  // Monolithic libvirtd first; the modular qemu daemon where that is what runs.
  for (const [file, comm] of [
    ["/run/libvirtd.pid", "libvirtd"],
    ["/run/virtqemud.pid", "virtqemud"],
  ] as const) {
    try {
      const pid = Number.parseInt(readFileSync(file, "utf8").trim(), 10);
      if (Number.isInteger(pid) && pid > 0 && readFileSync(`/proc/${pid}/comm`, "utf8").trim() === comm) return pid;
    } catch {
      // no such daemon
    }
  }
  throw new Error("no running libvirtd or virtqemud found (pid files in /run)");
}

export function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * SIGHUP to the daemon: it then re-scans /etc/libvirt/hooks (a hook added to qemu.d is only
 * called after this) and reloads its drivers. The reload runs in a daemon thread with no
 * completion signal, so this waits until virsh answers again and then a little longer.
 */
export function reloadDaemon(timeoutMs = 30_000): void {
  process.kill(daemonPid(), "SIGHUP");
  const deadline = Date.now() + timeoutMs;
  sleep(200);
  for (;;) {
    try {
      virshWith({ timeoutMs: Math.max(1_000, deadline - Date.now()) }, "version");
      break;
    } catch (e) {
      if (Date.now() >= deadline) throw new Error(`libvirt did not answer within ${timeoutMs} ms after SIGHUP: ${(e as Error).message}`, { cause: e });
      sleep(250);
    }
  }
  sleep(300);
}
