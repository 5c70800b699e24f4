// The hook file's body (src/core/hook-payload.ts): what the build writes, the loader, the startup
// recorder and the CLI read back the same, whatever the code holds.
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import {
  codeCacheHead,
  fileIdentity,
  payloadPart,
  payloadStart,
  payloadText,
  snapshotEntry,
  startupIdLine,
  startupIdOf,
  wrapCode,
} from "../../../src/core/hook-payload.js";

describe("the payload", () => {
  it.each([
    ["plain code", "f();"],
    ["a comment's end in the code", "a = 1 /* x */; b = `*/`;"],
    ["the payload's own markers in the code", "s = '/*CODE\\n' + `\nCODE*/` + '/*CACHE';"],
    ["empty code", ""],
    ["newlines and non-ASCII", "a\n\nb = 'é';\n"],
  ])("%s: what goes in comes out, from the function's text and from the whole file", (_, bundle) => {
    const code = wrapCode(bundle);
    const cache = Buffer.from([1, 2, 3, 250, 255]).toString("base64");
    const payload = payloadText(code, cache);
    expect(payload.indexOf("*/")).toBe(payload.indexOf("\nCODE*/") + 5);
    // The loader before it holds the markers as strings, as esbuild writes them: with raw newlines.
    const file = `"use strict";\nconst x = \`function payload() {/*CODE\n\`, y = \`/*CACHE\n\`;\n${payload}\n`;
    for (const text of [payload, file]) {
      expect(payloadPart(text, "CODE")).toBe(code);
      expect(payloadPart(text, "CACHE")).toBe(cache);
    }
  });

  it("is a function whose body is a comment: compiling it costs a scan, and its text is the payload", () => {
    const payload = payloadText(wrapCode("x();"), "AAAA");
    const fn = runInNewContext(`${payload}; payload;`) as () => unknown;
    expect(fn()).toBeUndefined();
    expect(payloadPart(fn.toString(), "CODE")).toBe(wrapCode("x();"));
  });

  it("is found only where it starts a line in a file; none is none", () => {
    const payload = payloadText("c", "d");
    expect(payloadStart(payload)).toBe(0);
    expect(payloadStart(`a\n${payload}`)).toBe(2);
    expect(payloadStart(`a ${payload}`)).toBe(-1);
    expect(payloadPart("no payload here", "CODE")).toBeUndefined();
    expect(payloadPart(payload.replace("\nCACHE*/", ""), "CACHE")).toBeUndefined();
  });

  it("refuses code with a raw \\x01, which would read back as another code", () => {
    expect(() => payloadText("a = '\x01';", "")).toThrow(/raw \\x01/);
  });
});

describe("the startup id line", () => {
  it("round-trips 16 hex digits and refuses anything else", () => {
    const line = startupIdLine("0123456789abcdef");
    expect(line).toBe('const startupId = "0123456789abcdef";');
    expect(startupIdOf(`#!/bin/sh\n"use strict";\n${line}\nrest();\n`)).toBe("0123456789abcdef");
    expect(startupIdOf("const startupId = 1;")).toBeUndefined();
    for (const bad of ["0123", "0123456789ABCDEF", '0123456789abcde"']) expect(() => startupIdLine(bad)).toThrow(/16 hex digits/);
  });
});

describe("a code cache's first line and a file's identity", () => {
  const node = { version: "v18.20.4", arch: "x64", versions: { v8: "10.2.154.26-node.36" }, execPath: "/usr/bin/node" };
  const binary = { dev: 2049, ino: 1234567, size: 48_000_000, mtimeMs: 1_700_000_000_123.456 };
  it("names the code and the very Node, to the binary's mtime", () => {
    expect(codeCacheHead("0123456789abcdef", node, binary)).toBe(
      "nwfilter-hook code cache 0123456789abcdef v18.20.4 x64 v8 10.2.154.26-node.36 /usr/bin/node 2049:1234567:48000000:1700000000123.456",
    );
    expect(codeCacheHead("0123456789abcdef", { ...node, execPath: "/opt/node" }, binary)).not.toBe(codeCacheHead("0123456789abcdef", node, binary));
    expect(codeCacheHead("0123456789abcdef", node, { ...binary, mtimeMs: binary.mtimeMs + 1 })).not.toBe(codeCacheHead("0123456789abcdef", node, binary));
  });
  it("identifies a file by device, inode, size and ctime", () => {
    expect(fileIdentity({ dev: 1, ino: 2, size: 3, ctimeMs: 4.5 })).toBe("1:2:3:4.5");
  });
  it("the running Node fits the shape the loader passes", () => {
    expect(codeCacheHead("0123456789abcdef", process, binary)).toContain(` ${process.version} ${process.arch} v8 ${process.versions.v8} ${process.execPath} `);
  });
});

describe("a startup snapshot's entry", () => {
  it("runs the code as a module and prepares the snapshot", () => {
    const calls: string[] = [];
    const code = wrapCode("module.exports.prepareSnapshot = () => calls.push(__filename + ' ' + __dirname);");
    const entry = snapshotEntry(code);
    expect(entry.startsWith('"use strict";\n')).toBe(true);
    runInNewContext(entry, { require: () => undefined, calls });
    expect(calls).toEqual(["nwfilter-hook /"]);
  });
});
