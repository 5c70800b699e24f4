// Bundles the hook, the admin CLI and the startup recorder into self-contained files under dist/.
// tsc only type-checks; esbuild emits.
//
// What the hook file looks like is written once, in TypeScript, for the build and for the CLI that
// reads it back (src/core/hook-header.ts, src/core/hook-payload.ts): this script imports those
// modules through esbuild, as compiled in memory, so that tsc and ESLint see every line of the
// format and nothing here repeats it.
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RECORDER = "dist/startup-recorder.js";

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

// `node scripts/build.mjs qemu` builds only the named bundles (the hook needs the recorder).
const wanted = process.argv.slice(2);
const want = (name) => wanted.length === 0 || wanted.includes(name);

await mkdir("dist", { recursive: true });
// The bundles are CommonJS: an extensionless file is loaded as CommonJS by every Node >= 18,
// and CommonJS loads faster than the ESM loader. This file keeps the project's "type": "module"
// from applying to dist/.
await writeFile("dist/package.json", '{ "type": "commonjs" }\n');

if (want("qemu") || want("startup-recorder")) await writeFile(RECORDER, await bundle("src/hook/startup-recorder.ts"));
if (want("qemu")) await writeExecutable("dist/qemu", await builtHook());
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

/** TypeScript modules of the project, for this script: bundled into one ES module in memory and imported. */
async function importTypeScript(entries) {
  const contents = entries.map((e) => `export * from ${JSON.stringify(`./${e}`)};`).join("\n");
  const result = await build({
    stdin: { contents, resolveDir: ROOT, sourcefile: "build-imports.ts", loader: "ts" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node18",
    write: false,
    logLevel: "warning",
  });
  return import(`data:text/javascript;base64,${Buffer.from(result.outputFiles[0].text).toString("base64")}`);
}

/**
 * The hook file. Most of a prepare call's own cost is V8 compiling the hook's code, so the file
 * carries the code together with V8's code cache for it, recorded by the startup recorder after
 * running the decision paths on a sample (src/hook/warm-up.ts), and its loader compiles the code
 * through node:vm with that cache (src/hook/loader.ts). The cache is only valid for the Node that
 * built it; another Node rejects it and compiles the code as usual, and `install` records one for
 * the host's Node (src/host/startup-cache.ts).
 */
async function builtHook() {
  const { builtHookText, wrapCode, codeId } = await importTypeScript(["src/core/hook-header.ts", "src/core/hook-payload.ts", "src/host/code-id.ts"]);
  const code = wrapCode(await bundle("hooks/qemu.ts"));
  const id = codeId(code);
  const scratch = await mkdtemp(join(tmpdir(), "nwfilter-hook-build-"));
  try {
    const codeFile = join(scratch, "code.js");
    const out = join(scratch, "hook.cache");
    await writeFile(codeFile, code);
    const r = spawnSync(process.execPath, [RECORDER, "code-cache", out, codeFile, id], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    if (r.status !== 0) throw new Error(`recording the hook's code cache failed: ${r.error?.message ?? r.stderr.trim()}`);
    const cache = await readFile(out);
    // The recorder's first line names this Node; the build's cache goes to every Node.
    const cacheBase64 = cache.subarray(cache.indexOf(10) + 1).toString("base64");
    return builtHookText({ id, loader: await bundle("src/hook/loader.ts"), code, cacheBase64 });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
