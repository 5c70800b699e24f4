// End-to-end helpers for the admin CLI: run the built dist/nwfilter-hook, and an E2eHost that
// installs into the REAL /etc/libvirt/hooks (so that libvirtd runs the hook) with a policy in
// a temporary directory, and on tearDown() puts the host back as it found it: uninstall
// --purge, test domains, networks and links removed, pre-existing hook files and filter back.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DIST_CLI, ensureBuilt } from "../../cli/support/build.js";
import { attempts } from "./attempt.js";
import { destroyAndUndefine, virsh, VirshError, virshWithXmlFile } from "./libvirt.js";

export const HOOKS_DIR = "/etc/libvirt/hooks";
export const HOOK_PATH = join(HOOKS_DIR, "qemu.d", "50-nwfilter-hook");
export const MAIN_HOOK_PATH = join(HOOKS_DIR, "qemu");
export const FILTER = "vdsm-no-mac-spoofing";

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/nwfilter-hook ARGS...` (built first when stale). */
export function cli(args: string[], options: { input?: string; env?: Record<string, string> } = {}): CliResult {
  ensureBuilt();
  const r = spawnSync(process.execPath, [DIST_CLI, ...args], {
    input: options.input ?? "",
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, ...options.env, LC_ALL: "C" },
  });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** cli() that must exit 0; the error shows what it printed. */
export function cliOk(args: string[], options: { input?: string; env?: Record<string, string> } = {}): string {
  const r = cli(args, options);
  if (r.code !== 0) throw new Error(`nwfilter-hook ${args.join(" ")} exited ${r.code}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** A running domain's live <interface> elements, as libvirt formats them. */
export function liveInterfaces(domain: string): string[] {
  return virsh("dumpxml", domain).match(/<interface[\s\S]*?<\/interface>/g) ?? [];
}

export function configInterfaces(domain: string): string[] {
  return virsh("dumpxml", "--inactive", domain).match(/<interface[\s\S]*?<\/interface>/g) ?? [];
}

/** ebtables may print a MAC with or without leading zeros in each byte. */
export function macPattern(mac: string): string {
  return mac
    .split(":")
    .map((b) => b.replace(/^0/, "0?"))
    .join(":");
}

export function domainId(domain: string): string {
  return virsh("domid", domain).trim();
}

interface Saved {
  path: string;
  content: Buffer;
  mode: number;
}

function save(path: string): Saved | undefined {
  if (!existsSync(path)) return undefined;
  return { path, content: readFileSync(path), mode: statSync(path).mode & 0o7777 };
}

/** A lower link for a macvtap network: a dummy device where the kernel has them, else a veth pair. */
export function makeLowerLink(name: string): { dev: string; remove(): void } {
  const ip = (...args: string[]) => execFileSync("ip", args, { stdio: "pipe" });
  try {
    ip("link", "add", name, "type", "dummy");
  } catch {
    ip("link", "add", name, "type", "veth", "peer", "name", `${name}p`);
    ip("link", "set", `${name}p`, "up");
  }
  ip("link", "set", name, "up");
  return {
    dev: name,
    remove() {
      try {
        ip("link", "del", name);
      } catch {
        // already gone
      }
    },
  };
}

export class E2eHost {
  readonly dir: string;
  readonly policy: string;
  private readonly saved: Array<{ path: string; before: Saved | undefined }>;
  private readonly filterBefore: string | undefined;
  private readonly qemuDExisted: boolean;
  private readonly domains = new Set<string>();
  private readonly networks = new Set<string>();
  private readonly cleanups: Array<() => void> = [];

  constructor(readonly label: string) {
    ensureBuilt();
    this.dir = mkdtempSync(join(tmpdir(), `nwfh-e2e-${label}-`));
    this.policy = join(this.dir, "policy.ini");
    this.saved = [HOOK_PATH, MAIN_HOOK_PATH].map((path) => ({ path, before: save(path) }));
    this.filterBefore = filterXml();
    this.qemuDExisted = existsSync(dirname(HOOK_PATH));
  }

  /** A domain name for this suite; destroyed and undefined by tearDown(). */
  domainName(suffix: string): string {
    const name = `nwfh-e2e-${this.label}-${suffix}`;
    this.domains.add(name);
    destroyAndUndefine(name); // left over from an interrupted run
    return name;
  }

  /** A libvirt network, defined and started; removed by tearDown(). */
  network(xml: string): void {
    const name = /<name>([^<]*)<\/name>/.exec(xml)?.[1] as string;
    this.networks.add(name);
    removeNetwork(name);
    virshWithXmlFile("net-define", xml);
    virsh("net-start", name);
  }

  onTearDown(fn: () => void): void {
    this.cleanups.push(fn);
  }

  /** `install` into the real hooks directory with this suite's policy. */
  install(...extra: string[]): CliResult {
    return cli(["install", "--policy", this.policy, ...extra]);
  }

  writePolicy(text: string): void {
    writeFileSync(this.policy, text, { mode: 0o644 });
    chmodSync(this.policy, 0o644);
  }

  tearDown(): void {
    const { attempt, done } = attempts();
    for (const name of this.domains) attempt(`domain ${name}`, () => destroyAndUndefine(name));
    for (const name of this.networks) attempt(`network ${name}`, () => removeNetwork(name));
    for (const fn of this.cleanups.reverse()) attempt("cleanup", fn);
    attempt("uninstall --purge", () => {
      const r = cli(["uninstall", "--purge", "--policy", this.policy]);
      if (r.code !== 0) throw new Error(r.stdout + r.stderr);
    });
    // Whatever was there before the suite comes back, byte for byte.
    for (const { path, before } of this.saved) {
      attempt(`restore ${path}`, () => {
        if (before === undefined) return;
        writeFileSync(path, before.content);
        chmodSync(path, before.mode);
      });
    }
    // install made qemu.d when there was none: leave no empty directory behind.
    attempt("remove qemu.d", () => {
      const dir = dirname(HOOK_PATH);
      if (!this.qemuDExisted && existsSync(dir) && readdirSync(dir).length === 0) rmdirSync(dir);
    });
    if (this.filterBefore !== undefined && filterXml() === undefined) {
      attempt(`redefine ${FILTER}`, () => virshWithXmlFile("nwfilter-define", this.filterBefore as string));
    }
    rmSync(this.dir, { recursive: true, force: true });
    done("tearDown");
  }
}

export function filterXml(name = FILTER): string | undefined {
  try {
    return virsh("nwfilter-dumpxml", name);
  } catch (error) {
    if (error instanceof VirshError && /not found|no nwfilter/i.test(error.stderr)) return undefined;
    throw error;
  }
}

function removeNetwork(name: string): void {
  for (const args of [
    ["net-destroy", name],
    ["net-undefine", name],
  ]) {
    try {
      virsh(...args);
    } catch (error) {
      if (!(error instanceof VirshError && /not found|not active|no network with matching/i.test(error.stderr))) throw error;
    }
  }
}
