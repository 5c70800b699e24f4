// distrust and trusted (src/host/trust.ts): the one rule for what runs as root may read (the
// policy, the startup snapshot and code cache): not writable by group or others, and owned by
// root when we are root; one wording for every refusal.
import { describe, expect, it } from "vitest";
import { distrust, trusted } from "../../../src/host/trust.js";

describe("trust of a file or directory", () => {
  const writable = (mode: string) => ({ reason: `writable by group or others (mode ${mode})`, fix: "chmod go-w" });
  const owner = (uid: number) => ({ reason: `owned by uid ${uid}, not root`, fix: "chown root" });
  it.each([
    // mode, owner, our euid, what is wrong
    [0o100644, 0, 0, undefined],
    [0o100600, 0, 0, undefined],
    [0o100444, 0, 0, undefined],
    [0o040755, 0, 0, undefined],
    [0o041777, 0, 0, writable("1777")],
    [0o100664, 0, 0, writable("0664")],
    [0o100646, 0, 0, writable("0646")],
    [0o100662, 0, 1000, writable("0662")],
    [0o040775, 0, 0, writable("0775")],
    [0o104755, 0, 0, undefined],
    [0o104775, 0, 0, writable("4775")],
    // Another owner matters only to root: a user may read a file they do not own.
    [0o100644, 1000, 0, owner(1000)],
    [0o100644, 1000, 1000, undefined],
    [0o100644, 1000, undefined, undefined],
    // Both wrong: the mode is named first.
    [0o100666, 1000, 0, writable("0666")],
  ])("mode %o, uid %d, euid %s: %j", (mode, uid, euid, expected) => {
    expect(distrust({ mode, uid }, euid)).toEqual(expected);
    expect(trusted({ mode, uid }, euid)).toBe(expected === undefined);
  });
});
