// libvirt qemu hook: `qemu DOMAIN OP SUBOP EXTRA`, the domain XML on stdin.
// The built file starts with a shell line (scripts/build.mjs) that runs Node only for
// prepare/migrate/restore begin; the check here covers running the file with node directly.
import { hookOp } from "../src/core/hook-op.js";

const [, , domain = "", op, subop] = process.argv;
const which = hookOp(op, subop);
if (which !== undefined) {
  import("../src/hook/main.js").then(
    (m) => m.runHook(domain, which),
    (error: unknown) => {
      process.stderr.write(`nwfilter-hook: internal error: ${String(error)}\n`);
      process.exitCode = 2;
    },
  );
}

/** Used by the build only: runs the decision paths on a sample so that their code can be cached. */
export function warmUp(): Promise<void> {
  return import("../src/hook/warm-up.js").then((m) => m.warmUp());
}

/** Used by `install` only, in the entry of a startup snapshot: see src/hook/snapshot.ts. */
export function prepareSnapshot(): Promise<void> {
  return import("../src/hook/snapshot.js").then((m) => m.prepareSnapshot());
}
