// Where the tests find the repository, the built hook and the shared libvirt corpus. Everything
// is computed from this file's location, so the tests do not depend on the working directory.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const DIST_QEMU = join(REPO_ROOT, "dist", "qemu");
export const FIXTURES_DIR = join(REPO_ROOT, "test", "fixtures");

const CORPUS_DIR = resolve(REPO_ROOT, "..", "shared", "corpus", "libvirt-10.7");

/**
 * Whether the libvirt 10.7 test corpus is there: `shared/corpus/libvirt-10.7` beside the
 * repository (in CI the repository is cloned elsewhere with shared/ copied next to it). A fresh
 * clone on its own lacks it, and its suites are then skipped, saying why. Under CI=true a missing
 * corpus is a failure instead: a conformance suite that silently finds no files proves nothing.
 */
export const HAVE_CORPUS = existsSync(join(CORPUS_DIR, "qemuxmlconfdata"));

/** The corpus directory. Throws a clear error when it is missing. */
export function corpusDir(): string {
  if (!HAVE_CORPUS) {
    throw new Error(`the libvirt corpus is missing: expected ${CORPUS_DIR} (shared/corpus/libvirt-10.7 beside the repository)`);
  }
  return CORPUS_DIR;
}

/** Skip a corpus suite only outside CI: under CI=true the suite runs, and fails on corpusDir(). */
export const SKIP_CORPUS = !HAVE_CORPUS && process.env["CI"] !== "true";

/** Why a corpus suite is skipped, for its title; empty when it runs. */
export const CORPUS_SKIP_NOTE = SKIP_CORPUS ? ` (skipped: no libvirt corpus at ${CORPUS_DIR})` : "";
