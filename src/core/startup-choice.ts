// Which startup artefact `install` records for the Node the hook names (src/host/startup-cache.ts),
// from what the startup recorder (src/hook/startup-recorder.ts) finds out about that Node.
import type { StartupKind } from "./hook-header.js";

/** What the Node a hook runs is, as far as a snapshot or code cache depends on it. */
export interface NodeFacts {
  version: string;
  execPath: string;
  /** Whether Node starts from a startup snapshot of its own (Debian's nodejs does not). */
  ownSnapshot: boolean;
  /** The binary and the shared libnode it runs V8 from (Debian), if any. */
  binaries: string[];
}

/** Snapshots pay on Nodes without their own, and on Node 18 (measured: bench/RESULTS.md). */
export function preferredKind(facts: NodeFacts): StartupKind {
  const [major = 0, minor = 0] = facts.version.replace(/^v/, "").split(".").map(Number);
  const snapshots = major > 18 || (major === 18 && minor >= 8);
  if (snapshots && (!facts.ownSnapshot || major < 20)) return "snapshot";
  return "code-cache";
}
