// The hook as a user-land startup snapshot (`node --snapshot-blob FILE --build-snapshot ENTRY`,
// Node >= 18.8), which `install` records on hosts whose Node gains from it (src/host/startup-cache.ts):
// Node then starts from a heap that already holds the hook's code, compiled and warmed up by a
// run on a sample host, instead of bootstrapping itself and loading the hook. On Debian's nodejs,
// which has no startup snapshot of its own, a call then costs less than its `node -e 0`.
import { startupSnapshot } from "node:v8";
import { hookOp } from "../core/hook-op.js";
import { hookOutcome, runHook } from "./main.js";
import { warmUp } from "./warm-up.js";

/** Called by the snapshot's entry while Node builds the snapshot: warm up, then set the entry point. */
export function prepareSnapshot(): void {
  // Node 18 builds snapshots in a context that lacks Object.hasOwn, which V8 adds again when
  // the snapshot is deserialized. The scanner uses it; a stand-in serves the warm-up only.
  const object = Object as { hasOwn?: (o: object, key: PropertyKey) => boolean };
  const standIn = object.hasOwn === undefined;
  if (standIn) object.hasOwn = (o, key) => Object.prototype.hasOwnProperty.call(o, key);
  try {
    warmUp(hookOutcome);
  } finally {
    if (standIn) delete object.hasOwn;
  }
  // The shell line starts `node --snapshot-blob FILE "$0" DOMAIN OP SUBOP EXTRA`: argv as in a
  // plain start, the hook file where a script would be.
  startupSnapshot.setDeserializeMainFunction(() => {
    // Loading a module at run time that Node cannot put into a snapshot (child_process, to spawn
    // logger) is fine, but Node warns about it on stderr, which libvirt would show the user.
    const emitWarning = process.emitWarning.bind(process) as (...a: unknown[]) => void;
    process.emitWarning = function (warning: string | Error, ...rest: unknown[]) {
      if (String(warning).includes("not yet supported in user snapshots")) return;
      emitWarning(warning, ...rest);
    };
    const [, , domain = "", op, subop] = process.argv;
    const which = hookOp(op, subop);
    if (which !== undefined) runHook(domain, which);
  });
}
