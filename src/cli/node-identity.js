// The first line of a V8 code cache file that `install` records (src/cli/startup-cache.ts): the
// hook code's id and the Node that recorded it (version, arch, V8, path and binary). The hook's
// loader uses a cache only when that line is exactly what the running Node computes, so the
// loader (scripts/build.mjs), the recorder and `check` all run this one source text rather than
// copies of it: copies that drift apart mean a cache silently never used.
//
// Plain JavaScript, as scripts/build.mjs imports it (node-identity.d.ts types it for TypeScript).
// It is run where `require` is defined: the hook's loader, the recorder file and `node -e`.

/** The source of `function nodeIdentity(id)`, to be placed in each script that needs the line. */
export const NODE_IDENTITY = `function nodeIdentity(id) {
  const x = require("node:fs").statSync(process.execPath);
  return \`nwfilter-hook code cache \${id} \${process.version} \${process.arch} v8 \${process.versions.v8} \${process.execPath} \${x.dev}:\${x.ino}:\${x.size}:\${x.mtimeMs}\`;
}`;
