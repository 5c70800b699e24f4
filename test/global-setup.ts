// Builds dist/qemu and dist/nwfilter-hook once before any test file runs: the fixture, property,
// corpus, CLI and end-to-end suites all run the BUILT bundles, as libvirt and admins do.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "./support/paths.js";

export default function setup(): void {
  try {
    execFileSync(process.execPath, [join(REPO_ROOT, "scripts", "build.mjs")], { cwd: REPO_ROOT, stdio: "pipe" });
  } catch (error) {
    const e = error as { stderr?: Buffer; stdout?: Buffer };
    throw new Error(`building the bundles failed (node scripts/build.mjs):\n${e.stderr?.toString() ?? ""}${e.stdout?.toString() ?? ""}`, { cause: error });
  }
}
