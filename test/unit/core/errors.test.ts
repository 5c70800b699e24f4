// formatError and lineOf (src/core/errors.ts): the one-line `FILE:LINE:COL: message` form.
import { describe, expect, it } from "vitest";
import { HostError, NwfilterHookError, PolicyError, XmlError, formatError, lineOf } from "../../../src/core/errors.js";

describe("formatError", () => {
  it.each([
    [new PolicyError("bad", { file: "/p.ini", line: 3 }), "/p.ini:3: bad"],
    [new XmlError("bad", { file: "stdin", line: 2, column: 7 }), "stdin:2:7: bad"],
    [new XmlError("bad", { file: "stdin", column: 7 }), "stdin: bad"],
    [new HostError("bad", { file: "/x" }), "/x: bad"],
    [new NwfilterHookError("bad"), "bad"],
  ])("%s", (error, text) => {
    expect(formatError(error)).toBe(text);
  });
  it("subclasses keep their names and the common base", () => {
    const e = new XmlError("m");
    expect(e).toBeInstanceOf(NwfilterHookError);
    expect(e.name).toBe("XmlError");
    expect(new PolicyError("m").name).toBe("PolicyError");
  });
});

describe("lineOf", () => {
  const text = "a\nbc\r\n\nd";
  it.each([
    [0, 1],
    [1, 1],
    [2, 2],
    [4, 2],
    [5, 2],
    [6, 3],
    [7, 4],
    [8, 4],
    [100, 4],
  ])("offset %d is on line %d", (offset, line) => {
    expect(lineOf(text, offset)).toBe(line);
  });
  it("works on different texts one after the other", () => {
    expect(lineOf("x\ny\nz", 4)).toBe(3);
    expect(lineOf("xyz", 2)).toBe(1);
    expect(lineOf("x\ny\nz", 2)).toBe(2);
  });
});
