// The tests that run the hook as libvirt does run the BUILT dist/qemu. This makes sure it
// exists and is not older than the sources, rebuilding it with the project's own build script
// (`node scripts/build.mjs qemu`) when needed. Test files run in parallel workers, so the
// rebuild happens under a lock directory, and the new bundle replaces the old one by rename:
// a hook running at that moment (in another suite) never sees a half-written file.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { DIST_QEMU, REPO_ROOT } from "./paths.js";

/** Files whose change makes dist/qemu stale. The CLI's sources are not in the hook bundle. */
function newestSourceMtime(): number {
  let newest = 0;
  const visit = (path: string): void => {
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) {
      if (path === join(REPO_ROOT, "src", "cli")) return;
      for (const entry of readdirSync(path)) visit(join(path, entry));
    } else if (st.mtimeMs > newest) newest = st.mtimeMs;
  };
  for (const p of ["hooks", "src", "scripts/build.mjs", "package-lock.json"]) visit(join(REPO_ROOT, p));
  return newest;
}

function isFresh(): boolean {
  const st = statSync(DIST_QEMU, { throwIfNoEntry: false });
  return st !== undefined && st.mtimeMs >= newestSourceMtime() && existsSync(join(REPO_ROOT, "dist", "package.json"));
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function rebuild(): void {
  const dist = join(REPO_ROOT, "dist");
  mkdirSync(dist, { recursive: true });
  // Build in a scratch directory inside dist/ (same file system, so the rename is atomic) that
  // mirrors the repository through symlinks; build.mjs writes relative to its cwd.
  const scratch = mkdtempSync(join(dist, ".build-"));
  try {
    for (const name of ["hooks", "src", "node_modules", "package.json", "tsconfig.json"]) {
      symlinkSync(join(REPO_ROOT, name), join(scratch, name));
    }
    try {
      execFileSync(process.execPath, [join(REPO_ROOT, "scripts", "build.mjs"), "qemu"], { cwd: scratch, stdio: "pipe" });
    } catch (error) {
      const e = error as { stderr?: Buffer; stdout?: Buffer };
      throw new Error(`building dist/qemu failed (node scripts/build.mjs qemu):\n${e.stderr?.toString() ?? ""}${e.stdout?.toString() ?? ""}`);
    }
    if (!existsSync(join(dist, "package.json"))) copyFileSync(join(scratch, "dist", "package.json"), join(dist, "package.json"));
    renameSync(join(scratch, "dist", "qemu"), DIST_QEMU);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Returns the path of an up-to-date dist/qemu, building it first when it is missing or stale. */
export function ensureHookBuilt(): string {
  if (isFresh()) return DIST_QEMU;
  const lock = join(REPO_ROOT, "dist", ".qemu-build.lock");
  mkdirSync(join(REPO_ROOT, "dist"), { recursive: true });
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 60_000) rmSync(lock, { recursive: true, force: true }); // left behind by a killed run
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock} (another test run building dist/qemu?)`);
      sleep(50);
    }
  }
  try {
    if (!isFresh()) rebuild();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  return DIST_QEMU;
}
