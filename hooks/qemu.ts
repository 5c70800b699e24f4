// libvirt qemu hook: `qemu DOMAIN OP SUBOP EXTRA`, the domain XML on stdin.
// Calls other than prepare/migrate/restore begin return at once: nothing is read or loaded.
import { hookOp } from "../src/hook.js";

const [, , domain = "", op, subop] = process.argv;
const which = hookOp(op, subop);
if (which !== undefined) {
  import("../src/hook-main.js").then(
    (m) => m.runHook(domain, which),
    (error: unknown) => {
      process.stderr.write(`nwfilter-hook: internal error: ${String(error)}\n`);
      process.exitCode = 2;
    },
  );
}
