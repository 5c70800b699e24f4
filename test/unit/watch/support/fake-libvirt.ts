// An in-memory libvirt behind a VirshRunner, for the watcher's tests: the virsh commands the
// watcher sends, answered from a few domains, on the test's fake clock: a command may take time
// (latency per command; one longer than its deadline fails as the real runners fail it), and a
// daemon that is "hung" answers nothing, until virsh's keepalive gives up on it (KEEPALIVE_MS).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Clock } from "../../../../src/host/clock.js";
import { DEFAULT_DEADLINE_MS, deadlineError, type InFlight, type RunOptions, type VirshResult, type VirshRunner } from "../../../../src/host/virsh.js";
import { INCLUDED_BY_DEFAULT } from "../../../support/builtin-filters.js";
import { REPO_ROOT } from "../../../support/paths.js";

export const FILTER_REF = "<filterref filter='vdsm-no-mac-spoofing'/>";
/** When virsh's keepalive (-k 5 -K 3) gives up on a daemon that does not answer. */
export const KEEPALIVE_MS = 20_000;
const SHIPPED_FILTER = readFileSync(join(REPO_ROOT, "nwfilter", "vdsm-no-mac-spoofing.xml"), "utf8");

export interface FakeDomain {
  name: string;
  uuid: string;
  config: string;
  /** The live XML while it runs. */
  live?: string;
}

export const uuidOf = (n: number) => `00000000-0000-4000-8000-${n.toString().padStart(12, "0")}`;
export const macOf = (n: number) => `52:54:00:00:${((n >> 8) & 0xff).toString(16).padStart(2, "0")}:${(n & 0xff).toString(16).padStart(2, "0")}`;

export function domainXml(name: string, uuid: string, mac: string, filter: boolean | string = false): string {
  const ref = filter === true ? `\n      ${FILTER_REF}` : typeof filter === "string" ? `\n      ${filter}` : "";
  return `<domain type='kvm'>\n  <name>${name}</name>\n  <uuid>${uuid}</uuid>\n  <devices>\n    <interface type='bridge'>\n      <mac address='${mac}'/>\n      <source bridge='br0'/>${ref}\n    </interface>\n  </devices>\n</domain>\n`;
}

const ok = (stdout: string): VirshResult => ({ status: 0, stdout, stderr: "" });
const fail = (stderr: string): VirshResult => ({ status: 1, stdout: "", stderr: `error: ${stderr}\n` });

export class FakeLibvirt {
  readonly domains = new Map<string, FakeDomain>();
  /** Every call, as "COMMAND ARGS" (a file argument as FILE). */
  readonly calls: string[] = [];
  /** Extra time a command takes, by its first word. */
  latency: Record<string, number> = {};
  hung = false;
  /** Defined nwfilters by name: the shipped one and the built-ins it includes, to begin with. */
  readonly filters = new Map<string, string>([["vdsm-no-mac-spoofing", SHIPPED_FILTER], ...Object.entries(INCLUDED_BY_DEFAULT)]);
  private readonly out = new Set<InFlight>();
  closed = 0;

  constructor(private readonly clock: Clock) {}

  /** A domain lacking the filter (running when `live`), numbered n; `filter`: the shipped filterref, or this one. */
  add(n: number, options: { live?: boolean; filter?: boolean | string; name?: string } = {}): FakeDomain {
    const name = options.name ?? `vm${n}`;
    const uuid = uuidOf(n);
    const xml = domainXml(name, uuid, macOf(n), options.filter);
    const d: FakeDomain = { name, uuid, config: xml, live: options.live ? xml : undefined };
    this.domains.set(uuid, d);
    return d;
  }

  find(ref: string): FakeDomain | undefined {
    return this.domains.get(ref) ?? [...this.domains.values()].find((d) => d.name === ref);
  }

  get runner(): VirshRunner & { close(): void } {
    return {
      uri: "test:///fake",
      inFlight: () => [...this.out].sort((a, b) => a.since - b.since)[0],
      close: () => void this.closed++,
      run: (args, options) => this.run(args, options),
    };
  }

