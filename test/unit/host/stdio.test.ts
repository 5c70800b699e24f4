// stdio (src/host/stdio.ts): reading all of a descriptor, as bytes, with a ceiling on their number.
import fc from "fast-check";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { XmlError } from "../../../src/core/errors.js";
import { standardUtf8 } from "../../../src/core/xml-bytes.js";
import { nodeUtf8, readAllAtOnce, readAllLimited } from "../../../src/host/stdio.js";

const dir = mkdtempSync(join(tmpdir(), "nwfh-stdio-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function withFile<T>(content: string | Buffer, read: (fd: number) => T): T {
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
  it("returns all of the input as the bytes it was, whatever they are", () => {
    const bytes = Buffer.concat([Buffer.from("<a>é\u{10000}</a>"), Buffer.from([0xff, 0xed, 0xa0, 0x80, 0xe9])]);
    expect(withFile(bytes, (fd) => read(fd, 100, "stdin")).equals(bytes)).toBe(true);
  });

  it("counts the ceiling in bytes: 'é' is two", () => {
    expect(withFile("éé", (fd) => read(fd, 4, "stdin")).toString("utf8")).toBe("éé");
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
  // Node 18 throws a TypeError there; the message must still be the system's.
  expect((error as XmlError).message).toMatch(/^cannot read: EBADF/);
});

it("nodeUtf8 decodes UTF-8 strictly: invalid bytes, surrogates and code points above U+10FFFF are refused", () => {
  expect(nodeUtf8(Buffer.from("<a>é\u{10000}</a>"))).toBe("<a>é\u{10000}</a>");
  expect(nodeUtf8(Buffer.from("<a>\ufffd</a>"))).toBe("<a>\ufffd</a>");
  expect(nodeUtf8(Buffer.from([...Buffer.from("<a>\ufffd"), 0xff]))).toBeUndefined();
  expect(nodeUtf8(new Uint8Array(Buffer.from("\ufeff<a/>")))).toBe("\ufeff<a/>");
  for (const bad of [[0xff], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc0, 0xaf], [0xe9, 0x3c]]) {
    expect(nodeUtf8(Buffer.from([0x3c, 0x61, 0x3e, ...bad]))).toBeUndefined();
  }
});

it("nodeUtf8 gives what standardUtf8 (a fatal TextDecoder) gives, for any bytes", () => {
  // Valid UTF-8 (U+FFFD included) with a few bytes overwritten, and bytes at random.
  const mutated = fc
    .tuple(fc.string({ unit: "binary", maxLength: 40 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }))
    .map(([text, edits]) => {
      const b = Buffer.from(`${text}\ufffd`, "utf8");
      for (const [at, byte] of edits) b[at % b.length] = byte;
      return new Uint8Array(b);
    });
  fc.assert(
    fc.property(fc.oneof(mutated, fc.uint8Array({ maxLength: 24 })), (b) => {
      expect(nodeUtf8(b)).toBe(standardUtf8(b));
    }),
    { numRuns: 3000 },
  );
});
