// Running virsh for the admin CLI (never for the hook: a hook that calls libvirt deadlocks the
// daemon). A VirshRunner runs one virsh command; tests substitute their own. Virsh wraps it with
// the few calls the CLI makes and turns virsh's stderr into one clear error.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HostError } from "../core/errors.js";

export interface VirshResult {
  status: number;
  stdout: string;
  stderr: string;
}

export interface VirshRunner {
  /** Runs `virsh ARGS...`; throws LibvirtError only when virsh cannot be run at all. */
  run(args: readonly string[]): VirshResult;
  /** The connection URI, for messages. */
  readonly uri: string;
}

export type LibvirtFailure = "virsh-missing" | "daemon-down" | "permission" | "domain-not-found" | "timeout" | "failed";

/** A virsh command failed; `kind` says why in terms an admin can act on. */
export class LibvirtError extends HostError {
  readonly kind: LibvirtFailure;
  constructor(kind: LibvirtFailure, message: string) {
    super(message);
    this.kind = kind;
  }
}

export interface ProcessVirshOptions {
  /** The virsh binary: a name looked up on PATH, or a path. */
  binary?: string;
  uri: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Runs the real virsh, with `-c URI`, in the C locale so that its messages are the ones we know. */
export function processVirsh(options: ProcessVirshOptions): VirshRunner {
  const binary = options.binary ?? "virsh";
  const timeout = options.timeoutMs ?? 120_000;
  const env = { ...(options.env ?? process.env), LC_ALL: "C" };
  return {
    uri: options.uri,
    run(args) {
      const r = spawnSync(binary, ["-c", options.uri, ...args], { encoding: "utf8", env, timeout, maxBuffer: 256 * 1024 * 1024 });
      if (r.error) {
        const code = (r.error as NodeJS.ErrnoException).code;
        if (code === "ENOENT") throw new LibvirtError("virsh-missing", `virsh not found (looked for '${binary}' on PATH): install libvirt-clients`);
        if (code === "EACCES") throw new LibvirtError("permission", `permission denied running '${binary}'`);
        if (code === "ETIMEDOUT") {
          throw new LibvirtError("timeout", `'virsh ${args.join(" ")}' did not finish within ${Math.round(timeout / 1000)} s: is the libvirt daemon stuck?`);
        }
        throw new LibvirtError("failed", `cannot run '${binary}': ${r.error.message}`);
      }
      return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
    },
  };
}

/** virsh's error lines, without the "error: " prefixes, on one line. */
function errorText(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((l) => l.trim().replace(/^error:\s*/, ""))
    .filter((l) => l !== "");
  return lines.join("; ") || "no error message";
}

/** Maps virsh's messages to the failures an admin can act on. */
export function classify(result: VirshResult, args: readonly string[], uri: string, domain?: string): LibvirtError {
  const text = errorText(result.stderr);
  if (/failed to connect (to the hypervisor|socket)/i.test(result.stderr)) {
    if (/permission denied|authentication (failed|unavailable)|access denied/i.test(result.stderr)) {
      return new LibvirtError("permission", `permission denied connecting to libvirt at ${uri}: run as root (${text})`);
    }
    return new LibvirtError("daemon-down", `the libvirt daemon is not running (cannot connect to ${uri}): start libvirtd or virtqemud (${text})`);
  }
  if (/permission denied|access denied|authentication (failed|unavailable)|operation not permitted/i.test(result.stderr)) {
    return new LibvirtError("permission", `permission denied: 'virsh ${args.join(" ")}': ${text}: run as root`);
  }
  if (/domain not found|failed to get domain/i.test(result.stderr)) {
    const name = domain ?? /failed to get domain '([^']*)'/i.exec(result.stderr)?.[1] ?? "?";
    return new LibvirtError("domain-not-found", `domain '${name}' not found (virsh list --all shows the defined domains)`);
  }
  return new LibvirtError("failed", `'virsh ${args.join(" ")}' failed: ${text}`);
}

/** A domain as `virsh list --uuid --name` shows it. */
export interface DomainRef {
  uuid: string;
  name: string;
}

const UUID_TEXT = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const UUID = new RegExp(`^${UUID_TEXT}$`);
const UUID_THEN_NAME = new RegExp(`^(${UUID_TEXT}) (.*)$`, "i");

export interface DomainInfo {
  name: string;
  active: boolean;
  persistent: boolean;
  /** When known: virsh is then given the UUID, which a rename cannot make name another domain. */
  uuid?: string;
}

export class Virsh {
  readonly runner: VirshRunner;
  constructor(runner: VirshRunner) {
    this.runner = runner;
  }

  get uri(): string {
    return this.runner.uri;
  }

  /** stdout of a command that must succeed; `shown` is how messages write the command. */
  call(args: readonly string[], domain?: string, shown: readonly string[] = args): string {
    const r = this.runner.run(args);
    if (r.status !== 0) throw classify(r, shown, this.uri, domain);
    return r.stdout;
  }

