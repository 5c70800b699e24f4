// The bundles are built once per test run by test/global-setup.ts; suites ask for them here.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DIST_QEMU, REPO_ROOT } from "./paths.js";

export const DIST = join(REPO_ROOT, "dist");
export const DIST_CLI = join(DIST, "nwfilter-hook");

function built(path: string): string {
  if (!existsSync(path)) throw new Error(`${path} is missing: run the tests with vitest (its global setup builds it) or npm run build`);
  return path;
}

/** The path of the built hook, dist/qemu. */
export function ensureHookBuilt(): string {
  return built(DIST_QEMU);
}

/** The path of the built CLI, dist/nwfilter-hook (dist/qemu, which install copies, beside it). */
export function ensureBuilt(): string {
  built(DIST_QEMU);
  return built(DIST_CLI);
}
