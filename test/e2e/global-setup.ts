// The end-to-end suites' setup, once per run: beyond a libvirtd that answers, they need the test
// bridge nwfh-br0 and a /dev/kvm that libvirt's qemu user can open (else libvirt probes qemu anew,
// about 30 s, at every call). Where they run (as root, libvirt answering), this makes what is
// missing with scripts/libvirt-up.sh --no-daemons, as .ci/run makes it with the daemons, and undoes
// exactly that afterwards with scripts/libvirt-down.sh: on a machine where libvirt-up.sh made them,
// or that has them anyway, it finds them and changes nothing. Where the suites cannot run, it says
// why in one line; they skip (under CI=true they fail: see requireLibvirt).
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../support/paths.js";
import { libvirtAvailable } from "./helpers/libvirt.js";

export default function setup(): (() => void) | undefined {
  const libvirt = libvirtAvailable();
  if (!libvirt.ok) {
    if (process.env.CI !== "true") process.stdout.write(`e2e: the suites that need a real libvirtd skip: ${libvirt.why ?? "unknown"}\n`);
    return undefined;
  }
  // Its own record of what it changed, apart from a libvirt-up.sh run's.
  const state = mkdtempSync("/run/nwfilter-hook-test-e2e.");
  const env = { ...process.env, NWFH_TEST_STATE_DIR: state };
  const run = (script: string, args: string[] = []) =>
    execFileSync("bash", [join(REPO_ROOT, "scripts", script), ...args], { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  try {
    report(run("libvirt-up.sh", ["--no-daemons"]));
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    run("libvirt-down.sh");
    throw new Error(`e2e setup: scripts/libvirt-up.sh --no-daemons failed: ${(e.stderr || e.stdout || e.message).trim()}`, { cause: error });
  }
  return () => {
    try {
      report(run("libvirt-down.sh"));
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  };
}

/** The lines that say what changed: whatever was there already is not news. */
function report(output: string): void {
  for (const line of output.split("\n")) {
    if (/^libvirt-(up|down): (created|deleted|chmod|restored)/.test(line)) process.stdout.write(`e2e setup: ${line}\n`);
  }
}