  /** Runs `virsh ARGS... FILE` with the text in a private temporary file (it may hold secrets). */
  callWithFile(args: readonly string[], text: string, after: readonly string[] = [], domain?: string): string {
    const dir = mkdtempSync(join(tmpdir(), "nwfilter-hook-"));
    try {
      const file = join(dir, "input.xml");
      writeFileSync(file, text, { mode: 0o600 });
      // The temporary file is gone by the time anyone reads the message: it is not named there.
      return this.call([...args, file, ...after], domain, [...args, ...after]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** The daemon's libvirt version ("9.0.0"). */
  daemonVersion(): string {
    const out = this.call(["version", "--daemon"]);
    const m = /Running against daemon:\s*(\S+)/.exec(out);
    if (!m?.[1]) throw new LibvirtError("failed", `cannot read the daemon's version from 'virsh version --daemon': ${JSON.stringify(out.trim())}`);
    return m[1];
  }

  /** The client's libvirt version (virsh --version), which needs no daemon. */
  clientVersion(): string {
    const out = this.call(["--version"]).trim();
    if (!/^\d+(\.\d+)*$/.test(out)) throw new LibvirtError("failed", `cannot read the version from 'virsh --version': ${JSON.stringify(out)}`);
    return out;
  }

  private names(args: readonly string[]): string[] {
    return this.call(["list", "--name", ...args])
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "");
  }

  /** Every domain, sorted by name. */
  domains(): DomainInfo[] {
    const all = this.names(["--all"]);
    const active = new Set(this.names([]));
    const transient = new Set(this.names(["--all", "--transient"]));
    return all.sort().map((name) => ({ name, active: active.has(name), persistent: !transient.has(name) }));
  }

  domainState(domain: string): string {
    return this.call(["domstate", domain], domain).trim();
  }

  /** The persistent definition (inactive) with secrets, or the live one. */
  dumpxml(domain: string, which: "config" | "live"): string {
    const args = which === "config" ? ["dumpxml", "--inactive", "--security-info", domain] : ["dumpxml", domain];
    return this.call(args, domain);
  }

  define(xml: string, domain?: string): void {
    this.callWithFile(["define"], xml, [], domain);
  }

  updateDeviceLive(domain: string, deviceXml: string, name = domain): void {
    this.callWithFile(["update-device", domain], deviceXml, ["--live"], name);
  }

  /**
   * Every domain's UUID and name, from one `list --all --uuid --name` (one call to the daemon).
   * virsh prints "UUID NAME" with the name as it is, spaces at either end included.
   */
  domainRefs(): DomainRef[] {
    const refs: DomainRef[] = [];
    for (const l of this.call(["list", "--all", "--uuid", "--name"]).split("\n")) {
      const m = UUID_THEN_NAME.exec(l);
      if (m) refs.push({ uuid: (m[1] as string).toLowerCase(), name: m[2] as string });
    }
    return refs;
  }

  /** Every domain with its UUID, sorted by name. */
  domainsByUuid(): DomainInfo[] {
    const uuids = (args: readonly string[]) =>
      this.call(["list", ...args])
        .split("\n")
        .map((l) => l.trim().toLowerCase())
        .filter((l) => l !== "");
    const active = new Set(uuids(["--uuid"]));
    const transient = new Set(uuids(["--all", "--transient", "--uuid"]));
    const all = this.domainRefs().map(({ uuid, name }) => ({ uuid, name, active: active.has(uuid), persistent: !transient.has(uuid) }));
    return all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** stdout of a command about one domain, or undefined when virsh finds no such domain. */
  private aboutDomain(args: readonly string[], ref: string): string | undefined {
    const r = this.runner.run(args);
    if (r.status === 0) return r.stdout;
    const e = classify(r, args, this.uri, ref);
    if (e.kind === "domain-not-found") return undefined;
    throw e;
  }

  /**
   * The UUID of the domain virsh finds for `ref`, or undefined: one call to the daemon, far
   * cheaper than dominfo. virsh takes `ref` as an ID first when it reads as a number, then as
   * a UUID when it has a UUID's length, and only then as a name.
   */
  domainUuid(ref: string): string | undefined {
    const out = this.aboutDomain(["domuuid", ref], ref);
    if (out === undefined) return undefined;
    const uuid = out.trim().toLowerCase();
    if (!UUID.test(uuid)) throw new LibvirtError("failed", `cannot read 'virsh domuuid ${ref}': ${JSON.stringify(out.slice(0, 200))}`);
    return uuid;
  }

  /** One domain by UUID or name, or undefined when there is none. */
  domainInfo(ref: string): DomainInfo | undefined {
    const out = this.aboutDomain(["dominfo", ref], ref);
    if (out === undefined) return undefined;
    const field = (name: string) => new RegExp(`^${name}:[ \t]*(.*)$`, "m").exec(out)?.[1]?.trim();
    const name = field("Name");
    const uuid = field("UUID");
    if (name === undefined || uuid === undefined) throw new LibvirtError("failed", `cannot read 'virsh dominfo ${ref}': ${JSON.stringify(out.slice(0, 200))}`);
    const state = field("State") ?? "";
    return { name, uuid: uuid.toLowerCase(), active: state !== "shut off" && state !== "crashed" && state !== "", persistent: field("Persistent") === "yes" };
  }

  /** An nwfilter's definition, or undefined when there is none of that name. */
  nwfilterXml(name: string): string | undefined {
    const args = ["nwfilter-dumpxml", name];
    const r = this.runner.run(args);
    if (r.status === 0) return r.stdout;
    if (/network filter not found|no nwfilter with matching name/i.test(r.stderr)) return undefined;
    throw classify(r, args, this.uri);
  }

  nwfilterDefine(xml: string): void {
    this.callWithFile(["nwfilter-define"], xml);
  }

  nwfilterUndefine(name: string): void {
    this.call(["nwfilter-undefine", name]);
  }

  /** nwfilter bindings: [port device, filter]. */
  nwfilterBindings(): Array<{ port: string; filter: string }> {
    return this.call(["nwfilter-binding-list"])
      .split("\n")
      .slice(2)
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length >= 2 && f[0] !== "")
      .map((f) => ({ port: f[0] as string, filter: f[1] as string }));
  }
}
