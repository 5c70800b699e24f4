// check, install and uninstall with --json against the fake virsh and temporary hooks directory:
// one JSON document of findings (in audit --json's style), the same findings the text prints
// line by line, and the exit code that the findings give.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findingLine, type Finding } from "../../src/cli/findings.js";
import { makeHarness, type Harness } from "./support/harness.js";

let h: Harness;
beforeEach(() => {
  h = makeHarness();
});
afterEach(() => h.cleanup());

interface Doc {
  findings: Finding[];
  summary: Record<string, number>;
  ok: boolean;
  changed?: boolean;
  deferred?: boolean;
  policy?: Record<string, unknown> | null;
}

const run = async (...args: string[]) => {
  const r = await h.run([...args, "--hooks-dir", h.hooksDir]);
  return { ...r, doc: args.includes("--json") ? (JSON.parse(r.stdout) as Doc) : undefined };
};

/** The text lines a JSON document's findings stand for: the text output without its listing and summary. */
const lines = (doc: Doc) => doc.findings.map((f) => findingLine(f)).filter((l): l is string => l !== undefined);

describe("--json", () => {
  it("install: the findings, what changed, exit 0; the same lines as the text", async () => {
    const r = await run("install", "--json");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.doc).toMatchInlineSnapshot(`
      {
        "changed": true,
        "deferred": false,
        "findings": [
          {
            "changed": true,
            "code": "hook",
            "message": "installed (interpreter <node>, policy <tmp>/policy.ini)",
            "status": "ok",
            "subject": "hook <tmp>/hooks/qemu.d/50-nwfilter-hook",
          },
          {
            "changed": true,
            "code": "startup-cache",
            "message": "recorded (code cache for <node> <version>)",
            "status": "ok",
            "subject": "startup cache <tmp>/cache/<id>.cache",
          },
          {
            "changed": true,
            "code": "policy",
            "message": "written (the defaults, every key commented out)",
            "status": "ok",
            "subject": "policy <tmp>/policy.ini",
          },
          {
            "changed": true,
            "code": "nwfilter",
            "message": "created (uuid 5a1b2c3d-0000-4000-8000-000000000001)",
            "status": "ok",
            "subject": "nwfilter 'vdsm-no-mac-spoofing'",
          },
          {
            "changed": null,
            "code": "daemon",
            "message": "reloaded libvirtd (SIGHUP to pid 4242, which listens on /run/libvirt/libvirt-sock)",
            "status": "ok",
            "subject": "daemon",
          },
          {
            "changed": null,
            "code": "self-test",
            "message": "ok: the installed hook ran a sample restore and added the filter",
            "status": "ok",
            "subject": "self-test",
          },
        ],
        "ok": true,
        "summary": {
          "failed": 0,
          "info": 0,
          "ok": 6,
          "warning": 0,
        },
      }
    `);
    const again = await run("install", "--json");
    expect(again.doc?.changed).toBe(false);
    const text = await run("install");
    expect(text.stdout).toBe(`${[...lines(again.doc as Doc), "install: nothing changed (already installed)"].join("\n")}\n`);
  });

  it("check: the policy, the findings and a summary; text and JSON agree", async () => {
    await run("install");
    const r = await run("check", "--json");
    expect(r.code).toBe(0);
    expect(r.doc).toMatchInlineSnapshot(`
      {
        "findings": [
          {
            "changed": null,
            "code": "policy",
            "message": "ok [NWFILTER_HOOK_POLICY]",
            "status": "ok",
            "subject": "policy <tmp>/policy.ini",
          },
          {
            "changed": null,
            "code": "hook",
            "message": "ok (installed, executable, interpreter <node>)",
            "status": "ok",
            "subject": "hook <tmp>/hooks/qemu.d/50-nwfilter-hook",
          },
          {
            "changed": null,
            "code": "startup-cache",
            "message": "ok (code cache for <node> <version>)",
            "status": "ok",
            "subject": "startup cache <tmp>/cache/<id>.cache",
          },
          {
            "changed": null,
            "code": "daemon",
            "message": "ok (libvirtd (pid 4242) on /run/libvirt/libvirt-sock, libvirt 9.0.0, runs hooks/qemu and qemu.d/*)",
            "status": "ok",
            "subject": "daemon",
          },
          {
            "changed": null,
            "code": "nwfilter",
            "message": "ok (defined)",
            "status": "ok",
            "subject": "nwfilter 'vdsm-no-mac-spoofing'",
          },
          {
            "changed": null,
            "code": "watcher",
            "message": "not running (there is no status file <tmp>/watch.json; optional unless OnMissing = watch)",
            "status": "info",
            "subject": "watcher",
          },
        ],
        "ok": true,
        "policy": {
          "active": true,
          "filter": "vdsm-no-mac-spoofing",
          "onExisting": "keep",
          "onMissing": "enforce",
          "sections": [],
          "source": "<tmp>/policy.ini",
        },
        "summary": {
          "failed": 0,
          "info": 1,
          "ok": 5,
          "warning": 0,
        },
      }
    `);
    const text = await run("check");
    expect(text.code).toBe(0);
    for (const line of lines(r.doc as Doc)) expect(text.stdout).toContain(`${line}\n`);
    expect(text.stdout).toMatch(/\ncheck: ok\n$/);
  });

  it("check: a failure is a finding, and the exit code is 1", async () => {
    const r = await run("check", "--json");
    expect(r.code).toBe(1);
    expect(r.doc?.ok).toBe(false);
    expect(r.doc?.findings.filter((f) => f.status === "failed").map((f) => f.code)).toEqual(["hook", "nwfilter"]);
    const text = await run("check");
    expect(text.stdout).toMatch(/^hook <tmp>\/hooks\/qemu\.d\/50-nwfilter-hook: FAILED: not installed in <tmp>\/hooks: run nwfilter-hook install$/m);
    expect(text.stdout).toMatch(/check: FAILED \(2 problems\)\n$/);
  });

  it("uninstall: what was removed", async () => {
    await run("install");
    const r = await run("uninstall", "--json");
    expect(r.code).toBe(0);
    expect(r.doc).toMatchInlineSnapshot(`
      {
        "changed": true,
        "findings": [
          {
            "changed": true,
            "code": "hook",
            "message": "removed",
            "status": "ok",
            "subject": "hook <tmp>/hooks/qemu.d/50-nwfilter-hook",
          },
          {
            "changed": true,
            "code": "startup-cache",
            "message": "removed",
            "status": "ok",
            "subject": "startup cache <tmp>/cache/<id>.cache",
          },
          {
            "changed": null,
            "code": "daemon",
            "message": "reloaded libvirtd (SIGHUP to pid 4242, which listens on /run/libvirt/libvirt-sock)",
            "status": "ok",
            "subject": "daemon",
          },
        ],
        "ok": true,
        "summary": {
          "failed": 0,
          "info": 0,
          "ok": 3,
          "warning": 0,
        },
      }
    `);
    const again = await run("uninstall", "--json");
    expect(again.doc).toEqual({ findings: [], summary: { ok: 0, warning: 0, failed: 0, info: 0 }, changed: false, ok: true });
  });
});
