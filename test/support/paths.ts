// Where the tests find the repository, the built hook and the shared libvirt corpus. Everything
// is computed from this file's location, so the tests do not depend on the working directory.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const DIST_QEMU = join(REPO_ROOT, "dist", "qemu");
export const FIXTURES_DIR = join(REPO_ROOT, "test", "fixtures");

/**
 * The libvirt 10.7 test corpus: `shared/corpus/libvirt-10.7` beside the repository (in CI the
 * repository is cloned elsewhere with shared/ copied next to it). Throws a clear error when it
 * is missing: a conformance suite that silently finds no files proves nothing.
 */
export function corpusDir(): string {
  const dir = resolve(REPO_ROOT, "..", "shared", "corpus", "libvirt-10.7");
  if (!existsSync(join(dir, "qemuxmlconfdata"))) {
    throw new Error(`the libvirt corpus is missing: expected ${dir} (shared/corpus/libvirt-10.7 beside the repository)`);
  }
  return dir;
}
