// The event parser (src/watch/events.ts) on lines that `LC_ALL=C virsh event --all --loop
// --timestamp` printed on libvirt 9.0, for a domain named `nwfh-x it's "q"`.
import { describe, expect, it } from "vitest";
import { LineSplitter, hintOf, parseEventLine } from "../../../src/watch/events.js";

const NAME = `nwfh-x it's "q"`;
// As captured, tabs and all.
const CAPTURED = `2026-12-02 03:10:52.971+0000: event 'lifecycle' for domain 'nwfh-x it's "q"': Resumed Unpaused
2026-12-02 03:10:52.975+0000: event 'lifecycle' for domain 'nwfh-x it's "q"': Started Booted
2026-12-02 03:10:53.013+0000: event 'tunable' for domain 'nwfh-x it's "q"':
\tcputune.cpu_shares: 512
2026-12-02 03:10:53.045+0000: event 'metadata-change' for domain 'nwfh-x it's "q"': type element, uri urn:x
2026-12-02 03:00:27.276+0000: event 'device-added' for domain 'nwfh-x it's "q"': net1
2026-12-02 03:10:55.147+0000: event 'lifecycle' for domain 'nwfh-x it's "q"': Stopped Destroyed
2026-12-02 03:10:55.175+0000: event 'lifecycle' for domain 'nwfh-x it's "q"': Undefined Removed
`;

describe("parseEventLine", () => {
  it("reads every event of a captured stream, and nothing from a continuation line", () => {
    const events = CAPTURED.split("\n").map(parseEventLine);
    expect(events).toEqual([
      { kind: "lifecycle", domain: NAME, detail: "Resumed Unpaused" },
      { kind: "lifecycle", domain: NAME, detail: "Started Booted" },
      { kind: "tunable", domain: NAME, detail: "" },
      undefined, // "\tcputune.cpu_shares: 512" belongs to the tunable event
      { kind: "metadata-change", domain: NAME, detail: "type element, uri urn:x" },
      { kind: "device-added", domain: NAME, detail: "net1" },
      { kind: "lifecycle", domain: NAME, detail: "Stopped Destroyed" },
      { kind: "lifecycle", domain: NAME, detail: "Undefined Removed" },
      undefined, // the final empty line
    ]);
  });

  it.each([
    ["a name with spaces", "web server 1"],
    ["a name with quotes and a colon-space", "it's: 'x'"],
    ["a name that looks like a detail", "a': Defined Added"],
  ])("%s", (_what, name) => {
    // The name ends at the last "': " on the line: a lifecycle detail never holds one.
    const line = `2026-12-02 03:00:00.000+0000: event 'lifecycle' for domain '${name}': Defined Updated`;
    expect(parseEventLine(line)).toEqual({ kind: "lifecycle", domain: name, detail: "Defined Updated" });
  });

  it("an event without a detail, and unknown kinds", () => {
    expect(parseEventLine("2026-12-02 03:00:00.000+0000: event 'reboot' for domain 'vm1'")).toEqual({ kind: "reboot", domain: "vm1", detail: "" });
    const unknown = parseEventLine("2026-12-02 03:00:00.000+0000: event 'some-new-kind' for domain 'vm1': whatever it says");
    expect(unknown).toEqual({ kind: "some-new-kind", domain: "vm1", detail: "whatever it says" });
    expect(hintOf(unknown as NonNullable<typeof unknown>)).toBe("none");
  });

  it("lines that are not events", () => {
    for (const line of [
      "",
      "error: Disconnected from qemu:///system due to end of file",
      "event loop interrupted",
      "\tkey: value",
      "2026-12-02: event 'x' for",
    ]) {
      expect(parseEventLine(line)).toBeUndefined();
    }
  });
});

describe("hintOf", () => {
  const ev = (detail: string, kind = "lifecycle") => hintOf({ kind, domain: "d", detail });
  it("definitions, running domains, departures and the rest", () => {
    for (const d of ["Defined Added", "Defined Updated", "Defined Renamed", "Defined Snapshot"]) expect(ev(d)).toBe("definition");
    for (const d of ["Started Booted", "Started Migrated", "Started Restored", "Resumed Unpaused"]) expect(ev(d)).toBe("running");
    expect(ev("net1", "device-added")).toBe("running");
    expect(ev("Undefined Removed")).toBe("gone");
    for (const d of ["Stopped Destroyed", "Shutdown Finished after host request", "Suspended Paused", "Crashed Panicked"]) expect(ev(d)).toBe("none");
  });
});

describe("LineSplitter", () => {
  it("keeps an unfinished line for the next chunk; drops a CR before LF", () => {
    const s = new LineSplitter();
    expect(s.push("a\nb")).toEqual(["a"]);
    expect(s.push("c\r\nd\n")).toEqual(["bc", "d"]);
    expect(s.push("")).toEqual([]);
  });
});
