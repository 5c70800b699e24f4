// loadPolicy (src/host/policy-file.ts): a missing file means defaults; a file or directory others can
// write is refused, since whoever can write the policy can switch the protection off.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PolicyError } from "../../../src/core/errors.js";
import { loadPolicy } from "../../../src/host/policy-file.js";

let dir: string;
let etc: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "nwfh-policy-"));
  etc = join(dir, "etc");
  mkdirSync(etc, { mode: 0o755 });
  chmodSync(etc, 0o755);
  path = join(etc, "policy.ini");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function write(text: string, mode = 0o644): void {
  writeFileSync(path, text);
  chmodSync(path, mode);
}

function loadError(euid?: number): PolicyError {
  try {
    loadPolicy(path, { euid });
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyError);
    return error as PolicyError;
  }
  throw new Error("loaded");
}

const isRoot = process.geteuid?.() === 0;

describe("loadPolicy", () => {
  it("a missing file gives the defaults, and says so in the source", () => {
    const p = loadPolicy(path, { euid: 0 });
    expect(p.enabled).toBe(true);
    expect(p.onMissing).toBe("enforce");
    expect(p.source).toBe(`${path} (absent: built-in defaults)`);
  });

  it("reads and validates a present file", () => {
    write("[filtering]\nOnMissing = audit\n");
    const p = loadPolicy(path, { euid: process.geteuid?.() });
    expect(p.onMissing).toBe("audit");
    expect(p.source).toBe(path);
  });

  it("passes a validation error through with file and line", () => {
    write("[filtering]\n\nOnMissing = never\n");
    expect(loadError().where).toEqual({ file: path, line: 3 });
  });

  it.each([0o664, 0o646, 0o666, 0o622])("refuses a file of mode %o (group- or world-writable)", (mode) => {
    write("[filtering]\n", mode);
    const e = loadError();
    expect(e.message).toMatch(/^refusing a policy whose file is writable by group or others \(mode 0\d{3}\)/);
    expect(e.message).toContain(`mode ${mode.toString(8).padStart(4, "0")}`);
    expect(e.where).toEqual({ file: path });
  });

  it.each([0o600, 0o644, 0o640, 0o400])("accepts a file of mode %o", (mode) => {
    write("[filtering]\nOnExisting = replace\n", mode);
    expect(loadPolicy(path, { euid: undefined }).onExisting).toBe("replace");
  });

  it("refuses a policy in a directory others can write", () => {
    write("[filtering]\n");
    chmodSync(etc, 0o777);
    expect(loadError().message).toMatch(/^refusing a policy whose directory is writable by group or others \(mode 0777\)/);
    chmodSync(etc, 0o775);
    expect(loadError().message).toMatch(/directory is writable/);
  });

  it("accepts a sticky directory (like /tmp): nobody else can replace the file", () => {
    write("[filtering]\nOnMissing = audit\n");
    chmodSync(etc, 0o1777);
    expect(loadPolicy(path, { euid: undefined }).onMissing).toBe("audit");
  });

  it("refuses a path that is a directory", () => {
    mkdirSync(path);
    expect(loadError().message).toBe("the policy is not a regular file");
  });

  it("reports a path it cannot open (other than absent) with the errno", () => {
    write("[filtering]\n");
    path = join(path, "policy.ini"); // a file used as a directory: ENOTDIR
    expect(loadError().message).toMatch(/^cannot read the policy: ENOTDIR/);
  });

  it("refuses a file larger than 1 MiB", () => {
    write(`[filtering]\n${"; padding\n".repeat(110_000)}`);
    expect(loadError().message).toMatch(/larger than 1048576 bytes/);
  });

  it.runIf(isRoot)("as root, refuses a file or directory not owned by root", () => {
    write("[filtering]\n");
    chownSync(path, 1234, 0);
    expect(loadError(0).message).toBe(
      "refusing a policy whose file is owned by uid 1234, not root: whoever can write it can switch the protection off (chown root)",
    );
    // Another user running the CLI may read a file they do not own.
    expect(loadPolicy(path, { euid: 1000 }).enabled).toBe(true);
    chownSync(path, 0, 0);
    chownSync(etc, 1234, 0);
    expect(loadError(0).message).toBe(
      "refusing a policy whose directory is owned by uid 1234, not root: whoever can write it can switch the protection off (chown root)",
    );
  });
});
