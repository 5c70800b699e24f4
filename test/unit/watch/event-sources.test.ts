// The watcher's event sources (src/watch/event-sources.ts) with a fake spawner and fake file
// changes: virsh's event lines (split anywhere) name the domains worth a look; a stream that
// ends says so once, one that is stopped does not; definition files name domains, a filter's
// file is reported once it has settled.
import { describe, expect, it } from "vitest";
import { DefinitionFiles, EventStream } from "../../../src/watch/event-sources.js";
import { fakeClock } from "./support/fake-clock.js";
import { fakeFiles, fakeSpawner, type FakeChild } from "./support/fake-host.js";

function stream() {
  const { spawner, children } = fakeSpawner();
  const domains: string[] = [];
  const warnings: string[] = [];
  const ended: string[] = [];
  const s = new EventStream({
    spawner,
    binary: "virsh",
    uri: "qemu:///system",
    env: { LC_ALL: "de_DE.UTF-8", X: "y" },
    domain: (n) => domains.push(n),
    warning: (l) => warnings.push(l),
    ended: (w) => ended.push(w),
  });
  return { s, children, domains, warnings, ended, child: () => children.at(-1) as FakeChild };
}

describe("EventStream", () => {
  it("runs virsh event --all --loop --timestamp in the C locale", () => {
    const t = stream();
    t.s.start();
    expect(t.child().command).toBe("virsh");
    expect(t.child().args).toEqual(["-c", "qemu:///system", "event", "--all", "--loop", "--timestamp"]);
    expect(t.child().env).toMatchObject({ LC_ALL: "C", X: "y" });
    expect(t.s.running).toBe(true);
  });

  it("names the domains that defined, started, resumed or got a device; lines may be split anywhere", () => {
    const t = stream();
    t.s.start();
    const text = [
      "2026-12-02 03:00:27.085+0000: event 'lifecycle' for domain 'web 1': Defined Added",
      "2026-12-02 03:00:27.100+0000: event 'lifecycle' for domain 'db': Stopped Destroyed",
      "2026-12-02 03:00:27.200+0000: event 'lifecycle' for domain 'db': Started Booted",
      "2026-12-02 03:00:27.276+0000: event 'device-added' for domain 'it's: odd': net1",
      "2026-12-02 03:00:27.300+0000: event 'lifecycle' for domain 'gone': Undefined Removed",
      "2026-12-02 03:00:27.400+0000: event 'reboot' for domain 'db'",
      "",
    ].join("\n");
    for (let i = 0; i < text.length; i += 7) t.child().events.stdout?.(text.slice(i, i + 7));
    expect(t.domains).toEqual(["web 1", "db", "it's: odd"]);
  });

  it("virsh's stderr lines become warnings", () => {
    const t = stream();
    t.s.start();
    t.child().events.stderr?.("error: Disconnected from qemu:///system due to end of file\n\n");
    expect(t.warnings).toEqual(["error: Disconnected from qemu:///system due to end of file"]);
  });

  it("a stream that ends by itself is reported once, with how it ended; after stop() nothing is", () => {
    const t = stream();
    t.s.start();
    t.child().exit(1);
    expect(t.ended).toEqual(["the event stream ended (virsh event exited 1)"]);
    expect(t.s.running).toBe(false);
    t.s.start();
    const second = t.child();
    t.s.stop();
    expect(second.signals).toEqual(["SIGTERM"]);
    second.exit(null, "SIGTERM");
    second.events.stdout?.("2026-12-02 03:00:27.085+0000: event 'lifecycle' for domain 'late': Defined Added\n");
    expect(t.ended).toHaveLength(1);
    expect(t.domains).toEqual([]);
  });

  it("start() while one runs replaces it", () => {
    const t = stream();
    t.s.start();
    const first = t.child();
    t.s.start();
    expect(first.signals).toEqual(["SIGTERM"]);
    first.exit(null, "SIGTERM");
    expect(t.ended).toEqual([]);
    expect(t.children).toHaveLength(2);
  });

  it("a virsh that cannot be started ends the stream", () => {
    const t = stream();
    t.s.start();
    t.child().events.error?.(Object.assign(new Error("spawn virsh ENOENT"), { code: "ENOENT" }));
    expect(t.ended).toEqual(["cannot run virsh event: spawn virsh ENOENT"]);
  });
});

describe("DefinitionFiles", () => {
  const setup = (failFor: string[] = []) => {
    const { clock, advance } = fakeClock();
    const f = fakeFiles({ failFor });
    const domains: string[] = [];
    const filters: string[] = [];
    const custom: string[] = [];
    const warnings: string[] = [];
    const d = new DefinitionFiles({
      files: f.files,
      clock,
      configDir: "/etc/libvirt/qemu",
      nwfilterDir: "/etc/libvirt/nwfilter",
      customDir: "/etc/nwfilter-hook/filters",
      domain: (n) => domains.push(n),
      filter: (n) => filters.push(n),
      custom: (n) => custom.push(n),
      warning: (m) => warnings.push(m),
    });
    d.start();
    return { d, f, advance, domains, filters, custom, warnings };
  };

  it("a changed NAME.xml names the domain; other files are ignored", () => {
    const t = setup();
    t.f.change("/etc/libvirt/qemu", "web1.xml");
    t.f.change("/etc/libvirt/qemu", "web1.xml.new");
    t.f.change("/etc/libvirt/qemu", "networks");
    expect(t.domains).toEqual(["web1"]);
  });

  it("a filter's file: reported once, 200 ms after the first change (libvirt writes it before it is done)", async () => {
    const t = setup();
    t.f.change("/etc/libvirt/nwfilter", "vdsm-no-mac-spoofing.xml");
    await t.advance(100);
    t.f.change("/etc/libvirt/nwfilter", "vdsm-no-mac-spoofing.xml");
    expect(t.filters).toEqual([]);
    await t.advance(100);
    expect(t.filters).toEqual(["vdsm-no-mac-spoofing"]);
    await t.advance(1_000);
    expect(t.filters).toEqual(["vdsm-no-mac-spoofing"]);
  });

  it("a custom filter's file: reported once it settles, apart from libvirt's filter of the same name; editors' dot files are ignored", async () => {
    const t = setup();
    t.f.change("/etc/nwfilter-hook/filters", "site-web.xml");
    t.f.change("/etc/libvirt/nwfilter", "site-web.xml");
    t.f.change("/etc/nwfilter-hook/filters", ".site-web.xml");
    t.f.change("/etc/nwfilter-hook/filters", "site-web.xml~");
    await t.advance(200);
    expect(t.custom).toEqual(["site-web"]);
    expect(t.filters).toEqual(["site-web"]);
  });

  it("no custom filters' directory: nothing to watch there, and nothing said", () => {
    const t = setup(["/etc/nwfilter-hook/filters"]);
    expect(t.warnings).toEqual([]);
    expect(t.f.watched.has("/etc/libvirt/nwfilter")).toBe(true);
  });

  it("a directory that cannot be watched is a warning, not a failure; stop() closes the rest and drops a settling filter", async () => {
    const t = setup(["/etc/libvirt/qemu"]);
    expect(t.warnings).toEqual(["cannot watch /etc/libvirt/qemu: ENOENT (events and resyncs still apply)"]);
    t.f.change("/etc/libvirt/nwfilter", "x.xml");
    t.d.stop();
    expect(t.f.watched.size).toBe(0);
    await t.advance(1_000);
    expect(t.filters).toEqual([]);
  });
});
