// `nwfilter-hook watch` refuses to start on a bad policy or a bad test setting, with one line
// and the usual exit code, before it touches libvirt.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DIST_CLI, ensureBuilt } from "./support/build.js";

describe("nwfilter-hook watch at start-up", () => {
  ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), "nwfh-watch-cmd-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = (policy: string, env: Record<string, string> = {}) => {
    const path = join(dir, "policy.ini");
    writeFileSync(path, policy, { mode: 0o644 });
    const r = spawnSync(process.execPath, [DIST_CLI, "watch", "--policy", path, "--no-syslog", "--status-file", join(dir, "w.json")], {
      encoding: "utf8",
      timeout: 20_000,
      env: { ...process.env, ...env, PATH: "/nonexistent" },
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr.split(dir).join("<tmp>") };
  };

  it("a bad policy: exit 3, one line naming file, line and key", () => {
    expect(run("[filtering]\nResyncInterval = 5\n")).toEqual({
      code: 3,
      stdout: "",
      stderr: "nwfilter-hook: <tmp>/policy.ini:2: ResyncInterval: expected 10 to 86400 seconds, got 5\n",
    });
  });

  it("a bad test delay: exit 2", () => {
    const r = run("[filtering]\nOnMissing = watch\n", { NWFILTER_HOOK_TEST_DEFINE_DELAY_MS: "soon" });
    expect(r).toEqual({ code: 2, stdout: "", stderr: "nwfilter-hook: NWFILTER_HOOK_TEST_DEFINE_DELAY_MS: expected milliseconds, got 'soon'\n" });
  });
});
