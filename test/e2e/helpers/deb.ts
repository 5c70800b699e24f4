// End-to-end helpers for the Debian package: build it (scripts/package.mjs over the built dist/),
// run dpkg, say whether the tools are there, and list the host's files to compare before and after.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, rmdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ensureBuilt } from "../../cli/support/build.js";
import { REPO_ROOT } from "../../support/paths.js";
import { attempts } from "./attempt.js";
import { collect } from "./child-output.js";
import { FILTER, HOOK_PATH, MAIN_HOOK_PATH, filterXml } from "./cli.js";
import { destroyAndUndefine, libvirtAvailable, virsh, virshWithXmlFile } from "./libvirt.js";

export const PACKAGE = "nwfilter-hook";
export const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string }).version;

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(command: string, args: string[], env: Record<string, string> = {}, timeoutMs = 300_000): Run {
  const r = spawnSync(command, args, {
    encoding: "utf8",
    input: "",
    timeout: timeoutMs,
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive", LC_ALL: "C", ...env },
  });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * run() without blocking: the long commands (dpkg, lintian, ansible-playbook) leave the event
 * loop free, so that the test runner's worker keeps talking to its parent meanwhile.
 */
export function runAsync(command: string, args: string[], env: Record<string, string> = {}, timeoutMs = 300_000): Promise<Run> {
  const child = spawn(command, args, {
    stdio: ["ignore", "pipe", "pipe"],
    timeout: timeoutMs,
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive", LC_ALL: "C", ...env },
  });
  return collect(child);
}

export function runOk(command: string, args: string[], env: Record<string, string> = {}): string {
  const r = run(command, args, env);
  if (r.code !== 0) throw new Error(`${command} ${args.join(" ")} exited ${r.code}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Builds the package (of `version`, default package.json's) into `outDir`; returns its path. */
export function buildPackage(outDir: string, version?: string): string {
  ensureBuilt();
  const args = [join(REPO_ROOT, "scripts", "package.mjs"), "--out", outDir, ...(version ? ["--version", version] : [])];
  const r = spawnSync(process.execPath, args, { cwd: REPO_ROOT, encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`package.mjs exited ${r.status}:\n${r.stdout}${r.stderr}`);
  const deb = join(outDir, `${PACKAGE}_${version ?? VERSION}_all.deb`);
  if (!existsSync(deb)) throw new Error(`package.mjs did not write ${deb}`);
  return deb;
}

/** The installed version of a package, or undefined when it is not installed. */
export function installedVersion(name = PACKAGE): string | undefined {
  const r = spawnSync("dpkg-query", ["-W", "-f=${db:Status-Status} ${Version}", name], { encoding: "utf8" });
  if (r.status !== 0) return undefined;
  const [status, version] = r.stdout.trim().split(" ");
  return status === "installed" || status === "half-configured" || status === "unpacked" || status === "config-files" ? `${status} ${version}` : undefined;
}

export function onPath(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

/**
 * Whether the package suites can run: real libvirt, the Debian tools, and no nwfilter-hook
 * package on the host already (the suites install and purge it). Skips elsewhere; under CI=true
 * anything missing is a failure.
 */
export function requirePackageHost(tools: string[]): boolean {
  const libvirt = libvirtAvailable();
  const missing = tools.filter((t) => !onPath(t));
  const installed = installedVersion();
  const why = !libvirt.ok
    ? libvirt.why
    : missing.length > 0
      ? `missing ${missing.join(", ")}`
      : installed
        ? `package ${PACKAGE} is already on this host (${installed})`
        : undefined;
  if (why === undefined) return true;
  if (process.env.CI === "true") throw new Error(`the package suites must run under CI=true: ${why}`);
  return false;
}

/** Directories whose files belong to the host's running state or to libvirt's domains, not to packages. */
const VOLATILE = [
  "/proc",
  "/sys",
  "/dev",
  "/run",
  "/tmp",
  "/var/tmp",
  "/var/log",
  "/var/cache",
  "/var/lib/dpkg",
  "/var/lib/apt",
  "/var/lib/libvirt",
  "/var/backups",
  "/etc/libvirt/qemu",
  "/root",
  "/home",
  "/work",
  "/opt",
  "/srv",
  "/mnt",
  "/media",
  "/lost+found",
];

/**
 * Every path on the root file system outside VOLATILE, with its type ('f', 'd', 'l'), sorted.
 * With `root`, the same for another system's root directory (a chroot), its paths as that
 * system sees them.
 */
export function fileListing(root = "/"): string[] {
  // The checkout too, wherever CI put it: the test runner writes there.
  const pruned = root === "/" ? [...VOLATILE, REPO_ROOT] : VOLATILE.map((d) => join(root, d));
  const prune = pruned.flatMap((d, i) => [...(i > 0 ? ["-o"] : []), "-path", d]);
  const format = root === "/" ? "%y %p\\n" : "%y /%P\\n";
  const out = execFileSync("find", [root, "-xdev", "(", ...prune, ")", "-prune", "-o", "-printf", format], {
    encoding: "utf8",
    maxBuffer: 512 * 1024 * 1024,
  });
  return out.split("\n").filter(Boolean).sort();
}

/** What is in `after` and not in `before`, and the other way round. */
export function listingDiff(before: string[], after: string[]): { added: string[]; removed: string[] } {
  const b = new Set(before);
  const a = new Set(after);
  return { added: after.filter((p) => !b.has(p)), removed: before.filter((p) => !a.has(p)) };
}

const ETC_DIR = "/etc/nwfilter-hook";

/**
 * What the package suites change, saved before they start: the hook files, the filter and
 * /etc/nwfilter-hook. The returned restore() purges the package, removes the suite's domains
 * and puts the rest back.
 */
export function saveHost(domains: string[]): { filterBefore: string | undefined; restore(): void } {
  const hooks = new Map<string, Buffer | undefined>();
  for (const path of [HOOK_PATH, MAIN_HOOK_PATH]) hooks.set(path, existsSync(path) ? readFileSync(path) : undefined);
  // A hook from an earlier install (README's first command) would make the package's install an
  // update and its removal a loss: the suites start without it, and it comes back afterwards.
  for (const path of hooks.keys()) rmSync(path, { force: true });
  // The package owns qemu.d, so dpkg removes it at purge when it is empty, as it may be when an
  // earlier suite's install made it: the suites start without an empty one, and it comes back.
  const hooksDir = dirname(HOOK_PATH);
  const emptyHooksDir = existsSync(hooksDir) && readdirSync(hooksDir).length === 0;
  if (emptyHooksDir) rmdirSync(hooksDir);
  const filterBefore = filterXml();
  for (const name of domains) destroyAndUndefine(name);
  // A policy left by an earlier manual install would become the package's and go with its purge:
  // the suites start without it, and it comes back afterwards.
  const aside = existsSync(ETC_DIR) ? `${ETC_DIR}.saved-by-e2e-${process.pid}` : undefined;
  if (aside) renameSync(ETC_DIR, aside);
  return {
    filterBefore,
    restore() {
      const { attempt, done } = attempts();
      attempt("purge", () => {
        if (installedVersion()) runOk("dpkg", ["--purge", PACKAGE]);
      });
      if (aside) {
        attempt(`restore ${ETC_DIR}`, () => {
          rmSync(ETC_DIR, { recursive: true, force: true });
          renameSync(aside, ETC_DIR);
        });
      }
      for (const name of domains) attempt(`domain ${name}`, () => destroyAndUndefine(name));
      for (const [path, content] of hooks) {
        attempt(`restore ${path}`, () => {
          if (content === undefined) rmSync(path, { force: true });
          else {
            // The package's purge takes qemu.d with it when it is empty.
            mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
            writeFileSync(path, content, { mode: 0o755 });
          }
        });
      }
      if (emptyHooksDir) attempt(`restore ${hooksDir}`, () => mkdirSync(hooksDir, { recursive: true, mode: 0o755 }));
      attempt(`filter ${FILTER}`, () => {
        if (filterBefore === undefined && filterXml() !== undefined) virsh("nwfilter-undefine", FILTER);
        if (filterBefore !== undefined && filterXml() === undefined) virshWithXmlFile("nwfilter-define", filterBefore);
      });
      done("cleanup");
    },
  };
}
