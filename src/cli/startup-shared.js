// What the built hook (scripts/build.mjs) and the startup cache that `install` records for it
// (src/cli/startup-cache.ts) must agree on, written once: copies that drift apart mean a cache or
// snapshot silently never used, or refused. Plain JavaScript, as scripts/build.mjs imports it
// (startup-shared.d.ts types it for TypeScript).

/**
 * The V8 flags a startup snapshot is built with and run with: V8 refuses a snapshot built under
 * other flags. V8 10 (Node 18) checksums a snapshot at every start by default, about 2 ms for the
 * hook's 4.6 MB, a tenth of a Node start; V8 11 and later (Node 20) do only in debug builds. The
 * hook's shell line passes the snapshot only once its check has shown the file is the one install
 * recorded and tried.
 */
export const SNAPSHOT_V8_FLAGS = ["--no-verify-snapshot-checksum"];

// The first line of a V8 code cache file that `install` records: the hook code's id and the Node
// that recorded it (version, arch, V8, path and binary). The hook's loader uses a cache only when
// that line is exactly what the running Node computes, so the loader, the recorder and `check`
// all run this one source text. It is run where `require` is defined: the hook's loader, the
// recorder file and `node -e`.

/** The source of `function nodeIdentity(id)`, to be placed in each script that needs the line. */
export const NODE_IDENTITY = `function nodeIdentity(id) {
  const x = require("node:fs").statSync(process.execPath);
  return \`nwfilter-hook code cache \${id} \${process.version} \${process.arch} v8 \${process.versions.v8} \${process.execPath} \${x.dev}:\${x.ino}:\${x.size}:\${x.mtimeMs}\`;
}`;
