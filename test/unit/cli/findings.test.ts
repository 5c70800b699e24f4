// The findings of check, install and uninstall (src/cli/findings.ts): how each prints, and each
// command's exit code and summary line as a function of its findings.
import { describe, expect, it } from "vitest";
import { checkExit, checkSummary } from "../../../src/cli/commands/check.js";
import { installExit, installSummary } from "../../../src/cli/commands/install.js";
import { uninstallExit, uninstallSummary } from "../../../src/cli/commands/uninstall.js";
import { findingLine, findingText, lineFinding, report, type Finding, type FindingStatus } from "../../../src/cli/findings.js";

const f = (status: FindingStatus, changed?: boolean): Finding => ({
  code: "x",
  subject: "x",
  status,
  message: "m",
  ...(changed === undefined ? {} : { changed }),
});

describe("a finding's line", () => {
  it.each<[string, Finding, string | undefined]>([
    ["ok", { code: "hook", subject: "hook /h", status: "ok", message: "ok (installed)" }, "hook /h: ok (installed)"],
    ["info", { code: "daemon", subject: "daemon", status: "info", message: "not reloaded (--no-reload)" }, "daemon: not reloaded (--no-reload)"],
    ["failed", { code: "daemon", subject: "daemon", status: "failed", message: "not found" }, "daemon: FAILED: not found"],
    ["a warning with a subject", { code: "startup-cache", subject: "startup cache /c", status: "warning", message: "not used" }, "startup cache /c: not used"],
    ["a bare warning", { code: "hook", subject: "", status: "warning", message: "installed twice" }, "warning: installed twice"],
    ["a listing alone", { code: "policy-listing", subject: "", status: "info", message: "", listing: "[filtering]\n" }, undefined],
  ])("%s", (_, finding, line) => {
    expect(findingLine(finding)).toBe(line);
  });

  it("a listing prints as it is, after the line if any", () => {
    expect(findingText({ code: "p", subject: "", status: "info", message: "", listing: "a\nb\n" })).toBe("a\nb\n");
    expect(findingText({ code: "p", subject: "s", status: "ok", message: "m", listing: "a\n" })).toBe("s: m\na\n");
  });

  it.each([
    ["nwfilter 'x': created (uuid u)", "nwfilter 'x'", "created (uuid u)"],
    ["startup cache /c/1.cache: recorded (code cache for /n v)", "startup cache /c/1.cache", "recorded (code cache for /n v)"],
    ["no colon at all", "", "no colon at all"],
  ])("a host module's line %j splits into subject and message", (line, subject, message) => {
    const finding = lineFinding("c", line, "ok", true);
    expect(finding).toEqual({ code: "c", subject, status: "ok", message, changed: true });
    if (subject !== "") expect(findingLine(finding)).toBe(line);
  });
});

describe("exit codes and summaries", () => {
  it.each<[string, Finding[], number, string]>([
    ["nothing", [], 0, "check: ok"],
    ["all ok", [f("ok"), f("info"), f("ok")], 0, "check: ok"],
    ["warnings do not fail", [f("ok"), f("warning")], 0, "check: ok"],
    ["one failure", [f("ok"), f("failed")], 1, "check: FAILED (1 problem)"],
    ["two failures", [f("failed"), f("warning"), f("failed")], 1, "check: FAILED (2 problems)"],
  ])("check, %s", (_, findings, code, summary) => {
    expect(checkExit({ findings })).toBe(code);
    expect(checkSummary({ findings })).toBe(summary);
  });

  it.each<[string, Finding[], boolean, number, string]>([
    ["nothing changed", [f("ok"), f("info")], false, 0, "install: nothing changed (already installed)"],
    ["something changed", [f("ok", true), f("ok")], false, 0, "install: done"],
    ["the daemon is down", [f("ok", true), f("info")], true, 0, "install: done; takes effect when libvirt starts"],
    ["the self-test failed", [f("ok", true), f("failed")], false, 1, "install: incomplete (see above)"],
    ["a failure while deferred", [f("failed")], true, 1, "install: incomplete (see above)"],
  ])("install, %s", (_, findings, deferred, code, summary) => {
    expect(installExit({ findings })).toBe(code);
    expect(installSummary({ findings, deferred })).toBe(summary);
  });

  it.each<[string, Finding[], number, string]>([
    ["nothing there", [f("info")], 0, "uninstall: nothing to remove"],
    ["removed", [f("ok", true), f("ok", true)], 0, "uninstall: done"],
    ["the filter kept by libvirt", [f("ok", true), f("failed")], 1, "uninstall: incomplete (see above)"],
  ])("uninstall, %s", (_, findings, code, summary) => {
    expect(uninstallExit({ findings })).toBe(code);
    expect(uninstallSummary({ findings })).toBe(summary);
  });
});

describe("the report", () => {
  const finding: Finding = { code: "hook", subject: "hook /h", status: "ok", message: "unchanged" };

  it("in text, prints each finding as it comes and the summary line", () => {
    let out = "";
    const r = report({ stdout: (t) => void (out += String(t)) }, false);
    r.emit(finding);
    expect(out).toBe("hook /h: unchanged\n");
    r.say("install: nothing changed");
    r.finish({ ignored: true });
    expect(out).toBe("hook /h: unchanged\ninstall: nothing changed\n");
    expect(r.findings).toEqual([finding]);
  });

  it("in JSON, prints one document at the end and nothing else", () => {
    let out = "";
    const r = report({ stdout: (t) => void (out += String(t)) }, true);
    r.emit(finding);
    r.say("install: nothing changed");
    expect(out).toBe("");
    r.finish({ findings: r.findings });
    expect(JSON.parse(out)).toEqual({ findings: [finding] });
  });
});
