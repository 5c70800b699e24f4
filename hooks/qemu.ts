// libvirt qemu hook: `qemu DOMAIN OP SUBOP EXTRA`, the domain XML on stdin.
// The built file starts with a shell line (scripts/build.mjs) that runs Node only for
// prepare/migrate/restore begin; the check here covers running the file with node directly.
import { hookOp } from "../src/core/hook-op.js";
import { runHook } from "../src/hook/main.js";

const [, , domain = "", op, subop] = process.argv;
const which = hookOp(op, subop);
// Called right away rather than from a promise job: Node 18 runs the first one only a while after
// the main module ends, and Debian's later still (bench/RESULTS.md, "Figures behind the code's choices").
if (which !== undefined) runHook(domain, which);

/** For the startup recorder (src/hook/startup-recorder.ts): it warms the hook's code up with it (src/hook/warm-up.ts). */
export { hookOutcome } from "../src/hook/main.js";

/** Used by `install` only, in the entry of a startup snapshot: see src/hook/snapshot.ts. */
export function prepareSnapshot(): Promise<void> {
  return import("../src/hook/snapshot.js").then((m) => m.prepareSnapshot());
}