  private run(args: readonly string[], options: RunOptions = {}): Promise<VirshResult> {
    const shown = options.shown ?? args;
    const timeoutMs = options.timeoutMs ?? DEFAULT_DEADLINE_MS;
    const entry: InFlight = { what: `virsh ${shown.join(" ")}`, since: this.clock.now(), timeoutMs };
    this.calls.push(args.map((a) => (a.endsWith("input.xml") ? "FILE" : a)).join(" "));
    this.out.add(entry);
    return new Promise<VirshResult>((resolve, reject) => {
      const done = (fn: () => void) => {
        this.out.delete(entry);
        fn();
      };
      if (this.hung) {
        const lost = {
          status: 1,
          stdout: "",
          stderr: "error: Disconnected from test:///fake due to keepalive timeout\nerror: internal error: connection closed due to keepalive timeout\n",
        };
        if (KEEPALIVE_MS < timeoutMs) this.clock.setTimeout(() => done(() => resolve(lost)), KEEPALIVE_MS);
        else this.clock.setTimeout(() => done(() => reject(deadlineError(shown, timeoutMs))), timeoutMs);
        return;
      }
      const answer = () => done(() => resolve(this.answer(args)));
      const latency = this.latency[args[0] ?? ""] ?? 0;
      if (latency >= timeoutMs) this.clock.setTimeout(() => done(() => reject(deadlineError(shown, timeoutMs))), timeoutMs);
      else if (latency > 0) this.clock.setTimeout(answer, latency);
      else queueMicrotask(answer);
    });
  }

  private answer(args: readonly string[]): VirshResult {
    const [cmd, ...rest] = args;
    const flags = new Set(rest.filter((a) => a.startsWith("--")));
    const words = rest.filter((a) => !a.startsWith("--"));
    const all = [...this.domains.values()];
    const domain = (ref: string | undefined) => (ref === undefined ? undefined : this.find(ref));
    switch (cmd) {
      case "version":
        return ok("Compiled against library: libvirt 9.0.0\nRunning against daemon: 9.0.0\n\n");
      case "list": {
        let list = flags.has("--all") ? all : all.filter((d) => d.live !== undefined);
        if (flags.has("--transient")) list = [];
        if (flags.has("--name")) return ok(list.map((d) => (flags.has("--uuid") ? `${d.uuid} ${d.name}` : d.name)).join("\n") + "\n\n");
        return ok(list.map((d) => d.uuid).join("\n") + "\n\n");
      }
      case "dominfo": {
        const d = domain(words[0]);
        if (!d) return fail(`failed to get domain '${words[0]}'`);
        return ok(`Id: 1\nName: ${d.name}\nUUID: ${d.uuid}\nState: ${d.live ? "running" : "shut off"}\nPersistent: yes\n\n`);
      }
      case "domuuid": {
        const d = domain(words[0]);
        return d ? ok(`${d.uuid}\n\n`) : fail(`failed to get domain '${words[0]}'`);
      }
      case "dumpxml": {
        const d = domain(words[0]);
        if (!d) return fail(`failed to get domain '${words[0]}'`);
        return ok((flags.has("--inactive") || !d.live ? d.config : d.live) + "\n");
      }
      case "define": {
        const xml = readFileSync(words[0] as string, "utf8");
        const uuid = /<uuid>([^<]*)<\/uuid>/.exec(xml)?.[1] as string;
        const d = this.domains.get(uuid);
        if (!d) return fail("no such domain in this fake");
        d.config = xml;
        return ok(`Domain '${d.name}' defined from FILE\n\n`);
      }
      case "update-device": {
        const d = domain(words[0]);
        if (!d?.live) return fail("domain is not running");
        const device = readFileSync(words[1] as string, "utf8").trim();
        const mac = /<mac address='([^']*)'/.exec(device)?.[1] as string;
        d.live = d.live.replace(new RegExp(`<interface[^>]*>(?:(?!</interface>)[\\s\\S])*${mac}[\\s\\S]*?</interface>`), device);
        return ok("Device updated successfully\n\n");
      }
      case "nwfilter-dumpxml": {
        const xml = this.filters.get(words[0] as string);
        return xml !== undefined ? ok(xml) : fail(`Network filter not found: no nwfilter with matching name '${words[0]}'`);
      }
      case "nwfilter-define": {
        const xml = readFileSync(words[0] as string, "utf8");
        const name = /<filter[^>]*name=['"]([^'"]*)['"]/.exec(xml)?.[1] as string;
        this.filters.set(name, xml);
        return ok(`Network filter ${name} defined from FILE\n\n`);
      }
      default:
        return fail(`unknown command: '${args.join(" ")}'`);
    }
  }
}
