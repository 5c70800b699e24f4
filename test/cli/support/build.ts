// The CLI tests and the end-to-end suites run the BUILT bundles: dist/nwfilter-hook, and the
// dist/qemu that `install` copies from beside it. This builds both when either is missing or
// older than the sources, under a lock (test files run in parallel), in a scratch directory
// whose results replace dist/'s files by rename, so that nothing ever runs a half-written one.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, symlinkSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const DIST = join(REPO_ROOT, "dist");
export const DIST_CLI = join(DIST, "nwfilter-hook");
export const DIST_QEMU = join(DIST, "qemu");
export const FAKE_VIRSH_DIR = join(REPO_ROOT, "test", "cli", "fake-virsh");

function newestSourceMtime(): number {
  let newest = 0;
  const visit = (path: string): void => {
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) for (const entry of readdirSync(path)) visit(join(path, entry));
    else if (st.mtimeMs > newest) newest = st.mtimeMs;
  };
  for (const p of ["hooks", "src", "scripts/build.mjs", "package-lock.json"]) visit(join(REPO_ROOT, p));
  return newest;
}

function isFresh(): boolean {
  const newest = newestSourceMtime();
  return [DIST_CLI, DIST_QEMU].every((f) => (statSync(f, { throwIfNoEntry: false })?.mtimeMs ?? 0) >= newest) && existsSync(join(DIST, "package.json"));
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function rebuild(): void {
  mkdirSync(DIST, { recursive: true });
  const scratch = mkdtempSync(join(DIST, ".cli-build-"));
  try {
    for (const name of ["hooks", "src", "node_modules", "package.json", "tsconfig.json"]) symlinkSync(join(REPO_ROOT, name), join(scratch, name));
    try {
      execFileSync(process.execPath, [join(REPO_ROOT, "scripts", "build.mjs"), "qemu", "nwfilter-hook"], { cwd: scratch, stdio: "pipe" });
    } catch (error) {
      const e = error as { stderr?: Buffer; stdout?: Buffer };
      throw new Error(`building the bundles failed (node scripts/build.mjs):\n${e.stderr?.toString() ?? ""}${e.stdout?.toString() ?? ""}`);
    }
    if (!existsSync(join(DIST, "package.json"))) copyFileSync(join(scratch, "dist", "package.json"), join(DIST, "package.json"));
    renameSync(join(scratch, "dist", "qemu"), DIST_QEMU);
    renameSync(join(scratch, "dist", "nwfilter-hook"), DIST_CLI);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Makes sure dist/nwfilter-hook and dist/qemu are up to date; returns the CLI's path. */
export function ensureBuilt(): string {
  if (isFresh()) return DIST_CLI;
  const lock = join(DIST, ".cli-build.lock");
  mkdirSync(DIST, { recursive: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 120_000) rmSync(lock, { recursive: true, force: true }); // left by a killed run
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      sleep(50);
    }
  }
  try {
    if (!isFresh()) rebuild();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  return DIST_CLI;
}
