// globMatcher (src/core/glob.ts): [exempt] Domains are shell globs on whole domain names.
import { describe, expect, it } from "vitest";
import { globMatcher } from "../../../src/core/glob.js";

describe("globMatcher", () => {
  it.each([
    [["lab-*"], "lab-1", true],
    [["lab-*"], "lab-", true],
    [["lab-*"], "lab", false],
    [["lab-*"], "xlab-1", false],
    [["lab-?"], "lab-12", false],
    [["vm[0-9]"], "vm7", true],
    [["vm[0-9]"], "vmx", false],
    [["nested-router"], "nested-router", true],
    [["nested-router"], "nested-router2", false],
    [["*"], ".hidden", true],
    [["a", "b*"], "bee", true],
    [["!prod"], "dev", false],
    [[], "anything", false],
  ])("%j matches %j: %s", (globs, name, match) => {
    expect(globMatcher(globs)(name)).toBe(match);
  });
});
