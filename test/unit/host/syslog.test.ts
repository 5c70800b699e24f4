// syslog (src/host/syslog.ts): lines for `logger --prio-prefix` on the descriptor the installed hook's
// shell line gives, and the priorities they carry. The spawn of `logger` when there is no such
// descriptor runs in the fixture tests (a prepare that refuses).
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ENV_LOG_FD } from "../../../src/core/constants.js";
import { prioLine, syslog } from "../../../src/host/syslog.js";

describe("prioLine", () => {
  it.each([
    ["err", "<27>"],
    ["warning", "<28>"],
    ["notice", "<29>"],
  ] as const)("%s is daemon (3) * 8 + its level: %s", (priority, prefix) => {
    expect(prioLine(priority, "m")).toBe(`${prefix}m\n`);
  });

  it("keeps a message on one line, since logger takes each line as a message", () => {
    expect(prioLine("notice", "a\nb\r\nc\td")).toBe("<29>a b c d\n");
  });
});

describe("syslog through the shell line's descriptor", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("writes one line per message to the descriptor named in the environment", () => {
    dir = mkdtempSync(join(tmpdir(), "nwfh-syslog-"));
    const file = join(dir, "log");
    const fd = openSync(file, "w");
    try {
      syslog("notice", "first", { [ENV_LOG_FD]: String(fd) });
      syslog("err", "second", { [ENV_LOG_FD]: String(fd) });
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(file, "utf8")).toBe("<29>first\n<27>second\n");
  });
});
