// The CLI tests and the end-to-end suites run the BUILT bundles (see test/global-setup.ts).
import { join } from "node:path";
import { REPO_ROOT } from "../../support/paths.js";

export { DIST, DIST_CLI, ensureBuilt } from "../../support/build.js";
export { DIST_QEMU, REPO_ROOT } from "../../support/paths.js";
export const FAKE_VIRSH_DIR = join(REPO_ROOT, "test", "cli", "fake-virsh");
