// The few virsh calls the admin CLI and the watcher make (never the hook: a hook that calls
// libvirt deadlocks the daemon), over a VirshRunner (src/host/virsh-runner.ts: one process per
// call; src/host/virsh-session.ts: one session for many), with virsh's stderr turned into one
// clear error. Every call is asynchronous and has a deadline.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KEEPALIVE_LOST, LibvirtError, WRITE_DEADLINE_MS, type VirshResult, type VirshRunner } from "./virsh-runner.js";

export * from "./virsh-runner.js";

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
  if (KEEPALIVE_LOST.test(result.stderr)) {
    return new LibvirtError(
      "timeout",
      `the libvirt daemon stopped answering during 'virsh ${args.join(" ")}' (no answer to virsh's keepalive): is it stopped or hung?`,
    );
  }
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
  async call(args: readonly string[], domain?: string, shown: readonly string[] = args, timeoutMs?: number): Promise<string> {
    const r = await this.runner.run(args, { shown, timeoutMs });
    if (r.status !== 0) throw classify(r, shown, this.uri, domain);
    return r.stdout;
  }

  /** Runs `virsh ARGS... FILE` with the text in a private temporary file (it may hold secrets); these calls change libvirt. */
  async callWithFile(args: readonly string[], text: string, after: readonly string[] = [], domain?: string): Promise<string> {
    const dir = mkdtempSync(join(tmpdir(), "nwfilter-hook-"));
    try {
      const file = join(dir, "input.xml");
      writeFileSync(file, text, { mode: 0o600 });
      // The temporary file is gone by the time anyone reads the message: it is not named there.
      return await this.call([...args, file, ...after], domain, [...args, ...after], WRITE_DEADLINE_MS);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** The daemon's libvirt version ("9.0.0"). */
  async daemonVersion(): Promise<string> {
    const out = await this.call(["version", "--daemon"]);
    const m = /Running against daemon:\s*(\S+)/.exec(out);
    if (!m?.[1]) throw new LibvirtError("failed", `cannot read the daemon's version from 'virsh version --daemon': ${JSON.stringify(out.trim())}`);
    return m[1];
  }

  /** The client's libvirt version (virsh --version), which needs no daemon. */
  async clientVersion(): Promise<string> {
    const out = (await this.call(["--version"])).trim();
    if (!/^\d+(\.\d+)*$/.test(out)) throw new LibvirtError("failed", `cannot read the version from 'virsh --version': ${JSON.stringify(out)}`);
    return out;
  }

  private async names(args: readonly string[]): Promise<string[]> {
    return (await this.call(["list", "--name", ...args]))
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "");
  }

  /** Every domain, sorted by name. */
  async domains(): Promise<DomainInfo[]> {
    const all = await this.names(["--all"]);
    const active = new Set(await this.names([]));
    const transient = new Set(await this.names(["--all", "--transient"]));
    return all.sort().map((name) => ({ name, active: active.has(name), persistent: !transient.has(name) }));
  }

  async domainState(domain: string): Promise<string> {
    return (await this.call(["domstate", domain], domain)).trim();
  }

  /** The persistent definition (inactive) with secrets, or the live one. */
  dumpxml(domain: string, which: "config" | "live"): Promise<string> {
    const args = which === "config" ? ["dumpxml", "--inactive", "--security-info", domain] : ["dumpxml", domain];
    return this.call(args, domain);
  }

  async define(xml: string, domain?: string): Promise<void> {
    await this.callWithFile(["define"], xml, [], domain);
  }

  async updateDeviceLive(domain: string, deviceXml: string, name = domain): Promise<void> {
    await this.callWithFile(["update-device", domain], deviceXml, ["--live"], name);
  }

  /**
   * Every domain's UUID and name, from one `list --all --uuid --name` (one call to the daemon).
   * virsh prints "UUID NAME" with the name as it is, spaces at either end included.
   */
  async domainRefs(): Promise<DomainRef[]> {
    const refs: DomainRef[] = [];
    for (const l of (await this.call(["list", "--all", "--uuid", "--name"])).split("\n")) {
      const m = UUID_THEN_NAME.exec(l);
      if (m) refs.push({ uuid: (m[1] as string).toLowerCase(), name: m[2] as string });
    }
    return refs;
  }

  /** Every domain with its UUID, sorted by name. */
  async domainsByUuid(): Promise<DomainInfo[]> {
    const uuids = async (args: readonly string[]) =>
      (await this.call(["list", ...args]))
        .split("\n")
        .map((l) => l.trim().toLowerCase())
        .filter((l) => l !== "");
    const active = new Set(await uuids(["--uuid"]));
    const transient = new Set(await uuids(["--all", "--transient", "--uuid"]));
    const all = (await this.domainRefs()).map(({ uuid, name }) => ({ uuid, name, active: active.has(uuid), persistent: !transient.has(uuid) }));
    return all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** stdout of a command about one domain, or undefined when virsh finds no such domain. */
  private async aboutDomain(args: readonly string[], ref: string): Promise<string | undefined> {
    const r = await this.runner.run(args);
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
  async domainUuid(ref: string): Promise<string | undefined> {
    const out = await this.aboutDomain(["domuuid", ref], ref);
    if (out === undefined) return undefined;
    const uuid = out.trim().toLowerCase();
    if (!UUID.test(uuid)) throw new LibvirtError("failed", `cannot read 'virsh domuuid ${ref}': ${JSON.stringify(out.slice(0, 200))}`);
    return uuid;
  }

  /** One domain by UUID or name, or undefined when there is none. */
  async domainInfo(ref: string): Promise<DomainInfo | undefined> {
    const out = await this.aboutDomain(["dominfo", ref], ref);
    if (out === undefined) return undefined;
    const field = (name: string) => new RegExp(`^${name}:[ \t]*(.*)$`, "m").exec(out)?.[1]?.trim();
    const name = field("Name");
    const uuid = field("UUID");
    if (name === undefined || uuid === undefined) throw new LibvirtError("failed", `cannot read 'virsh dominfo ${ref}': ${JSON.stringify(out.slice(0, 200))}`);
    const state = field("State") ?? "";
    return { name, uuid: uuid.toLowerCase(), active: state !== "shut off" && state !== "crashed" && state !== "", persistent: field("Persistent") === "yes" };
  }

  /** An nwfilter's definition, or undefined when there is none of that name. */
  async nwfilterXml(name: string): Promise<string | undefined> {
    const args = ["nwfilter-dumpxml", name];
    const r = await this.runner.run(args);
    if (r.status === 0) return r.stdout;
    if (/network filter not found|no nwfilter with matching name/i.test(r.stderr)) return undefined;
    throw classify(r, args, this.uri);
  }

  async nwfilterDefine(xml: string): Promise<void> {
    await this.callWithFile(["nwfilter-define"], xml);
  }

  async nwfilterUndefine(name: string): Promise<void> {
    await this.call(["nwfilter-undefine", name], undefined, undefined, WRITE_DEADLINE_MS);
  }

  /** nwfilter bindings: [port device, filter]. */
  async nwfilterBindings(): Promise<Array<{ port: string; filter: string }>> {
    return (await this.call(["nwfilter-binding-list"]))
      .split("\n")
      .slice(2)
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length >= 2 && f[0] !== "")
      .map((f) => ({ port: f[0] as string, filter: f[1] as string }));
  }
}
