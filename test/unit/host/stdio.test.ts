// stdio (src/host/stdio.ts): reading all of a descriptor with a ceiling on its bytes.
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { XmlError } from "../../../src/core/errors.js";
import { readAllAtOnce, readAllLimited } from "../../../src/host/stdio.js";

const dir = mkdtempSync(join(tmpdir(), "nwfh-stdio-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function withFile<T>(content: string, read: (fd: number) => T): T {
  const file = join(dir, `f${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, content);
  const fd = openSync(file, "r");
  try {
    return read(fd);
  } finally {
    closeSync(fd);
  }
}

describe.each([
  ["readAllAtOnce", readAllAtOnce],
  ["readAllLimited", readAllLimited],
])("%s", (_name, read) => {
  it("returns all of the input, multi-byte characters included", () => {
    expect(withFile("<a>é\u{10000}</a>", (fd) => read(fd, 100, "stdin"))).toBe("<a>é\u{10000}</a>");
  });

  it("counts the ceiling in bytes: 'é' is two", () => {
    expect(withFile("éé", (fd) => read(fd, 4, "stdin"))).toBe("éé");
    expect(() => withFile("ééé", (fd) => read(fd, 5, "stdin"))).toThrow(XmlError);
    expect(() => withFile("ééé", (fd) => read(fd, 5, "stdin"))).toThrow("input is larger than 5 bytes");
  });
});

it("readAllAtOnce refuses a descriptor it cannot read, naming the input", () => {
  let error: unknown;
  try {
    readAllAtOnce(1_000_000, 10, "domain XML on stdin");
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(XmlError);
  expect((error as XmlError).where?.file).toBe("domain XML on stdin");
  expect((error as XmlError).message).toMatch(/^cannot read: EBADF/);
});
