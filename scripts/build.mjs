// Bundles the hook and the admin CLI into single self-contained files under dist/.
// tsc only type-checks; esbuild emits.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { Script } from "node:vm";
import { NODE_IDENTITY, SNAPSHOT_V8_FLAGS } from "../src/cli/startup-shared.js";

// libvirt runs the hook five times in every start/stop cycle, and only prepare, migrate and
// restore begin have work to do. The hook therefore starts as a shell script that runs Node
// only for those calls: the others cost a /bin/sh start instead of a Node start. The second line
// is valid in both languages: for sh, ':' is a no-op command; for JavaScript, a string
// followed by a comment.
// - prepare execs Node: it is the call every start waits on, and it logs only when it refuses or
//   warns (Node then spawns `logger` itself).
// - migrate and restore usually log what they added. Node writes its syslog lines to
//   descriptor 3 (NWFILTER_HOOK_LOG_FD), and the shell hands them to `logger` in the background
//   once Node has exited, so that the call never waits for logging and Node never loads
//   child_process. Node's stdout and stderr pass through untouched (descriptor 4 carries stdout
//   around the capture) and its exit status is the hook's.
// `install` puts the absolute path of its Node in place of "node".
//
// Node's options spare it work the hook never needs: resolving the real path of the hook file,
// and computing the global module folders (the hook requires only Node's own modules). They are
// Node options, not V8 flags, so the code cache and Node's own snapshot stay valid.
const NODE_OPTIONS = "--preserve-symlinks-main --no-global-search-paths";
// `s=;` is the slot for the startup snapshot: `install` puts there, for a Node that gains from one
// (src/cli/startup-cache.ts), a check of the snapshot it recorded for that very Node, which sets
// s to the snapshot's path only when the check holds. Empty, the ${s:+...} words vanish and Node
// starts the hook file as usual. With a snapshot come the V8 flags it was built with.
const SNAPSHOT_WORDS = [...SNAPSHOT_V8_FLAGS, "--snapshot-blob"].map((w) => `\${s:+${w}}`).join(" ");
const NODE_RUN = `node ${NODE_OPTIONS} ${SNAPSHOT_WORDS} \${s:+"$s"} "$0" "$@"`;
const HOOK_HEADER = [
  "#!/bin/sh",
  `":" //; case "$2 $3" in "prepare begin"|"migrate begin"|"restore begin") ;; *) exit 0;; esac; s=; [ "$2" = prepare ] && exec ${NODE_RUN}; ` +
    `{ l=$(NWFILTER_HOOK_LOG_FD=3 ${NODE_RUN} 3>&1 >&4 4>&-); r=$?; } 4>&1; ` +
    '[ -n "$l" ] && { { printf \'%s\\n\' "$l" | logger --prio-prefix -t nwfilter-hook; } >/dev/null 2>&1 & }; exit $r',
].join("\n");

// Reads the code cache that `install` recorded, or gives undefined: it is code that runs as root,
// so it is used only when it and its directory belong to root (when the hook runs as root) and
// nobody else can write them, as for the policy; only when the file is the one install wrote
// (device, inode, size and ctime, which every write changes: V8 does not checksum a code cache,
// and a corrupted one can crash it); and only when its first line names this code and this very
// Node (version, V8, path and binary). V8 then checks its version and flags and the source's
// length, and compiles from the source when it rejects the cache.
const HOST_CODE_CACHE = [
  "function hostCodeCache(file, identity) {",
  '  const fs = require("node:fs");',
  "  let fd;",
  "  try {",
  '    fd = fs.openSync(file, "r");',
  "  } catch {",
  "    return undefined;",
  "  }",
  "  try {",
  "    const root = process.geteuid() === 0;",
  "    const trusted = (st) => (st.mode & 0o022) === 0 && (!root || st.uid === 0);",
  "    const st = fs.fstatSync(fd);",
  "    if (!st.isFile() || !trusted(st) || `${st.dev}:${st.ino}:${st.size}:${st.ctimeMs}` !== identity) return undefined;",
  '    if (!trusted(fs.statSync(require("node:path").dirname(file)))) return undefined;',
  "    const data = fs.readFileSync(fd);",
  "    const nl = data.indexOf(10);",
  '    return nl > 0 && data.toString("latin1", 0, nl) === nodeIdentity(startupId) ? data.subarray(nl + 1) : undefined;',
  "  } catch {",
  "    return undefined;",
  "  } finally {",
  "    fs.closeSync(fd);",
  "  }",
  "}",
  // That line as install's recorder writes it and `check` computes it: the same source text.
  NODE_IDENTITY,
];

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
 * decision paths on a sample (src/hook/warm-up.ts), and compiles it through node:vm with that cache.
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
  // The code and its cache ride in a comment, the body of a function that is never called: V8
  // skips over a comment far faster than it scans a string literal of the same size, and the
  // function's toString() hands the text back without reading the file a second time.
  // Inside the comment, "*/" is written "*\x01/" (esbuild's ASCII output never has a raw \x01).
  if (wrapped.includes("\x01")) throw new Error("the hook's code contains a raw \\x01");
  // Names the code in the cache and snapshot files that `install` records for it.
  const startupId = createHash("sha256").update(wrapped).digest("hex").slice(0, 16);
  const loader = [
    '"use strict";',
    `const startupId = "${startupId}";`,
    "const text = payload.toString();",
    "const part = (name) => text.slice(text.indexOf(`/*${name}\\n`) + name.length + 3, text.indexOf(`\\n${name}*/`));",
    'const code = part("CODE").replaceAll("*\\x01/", "*/");',
    // The code cache `install` recorded for this host's Node (src/cli/startup-cache.ts), else the
    // one recorded here.
    'const cachedData = (typeof startupCache === "object" && hostCodeCache(...startupCache)) || Buffer.from(part("CACHE"), "base64");',
    'const script = new (require("node:vm").Script)(code, { filename: "nwfilter-hook-core.js", cachedData });',
    "script.runInThisContext()(exports, require, module, __filename, __dirname);",
    ...HOST_CODE_CACHE,
    `function payload() {/*CODE\n${wrapped.replaceAll("*/", "*\x01/")}\nCODE*//*CACHE\n${cache}\nCACHE*/}`,
  ].join("\n");
  return `${HOOK_HEADER}\n${loader}\n`;
}
