// Bundles the hook and the admin CLI into single self-contained files under dist/.
// tsc only type-checks; esbuild emits.
import { build } from "esbuild";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { Script } from "node:vm";

// libvirt runs the hook five times in every start/stop cycle, and only prepare, migrate and
// restore begin have work to do. The hook therefore starts as a shell script that execs Node
// only for those calls: the others cost a /bin/sh start instead of a Node start. The second line
// is valid in both languages: for sh, ':' is a no-op command; for JavaScript, a string
// followed by a comment. `install` puts the absolute path of its Node in place of "node".
const HOOK_HEADER = [
  "#!/bin/sh",
  '":" //; case "$2 $3" in "prepare begin"|"migrate begin"|"restore begin") exec node "$0" "$@";; esac; exit 0',
].join("\n");

const common = {
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node18",
  minify: true,
  legalComments: "none",
  logLevel: "warning",
  // import() of a bundled or built-in module becomes a lazy require(), which also works where
  // the hook's code is compiled through node:vm.
  supported: { "dynamic-import": false },
};

// `node scripts/build.mjs qemu` builds only the named bundles.
const wanted = process.argv.slice(2);
const want = (name) => wanted.length === 0 || wanted.includes(name);

await mkdir("dist", { recursive: true });
// The bundles are CommonJS: an extensionless file is loaded as CommonJS by every Node >= 18,
// and CommonJS loads faster than the ESM loader. This file keeps the project's "type": "module"
// from applying to dist/.
await writeFile("dist/package.json", '{ "type": "commonjs" }\n');

if (want("qemu")) await writeExecutable("dist/qemu", await hookWithCodeCache());
if (want("nwfilter-hook")) {
  const cli = await bundle("src/cli/main.ts");
  await writeExecutable("dist/nwfilter-hook", `#!/usr/bin/env node\n${cli}`);
}

async function bundle(entry) {
  const result = await build({ ...common, entryPoints: [entry], write: false });
  return result.outputFiles[0].text;
}

async function writeExecutable(path, text) {
  await writeFile(path, text);
  await chmod(path, 0o755);
}

/**
 * Most of a prepare call's own cost is V8 compiling the hook's code. The hook therefore carries
 * its code as a string together with V8's code cache for it, recorded here after running the
 * decision paths on a sample (src/warm-up.ts), and compiles it through node:vm with that cache.
 * The cache is only valid for the Node that built it; another Node rejects it and compiles the
 * code from the string as usual, so the hook stays correct everywhere and is fastest where it
 * was built (the README has hosts build it themselves).
 */
async function hookWithCodeCache() {
  const code = await bundle("hooks/qemu.ts");
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${code}\n})`;
  const script = new Script(wrapped, { filename: "nwfilter-hook-core.js" });
  const mod = { exports: {} };
  const argv = process.argv;
  process.argv = [argv[0], "qemu"]; // not a hook call: evaluates the module without running it
  try {
    script.runInThisContext()(mod.exports, createRequire(import.meta.url), mod, "qemu", "/");
  } finally {
    process.argv = argv;
  }
  await mod.exports.warmUp();
  const cache = script.createCachedData().toString("base64");
  // The code and its cache ride in comments at the end of the file, which V8 skips over far
  // faster than it scans string literals of the same size; the loader reads them back.
  // Inside the comment, "*/" is written "*\x01/" (esbuild's ASCII output never has a raw \x01).
  if (wrapped.includes("\x01")) throw new Error("the hook's code contains a raw \\x01");
  // The loader reads the file back as latin1, a plain copy, which is right only for ASCII.
  if (/[^\x00-\x7f]/.test(wrapped)) throw new Error("the hook's code is not ASCII");
  const loader = [
    '"use strict";',
    'const text = require("node:fs").readFileSync(__filename, "latin1");',
    'const at = (mark) => text.indexOf(mark) + mark.length;',
    'const code = text.slice(at("\\n/*CODE\\n"), text.lastIndexOf("\\nCODE*/")).replaceAll("*\\x01/", "*/");',
    'const cachedData = Buffer.from(text.slice(at("\\n/*CACHE\\n"), text.lastIndexOf("\\nCACHE*/")), "base64");',
    'const script = new (require("node:vm").Script)(code, { filename: "nwfilter-hook-core.js", cachedData });',
    "script.runInThisContext()(exports, require, module, __filename, __dirname);",
    `/*CODE\n${wrapped.replaceAll("*/", "*\x01/")}\nCODE*/`,
    `/*CACHE\n${cache}\nCACHE*/`,
  ].join("\n");
  return `${HOOK_HEADER}\n${loader}\n`;
}
